/*
 * Tokens are base64url so that they sit in a URL path unescaped.
 */
#include "abacus/token.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "sources/auth.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void abacus_token_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = alphabet[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = alphabet[v & 63];
	}
	out[o] = '\0';
}

bool abacus_token_new(char out[ABACUS_TOKEN_LEN + 1])
{
	uint8_t raw[ABACUS_TOKEN_BYTES];

	_Static_assert((4 * ABACUS_TOKEN_BYTES + 2) / 3 == ABACUS_TOKEN_LEN,
	               "token length");
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return false;
	abacus_token_encode(raw, sizeof(raw), out);
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
