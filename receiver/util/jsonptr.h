/*
 * JSON pointers (RFC 6901) over jansson values.
 */
#ifndef HERALD_UTIL_JSONPTR_H
#define HERALD_UTIL_JSONPTR_H

#include <jansson.h>

/* The value at pointer in root (borrowed), or NULL if there is none. "" is
 * the root itself. */
json_t *jsonptr_get(json_t *root, const char *pointer);

#endif
