/*
 * The /hooks routes: each hands the request to its source adapter, queues
 * the events for the writer, and answers once their outcome is known:
 *
 *   202 {"id": ..., "status": "accepted"}       stored (committed)
 *   200 {"id": first id, "status": "duplicate"} stored before
 *   401, 422, 503                               not stored
 *
 * A notification that carries several events (Alertmanager) is answered
 * with "ids" instead of "id".
 */
#ifndef HERALD_SOURCES_HOOKS_H
#define HERALD_SOURCES_HOOKS_H

#include "http/server.h"

struct writer;
struct metrics;

struct hooks {
	struct writer *writer;
	struct metrics *metrics;
};

/* Route handlers; arg is the struct hooks. */
void hooks_abacus(struct http_req *r, void *arg);
void hooks_alertmanager(struct http_req *r, void *arg);
void hooks_generic(struct http_req *r, void *arg);

#endif
