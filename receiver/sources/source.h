/*
 * What every source adapter shares: the request as adapters see it (no
 * HTTP server types beyond the parsed head, so adapters can be fuzzed
 * alone), the result they fill, and the steps they have in common
 * (content type, JSON parsing with line and column, idempotency keys,
 * headers worth keeping).
 *
 * An adapter turns one request into events or into a refusal: an HTTP
 * status, an error code and a sentence for the client and the log. A
 * refusal never carries a secret.
 */
#ifndef HERALD_SOURCES_SOURCE_H
#define HERALD_SOURCES_SOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/schema.h"
#include "event.h"
#include "http/parse.h"

#define SOURCE_KEY_MAX    256  /* idempotency keys */
#define SOURCE_FIELD_MAX  256  /* event type, deployment id, severity */
#define SOURCE_EVENTS_MAX 1000 /* events from one request */

struct config;

struct source_request {
	const struct config *cfg;
	const struct http_head *head;
	const char *body; /* not NUL-terminated */
	size_t len;
	const char *peer;
	const char *param; /* what follows the route's prefix */
	int64_t now;       /* Unix seconds */
};

struct source_result {
	struct event *events; /* owned; source_result_clear frees them */
	size_t count;
	int status;
	const char *code;
	char message[256];
};

/* Fill res as a refusal; returns false so adapters can return it. */
bool source_refuse(struct source_result *res, int status, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* 415 unless the body is declared as JSON. */
bool source_check_json_type(const struct source_request *rq,
                            struct source_result *res);

/* The body as JSON (a new reference), or NULL after a 400 naming the
 * line and column. Large integers are read as reals, as PostgreSQL's
 * jsonb keeps them. */
json_t *source_parse_json(const struct source_request *rq,
                          struct source_result *res);

/* Allocate n events, each with an id and the request's peer, headers and
 * idempotency key (if any): webhook-id, else Idempotency-Key. False
 * after a refusal: 503 when out of memory, 400 when the key is empty, too
 * long or not text. */
bool source_new_events(const struct source_request *rq,
                       struct source_result *res, size_t n, const char *source,
                       const struct cfg_strings *extra_headers);

/* True if a header of this name may carry a credential, so it is never
 * stored with an event nor read into one of its fields. */
bool source_header_is_credential(const char *name);

/* True if s is UTF-8 text without control characters: what a header
 * value must be to become an event field or key. */
bool source_text_ok(const char *s);

/* A copy of at most max bytes of s, cut between characters; NULL when
 * out of memory. */
char *source_strndup_text(const char *s, size_t max);

/* Set ev's payload to a copy of text. False on no memory. */
bool source_set_payload(struct event *ev, const char *text, size_t len);

/* A JSON value as text for an event field: strings as they are, numbers
 * written out; NULL for anything else or when too long. */
char *source_field_text(const json_t *v);

void source_result_clear(struct source_result *res);

#endif
