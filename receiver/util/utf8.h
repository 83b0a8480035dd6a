/*
 * UTF-8 helpers for text that came from outside and must be escaped or
 * measured before it is shown.
 */
#ifndef HERALD_UTIL_UTF8_H
#define HERALD_UTIL_UTF8_H

#include <stddef.h>

/*
 * Length (1 to 4) of the well-formed UTF-8 sequence that starts at p, or 0
 * when the bytes there are not one (overlong forms, surrogates and values
 * past U+10FFFF are not well formed). p must point at a NUL-terminated
 * string; the NUL itself counts as a one-byte sequence.
 */
size_t utf8_valid_prefix(const unsigned char *p);

/* The same for a sequence that must end within the avail bytes at p. */
size_t utf8_valid_at(const unsigned char *p, size_t avail);

/* Append the UTF-8 form of code point cp to out (room for 4 bytes); returns
 * the number of bytes written, 0 for a value that is not a scalar value. */
size_t utf8_encode(unsigned cp, char *out);

#endif
