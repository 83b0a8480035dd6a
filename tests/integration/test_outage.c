/*
 * PostgreSQL stopped under load: while it is down every answer is 503,
 * never 2xx; every id acknowledged before, during or after is in the
 * database afterwards; and Herald takes events again once PostgreSQL is
 * back, without a restart. Uses a private cluster, since it stops it.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tpg.h"

#define SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define CLIENTS   4
#define ACKED_MAX 200000

struct load {
	struct therald *h;
	atomic_bool stop;
	/* Phases, as CLOCK_MONOTONIC seconds; 0 until reached. */
	_Atomic double down_from;
	_Atomic double down_until;
	pthread_mutex_t mu;
	char (*acked)[40];
	size_t nacked;
	atomic_int ok_while_down;
	atomic_int unavailable;
	atomic_int other;
	_Atomic double last_ok;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void post_one(struct load *l, int client, int i)
{
	char id[64], *body, *url;
	struct thttp_resp r;
	double sent = now_s(), from, until;
	json_t *j;

	snprintf(id, sizeof(id), "outage-%d-%d", client, i);
	body = tfmt("{\"type\": \"OUTAGE\", \"n\": %d}", i);
	url = tfmt("%s/hooks/generic/ci", l->h->url);
	thttp_post_signed(url, l->h->ca, SECRET, id, (long long)time(NULL),
	                  body, &r);
	from = atomic_load(&l->down_from);
	until = atomic_load(&l->down_until);
	if (r.status == 202) {
		j = thttp_json(&r);
		pthread_mutex_lock(&l->mu);
		if (l->nacked < ACKED_MAX)
			snprintf(l->acked[l->nacked++], 40, "%s",
			         json_string_value(json_object_get(j, "id")));
		pthread_mutex_unlock(&l->mu);
		json_decref(j);
		atomic_store(&l->last_ok, now_s());
		/* Sent after the stop finished, before the restart began. */
		if (from > 0 && sent > from && (until == 0 || sent < until))
			atomic_fetch_add(&l->ok_while_down, 1);
	} else if (r.status == 503) {
		atomic_fetch_add(&l->unavailable, 1);
	} else {
		atomic_fetch_add(&l->other, 1);
		cr_log_warn("unexpected answer %ld: %s %s", r.status,
		            r.body ? r.body : "", r.error);
	}
	thttp_free(&r);
	free(url);
	free(body);
}

struct client {
	pthread_t thread;
	struct load *load;
	int index;
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	for (int i = 0; !atomic_load(&c->load->stop); i++) {
		post_one(c->load, c->index, i);
		tsleep_ms(5);
	}
	return NULL;
}

static long long acked_in_database(struct load *l, const char *conninfo)
{
	PGconn *conn = tpg_connect(conninfo);
	long long found = 0;

	for (size_t i = 0; i < l->nacked; i++) {
		char *sql = tfmt("SELECT count(*) FROM events WHERE id = '%s'",
		                 l->acked[i]);

		found += tpg_value(conn, sql);
		free(sql);
	}
	PQfinish(conn);
	return found;
}

/* herald on a private cluster of its own, with the "ci" source and
 * database settings (JSON members) added to the connection string. */
static void start_private(struct tpg_cluster *pg, struct therald *h,
                          const char *database)
{
	char *config;

	tpg_cluster_start(pg);
	therald_init(h);
	tpg_drop_db(h->db);
	free(h->db);
	h->db = strdup(pg->conninfo);
	config = tfmt("{" THERALD_STATE_TLS "," THERALD_LISTEN ","
	              " \"database\": {\"url\": \"%s\", %s},"
	              " \"sources\": {\"generic\": {\"ci\": {"
	              "  \"secrets\": [\"" SECRET "\"],"
	              "  \"event_type\": {\"pointer\": \"/type\"}}}}}",
	              pg->conninfo, database);
	therald_start(h, config, NULL);
	free(config);
}

/* The cluster goes whole, so its database is not dropped on its own. */
static void stop_private(struct tpg_cluster *pg, struct therald *h)
{
	therald_stop(h, SIGTERM);
	free(h->db);
	h->db = NULL;
	therald_cleanup(h);
	tpg_cluster_destroy(pg);
}

