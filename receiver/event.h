/*
 * One event as Herald stores it: what a source adapter makes of a request
 * and what the writer turns into an events row.
 *
 * Strings are owned by the event (event_clear frees them) except source,
 * which points at a name that outlives it (a constant or the
 * configuration). The writer fills the outcome fields.
 */
#ifndef HERALD_EVENT_H
#define HERALD_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/uuid.h"

enum event_outcome {
	EVENT_PENDING,
	EVENT_STORED,
	EVENT_DUPLICATE,     /* same (source, idempotency key) stored before */
	EVENT_UNKNOWN_TOKEN, /* an Abacus token that matches no registration */
	EVENT_REJECTED,      /* the database refused this event's data */
	EVENT_UNAVAILABLE,   /* not stored: the database could not be used */
};

struct event {
	char id[UUID_STR_LEN + 1];
	int64_t received_us; /* Unix time, microseconds */
	const char *source;
	char *event_type; /* NULL: taken from the registration */
	char *deployment_id;
	char *severity;
	char *idempotency_key;
	bool has_token;
	uint8_t token_sha256[32];
	char peer[64];
	char *headers; /* JSON object text */
	char *payload; /* JSON text as received */
	size_t payload_len;
	json_t *labels; /* for routing; a reference, may be NULL */
	/* The registration it came through when the producer knows it (a
	 * monitor alert's); "" otherwise. A token finds its own. */
	char registration_id[UUID_STR_LEN + 1];

	enum event_outcome outcome;
	char first_id[UUID_STR_LEN + 1]; /* of a duplicate */
	char error[160];                 /* of a rejection */
};

/* Give ev a fresh UUIDv7 and the current time; all else empty. False if
 * the system has no randomness. */
bool event_init(struct event *ev, const char *source)
    __attribute__((warn_unused_result));

/* Free what ev owns and empty it. */
void event_clear(struct event *ev);

#endif
