/*
 * An HTTPS client for tests, on libcurl, verifying the server against
 * the test instance's own certificate.
 */
#ifndef HERALD_TEST_THTTP_H
#define HERALD_TEST_THTTP_H

#include <jansson.h>
#include <stddef.h>

struct thttp_resp {
	long status; /* 0 if no answer came */
	char *body;  /* NUL-terminated */
	size_t len;
	char *headers;   /* the raw header block */
	char error[256]; /* curl's reason when status is 0 */
};

/* method to url; headers NULL-terminated (may be NULL); body may be NULL. */
void thttp(const char *method, const char *url, const char *ca,
           const char *const headers[], const char *body, size_t len,
           struct thttp_resp *out);

/* Give up on requests after ms (0: the default of 30 s). */
void thttp_set_timeout(long ms);

/* A control call to a fake: method to url with a JSON body (may be NULL),
 * trusting ca (NULL for plain HTTP); fails the test unless the answer is
 * 200, and returns it parsed. */
json_t *thttp_call(const char *method, const char *url, const char *ca,
                   const char *body);

/* POST body as JSON to url, signed the Standard Webhooks way with secret
 * (whsec_...), webhook-id id and webhook-timestamp ts. */
void thttp_post_signed(const char *url, const char *ca, const char *secret,
                       const char *id, long long ts, const char *body,
                       struct thttp_resp *out);

/* The body parsed as JSON (fails the test if it is not). */
json_t *thttp_json(const struct thttp_resp *r);

/* The value of header name in the answer (malloc'd), or NULL. */
char *thttp_header(const struct thttp_resp *r, const char *name);

void thttp_free(struct thttp_resp *r);

#endif
