/*
 * The limits the dispatcher keeps per sink: attempts in flight against
 * the sink's concurrency, a token bucket for its rate, and whether an
 * endpoint turned it off.
 *
 * There is one limiter per sink name, shared by every generation of
 * sinks that has the name (see dispatcher.c), so a reload goes on
 * counting the attempts the old sinks still run and the tokens they
 * spent: the limits hold across it. Limits come from the newest
 * configuration. A list owns its limiters; a slot holds a reference.
 * Times are monotonic seconds, passed in so tests can choose them.
 */
#ifndef HERALD_DISPATCH_LIMITER_H
#define HERALD_DISPATCH_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_sink;

struct limiter {
	struct limiter *next;
	char *name;
	int refs;
	int64_t concurrency;
	double rate; /* attempts per second; 0: no limit */
	int in_flight;
	double tokens;
	double refilled;
	bool disabled;   /* an endpoint answered 410 */
	bool maybe_more; /* the last claim filled its cap */
};

/* The limiter for cfg's name in *list, made with a full bucket if there
 * is none, with cfg's limits from now on; a new reference, or NULL when
 * out of memory. */
struct limiter *limiter_get(struct limiter **list,
                            const struct config_sink *cfg, double now);

/* Let go of a reference; the last one frees l. */
void limiter_put(struct limiter **list, struct limiter *l);

/* Attempts that may start now. */
int limiter_room(struct limiter *l, double now);

/* Seconds until the bucket holds a whole token; 0 when it does, or the
 * sink has no rate. */
double limiter_wait_s(const struct limiter *l);

/* An attempt starts (it takes a token) or ends. */
void limiter_started(struct limiter *l);
void limiter_ended(struct limiter *l);

/*
 * How many deliveries to claim for each of n sinks, in caps[i]: at most
 * claim_max each and room for all together. Returns the sum. *wait_s is
 * the shortest wait until a sink whose rate held back work it has may
 * start again, or 0 if there is none.
 */
int limiter_plan(struct limiter *const *ls, size_t n, int room, int claim_max,
                 double now, int *caps, double *wait_s);

#endif
