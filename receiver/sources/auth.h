/*
 * Credentials of inbound requests, compared in constant time: bearer
 * tokens, HTTP basic auth, and the SHA-256 of Abacus URL tokens.
 */
#ifndef HERALD_SOURCES_AUTH_H
#define HERALD_SOURCES_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True if header is "Bearer T" with T one of tokens. Every token is
 * compared, so the time taken does not depend on which one matched. */
bool auth_bearer(const char *header, const char *const *tokens, size_t n);

/* True if header is "Basic B" with B the base64 of user:password. */
bool auth_basic(const char *header, const char *user, const char *password);

/* SHA-256 of len bytes. */
void auth_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
