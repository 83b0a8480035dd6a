/*
 * The dispatch thread: claims due deliveries, renders and hands them to
 * their sinks, and records every attempt.
 *
 * It has its own libevent loop and its own database connection. NOTIFY
 * herald_deliveries (sent by the writer's commits) wakes it; after each
 * claim a timer is set for the next delivery due (a retry, a Retry-After)
 * of a sink with room; a slow sweep catches leases that ran out and
 * anything missed. libcurl's multi interface and child processes run on
 * the same loop. Concurrency is bounded for all sinks together and for
 * each sink; a sink may also have a rate limit.
 */
#ifndef HERALD_DISPATCH_DISPATCHER_H
#define HERALD_DISPATCH_DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "store/db.h"

struct config;
struct metrics;
struct dispatcher;

/* Start the thread with cfg (a reference is taken); target must outlive
 * the dispatcher. NULL with err when it cannot start. */
struct dispatcher *
dispatcher_start(struct config *cfg, const struct db_target *target,
                 struct metrics *metrics, char *err, size_t size)
    __attribute__((warn_unused_result));

/* Use cfg (a reference is taken) for attempts started from now on. */
void dispatcher_reload(struct dispatcher *d, struct config *cfg);

/* Stop claiming, let attempts in flight finish for up to the listen
 * shutdown timeout, record them, give back the other leases, and join. */
void dispatcher_stop(struct dispatcher *d);

#endif
