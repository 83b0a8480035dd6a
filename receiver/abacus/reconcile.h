/*
 * Reconcile: make Abacus hold what the configuration asks for. List every
 * deployment's webhooks and alerts, plan (abacus/plan.h), show the plan,
 * and unless it is a dry run apply it item by item, recording each
 * registration as it goes. Used by `herald register`, `herald
 * unregister` (remove_all) and, at start, by `herald serve`.
 *
 * Everything is borrowed from the caller: the configuration, the
 * database connection and the client. One reconcile runs at a time in a
 * cluster (an advisory lock); the caller decides how long to wait for it.
 */
#ifndef HERALD_ABACUS_RECONCILE_H
#define HERALD_ABACUS_RECONCILE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "abacus/client.h"
#include "abacus/plan.h"

struct config;

struct abacus_reconcile {
	const struct config *cfg;
	PGconn *conn;
	struct abacus_client *client;
	bool dry_run;
	bool remove_all;   /* as if nothing were configured */
	long lock_wait_ms; /* 0: give up at once if another holds it */
	/* Each plan item, before anything is applied (may be NULL). */
	void (*show)(const struct abacus_item *it, void *arg);
	/* An item that could not be applied, and why (may be NULL). */
	void (*failed)(const struct abacus_item *it, const char *why,
	               void *arg);
	void *arg;

	/* Filled by abacus_reconcile_run. */
	size_t counts[4]; /* per enum abacus_op */
	size_t failures;
	bool busy; /* another reconcile held the lock: nothing was done */
};

/*
 * Run it. False with the reason in err when no plan could be made
 * (public_url missing, Abacus or the database refused a listing), when
 * the lock was busy, or when some items failed (each was passed to
 * failed; err counts them).
 */
bool abacus_reconcile_run(struct abacus_reconcile *r, char *err, size_t size)
    __attribute__((warn_unused_result));

#endif
