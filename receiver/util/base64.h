/*
 * Standard base64 (RFC 4648, "+/" alphabet, "=" padding), strict on input:
 * any other character is an error.
 */
#ifndef HERALD_UTIL_BASE64_H
#define HERALD_UTIL_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the encoding of n bytes, without the NUL. */
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Encode n bytes into out (BASE64_LEN(n) + 1 bytes), NUL-terminated. */
void base64_encode(const uint8_t *in, size_t n, char *out);

/* The URL-safe alphabet ("-_"), without padding (RFC 4648 section 5),
 * for tokens that go in a URL path; out needs BASE64_LEN(n) + 1 bytes. */
void base64url_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decode len characters of in (padding optional) into out, which has room
 * for size bytes; *outlen is set. False if in is not base64 or the result
 * does not fit.
 */
bool base64_decode(const char *in, size_t len, uint8_t *out, size_t size,
                   size_t *outlen) __attribute__((warn_unused_result));

#endif
