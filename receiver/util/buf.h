/*
 * A growable byte buffer, always NUL-terminated, for building SQL array
 * literals, JSON text and messages of unknown length.
 *
 * Allocation failure is remembered rather than reported at each append:
 * buf_failed() says whether any append was lost, so a caller checks once
 * after building. This keeps request paths from aborting on a flood.
 */
#ifndef HERALD_UTIL_BUF_H
#define HERALD_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	bool failed;
};

void buf_put(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);

/* True if an append ran out of memory since the last reset. */
bool buf_failed(const struct buf *b);

/* The text so far ("" when empty); borrowed. */
const char *buf_str(const struct buf *b);

/* Hand the memory to the caller (free it); the buffer is empty after. */
char *buf_take(struct buf *b);

void buf_free(struct buf *b);

#endif
