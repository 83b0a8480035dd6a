/*
 * The data templates are rendered over: one event as a JSON object.
 *
 *   {
 *     "id": "0190...",              the event id (UUIDv7)
 *     "received_at": "2026-12-03T18:48:48.123Z",
 *     "source": "ci",               abacus, alertmanager or a generic name
 *     "event_type": "DEPLOYMENT_FAILED",
 *     "deployment_id": "web-1",     or null
 *     "severity": "critical",       or null
 *     "idempotency_key": "...",     or null
 *     "payload": { ... },           the body as received, parsed
 *     "labels": { ... },            what routes match labels.NAME against
 *     "headers": { ... },           the request headers kept
 *     "delivery": {"id": "...", "attempt": 1, "sink": "ops-slack"},
 *     "herald": {"public_url": "https://...", "version": "0.1.0"}
 *   }
 *
 * "labels" is the alert's labels for Alertmanager events (payload.alert
 * .labels) and the payload's top-level "labels" object otherwise, so a
 * route sees the same labels at ingest and at delivery.
 */
#ifndef HERALD_DISPATCH_MESSAGE_H
#define HERALD_DISPATCH_MESSAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct message_event {
	const char *id;
	const char *received_at; /* RFC 3339 */
	const char *source;
	const char *event_type;
	const char *deployment_id; /* may be NULL */
	const char *severity;      /* may be NULL */
	const char *idempotency_key;
	const char *payload; /* JSON text */
	const char *headers; /* JSON text */
};

struct message_delivery {
	const char *id;
	int attempt;
	const char *sink;
};

/* The template data for ev (and delivery, which may be NULL); a new
 * reference, or NULL if the payload or headers are not JSON. */
json_t *message_build(const struct message_event *ev,
                      const struct message_delivery *delivery,
                      const char *public_url);

/* Why message_build refuses ev when its payload or headers are not JSON
 * jansson reads (too deep, say): the column and jansson's reason in err,
 * and true. False when they parse, so that a refusal came from running
 * out of memory. */
bool message_unreadable(const struct message_event *ev, char *err, size_t size);

/* The labels of an event whose payload is parsed: see above. Borrowed
 * from payload; NULL if there are none. */
json_t *message_labels(const char *source, json_t *payload);

#endif
