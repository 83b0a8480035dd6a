/*
 * The thread runs rounds: make sure of the connection, try for the
 * poller's lock if not held, reconcile once if asked to, poll, sleep.
 * Losing the connection loses the lock with it, so leadership is taken
 * again from scratch after any reconnect. A client is made per round
 * from the configuration of that round, so a reload takes effect at the
 * next one.
 */
#include "abacus/abacus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "abacus/poller.h"
#include "abacus/reconcile.h"
#include "abacus/registry.h"
#include "config/config.h"
#include "log.h"
#include "store/db.h"
#include "util/deadline.h"

struct abacus_service {
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* on CLOCK_MONOTONIC */
	atomic_bool stopping;
	struct config *cfg; /* under mu */
	const struct db_target *target;
	struct writer *writer;

	/* The thread's own. */
	PGconn *conn;
	struct abacus_poller_gone gone;
	bool leader;
	bool reconciled;
	bool warned; /* about the database being unreachable */
};

/* The connection and the lock */

static void drop_connection(struct abacus_service *s)
{
	if (s->leader)
		log_warn("abacus poller lost its database connection");
	PQfinish(s->conn);
	s->conn = NULL;
	s->leader = false;
}

static bool connect_db(struct abacus_service *s)
{
	char err[512];

	if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK)
		drop_connection(s);
	if (s->conn != NULL)
		return true;
	s->conn = db_connect(s->target, err, sizeof(err));
	if (s->conn == NULL && !s->warned)
		log_warn("abacus poller cannot reach the database",
		         LOG_S("error", err));
	s->warned = s->conn == NULL;
	return s->conn != NULL;
}

static bool lead(struct abacus_service *s)
{
	char err[512];
	bool got = false;

	if (s->leader)
		return true;
	if (!abacus_registry_lock(s->conn, ABACUS_LOCK_POLLER, false, &got, err,
	                          sizeof(err))) {
		log_warn("abacus poller lock failed", LOG_S("error", err));
		return false;
	}
	if (got)
		log_info("abacus poller active on this process");
	s->leader = got;
	return got;
}

/* Reconcile at start */

static void log_item(const struct abacus_item *it, void *arg)
{
	(void)arg;
	log_at(it->op == ABACUS_KEEP ? LOG_DEBUG : LOG_INFO, "abacus plan",
	       LOG_S("op", abacus_op_name(it->op)),
	       LOG_S("kind", it->alert ? "alert" : "webhook"),
	       LOG_S("deployment", it->deployment_id),
	       LOG_S("event_type", it->event_type), LOG_S("alert", it->name),
	       LOG_S("why", it->why));
}

static void log_failed(const struct abacus_item *it, const char *why, void *arg)
{
	(void)arg;
	log_error("abacus plan item failed",
	          LOG_S("op", abacus_op_name(it->op)),
	          LOG_S("kind", it->alert ? "alert" : "webhook"),
	          LOG_S("deployment", it->deployment_id),
	          LOG_S("event_type", it->event_type), LOG_S("alert", it->name),
	          LOG_S("error", why));
}

static bool reconcile(struct abacus_service *s, const struct config *cfg,
                      struct abacus_client *c)
{
	struct abacus_reconcile r = {
		.cfg = cfg,
		.conn = s->conn,
		.client = c,
		.show = log_item,
		.failed = log_failed,
	};
	char err[1024];

	if (abacus_reconcile_run(&r, err, sizeof(err))) {
		log_info("abacus registrations reconciled",
		         LOG_U("created", r.counts[ABACUS_CREATE]),
		         LOG_U("updated", r.counts[ABACUS_UPDATE]),
		         LOG_U("deleted", r.counts[ABACUS_DELETE]),
		         LOG_U("kept", r.counts[ABACUS_KEEP]));
		return true;
	}
	if (r.busy)
		log_info("abacus reconcile deferred: another is running");
	else if (!atomic_load(&s->stopping))
		log_error("abacus reconcile failed; trying again next round",
		          LOG_S("error", err));
	return false;
}

/* Rounds */

