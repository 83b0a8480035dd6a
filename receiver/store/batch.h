/*
 * Writing a batch of events in one transaction (group commit).
 *
 * All events of the batch travel as a few array parameters of one
 * prepared INSERT ... SELECT FROM unnest(...): one statement, and so one
 * transaction and one round trip, whatever the batch size. The same
 * statement resolves Abacus tokens against registrations (a registration
 * id given instead is kept only while its row exists) and skips
 * (source, idempotency key) pairs that already exist; a second, read-only
 * statement finds the first ids of those duplicates.
 *
 * When routes are configured, the insert runs in a transaction with a
 * second statement that adds one deliveries row per sink the routes name
 * for each stored event, and notifies the dispatchers (LISTEN
 * herald_deliveries) on commit.
 */
#ifndef HERALD_STORE_BATCH_H
#define HERALD_STORE_BATCH_H

#include <libpq-fe.h>
#include <stddef.h>

#include "event.h"
#include "util/buf.h"

enum batch_status {
	BATCH_OK,
	BATCH_CONNECTION, /* the connection broke; outcome unknown */
	BATCH_DATA,       /* the data of some event was refused */
	BATCH_RETRY,      /* a serialization failure or deadlock */
	BATCH_FAILED,     /* anything else (the schema is missing, say) */
};

/* Scratch space reused from batch to batch (one per writer). */
struct batch_scratch {
	struct buf arrays[12];
	struct buf keys[2];
	struct buf deliveries[4];
};

struct config;

/* Prepare the statements on a new connection. */
enum batch_status batch_prepare(PGconn *conn, char *err, size_t size);

/*
 * Store events[0..n) (each one's outcome EVENT_PENDING) in one
 * transaction and set each one's outcome: stored, duplicate with
 * first_id, or unknown token. EVENT_STORED always means committed: on a
 * status other than BATCH_OK err says why, an event marked stored was
 * committed before the failure (the duplicate lookup runs after the
 * commit), and one still pending was not, or its fate is unknown
 * (BATCH_CONNECTION), so it must not be reported as stored.
 */
enum batch_status batch_store(PGconn *conn, struct batch_scratch *s,
                              const struct config *cfg,
                              struct event *const *events, size_t n, char *err,
                              size_t size);

void batch_scratch_free(struct batch_scratch *s);

#endif
