/*
 * Where each value of a JSON text stands, by JSON pointer, so configuration
 * errors can name a line and a column. jansson validates the text first;
 * this index only reads text that jansson accepted.
 */
#ifndef HERALD_CONFIG_JSONPOS_H
#define HERALD_CONFIG_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>

struct jsonpos_entry {
	char *pointer; /* RFC 6901 pointer, "" for the root */
	int key_line;  /* position of the member name, 0 if none */
	int key_column;
	int value_line; /* position of the value's first character */
	int value_column;
};

struct jsonpos {
	struct jsonpos_entry *entries;
	size_t count;
	size_t cap;
};

/* Index text (len bytes). False if the text is not JSON after all or memory
 * ran out; the index is then empty. Free with jsonpos_free. */
bool jsonpos_build(struct jsonpos *idx, const char *text, size_t len)
    __attribute__((warn_unused_result));

/* The entry for pointer, or NULL; borrowed from idx. */
const struct jsonpos_entry *jsonpos_find(const struct jsonpos *idx,
                                         const char *pointer);

void jsonpos_free(struct jsonpos *idx);

/* Append key to pointer as one RFC 6901 reference token ("~" and "/"
 * escaped); returns false if it does not fit in size bytes. */
bool jsonpos_append(char *pointer, size_t size, const char *key);

#endif
