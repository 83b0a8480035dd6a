/*
 * The writer thread: group commit of ingested events.
 *
 * The ingest thread submits jobs (the events of one request) to a bounded
 * queue. The writer takes everything waiting, up to a batch limit, writes
 * it in one transaction on its own connection, sets every event's outcome
 * and hands the jobs back to the ingest loop, where each job's done
 * callback answers its request. A job is answered only after COMMIT
 * returned, or with an outcome that is not "stored".
 *
 * When the database cannot be used the writer refuses new jobs at once
 * (writer_submit says so), fails the queued ones, reconnects with
 * backoff, and keeps a readiness verdict any thread can read.
 */
#ifndef HERALD_STORE_WRITER_H
#define HERALD_STORE_WRITER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "event.h"
#include "store/db.h"

struct writer;
struct histogram;

struct writer_job {
	struct event *events; /* the caller's; outcomes set by the writer */
	size_t count;
	/* Called on the ingest loop once the outcomes are set. */
	void (*done)(struct writer_job *job);
	void *arg;
	const char *rid;         /* the request's id, for the log; borrowed */
	struct writer_job *next; /* the writer's */
};

struct writer_options {
	const struct db_target *target; /* must outlive the writer */
	struct config *cfg;             /* routes; a reference is taken */
	struct event_base *base;        /* where done callbacks run */
	size_t queue_events;            /* events waiting, at most */
	size_t batch_max;               /* events per transaction */
	int64_t query_timeout_ms;       /* then the connection is dropped */
	struct histogram *batch_size;   /* observed per batch; may be NULL */
	struct histogram *commit_seconds;
};

/* Start the thread. The base must have been created after
 * evthread_use_pthreads(). */
struct writer *writer_start(const struct writer_options *opt, char *err,
                            size_t size) __attribute__((warn_unused_result));

enum writer_submit {
	WRITER_QUEUED,
	WRITER_FULL, /* the queue is at its limit: try again later */
	WRITER_DOWN, /* the database cannot be used now */
};

/* Queue job (the writer borrows it until its done callback). */
enum writer_submit writer_submit(struct writer *w, struct writer_job *job);

/* Use cfg's batch limit and routes from the next batch on (on reload); a
 * reference is taken. */
void writer_set_config(struct writer *w, struct config *cfg);

/* Events waiting now. */
size_t writer_queue_events(struct writer *w);

/* True if the database is reachable and current; otherwise reason says
 * why not. Safe from any thread. */
bool writer_ready(struct writer *w, char *reason, size_t size);

/* Write what is queued, then stop the thread and close its connection.
 * Done callbacks of the last jobs run before this returns. */
void writer_stop(struct writer *w);

#endif
