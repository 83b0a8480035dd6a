/*
 * The dispatcher's SQL: claiming due deliveries with a lease, recording
 * attempts, releasing leases, and the sinks an endpoint turned off.
 *
 * Claims use FOR UPDATE SKIP LOCKED and set locked_until, so several
 * Herald processes share the work and a process that dies gives its
 * deliveries back when its leases run out. Each claim increments the
 * delivery's attempt count, and there is a delivery_attempts row for
 * every attempt counted: a claim that finds a lease run out first
 * records that lease's attempt as lost (outcome unknown). An outcome
 * moves the delivery on only while the lease is still ours (locked_by
 * and the attempt number match).
 */
#ifndef HERALD_DISPATCH_QUERIES_H
#define HERALD_DISPATCH_QUERIES_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* A claimed delivery with its event; strings point into res. */
struct claim_row {
	const char *delivery_id;
	const char *sink;
	int attempt;
	int64_t age_ms; /* since the delivery row was made */
	const char *event_id;
	const char *received_at; /* RFC 3339 UTC */
	const char *source;
	const char *event_type;
	const char *deployment_id; /* NULL when absent */
	const char *severity;
	const char *idempotency_key;
	const char *payload;
	const char *headers;
	int64_t received_ms; /* Unix milliseconds */
};

/* One finished attempt, for the batched record. */
struct attempt_record {
	char delivery_id[40];
	int attempt;
	const char *status; /* delivered, pending, failed, dead */
	int64_t delay_ms;   /* until the next attempt when pending */
	int64_t started_us; /* Unix microseconds */
	int duration_ms;
	const char *outcome; /* delivered, retry, failed */
	long http_status;    /* 0: none */
	char error[256];
	char response[1025];
};

/* Prepare the statements and LISTEN; false with err. */
bool dq_prepare(PGconn *conn, char *err, size_t size);

/*
 * Claim up to caps[i] due deliveries of sinks[i] for lease_ms as owner.
 * On success *res holds the rows (PQclear it) and rows[] (room for the sum
 * of caps) points into it; returns the count, or -1 with err.
 */
int dq_claim(PGconn *conn, const char *const *sinks, const int *caps,
             size_t nsinks, int64_t lease_ms, const char *owner, PGresult **res,
             struct claim_row *rows, char *err, size_t size);

/* Record n attempts and move their deliveries on, in one statement. */
bool dq_record(PGconn *conn, const struct attempt_record *r, size_t n,
               const char *owner, char *err, size_t size);

/* For each of n sinks, the milliseconds until its next pending delivery
 * that no live lease holds is due, in ms[i] (0: due now, -1: none);
 * false with err. */
bool dq_next_due(PGconn *conn, const char *const *sinks, size_t n, int64_t *ms,
                 char *err, size_t size);

/* How long a sink's deliveries may stay pending, and what last_error
 * says when they die of it. */
struct dq_policy {
	const char *sink; /* unused in others */
	int64_t max_age_ms;
	const char *reason;
};

/*
 * Mark dead, with their policy's reason, up to limit pending deliveries
 * per sink that are older than their sink's max_age: the n sinks given,
 * and others for any other sink. The result (PQclear it) has id,
 * event_id, sink and reason of each, or is NULL with err.
 */
PGresult *dq_expire(PGconn *conn, const struct dq_policy *sinks, size_t n,
                    const struct dq_policy *others, int limit, char *err,
                    size_t size);

/* Give back the leases of deliveries whose attempts a stop abandons; each
 * such attempt is recorded as one to retry, due at once. */
bool dq_release(PGconn *conn, const char *const *ids, size_t n,
                const char *owner, char *err, size_t size);

/* Turn sink off (an endpoint answered 410). */
bool dq_disable_sink(PGconn *conn, const char *sink, const char *reason,
                     char *err, size_t size);

/* The names of sinks that are off, as a result to read (PQclear it), or
 * NULL with err. */
PGresult *dq_disabled_sinks(PGconn *conn, char *err, size_t size);

#endif
