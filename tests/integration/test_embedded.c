/*
 * The embedded default: with no database configured, herald serve makes
 * and runs a private PostgreSQL cluster under its state folder, and stops
 * it again.
 */
#include <criterion/criterion.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"

static bool cluster_running(const char *data)
{
	glob_t g;
	char *ctl;
	int rc;

	cr_assert(glob("/usr/lib/postgresql/*/bin/pg_ctl", 0, NULL, &g) == 0);
	ctl = g.gl_pathv[g.gl_pathc - 1];
	rc = trun((const char *[]){ ctl, "status", "-D", data, NULL }, NULL,
	          NULL, NULL, true);
	globfree(&g);
	return rc == 0;
}

/* The cluster in data is down, and h's log says herald stopped it. */
static void expect_stopped_by_herald(struct therald *h, const char *data)
{
	char *log = therald_log(h);

	cr_expect_not(cluster_running(data), "cluster left running");
	cr_expect_not_null(strstr(log, "embedded PostgreSQL stopped"), "%s",
	                   log);
	free(log);
}

Test(embedded, creates_runs_and_stops_a_private_cluster, .timeout = 180)
{
	struct therald h;
	struct thttp_resp r;
	char *u, *data, *log;
	long status = 0;

	therald_init(&h);
	therald_start(&h, "{" THERALD_STATE_TLS "," THERALD_LISTEN "}", NULL);
	u = tfmt("%s/readyz", h.url);
	for (int i = 0; i < 100 && status != 200; i++) {
		thttp("GET", u, h.ca, NULL, NULL, 0, &r);
		status = r.status;
		thttp_free(&r);
		tsleep_ms(100);
	}
	cr_expect_eq(status, 200);
	data = tfmt("%s/state/pg/data", h.dir);
	cr_expect(cluster_running(data));
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	cr_expect_not(cluster_running(data), "cluster left running");
	log = therald_log(&h);
	cr_expect_not_null(strstr(log, "creating embedded PostgreSQL"));
	cr_expect_not_null(strstr(log, "embedded PostgreSQL stopped"));
	free(log);

	/* A second start reuses the cluster. */
	therald_start(&h, "{" THERALD_STATE_TLS "," THERALD_LISTEN "}", NULL);
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	log = therald_log(&h);
	cr_expect_null(
	    strstr(strstr(log, "msg=stopped") + 1, "creating embedded"),
	    "cluster created twice");
	free(log);
	free(u);
	free(data);
	therald_cleanup(&h);
}

/* A stop while the cluster is being made still stops it. */
Test(embedded, stop_during_start_stops_the_cluster, .timeout = 180)
{
	struct therald h;
	char *data;

	therald_init(&h);
	therald_spawn(&h, "{" THERALD_STATE_TLS "," THERALD_LISTEN "}", NULL);
	cr_assert(therald_wait_log(&h, "creating embedded PostgreSQL", 30000));
	cr_expect_eq(therald_stop(&h, SIGINT), 0);
	data = tfmt("%s/state/pg/data", h.dir);
	expect_stopped_by_herald(&h, data);
	free(data);
	therald_cleanup(&h);
}

/* A herald killed outright leaves its cluster running; the next one to
 * start finds it unowned, takes it over and stops it when it stops. */
Test(embedded, a_cluster_left_by_a_killed_herald_is_taken_over, .timeout = 180)
{
	struct therald h;
	char *data;

	therald_init(&h);
	data = tfmt("%s/state/pg/data", h.dir);
	therald_start(&h, "{" THERALD_STATE_TLS "," THERALD_LISTEN "}", NULL);
	cr_expect_eq(therald_stop(&h, SIGKILL), 128 + SIGKILL);
	cr_assert(cluster_running(data), "the kill stopped the cluster");

	therald_start(&h, "{" THERALD_STATE_TLS "," THERALD_LISTEN "}", NULL);
	cr_expect(therald_wait_log(&h, "ours_to_stop=true", 1000));
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	expect_stopped_by_herald(&h, data);
	free(data);
	therald_cleanup(&h);
}

/* As root, the cluster runs as "postgres", who must reach the state
 * folder: one inside a folder closed to others is refused by name. */
Test(embedded, a_state_folder_postgres_cannot_reach_is_named, .timeout = 60)
{
	struct therald h;
	char *closed, *log;

	if (geteuid() != 0) {
		printf("not run: only root hands the cluster to postgres\n");
		fflush(stdout);
		cr_skip_test("needs root");
	}
	therald_init(&h);
	closed = tfmt("%s/closed", h.dir);
	cr_assert(mkdir(closed, 0700) == 0);
	therald_spawn(&h,
	              "{\"state_dir\": \"{{dir}}/closed/state\","
	              " \"tls\": {\"self_signed\": true}," THERALD_LISTEN "}",
	              NULL);
	cr_expect_eq(therald_stop(&h, 0), 1);
	log = therald_log(&h);
	cr_expect_not_null(strstr(log, "cannot reach"), "%s", log);
	cr_expect_not_null(strstr(log, "closed/state"), "%s", log);
	free(log);
	free(closed);
	therald_cleanup(&h);
}
