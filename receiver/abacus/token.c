/*
 * Tokens are base64url so that they sit in a URL path unescaped.
 */
#include "abacus/token.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "sources/auth.h"
#include "util/base64.h"

bool abacus_token_new(char out[ABACUS_TOKEN_LEN + 1])
{
	uint8_t raw[ABACUS_TOKEN_BYTES];

	_Static_assert((4 * ABACUS_TOKEN_BYTES + 2) / 3 == ABACUS_TOKEN_LEN,
	               "token length");
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return false;
	base64url_encode(raw, sizeof(raw), out);
	return true;
}

void abacus_token_hash(const char *token, uint8_t out[32])
{
	/* The same digest the receiving side takes of the URL's token. */
	auth_sha256(token, strlen(token), out);
}

bool abacus_endpoint_prefix(const char *public_url, char *out, size_t size)
{
	size_t n = strlen(public_url);
	int len;

	while (n > 0 && public_url[n - 1] == '/')
		n--;
	len =
	    snprintf(out, size, "%.*s%s", (int)n, public_url, ABACUS_HOOK_PATH);
	return len > 0 && (size_t)len < size;
}

const char *abacus_endpoint_token(const char *endpoint, const char *prefix)
{
	size_t n = strlen(prefix);

	if (endpoint == NULL || strncmp(endpoint, prefix, n) != 0 ||
	    endpoint[n] == '\0')
		return NULL;
	return endpoint + n;
}
