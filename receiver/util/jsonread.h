/*
 * A JSON reader for request bodies, building jansson values.
 *
 * It accepts exactly what jansson's json_loadb accepts with
 * JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL (any value at the top, every
 * number a real, strict UTF-8, no \u0000, at most 2048 levels, the last of
 * repeated keys wins) and builds the same values; a differential fuzz
 * target holds it to that. It exists because jansson reads one character
 * at a time through a callback and measured at a fifth of the ingest
 * thread's time; this one scans strings in runs.
 */
#ifndef HERALD_UTIL_JSONREAD_H
#define HERALD_UTIL_JSONREAD_H

#include <jansson.h>
#include <stddef.h>

struct jsonread_error {
	int line;      /* 1-based */
	int column;    /* 1-based, in characters */
	char text[96]; /* what is wrong there */
};

/* The value text[0..len) holds (a new reference), or NULL with err set.
 * text need not be NUL-terminated. */
json_t *jsonread(const char *text, size_t len, struct jsonread_error *err);

#endif
