/*
 * The dispatcher's guarantees end to end: the real herald, a real
 * PostgreSQL and the capture HTTP server. Every attempt ends by its
 * deadline, plugins included; a sink's concurrency and rate hold across
 * a reload; retries run when they are due, not at the next sweep; an
 * attempt lost in a crash is still on record; deliveries nothing would
 * ever attempt die at their max_age; an event that cannot be prepared
 * is a failed attempt.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/tcheck.h"
#include "support/tfake.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tpg.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static struct therald h;
static struct tfake capture;
static PGconn *db;
static char *fake_cert, *fake_key;

static void setup(void)
{
	therald_init(&h);
	tfake_certificate(h.dir, &fake_cert, &fake_key);
	tfake_start_capture(&capture, fake_cert, fake_key);
}

static void teardown(void)
{
	if (db != NULL)
		PQfinish(db);
	db = NULL;
	tfake_stop(&capture);
	therald_cleanup(&h);
	free(fake_cert);
	free(fake_key);
}

TestSuite(dispatch, .init = setup, .fini = teardown, .timeout = 300);

/* The configuration of a test: a generic source "ci", the given dispatch
 * members and routes and sinks. {{cap}} is the capture server's base
 * URL, {{cacert}} its certificate, {{plugins}} the built plugins. */
static char *config_with(const char *dispatch, const char *routes_and_sinks)
{
	char *cap = tfmt("https://127.0.0.1:%d", capture.port);
	char *plugins = tfmt("%s/plugins", tenv("HERALD_BUILD_DIR"));
	char *tmpl = tfmt("{" THERALD_BASE ","
	                  " \"log\": {\"level\": \"debug\"},"
	                  " \"dispatch\": {%s},"
	                  " \"sources\": {\"generic\": {\"ci\": {"
	                  "  \"secrets\": [\"" SECRET "\"],"
	                  "  \"event_type\": {\"pointer\": \"/type\"}"
	                  " }}}, %s}",
	                  dispatch, routes_and_sinks);
	char *a = tsubst(tmpl, "cap", cap);
	char *b = tsubst(a, "cacert", fake_cert);
	char *c = tsubst(b, "plugins", plugins);

	free(cap);
	free(plugins);
	free(tmpl);
	free(a);
	free(b);
	return c;
}

static void start_with(const char *dispatch, const char *routes_and_sinks)
{
	char *config = config_with(dispatch, routes_and_sinks);

	therald_start(&h, config, NULL);
	if (db == NULL)
		db = tpg_connect(h.db);
	free(config);
}

/* Post one signed event to "ci"; returns the event id (malloc'd). */
static char *send_event(const char *type, const char *id)
{
	char *body = tfmt("{\"type\": \"%s\", \"n\": 1}", type);
	char *url = tfmt("%s/hooks/generic/ci", h.url);
	struct thttp_resp r;
	json_t *j;
	char *event;

	thttp_post_signed(url, h.ca, SECRET, id, (long long)time(NULL), body,
	                  &r);
	cr_assert_eq(r.status, 202, "%s", r.body);
	j = thttp_json(&r);
	event = strdup(json_string_value(json_object_get(j, "id")));
	json_decref(j);
	thttp_free(&r);
	free(url);
	free(body);
	return event;
}

/* The capture server's control API. */
static json_t *control(const char *method, const char *path, const char *body)
{
	char *url = tfmt("https://127.0.0.1:%d%s", capture.port, path);
	json_t *j = thttp_call(method, url, fake_cert, body);

	free(url);
	return j;
}

/* Wait until the capture server has seen want requests to /hook, up to
 * ms; returns the last count. */
static long long captured(long long want, int ms)
{
	long long n = 0;

	for (int waited = 0; waited <= ms; waited += 100) {
		json_t *c = control("GET", "/_control/count?path=/hook", NULL);

		n = json_integer_value(json_object_get(c, "count"));
		json_decref(c);
		if (n >= want)
			break;
		tsleep_ms(100);
	}
	return n;
}

/* SIGHUP, and wait until the dispatcher took the configuration up (once
 * per test: the wait looks at the whole log). */
static void reload(void)
{
	kill(h.pid, SIGHUP);
	cr_assert(therald_wait_log(&h, "dispatcher uses the new configuration",
	                           20000));
}

static const char plugin_sink[] =
    "\"routes\": [{\"sinks\": [\"plug\"]}],"
    " \"sinks\": {\"plug\": {\"kind\": \"plugin\","
    "  \"path\": \"{{plugins}}/slow-plugin.so\", \"settings\": %s,"
    "  \"timeout\": \"1s\", \"max_attempts\": 2,"
    "  \"retry_base\": \"200ms\"}}";

