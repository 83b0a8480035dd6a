/*
 * The URL tokens of Abacus webhooks: `herald register` mints one per
 * (deployment, event type) and registers {public_url}/hooks/abacus/TOKEN.
 * Only the token's SHA-256 is stored; the token itself lives only in the
 * URL Abacus holds, so these helpers never log or keep it.
 *
 * Everything here writes into buffers the caller owns.
 */
#ifndef HERALD_ABACUS_TOKEN_H
#define HERALD_ABACUS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ABACUS_TOKEN_BYTES 32
/* base64url of 32 bytes without padding: 43 characters. */
#define ABACUS_TOKEN_LEN 43
#define ABACUS_HOOK_PATH "/hooks/abacus/"

/* A fresh token from OpenSSL's RAND_bytes, NUL-terminated; false if the
 * generator failed. */
bool abacus_token_new(char out[ABACUS_TOKEN_LEN + 1])
    __attribute__((warn_unused_result));

/* The SHA-256 that stands for token in registrations. */
void abacus_token_hash(const char *token, uint8_t out[32]);

/*
 * The prefix every endpoint Herald registers starts with:
 * public_url without trailing slashes, then ABACUS_HOOK_PATH. False if it
 * does not fit in size bytes.
 */
bool abacus_endpoint_prefix(const char *public_url, char *out, size_t size)
    __attribute__((warn_unused_result));

/* The token of endpoint if it is under prefix (a Herald endpoint), else
 * NULL. Borrowed from endpoint. */
const char *abacus_endpoint_token(const char *endpoint, const char *prefix);

#endif
