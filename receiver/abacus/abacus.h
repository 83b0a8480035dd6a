/*
 * Herald's work with Abacus inside `herald serve`: one thread with its
 * own database connection that, on whichever process of the cluster
 * holds the poller's advisory lock, first reconciles the registrations
 * with the configuration (when abacus.register_on_start is set) and then
 * polls the registered monitor alerts every abacus.poll_interval,
 * storing MONITOR_ALERT events through the writer. A process that does
 * not hold the lock tries for it every interval, so another one takes
 * over when the holder stops or dies.
 *
 * Start it after the writer exists and stop it before the writer stops.
 * The service holds its own reference to the configuration; target and
 * writer are borrowed and must outlive it.
 */
#ifndef HERALD_ABACUS_ABACUS_H
#define HERALD_ABACUS_ABACUS_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct db_target;
struct writer;
struct abacus_service;

/* Start the thread (none is needed when no API key is configured). NULL
 * with the reason in err if it could not be started. */
struct abacus_service *
abacus_start(struct config *cfg, const struct db_target *target,
             struct writer *writer, char *err, size_t size)
    __attribute__((warn_unused_result));

/* Use cfg from the next round on (after a reload); a reference is taken. */
void abacus_reload(struct abacus_service *s, struct config *cfg);

/* Stop the thread, abandoning a call or a wait in progress, and free s.
 * Safe with NULL. */
void abacus_stop(struct abacus_service *s);

#endif
