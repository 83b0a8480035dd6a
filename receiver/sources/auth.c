/*
 * Secrets are compared through their SHA-256 digests: the digests always
 * have the same length, so a comparison takes the same time whatever the
 * lengths and contents of the two secrets.
 */
#include "sources/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include <strings.h>

#include "util/base64.h"

void auth_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

static bool same_secret(const char *a, size_t alen, const char *b)
{
	uint8_t da[32], db[32];

	auth_sha256(a, alen, da);
	auth_sha256(b, strlen(b), db);
	return CRYPTO_memcmp(da, db, 32) == 0;
}

/* The credentials after "Scheme " in header, or NULL. */
static const char *credentials(const char *header, const char *scheme)
{
	size_t n = strlen(scheme);

	if (header == NULL || strncasecmp(header, scheme, n) != 0 ||
	    header[n] != ' ')
		return NULL;
	header += n;
	while (*header == ' ')
		header++;
	return header;
}

bool auth_bearer(const char *header, const char *const *tokens, size_t n)
{
	const char *given = credentials(header, "Bearer");
	bool match = false;

	if (given == NULL || *given == '\0')
		return false;
	for (size_t i = 0; i < n; i++)
		match |= same_secret(given, strlen(given), tokens[i]);
	return match;
}

bool auth_basic(const char *header, const char *user, const char *password)
{
	const char *given = credentials(header, "Basic");
	uint8_t pair[512];
	const char *colon;
	size_t n;
	bool user_ok, password_ok;

	if (given == NULL || user == NULL || password == NULL ||
	    !base64_decode(given, strlen(given), pair, sizeof(pair) - 1, &n))
		return false;
	pair[n] = '\0';
	colon = memchr(pair, ':', n);
	if (colon == NULL)
		return false;
	user_ok = same_secret((const char *)pair,
	                      (size_t)(colon - (const char *)pair), user);
	password_ok = same_secret(
	    colon + 1, n - (size_t)(colon + 1 - (const char *)pair), password);
	OPENSSL_cleanse(pair, sizeof(pair));
	return user_ok && password_ok;
}
