/*
 * The queue is a linked list of jobs under one mutex; the writer takes the
 * whole front of it at once, so the lock is held for pointer moves only.
 * Finished jobs go on a second list and a libevent event wakes the ingest
 * loop to answer them.
 *
 * libpq's calls wait for ever on a server that stopped answering. While
 * the writer waits on its connection it leaves the socket and a deadline
 * under the lock; a timer on the ingest loop shuts the socket down once
 * the deadline passes, so the call returns with a broken connection and
 * the usual reconnect takes over.
 */
#include "store/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "config/config.h"
#include "log.h"
#include "metrics.h"
#include "store/batch.h"
#include "store/migrate.h"
#include "util/deadline.h"

#define BACKOFF_MIN_MS  250
#define BACKOFF_MAX_MS  5000
#define HEALTH_EVERY_MS 5000
#define WATCH_EVERY_MS  250
#define RETRIES         3

struct job_list {
	struct writer_job *head;
	struct writer_job *tail;
};

struct writer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct job_list queue;
	size_t queued_events;
	struct job_list done;
	bool stopping;
	bool ready;
	char reason[256];
	size_t batch_max;
	size_t queue_max;
	struct config *cfg; /* routes of the next batch */

	/* The writer thread's own. */
	const struct db_target *target;
	PGconn *conn;
	bool prepared;
	struct batch_scratch scratch;
	struct event **events;
	size_t events_cap;
	int backoff_ms;
	struct histogram *batch_size;
	struct histogram *commit_seconds;

	struct event *wake;  /* on the ingest loop */
	struct event *watch; /* on the ingest loop */
	int64_t query_timeout_ms;
	int waiting_fd; /* -1 unless the writer waits on the database */
	struct timespec waiting_until;
};

