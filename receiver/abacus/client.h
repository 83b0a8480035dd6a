/*
 * A client of the Abacus.AI API (shared/specs/abacus-api.md): one call is
 * one blocking request to {api_url}/api/v0/{action} with the apiKey
 * header, its arguments in the query string or a JSON body as the spec's
 * table says, and its JSON envelope taken apart.
 *
 * TLS verification is always on; only the CA file can be chosen.
 * Redirects are not followed, so the key never travels to another host.
 * Idempotent calls (GET, DELETE) are retried with a jittered backoff on
 * 429, 502, 503, 504 and on transient transport failures, waiting at
 * least what Retry-After asks (up to 60 s); abacus.timeout bounds a call
 * with its retries. Creates and updates are sent once, and a caller that
 * does not know whether one took effect lists before trying again.
 *
 * A client belongs to one thread at a time. It copies what it needs from
 * the configuration. Results handed out are new jansson references the
 * caller owns. The API key never appears in an error.
 */
#ifndef HERALD_ABACUS_CLIENT_H
#define HERALD_ABACUS_CLIENT_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct config_abacus;
struct abacus_client;

/* Why a call failed. status is 0 when no HTTP answer came; type is
 * Abacus's errorType, or a name Herald gives the failure. */
struct abacus_error {
	long status;
	char type[64];
	char message[512];
	char request_id[128];
};

/* "HTTP 403 PermissionDeniedError: Invalid API key (request id R)". */
void abacus_error_format(const struct abacus_error *e, char *out, size_t size);

/* True when the error is Abacus saying the object does not exist. */
bool abacus_error_not_found(const struct abacus_error *e);

/*
 * Take apart the answer to one call: HTTP status, body (len bytes, not
 * NUL-terminated) and the x-request-id header (may be NULL). On success
 * *result is a new reference (json null when the envelope has none). On
 * failure *result is NULL and e says why.
 */
bool abacus_envelope_parse(long status, const char *body, size_t len,
                           const char *header_request_id, json_t **result,
                           struct abacus_error *e)
    __attribute__((warn_unused_result));

/* A client for cfg (copied). NULL with the reason in err. */
struct abacus_client *abacus_client_new(const struct config_abacus *cfg,
                                        char *err, size_t size)
    __attribute__((warn_unused_result));

void abacus_client_free(struct abacus_client *c);

/* Give up on the call in progress, and on backoff waits, once *cancel is
 * true (borrowed; must outlive the client). */
void abacus_client_set_cancel(struct abacus_client *c,
                              const atomic_bool *cancel);

/* Each call returns false with e filled on failure; on success a result,
 * where there is one, is a new reference in *out. */

bool abacus_list_webhooks(struct abacus_client *c, const char *deployment_id,
                          json_t **out, struct abacus_error *e)
    __attribute__((warn_unused_result));

/* template is borrowed. */
bool abacus_create_webhook(struct abacus_client *c, const char *deployment_id,
                           const char *endpoint, const char *event_type,
                           json_t *template, json_t **out,
                           struct abacus_error *e)
    __attribute__((warn_unused_result));

bool abacus_update_webhook(struct abacus_client *c, const char *webhook_id,
                           const char *endpoint, const char *event_type,
                           json_t *template, json_t **out,
                           struct abacus_error *e)
    __attribute__((warn_unused_result));

bool abacus_delete_webhook(struct abacus_client *c, const char *webhook_id,
                           struct abacus_error *e)
    __attribute__((warn_unused_result));

bool abacus_list_alerts(struct abacus_client *c, const char *deployment_id,
                        json_t **out, struct abacus_error *e)
    __attribute__((warn_unused_result));

/* condition and action are borrowed. */
bool abacus_create_alert(struct abacus_client *c, const char *deployment_id,
                         const char *name, json_t *condition, json_t *action,
                         json_t **out, struct abacus_error *e)
    __attribute__((warn_unused_result));

bool abacus_describe_alert(struct abacus_client *c, const char *alert_id,
                           json_t **out, struct abacus_error *e)
    __attribute__((warn_unused_result));

bool abacus_delete_alert(struct abacus_client *c, const char *alert_id,
                         struct abacus_error *e)
    __attribute__((warn_unused_result));

#endif