/* Without a deadline of its own the dispatcher would wait for the
 * plugin forever, and the delivery would be claimed again each time its
 * lease ran out, never dead. */
Test(dispatch, a_plugin_that_never_answers_is_cut_off)
{
	char *sinks = tfmt(plugin_sink, "{}");

	start_with("\"sweep\": \"200ms\", \"lease\": \"12s\"", sinks);
	free(send_event("DEPLOYMENT_START", "never-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'dead'",
	                      1, 30000),
	             1, "the delivery did not die after its two attempts");
	cr_expect_eq(
	    tpg_count(db,
	              "SELECT count(*) FROM delivery_attempts WHERE"
	              " outcome = 'retry' AND error LIKE '%s'",
	              "no outcome within the sink''s timeout of 1000 ms"),
	    2);
	/* The plugin still holds both calls: a stop does not wait for
	 * them, and frees what the plugin never handed back. */
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	free(sinks);
}

/* deliver that blocks cannot be cut short; it is logged. */
Test(dispatch, a_plugin_that_blocks_is_logged)
{
	char *sinks = tfmt(plugin_sink, "{\"block_ms\": 300}");

	start_with("\"sweep\": \"200ms\", \"lease\": \"12s\"", sinks);
	free(send_event("DEPLOYMENT_START", "block-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 30000),
	             1);
	cr_expect(therald_wait_log(&h,
	                           "msg=\"a sink blocked the dispatch thread\""
	                           " sink=plug",
	                           5000));
	free(sinks);
}

static const char hook_sink[] =
    "\"routes\": [{\"sinks\": [\"hook\"]}],"
    " \"sinks\": {\"hook\": {\"kind\": \"http\", \"url\": \"{{cap}}/hook\","
    "  \"ca_file\": \"{{cacert}}\", \"timeout\": \"5s\","
    "  \"retry_base\": \"200ms\", %s}}";

/* A reload used to open sinks that counted nothing in flight, so the
 * new one started a second attempt next to the old one's. */
Test(dispatch, concurrency_holds_across_a_reload)
{
	char *sinks = tfmt(hook_sink, "\"concurrency\": 1");

	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": [],"
	            " \"then\": {\"status\": 200, \"delay_ms\": 1500}}"));
	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"", sinks);
	for (int i = 0; i < 3; i++) {
		char id[32];

		snprintf(id, sizeof(id), "conc-%d", i);
		free(send_event("DEPLOYMENT_SUCCESS", id));
	}
	cr_assert_geq(captured(1, 20000), 1);
	reload();
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      3, 60000),
	             3);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM delivery_attempts a"
	                           " JOIN delivery_attempts b"
	                           " ON a.started_at < b.started_at"
	                           " AND b.started_at < a.started_at"
	                           " + a.duration_ms * interval '1 ms'"),
	             0, "two attempts overlapped with concurrency 1");
	free(sinks);
}

/* A reload used to fill the rate's bucket again. With one a minute, the
 * second delivery must wait for the minute whatever the reload does. */
Test(dispatch, rate_holds_across_a_reload)
{
	char *sinks = tfmt(hook_sink, "\"rate\": \"1/m\"");

	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"", sinks);
	free(send_event("DEPLOYMENT_SUCCESS", "rate-1"));
	free(send_event("DEPLOYMENT_SUCCESS", "rate-2"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	reload();
	tsleep_ms(3000);
	cr_expect_eq(captured(2, 0), 1, "the reload refilled the bucket");
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM delivery_attempts"),
	             1);
	free(sinks);
}

/* Started-at gaps between consecutive attempts, in milliseconds; returns
 * how many attempts there are. */
static int attempt_gaps(long long *gaps, int max)
{
	PGresult *res = PQexec(db, "SELECT (extract(epoch FROM started_at)"
	                           " * 1000)::bigint FROM delivery_attempts"
	                           " ORDER BY attempt");
	int n = PQntuples(res);

	for (int i = 1; i < n && i - 1 < max; i++)
		gaps[i - 1] = strtoll(PQgetvalue(res, i, 0), NULL, 10) -
		              strtoll(PQgetvalue(res, i - 1, 0), NULL, 10);
	PQclear(res);
	return n;
}

