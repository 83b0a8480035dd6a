/*
 * Standard Webhooks signatures (see specs/standard-webhooks.md): HMAC-SHA256
 * over "id.timestamp.body", sent as "v1,BASE64" entries separated by
 * spaces in the webhook-signature header. Herald verifies them on generic
 * sources and signs its own outbound HTTP deliveries.
 */
#ifndef HERALD_SOURCES_SIGNATURE_H
#define HERALD_SOURCES_SIGNATURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIG_TOLERANCE_S 300
#define SIG_KEY_MAX     128
#define SIG_HEADER_MAX  64 /* "v1," + base64 of 32 bytes + NUL, rounded */

struct sig_secret {
	uint8_t key[SIG_KEY_MAX];
	size_t len;
};

/* Decode "whsec_BASE64" or bare base64; false if it is neither. */
bool sig_secret_parse(const char *text, struct sig_secret *out)
    __attribute__((warn_unused_result));

/* The "v1,BASE64" signature of id, timestamp and body into out. */
void sig_sign(const struct sig_secret *s, const char *id, int64_t timestamp,
              const char *body, size_t len, char out[SIG_HEADER_MAX]);

enum sig_result {
	SIG_OK,
	SIG_MISSING_HEADERS,
	SIG_BAD_ID,
	SIG_BAD_TIMESTAMP,
	SIG_TOO_OLD,
	SIG_TOO_NEW,
	SIG_NO_V1,
	SIG_MISMATCH,
};

/*
 * Check the three header values (any may be NULL) against every secret;
 * now is the current Unix time in seconds. Every v1 entry is tried against
 * every secret with a constant-time comparison; one match is enough.
 */
enum sig_result sig_verify(const struct sig_secret *secrets, size_t n,
                           const char *id, const char *timestamp,
                           const char *signature, const char *body, size_t len,
                           int64_t now);

/* A sentence for logs and the client; never contains a secret. */
const char *sig_result_text(enum sig_result r);

#endif