static void work(struct abacus_service *s, const struct config *cfg)
{
	struct abacus_poller p = { .writer = s->writer,
		                   .stop = &s->stopping,
		                   .gone = &s->gone };
	char err[1024];

	p.client = abacus_client_new(&cfg->abacus, err, sizeof(err));
	if (p.client == NULL) {
		log_error("abacus client", LOG_S("error", err));
		return;
	}
	abacus_client_set_cancel(p.client, &s->stopping);
	p.conn = s->conn;

	if (!s->reconciled)
		s->reconciled = reconcile(s, cfg, p.client);
	if (!atomic_load(&s->stopping) &&
	    !abacus_poller_round(&p, err, sizeof(err)))
		log_warn("monitor alert round failed", LOG_S("error", err));
	abacus_client_free(p.client);
}

static void round_once(struct abacus_service *s, const struct config *cfg)
{
	if (!connect_db(s) || !lead(s))
		return;
	work(s, cfg);
	/* A failed statement may have been the connection breaking. */
	if (PQstatus(s->conn) != CONNECTION_OK)
		drop_connection(s);
}

static void sleep_ms(struct abacus_service *s, int64_t ms)
{
	struct timespec until = deadline_after(CLOCK_MONOTONIC, ms);

	pthread_mutex_lock(&s->mu);
	while (!atomic_load(&s->stopping) &&
	       pthread_cond_timedwait(&s->cond, &s->mu, &until) == 0)
		;
	pthread_mutex_unlock(&s->mu);
}

static struct config *current(struct abacus_service *s)
{
	struct config *cfg;

	pthread_mutex_lock(&s->mu);
	cfg = config_ref(s->cfg);
	pthread_mutex_unlock(&s->mu);
	return cfg;
}

static void *service_main(void *arg)
{
	struct abacus_service *s = arg;

	while (!atomic_load(&s->stopping)) {
		struct config *cfg = current(s);
		int64_t interval = cfg->abacus.poll_interval_ms;

		round_once(s, cfg);
		config_unref(cfg);
		sleep_ms(s, interval);
	}
	if (s->leader)
		abacus_registry_unlock(s->conn, ABACUS_LOCK_POLLER);
	PQfinish(s->conn);
	s->conn = NULL;
	return NULL;
}

/* Starting and stopping */

static bool init_sync(struct abacus_service *s)
{
	pthread_condattr_t attr;
	bool ok;

	if (pthread_condattr_init(&attr) != 0)
		return false;
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&s->cond, &attr) == 0;
	pthread_condattr_destroy(&attr);
	return ok && pthread_mutex_init(&s->mu, NULL) == 0;
}

struct abacus_service *abacus_start(struct config *cfg,
                                    const struct db_target *target,
                                    struct writer *writer, char *err,
                                    size_t size)
{
	struct abacus_service *s = calloc(1, sizeof(*s));

	if (s == NULL || !init_sync(s)) {
		snprintf(err, size, "cannot set up the abacus thread");
		free(s);
		return NULL;
	}
	atomic_init(&s->stopping, false);
	s->cfg = config_ref(cfg);
	s->target = target;
	s->writer = writer;
	s->reconciled = !cfg->abacus.register_on_start;
	if (cfg->abacus.api_key == NULL) {
		log_debug("abacus thread not started: no api_key");
		return s;
	}
	if (pthread_create(&s->thread, NULL, service_main, s) != 0) {
		snprintf(err, size, "cannot start the abacus thread");
		abacus_stop(s);
		return NULL;
	}
	s->running = true;
	return s;
}

void abacus_reload(struct abacus_service *s, struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&s->mu);
	old = s->cfg;
	s->cfg = config_ref(cfg);
	pthread_mutex_unlock(&s->mu);
	config_unref(old);
}

void abacus_stop(struct abacus_service *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->mu);
	atomic_store(&s->stopping, true);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
	if (s->running)
		pthread_join(s->thread, NULL);
	abacus_poller_gone_free(&s->gone);
	config_unref(s->cfg);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cond);
	free(s);
}