static void list_push(struct job_list *l, struct writer_job *j)
{
	j->next = NULL;
	if (l->tail != NULL)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

/* Status */

static void set_status(struct writer *w, bool ready, const char *reason)
{
	bool changed;

	pthread_mutex_lock(&w->mu);
	changed = w->ready != ready || strcmp(w->reason, reason) != 0;
	w->ready = ready;
	snprintf(w->reason, sizeof(w->reason), "%s", reason);
	pthread_mutex_unlock(&w->mu);
	if (changed && ready)
		log_info("database ready");
	else if (changed)
		log_warn("database not ready", LOG_S("reason", reason));
}

bool writer_ready(struct writer *w, char *reason, size_t size)
{
	bool ready;

	pthread_mutex_lock(&w->mu);
	ready = w->ready;
	snprintf(reason, size, "%s", w->reason);
	pthread_mutex_unlock(&w->mu);
	return ready;
}

size_t writer_queue_events(struct writer *w)
{
	size_t n;

	pthread_mutex_lock(&w->mu);
	n = w->queued_events;
	pthread_mutex_unlock(&w->mu);
	return n;
}

void writer_set_config(struct writer *w, struct config *cfg)
{
	struct config *old;

	config_ref(cfg);
	pthread_mutex_lock(&w->mu);
	old = w->cfg;
	w->cfg = cfg;
	w->batch_max = (size_t)cfg->ingest.batch_max;
	pthread_mutex_unlock(&w->mu);
	config_unref(old);
}

static struct config *current_config(struct writer *w)
{
	struct config *cfg;

	pthread_mutex_lock(&w->mu);
	cfg = w->cfg ? config_ref(w->cfg) : NULL;
	pthread_mutex_unlock(&w->mu);
	return cfg;
}

/* Handing jobs back */

static void complete(struct writer *w, struct writer_job *jobs)
{
	pthread_mutex_lock(&w->mu);
	while (jobs != NULL) {
		struct writer_job *next = jobs->next;

		list_push(&w->done, jobs);
		jobs = next;
	}
	pthread_mutex_unlock(&w->mu);
	event_active(w->wake, EV_READ, 0);
}

static void run_done(struct writer *w)
{
	struct writer_job *j;

	pthread_mutex_lock(&w->mu);
	j = w->done.head;
	w->done.head = w->done.tail = NULL;
	pthread_mutex_unlock(&w->mu);
	while (j != NULL) {
		struct writer_job *next = j->next;

		j->done(j);
		j = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	run_done(arg);
}

/* Give every event still pending the outcome; what was committed keeps
 * its answer. */
static void fail_jobs(struct writer_job *jobs, enum event_outcome outcome,
                      const char *why)
{
	for (struct writer_job *j = jobs; j != NULL; j = j->next) {
		for (size_t i = 0; i < j->count; i++) {
			struct event *ev = &j->events[i];

			if (ev->outcome != EVENT_PENDING)
				continue;
			ev->outcome = outcome;
			snprintf(ev->error, sizeof(ev->error), "%s", why);
		}
	}
}

static bool any_stored(struct event *const *events, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (events[i]->outcome == EVENT_STORED)
			return true;
	}
	return false;
}

/* Submitting */

enum writer_submit writer_submit(struct writer *w, struct writer_job *job)
{
	enum writer_submit r = WRITER_QUEUED;

	pthread_mutex_lock(&w->mu);
	if (!w->ready || w->stopping)
		r = WRITER_DOWN;
	else if (w->queued_events > 0 &&
	         w->queued_events + job->count > w->queue_max)
		r = WRITER_FULL;
	if (r == WRITER_QUEUED) {
		list_push(&w->queue, job);
		w->queued_events += job->count;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->mu);
	return r;
}

/* The connection */

/* Mark the start and the end of a wait on the database. */
static void wait_begin(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->waiting_fd = PQsocket(w->conn);
	w->waiting_until = deadline_after(CLOCK_MONOTONIC, w->query_timeout_ms);
	pthread_mutex_unlock(&w->mu);
}

static void wait_end(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->waiting_fd = -1;
	pthread_mutex_unlock(&w->mu);
}

/* On the ingest loop. The socket stays open until the writer itself
 * closes it after wait_end, so the descriptor cannot be another's. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct writer *w = arg;
	bool overdue;

	(void)fd, (void)what;
	pthread_mutex_lock(&w->mu);
	overdue = w->waiting_fd >= 0 &&
	          deadline_passed(CLOCK_MONOTONIC, &w->waiting_until);
	if (overdue) {
		shutdown(w->waiting_fd, SHUT_RDWR);
		w->waiting_fd = -1;
	}
	pthread_mutex_unlock(&w->mu);
	if (overdue)
		log_error("database did not answer in time; dropping the "
		          "connection",
		          LOG_I("timeout_ms", w->query_timeout_ms));
}

static void disconnect(struct writer *w)
{
	PQfinish(w->conn);
	w->conn = NULL;
}

/* Connect if needed and check the schema; the verdict becomes the
 * readiness. */
static bool check_database(struct writer *w)
{
	char err[512], why[512], reason[600];
	bool current, prepared;

	if (w->conn != NULL && PQstatus(w->conn) != CONNECTION_OK)
		disconnect(w);
	if (w->conn == NULL) {
		w->conn = db_connect(w->target, err, sizeof(err));
		w->prepared = false;
	}
	if (w->conn == NULL) {
		snprintf(reason, sizeof(reason), "database unreachable: %s",
		         err);
		set_status(w, false, reason);
		return false;
	}
	wait_begin(w);
	current = migrate_is_current(w->conn, migrate_embedded,
	                             migrate_embedded_count, err, sizeof(err));
	/* Statements are prepared once the tables they name exist. */
	prepared = !current || w->prepared ||
	           batch_prepare(w->conn, why, sizeof(why)) == BATCH_OK;
	wait_end(w);
	if (!current) {
		snprintf(reason, sizeof(reason), "schema not current: %s", err);
		set_status(w, false, reason);
		return false;
	}
	if (!prepared) {
		snprintf(reason, sizeof(reason), "cannot prepare: %s", why);
		set_status(w, false, reason);
		disconnect(w);
		return false;
	}
	w->prepared = true;
	set_status(w, true, "");
	return true;
}

/* The database went away: refuse what waits and reconnect later. */
static void went_down(struct writer *w, const char *why)
{
	struct writer_job *queued;
	char reason[600];

	disconnect(w);
	snprintf(reason, sizeof(reason), "database unreachable: %s", why);
	set_status(w, false, reason);
	pthread_mutex_lock(&w->mu);
	queued = w->queue.head;
	w->queue.head = w->queue.tail = NULL;
	w->queued_events = 0;
	pthread_mutex_unlock(&w->mu);
	fail_jobs(queued, EVENT_UNAVAILABLE, "database unavailable");
	complete(w, queued);
}

/* Batches */

static bool gather(struct writer *w, struct writer_job *jobs, size_t *n)
{
	size_t total = 0;

	for (struct writer_job *j = jobs; j != NULL; j = j->next)
		total += j->count;
	if (total > w->events_cap) {
		void *p = realloc(w->events, total * sizeof(*w->events));

		if (p == NULL)
			return false;
		w->events = p;
		w->events_cap = total;
	}
	*n = 0;
	for (struct writer_job *j = jobs; j != NULL; j = j->next) {
		for (size_t i = 0; i < j->count; i++)
			w->events[(*n)++] = &j->events[i];
	}
	return true;
}

static double now_seconds(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static enum batch_status store_jobs(struct writer *w, struct writer_job *jobs,
                                    char *err, size_t size)
{
	enum batch_status st = BATCH_RETRY;
	double started = now_seconds();
	struct config *cfg;
	size_t n;

	if (!gather(w, jobs, &n)) {
		snprintf(err, size, "out of memory");
		return BATCH_FAILED;
	}
	cfg = current_config(w);
	/* A retry writes the batch again, so only one whose rows were not
	 * committed may have one. */
	wait_begin(w);
	for (int tries = 0;
	     st == BATCH_RETRY && tries < RETRIES && !any_stored(w->events, n);
	     tries++)
		st = batch_store(w->conn, &w->scratch, cfg, w->events, n, err,
		                 size);
	wait_end(w);
	config_unref(cfg);
	if (st == BATCH_OK && w->batch_size != NULL) {
		histogram_observe(w->batch_size, (double)n);
		histogram_observe(w->commit_seconds, now_seconds() - started);
	}
	return st;
}

/* One event's data was refused: write each job alone, so only the job
 * that carries it fails. */
static enum batch_status isolate(struct writer *w, struct writer_job *jobs)
{
	char err[256];

	for (struct writer_job *j = jobs; j != NULL; j = j->next) {
		struct writer_job *next = j->next;
		enum batch_status st;

		j->next = NULL;
		st = store_jobs(w, j, err, sizeof(err));
		if (st == BATCH_DATA) {
			log_warn("events refused by the database",
			         LOG_S("rid", j->rid),
			         LOG_S("event", j->events[0].id),
			         LOG_S("error", err));
			fail_jobs(j, EVENT_REJECTED, err);
		}
		j->next = next;
		if (st != BATCH_OK && st != BATCH_DATA)
			return st;
	}
	return BATCH_OK;
}

static void process(struct writer *w, struct writer_job *jobs)
{
	enum batch_status st = BATCH_CONNECTION;
	char err[256] = "not connected";

	if ((w->conn != NULL && w->prepared) || check_database(w))
		st = store_jobs(w, jobs, err, sizeof(err));
	if (st == BATCH_DATA)
		st = isolate(w, jobs);
	for (struct writer_job *j = jobs; st == BATCH_OK && j; j = j->next) {
		for (size_t i = 0; i < j->count; i++) {
			if (j->events[i].outcome == EVENT_PENDING)
				j->events[i].outcome = EVENT_UNAVAILABLE;
		}
	}
	if (st != BATCH_OK) {
		fail_jobs(jobs, EVENT_UNAVAILABLE, "database unavailable");
		log_error("batch not stored", LOG_S("error", err));
	}
	complete(w, jobs);
	if (st == BATCH_CONNECTION || st == BATCH_FAILED)
		went_down(w, err);
}

/* The thread */

/* Take jobs from the front until the batch is full (at least one). */
static struct writer_job *take_batch(struct writer *w)
{
	struct writer_job *first = w->queue.head, *last = first;
	size_t events = first->count;

	while (last->next != NULL &&
	       events + last->next->count <= w->batch_max) {
		last = last->next;
		events += last->count;
	}
	w->queue.head = last->next;
	if (w->queue.head == NULL)
		w->queue.tail = NULL;
	last->next = NULL;
	w->queued_events -= events;
	return first;
}

/* Wait up to ms for work or a stop; called with the lock held. */
static bool wait_locked(struct writer *w, int ms)
{
	struct timespec until = deadline_after(CLOCK_REALTIME, ms);

	return pthread_cond_timedwait(&w->cond, &w->mu, &until) == 0;
}

/* Nothing queued: check the database now and then, or retry it with
 * backoff while it is down. Called with the lock held. */
static void idle(struct writer *w)
{
	bool woken;

	if (w->conn == NULL) {
		woken = wait_locked(w, w->backoff_ms);
		w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS
		                    ? BACKOFF_MAX_MS
		                    : w->backoff_ms * 2;
	} else {
		woken = wait_locked(w, HEALTH_EVERY_MS);
	}
	if (woken || w->stopping)
		return;
	pthread_mutex_unlock(&w->mu);
	if (check_database(w))
		w->backoff_ms = BACKOFF_MIN_MS;
	pthread_mutex_lock(&w->mu);
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	check_database(w);
	pthread_mutex_lock(&w->mu);
	while (!w->stopping || w->queue.head != NULL) {
		struct writer_job *batch;

		if (w->queue.head == NULL) {
			idle(w);
			continue;
		}
		batch = take_batch(w);
		pthread_mutex_unlock(&w->mu);
		process(w, batch);
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	disconnect(w);
	return NULL;
}

struct writer *writer_start(const struct writer_options *opt, char *err,
                            size_t size)
{
	static const struct timeval watch_every = { 0, WATCH_EVERY_MS * 1000 };
	struct writer *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->target = opt->target;
	w->queue_max = opt->queue_events;
	w->batch_max = opt->batch_max;
	w->cfg = opt->cfg ? config_ref(opt->cfg) : NULL;
	w->batch_size = opt->batch_size;
	w->commit_seconds = opt->commit_seconds;
	w->backoff_ms = BACKOFF_MIN_MS;
	w->query_timeout_ms = opt->query_timeout_ms;
	w->waiting_fd = -1;
	snprintf(w->reason, sizeof(w->reason), "starting");
	w->wake = event_new(opt->base, -1, 0, on_wake, w);
	w->watch = event_new(opt->base, -1, EV_PERSIST, on_watch, w);
	if (w->wake == NULL || w->watch == NULL ||
	    event_add(w->watch, &watch_every) != 0 ||
	    pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(err, size, "cannot start the writer thread");
		if (w->wake != NULL)
			event_free(w->wake);
		if (w->watch != NULL)
			event_free(w->watch);
		free(w);
		return NULL;
	}
	return w;
}

void writer_stop(struct writer *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	run_done(w);
	event_free(w->wake);
	event_free(w->watch);
	batch_scratch_free(&w->scratch);
	free(w->events);
	config_unref(w->cfg);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	free(w);
}