Test(outage, only_503_while_down_and_nothing_lost, .timeout = 300)
{
	struct tpg_cluster pg = { 0 };
	struct load l = { 0 };
	struct client c[CLIENTS];
	struct therald h;
	double back;

	start_private(&pg, &h, "\"connect_timeout\": \"2s\"");
	l.h = &h;
	l.acked = calloc(ACKED_MAX, sizeof(*l.acked));
	pthread_mutex_init(&l.mu, NULL);
	for (int i = 0; i < CLIENTS; i++) {
		c[i] = (struct client){ .load = &l, .index = i };
		pthread_create(&c[i].thread, NULL, client_main, &c[i]);
	}

	tsleep_ms(1500);
	tpg_cluster_stop(&pg, "fast");
	atomic_store(&l.down_from, now_s());
	tsleep_ms(3000);
	atomic_store(&l.down_until, now_s());
	tpg_cluster_restart(&pg);
	back = now_s();
	while (atomic_load(&l.last_ok) < back && now_s() - back < 30)
		tsleep_ms(100);
	cr_expect(atomic_load(&l.last_ok) > back, "no 2xx after the restart");
	tsleep_ms(1000);
	atomic_store(&l.stop, true);
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(c[i].thread, NULL);

	cr_expect_eq(atomic_load(&l.ok_while_down), 0);
	cr_expect(atomic_load(&l.unavailable) > 0, "never saw a 503");
	cr_expect_eq(atomic_load(&l.other), 0);
	cr_expect(l.nacked > 0);
	cr_expect_eq(acked_in_database(&l, h.db), (long long)l.nacked,
	             "acknowledged ids missing");
	cr_log_info("%zu acknowledged, %d answered 503, back after %.1f s",
	            l.nacked, atomic_load(&l.unavailable),
	            atomic_load(&l.last_ok) - back);

	free(l.acked);
	stop_private(&pg, &h);
}

/* Send sig to the cluster's postmaster and every process it started. */
static void signal_cluster(const struct tpg_cluster *pg, int sig)
{
	char *pidfile = tfmt("%s/data/postmaster.pid", pg->dir);
	char *text = tread(pidfile);
	long postmaster = text ? strtol(text, NULL, 10) : 0;
	DIR *proc = opendir("/proc");
	struct dirent *d;

	cr_assert(postmaster > 0, "no postmaster.pid in %s", pg->dir);
	kill((pid_t)postmaster, sig);
	while (proc != NULL && (d = readdir(proc)) != NULL) {
		char *stat = tfmt("/proc/%s/stat", d->d_name);
		char *line = tread(stat);
		const char *close_paren = line ? strrchr(line, ')') : NULL;
		long ppid = 0;

		/* "pid (comm) state ppid ...": comm may hold spaces. */
		if (close_paren != NULL)
			sscanf(close_paren + 1, " %*c %ld", &ppid);
		if (ppid == postmaster)
			kill((pid_t)strtol(d->d_name, NULL, 10), sig);
		free(line);
		free(stat);
	}
	if (proc != NULL)
		closedir(proc);
	free(text);
	free(pidfile);
}

/* POST one signed event; returns the status, 0 for no answer (30 s). */
static long post_event(struct therald *h, const char *id)
{
	char *url = tfmt("%s/hooks/generic/ci", h->url);
	struct thttp_resp r;
	long status;

	thttp_post_signed(url, h->ca, SECRET, id, (long long)time(NULL),
	                  "{\"type\": \"HUNG\"}", &r);
	status = r.status;
	thttp_free(&r);
	free(url);
	return status;
}

/* A database that stops answering (its processes stopped, the
 * connection still open) is given up after database.query_timeout: the
 * waiting request gets 503 instead of waiting for ever, /readyz says
 * why, and events are taken again once the database answers. */
Test(outage, a_database_that_stops_answering_is_given_up, .timeout = 120)
{
	struct tpg_cluster pg = { 0 };
	struct therald h;
	struct thttp_resp r;
	char *url;
	double sent, waited;
	long status = 0;

	start_private(&pg, &h,
	              "\"connect_timeout\": \"2s\", \"query_timeout\": \"2s\"");
	cr_assert_eq(post_event(&h, "hung-0"), 202);

	signal_cluster(&pg, SIGSTOP);
	sent = now_s();
	status = post_event(&h, "hung-1");
	waited = now_s() - sent;
	cr_expect_eq(status, 503, "answered %ld after %.1f s", status, waited);
	cr_expect_lt(waited, 20.0, "answered after %.1f s", waited);
	cr_expect(
	    therald_wait_log(&h, "database did not answer in time", 5000));
	/* Every writer connection finds out, each within the timeout. */
	url = tfmt("%s/readyz", h.url);
	for (int i = 0; i < 100; i++) {
		thttp("GET", url, h.ca, NULL, NULL, 0, &r);
		status = r.status;
		thttp_free(&r);
		if (status == 503)
			break;
		tsleep_ms(100);
	}
	cr_expect_eq(status, 503, "/readyz still ready");
	free(url);

	signal_cluster(&pg, SIGCONT);
	for (int i = 0; i < 300 && status != 202; i++) {
		status = post_event(&h, "hung-2");
		if (status != 202)
			tsleep_ms(100);
	}
	cr_expect_eq(status, 202, "no 2xx once the database answered");
	stop_private(&pg, &h);
}