/* The value of a sample line of /metrics, or -1 if there is none. */
static long long metric(const char *sample)
{
	char *url = tfmt("%s/metrics", h.url);
	char *needle = tfmt("\n%s ", sample);
	struct thttp_resp r;
	const char *at;
	long long v = -1;

	thttp("GET", url, h.ca, NULL, NULL, 0, &r);
	cr_assert_eq(r.status, 200);
	at = strstr(r.body, needle);
	if (at != NULL)
		v = strtoll(at + strlen(needle), NULL, 10);
	thttp_free(&r);
	free(needle);
	free(url);
	return v;
}

/* With a 30 s sweep, a retry after 200 ms and one after Retry-After: 1
 * used to wait for the sweep; the claim now comes back when they are
 * due. The latency histogram counts the delivery once, not its three
 * attempts. */
Test(dispatch, retries_run_when_due_not_at_the_sweep)
{
	char *sinks = tfmt(hook_sink, "\"max_attempts\": 5");
	long long gaps[2];

	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/hook\", \"responses\": ["
	                    "{\"status\": 503}, {\"status\": 429, \"headers\":"
	                    " {\"Retry-After\": \"1\"}}],"
	                    " \"then\": {\"status\": 200}}"));
	start_with("\"sweep\": \"30s\", \"lease\": \"16s\"", sinks);
	free(send_event("DEPLOYMENT_START", "due-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 15000),
	             1, "the retries waited for the sweep");
	cr_assert_eq(attempt_gaps(gaps, 2), 3);
	cr_expect(gaps[1] >= 1000, "Retry-After: 1 honoured after %lld ms",
	          gaps[1]);
	cr_expect_eq(metric("herald_delivery_latency_seconds_count"), 1);
	cr_expect_eq(metric("herald_delivery_latency_seconds_bucket"
	                    "{le=\"1\"}"),
	             0, "the latency of the first attempt was observed");
	free(sinks);
}

/* Deliveries whose attempt count and attempt rows disagree. */
static const char attempts_unrecorded[] =
    "SELECT count(*) FROM deliveries d WHERE d.attempts <>"
    " (SELECT count(*) FROM delivery_attempts a"
    "  WHERE a.delivery_id = d.id)";

/* Herald dies while attempts are in flight. Their numbers were used at
 * the claim; when their leases run out and they are claimed again, the
 * lost attempts get rows of their own. */
Test(dispatch, attempts_lost_in_a_crash_are_on_record)
{
	enum { EVENTS = 8 };
	char *sinks = tfmt(hook_sink, "\"concurrency\": 4");
	char *config;

	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": [],"
	            " \"then\": {\"status\": 200, \"delay_ms\": 1500}}"));
	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"", sinks);
	for (int i = 0; i < EVENTS; i++) {
		char id[32];

		snprintf(id, sizeof(id), "lost-%d", i);
		free(send_event("DEPLOYMENT_SUCCESS", id));
	}
	cr_assert_geq(captured(4, 20000), 4);
	cr_assert_eq(therald_stop(&h, SIGKILL), 128 + SIGKILL);
	cr_assert_gt(tpg_value(db, attempts_unrecorded), 0,
	             "no attempt was in flight at the kill");

	config = tread(h.config);
	therald_start(&h, config, NULL);
	free(config);
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      EVENTS, 60000),
	             EVENTS);
	cr_expect_eq(tpg_value(db, attempts_unrecorded), 0);
	cr_expect_gt(tpg_value(db, "SELECT count(*) FROM delivery_attempts"
	                           " WHERE outcome = 'retry' AND error LIKE"
	                           " 'outcome unknown: the lease ran out%'"
	                           " AND duration_ms >= 15000"),
	             0);
	free(sinks);
}

/* A sink removed from the configuration leaves its deliveries pending:
 * one never tried, one whose lease ran out mid-attempt. They die at the
 * default max_age, 24 h, the lost attempt on record. */
