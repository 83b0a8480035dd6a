#include "sources/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"

#define SIG_ENTRIES_MAX 16

static const char *const sig_texts[] = {
	[SIG_OK] = "signature verified",
	[SIG_MISSING_HEADERS] = ("webhook-id, webhook-timestamp and "
	                         "webhook-signature are all required"),
	[SIG_BAD_ID] = "webhook-id is empty or contains a dot",
	[SIG_BAD_TIMESTAMP] = "webhook-timestamp is not a Unix time",
	[SIG_TOO_OLD] = "webhook-timestamp is more than 5 minutes old",
	[SIG_TOO_NEW] = "webhook-timestamp is more than 5 minutes ahead",
	[SIG_NO_V1] = "webhook-signature has no v1 signature",
	[SIG_MISMATCH] = "no signature matches",
};

const char *sig_result_text(enum sig_result r)
{
	return sig_texts[r];
}

bool sig_secret_parse(const char *text, struct sig_secret *out)
{
	if (strncmp(text, "whsec_", 6) == 0)
		text += 6;
	return base64_decode(text, strlen(text), out->key, sizeof(out->key),
	                     &out->len) &&
	       out->len > 0;
}

/* Fetching an algorithm is costly; do it once for the process. */
static EVP_MAC *hmac_algorithm;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
	hmac_algorithm = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static void mac(const struct sig_secret *s, const char *id, const char *ts,
                const char *body, size_t len, uint8_t out[32])
{
	char digest[] = "SHA256";
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", digest, 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *ctx;
	size_t n = 0;

	pthread_once(&hmac_once, fetch_hmac);
	ctx = hmac_algorithm ? EVP_MAC_CTX_new(hmac_algorithm) : NULL;

	memset(out, 0, 32);
	if (ctx != NULL && EVP_MAC_init(ctx, s->key, s->len, params) == 1) {
		EVP_MAC_update(ctx, (const uint8_t *)id, strlen(id));
		EVP_MAC_update(ctx, (const uint8_t *)".", 1);
		EVP_MAC_update(ctx, (const uint8_t *)ts, strlen(ts));
		EVP_MAC_update(ctx, (const uint8_t *)".", 1);
		EVP_MAC_update(ctx, (const uint8_t *)body, len);
		EVP_MAC_final(ctx, out, &n, 32);
	}
	EVP_MAC_CTX_free(ctx);
}

void sig_sign(const struct sig_secret *s, const char *id, int64_t timestamp,
              const char *body, size_t len, char out[SIG_HEADER_MAX])
{
	char ts[24];
	uint8_t digest[32];

	snprintf(ts, sizeof(ts), "%lld", (long long)timestamp);
	mac(s, id, ts, body, len, digest);
	memcpy(out, "v1,", 3);
	base64_encode(digest, sizeof(digest), out + 3);
}

static enum sig_result check_time(const char *timestamp, int64_t now)
{
	char *end;
	long long ts;

	if (*timestamp < '0' || *timestamp > '9')
		return SIG_BAD_TIMESTAMP;
	ts = strtoll(timestamp, &end, 10);
	if (*end != '\0' || end - timestamp > 12)
		return SIG_BAD_TIMESTAMP;
	if (ts < now - SIG_TOLERANCE_S)
		return SIG_TOO_OLD;
	if (ts > now + SIG_TOLERANCE_S)
		return SIG_TOO_NEW;
	return SIG_OK;
}

/* The v1 signatures of the header, decoded; returns how many. */
static size_t parse_entries(const char *header, uint8_t out[][32], size_t max)
{
	size_t n = 0;

	for (const char *p = header; *p && n < max;) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p), got;

		if (len > 3 && strncmp(p, "v1,", 3) == 0 &&
		    base64_decode(p + 3, len - 3, out[n], 32, &got) &&
		    got == 32)
			n++;
		p += len;
		while (*p == ' ')
			p++;
	}
	return n;
}

enum sig_result sig_verify(const struct sig_secret *secrets, size_t n,
                           const char *id, const char *timestamp,
                           const char *signature, const char *body, size_t len,
                           int64_t now)
{
	uint8_t given[SIG_ENTRIES_MAX][32], want[32];
	enum sig_result r;
	size_t entries;
	bool match = false;

	if (id == NULL || timestamp == NULL || signature == NULL)
		return SIG_MISSING_HEADERS;
	if (*id == '\0' || strchr(id, '.') != NULL)
		return SIG_BAD_ID;
	r = check_time(timestamp, now);
	if (r != SIG_OK)
		return r;
	entries = parse_entries(signature, given, SIG_ENTRIES_MAX);
	if (entries == 0)
		return SIG_NO_V1;
	for (size_t s = 0; s < n; s++) {
		mac(&secrets[s], id, timestamp, body, len, want);
		for (size_t e = 0; e < entries; e++)
			match |= CRYPTO_memcmp(want, given[e], 32) == 0;
	}
	OPENSSL_cleanse(want, sizeof(want));
	return match ? SIG_OK : SIG_MISMATCH;
}
