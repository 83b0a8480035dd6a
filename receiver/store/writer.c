#include "store/writer.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store/migrate.h"

#define BACKOFF_MIN_MS  250
#define BACKOFF_MAX_MS  10000
#define HEALTH_EVERY_MS 5000

struct writer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stopping;
	bool ready;
	char reason[256];
	const struct db_target *target;
	PGconn *conn;
	int backoff_ms;
};

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

/* Sleep up to ms unless told to stop; true if still running. */
static bool nap(struct writer *w, int ms)
{
	struct timespec until;
	bool stopping;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (!w->stopping &&
	       pthread_cond_timedwait(&w->cond, &w->mu, &until) == 0)
		;
	stopping = w->stopping;
	pthread_mutex_unlock(&w->mu);
	return !stopping;
}

static void check_health(struct writer *w)
{
	char err[512], reason[600];

	if (w->conn != NULL && PQstatus(w->conn) != CONNECTION_OK) {
		PQfinish(w->conn);
		w->conn = NULL;
	}
	if (w->conn == NULL)
		w->conn = db_connect(w->target, err, sizeof(err));
	if (w->conn == NULL) {
		snprintf(reason, sizeof(reason), "database unreachable: %s",
		         err);
		set_status(w, false, reason);
		return;
	}
	if (!migrate_is_current(w->conn, migrate_embedded,
	                        migrate_embedded_count, err, sizeof(err))) {
		snprintf(reason, sizeof(reason), "schema not current: %s", err);
		set_status(w, false, reason);
		return;
	}
	set_status(w, true, "");
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	int wait_ms;

	do {
		check_health(w);
		if (w->conn == NULL) {
			wait_ms = w->backoff_ms;
			w->backoff_ms = w->backoff_ms * 2 > BACKOFF_MAX_MS
			                    ? BACKOFF_MAX_MS
			                    : w->backoff_ms * 2;
		} else {
			wait_ms = HEALTH_EVERY_MS;
			w->backoff_ms = BACKOFF_MIN_MS;
		}
	} while (nap(w, wait_ms));
	PQfinish(w->conn);
	return NULL;
}

struct writer *writer_start(const struct db_target *target, char *err,
                            size_t size)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (w == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->target = target;
	w->backoff_ms = BACKOFF_MIN_MS;
	snprintf(w->reason, sizeof(w->reason), "starting");
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		snprintf(err, size, "cannot start the writer thread");
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
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cond);
	free(w);
}
