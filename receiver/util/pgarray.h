/*
 * PostgreSQL array literals in text form ({"a","b",NULL}), for passing a
 * whole batch of values as one bound parameter.
 */
#ifndef HERALD_UTIL_PGARRAY_H
#define HERALD_UTIL_PGARRAY_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Start an array in b (which is reset). */
void pgarray_begin(struct buf *b);

/* Append one element: len bytes of s quoted and escaped, or NULL when s
 * is NULL. */
void pgarray_add(struct buf *b, const char *s, size_t len);
void pgarray_add_str(struct buf *b, const char *s);
void pgarray_add_int(struct buf *b, int64_t v);

/* Close the array; its text is buf_str(b). */
void pgarray_end(struct buf *b);

#endif