Test(dispatch, deliveries_of_a_removed_sink_die_at_the_default_max_age)
{
	char *sinks = tfmt(hook_sink, "\"max_attempts\": 5");
	char *event, *sql;

	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"", sinks);
	event = send_event("DEPLOYMENT_START", "removed-1");
	sql = tfmt("INSERT INTO deliveries (id, event_id, sink, created_at,"
	           " attempts, locked_until, locked_by, updated_at) VALUES"
	           " ('01900000-0000-7000-8000-00000000000a', '%s', 'retired',"
	           "  now() - interval '25 hours', 0, NULL, NULL, now()),"
	           " ('01900000-0000-7000-8000-00000000000b', '%s', 'old',"
	           "  now() - interval '25 hours', 1,"
	           "  now() - interval '1 minute', 'gone:1:0',"
	           "  now() - interval '2 minutes'),"
	           " ('01900000-0000-7000-8000-00000000000c', '%s', 'recent',"
	           "  now() - interval '23 hours', 0, NULL, NULL, now())",
	           event, event, event);
	tpg_exec(db, sql);
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'dead'",
	                      2, 15000),
	             2, "pending deliveries of removed sinks did not die");
	cr_expect_eq(tpg_count(db,
	                       "SELECT count(*) FROM deliveries WHERE"
	                       " status = 'dead' AND last_error LIKE '%s'",
	                       "older than max_age 1d: its sink is no longer"
	                       " configured"),
	             2);
	cr_expect_eq(
	    tpg_count(db,
	              "SELECT count(*) FROM deliveries WHERE sink = '%s'"
	              " AND status = 'pending'",
	              "recent"),
	    1);
	cr_expect_eq(tpg_value(db, attempts_unrecorded), 0);
	cr_expect(therald_wait_log(
	    &h, "delivery=01900000-0000-7000-8000-00000000000b", 5000));
	free(sql);
	free(event);
	free(sinks);
}

/* A 410 turns the sink off: the delivery it answered and one that came
 * after wait for the sink to be on again, but no longer than max_age. */
Test(dispatch, deliveries_parked_by_a_410_die_at_max_age)
{
	char *sinks = tfmt(hook_sink, "\"max_age\": \"3s\"");

	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/hook\", \"responses\": ["
	                    "{\"status\": 410}]}"));
	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"", sinks);
	free(send_event("DEPLOYMENT_START", "gone-1"));
	cr_assert(therald_wait_log(&h, "sink disabled", 10000));
	free(send_event("DEPLOYMENT_START", "gone-2"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'dead' AND last_error LIKE"
	                      " 'older than max_age 3s: its sink was turned"
	                      " off by a 410 answer%'",
	                      2, 20000),
	             2);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM delivery_attempts"), 1,
	             "the second delivery was attempted");
	cr_expect_eq(tpg_value(db, attempts_unrecorded), 0);
	cr_expect_eq(captured(2, 0), 1);
	free(sinks);
}

/* A sink that cannot be opened (its program is missing) never takes its
 * deliveries; they die at max_age, saying why. */
Test(dispatch, deliveries_of_a_sink_not_opened_die_at_max_age)
{
	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"",
	           "\"routes\": [{\"sinks\": [\"run\"]}],"
	           " \"sinks\": {\"run\": {\"kind\": \"command\","
	           "  \"argv\": [\"/nonexistent/herald-test-program\"],"
	           "  \"timeout\": \"1s\", \"max_age\": \"2s\"}}");
	cr_expect(therald_wait_log(&h, "sink cannot be opened", 5000));
	free(send_event("DEPLOYMENT_START", "unopened-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'dead' AND last_error ="
	                      " 'older than max_age 2s: its sink cannot be"
	                      " opened'",
	                      1, 20000),
	             1);
}

/* PostgreSQL keeps a payload nested deeper than jansson reads. Its
 * delivery used to be claimed, dropped and claimed again each time the
 * lease ran out; it now fails at once, saying why. */
Test(dispatch, an_event_that_cannot_be_prepared_fails_with_its_reason)
{
	char *sinks = tfmt(hook_sink, "\"max_attempts\": 5");

	start_with("\"sweep\": \"200ms\", \"lease\": \"16s\"", sinks);
	tpg_exec(db, "INSERT INTO events (id, received_at, source, event_type,"
	             " payload) VALUES ('01900000-0000-7000-8000-0000000000d1',"
	             " now(), 'ci', 'DEPLOYMENT_START',"
	             " (repeat('[', 3000) || repeat(']', 3000))::jsonb)");
	tpg_exec(db, "INSERT INTO deliveries (id, event_id, sink) VALUES"
	             " ('01900000-0000-7000-8000-0000000000d2',"
	             " '01900000-0000-7000-8000-0000000000d1', 'hook')");
	tpg_exec(db, "NOTIFY herald_deliveries");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'failed'",
	                      1, 15000),
	             1, "the delivery is still pending");
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM delivery_attempts"
	                           " WHERE outcome = 'failed' AND error LIKE"
	                           " 'the stored payload cannot be read:"
	                           " maximum parsing depth reached%'"),
	             1);
	cr_expect_eq(tpg_value(db, attempts_unrecorded), 0);
	cr_expect_eq(captured(1, 0), 0);
	free(sinks);
}
