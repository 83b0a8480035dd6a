/*
 * Ingest as a black box: the real herald binary over TLS with libcurl,
 * a real PostgreSQL. Every route and every refusal, acknowledgement only
 * after commit, idempotency under concurrency, volume, and metrics.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sources/auth.h"
#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tpg.h"
#include "support/ttls.h"

#define SECRET     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define OLD_SECRET "whsec_bmV3LXNlY3JldC1rZXktMDAx"

#define SOURCES                                                                \
	"\"sources\": {"                                                       \
	" \"alertmanager\": {\"tokens\": [\"am-secret-token\"]},"              \
	" \"generic\": {"                                                      \
	"  \"ci\": {\"secrets\": [\"" SECRET "\", \"" OLD_SECRET "\"],"        \
	"   \"event_type\": {\"pointer\": \"/type\"},"                         \
	"   \"deployment_id\": {\"pointer\": \"/deployment\"}},"               \
	"  \"bearer\": {\"auth\": \"bearer\", \"tokens\": [\"b-token\"],"      \
	"   \"event_type\": {\"header\": \"X-Event\"}}}}"

static struct therald h;
static PGconn *db;

static void setup(void)
{
	therald_init(&h);
}

static void teardown(void)
{
	if (db != NULL)
		PQfinish(db);
	db = NULL;
	therald_cleanup(&h);
}

TestSuite(ingest, .init = setup, .fini = teardown, .timeout = 300);

static void start(const char *extra)
{
	char *config = tfmt("{" THERALD_BASE ", " SOURCES "%s}", extra);

	therald_start(&h, config, NULL);
	free(config);
	db = tpg_connect(h.db);
}

static long long rows(const char *where)
{
	char *sql = tfmt("SELECT count(*) FROM events %s", where);
	long long n = tpg_value(db, sql);

	free(sql);
	return n;
}

/* POST body to path with headers; the answer in r. */
static void post(const char *path, const char *const headers[],
                 const char *body, struct thttp_resp *r)
{
	char *url = tfmt("%s%s", h.url, path);

	thttp("POST", url, h.ca, headers, body, strlen(body), r);
	free(url);
}

/* POST body to the "ci" source signed with secret (id, now + skew). */
static void post_signed(const char *secret, const char *id, long skew,
                        const char *body, struct thttp_resp *r)
{
	char *url = tfmt("%s/hooks/generic/ci", h.url);

	thttp_post_signed(url, h.ca, secret, id, (long long)time(NULL) + skew,
	                  body, r);
	free(url);
}

static bool system_has_promtool(void)
{
	return trun((const char *[]){ "promtool", "--version", NULL }, NULL,
	            NULL, NULL, false) == 0;
}

static const char *json_str(const struct thttp_resp *r, const char *key,
                            char *out, size_t size)
{
	json_t *j = thttp_json(r);

	snprintf(out, size, "%s",
	         json_string_value(json_object_get(j, key))
	             ? json_string_value(json_object_get(j, key))
	             : "");
	json_decref(j);
	return out;
}

/* The answer is status with exactly {"error": code, "message": text}. */
static void expect_error(const struct thttp_resp *r, long status,
                         const char *code)
{
	json_t *j = thttp_json(r);
	const char *message = json_string_value(json_object_get(j, "message"));

	cr_expect_eq(r->status, status, "want %ld, got %ld: %s", status,
	             r->status, r->body);
	cr_expect_str_eq(json_string_value(json_object_get(j, "error")), code,
	                 "%s", r->body);
	cr_expect(message != NULL && message[0] != '\0', "%s", r->body);
	cr_expect_eq(json_object_size(j), 2, "%s", r->body);
	json_decref(j);
}

Test(ingest, signed_event_is_committed_before_the_answer)
{
	const char *body = "{\"type\": \"DEPLOYMENT_SUCCESS\","
	                   " \"deployment\": \"web-1\", \"n\": 1}";
	struct thttp_resp r;
	char id[64], again[64], *sql;

	start("");
	post_signed(SECRET, "msg_a1", 0, body, &r);
	cr_assert_eq(r.status, 202, "%s", r.body);
	json_str(&r, "id", id, sizeof(id));
	cr_expect_str_eq(json_str(&r, "status", again, sizeof(again)),
	                 "accepted");
	thttp_free(&r);

	/* Right after the answer, with no wait: it is committed. */
	sql = tfmt("WHERE id = '%s' AND source = 'ci' AND event_type ="
	           " 'DEPLOYMENT_SUCCESS' AND deployment_id = 'web-1' AND"
	           " payload = '%s'::jsonb AND peer = '127.0.0.1' AND"
	           " headers->>'webhook-id' = 'msg_a1' AND"
	           " NOT headers ? 'webhook-signature'",
	           id, body);
	cr_expect_eq(rows(sql), 1);
	free(sql);

	post_signed(SECRET, "msg_a1", 0, body, &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	cr_expect_str_eq(json_str(&r, "id", again, sizeof(again)), id);
	cr_expect_str_eq(json_str(&r, "status", again, sizeof(again)),
	                 "duplicate");
	thttp_free(&r);
	cr_expect_eq(rows(""), 1);
}

Test(ingest, rotation_and_timestamp_tolerance)
{
	const char *body = "{\"type\": \"T\"}";
	struct thttp_resp r;
	char *log;

	start("");
	post_signed(OLD_SECRET, "msg_old_key", 0, body, &r);
	cr_expect_eq(r.status, 202, "%s", r.body);
	thttp_free(&r);
	post_signed(SECRET, "msg_late", -299, body, &r);
	cr_expect_eq(r.status, 202, "%s", r.body);
	thttp_free(&r);
	post_signed(SECRET, "msg_stale", -400, body, &r);
	expect_error(&r, 401, "unauthorized");
	cr_expect_not_null(strstr(r.body, "more than 5 minutes old"));
	thttp_free(&r);
	post_signed(SECRET, "msg_future", 400, body, &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	post_signed("whsec_d3Jvbmcta2V5LXdyb25nLWtleQ==", "msg_wrong", 0, body,
	            &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	cr_expect_eq(rows(""), 2);

	/* Records reach the file from the logger's thread. */
	cr_expect(
	    therald_wait_log(&h, "reason=\"no signature matches\"", 2000));
	log = therald_log(&h);
	cr_expect_not_null(strstr(log, "status=401"), "%s", log);
	cr_expect_not_null(strstr(log, "peer=127.0.0.1"));
	cr_expect_not_null(strstr(log, "reason=\"no signature matches\""));
	free(log);
}

Test(ingest, every_refusal_is_json_and_stores_nothing)
{
	const char *json[] = { "Content-Type: application/json", NULL };
	const char *am[] = { "Content-Type: application/json",
		             "Authorization: Bearer am-secret-token", NULL };
	struct thttp_resp r;
	char *big, *url, *log, *allow;

	start("");
	post("/hooks/alertmanager",
	     (const char *[]){ "Content-Type: text/plain",
	                       "Authorization: Bearer am-secret-token", NULL },
	     "{}", &r);
	expect_error(&r, 415, "unsupported_media_type");
	thttp_free(&r);
	post("/hooks/alertmanager", am, "{\"alerts\": [\n  {,}]}", &r);
	expect_error(&r, 400, "bad_json");
	cr_expect_not_null(strstr(r.body, "line 2, column"), "%s", r.body);
	thttp_free(&r);
	post("/hooks/alertmanager",
	     (const char *[]){ "Content-Type: application/json",
	                       "Authorization: Bearer not-the-token", NULL },
	     "{}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	post("/hooks/generic/bearer",
	     (const char *[]){ "Content-Type: application/json",
	                       "Authorization: Bearer nope", "X-Event: E",
	                       NULL },
	     "{}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	/* Credentials missing altogether. */
	post("/hooks/alertmanager", json, "{}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	post("/hooks/generic/bearer",
	     (const char *[]){ "Content-Type: application/json", "X-Event: E",
	                       NULL },
	     "{}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	post("/hooks/generic/ci", json, "{\"type\": \"X\"}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	post("/hooks/generic/ci",
	     (const char *[]){ "Content-Type: application/json",
	                       "webhook-id: msg_1", "webhook-timestamp: 1",
	                       NULL },
	     "{\"type\": \"X\"}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);
	post("/hooks/generic/nosuch", json, "{}", &r);
	expect_error(&r, 404, "not_found");
	thttp_free(&r);
	post("/hooks/elsewhere", json, "{}", &r);
	expect_error(&r, 404, "not_found");
	thttp_free(&r);
	post("/hooks/abacus/unknown-token-123", json, "{}", &r);
	expect_error(&r, 401, "unauthorized");
	thttp_free(&r);

	url = tfmt("%s/hooks/alertmanager", h.url);
	thttp("GET", url, h.ca, NULL, NULL, 0, &r);
	expect_error(&r, 405, "method_not_allowed");
	allow = thttp_header(&r, "Allow");
	cr_expect_str_eq(allow, "POST");
	free(allow);
	thttp_free(&r);
	free(url);

	big = calloc(1, 1100 * 1024);
	memset(big, ' ', 1100 * 1024 - 1);
	big[0] = '{';
	big[1100 * 1024 - 2] = '}';
	post("/hooks/alertmanager", am, big, &r);
	expect_error(&r, 413, "too_large");
	thttp_free(&r);
	free(big);

	cr_expect_eq(rows(""), 0);
	cr_expect(therald_wait_log(&h, "status=413", 2000));
	log = therald_log(&h);
	/* One line per refusal, with the peer and the reason. */
	cr_expect_not_null(strstr(log, "status=401 "), "%s", log);
	cr_expect_not_null(strstr(log, "peer=127.0.0.1"), "%s", log);
	cr_expect_not_null(strstr(log, "reason=\"missing or wrong bearer "
	                               "token\""),
	                   "%s", log);
	cr_expect_null(strstr(log, "am-secret-token"));
	cr_expect_null(strstr(log, "unknown-token-123"), "%s", log);
	cr_expect_not_null(strstr(log, "path=/hooks/abacus/ "), "%s", log);
	free(log);
}

Test(ingest, abacus_token_names_deployment_and_type)
{
	uint8_t hash[32];
	char hex[65], *sql, id[64];
	const char *body = "{\"deploymentId\": \"ignored\", \"x\": [1, 2]}";
	struct thttp_resp r;

	start("");
	auth_sha256("tok-abc-123", 11, hash);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	sql = tfmt("INSERT INTO registrations (id, kind, deployment_id,"
	           " event_type, token_sha256) VALUES"
	           " ('01900000-0000-7000-8000-000000000001', 'webhook',"
	           " 'dep-9', 'DEPLOYMENT_FAILED', '\\x%s')",
	           hex);
	tpg_exec(db, sql);
	free(sql);

	post("/hooks/abacus/tok-abc-123",
	     (const char *[]){ "Content-Type: application/json", NULL }, body,
	     &r);
	cr_assert_eq(r.status, 202, "%s", r.body);
	json_str(&r, "id", id, sizeof(id));
	thttp_free(&r);
	sql = tfmt("WHERE id = '%s' AND source = 'abacus' AND"
	           " deployment_id = 'dep-9' AND event_type ="
	           " 'DEPLOYMENT_FAILED' AND registration_id ="
	           " '01900000-0000-7000-8000-000000000001' AND"
	           " payload = '%s'::jsonb",
	           id, body);
	cr_expect_eq(rows(sql), 1);
	free(sql);
}

static const char notification[] =
    "{\"version\": \"4\", \"status\": \"%s\", \"receiver\": \"herald\","
    " \"groupKey\": \"{}:{alertname=\\\"Down\\\"}\", \"alerts\": ["
    " {\"status\": \"%s\", \"labels\": {\"alertname\": \"Down\","
    "  \"deployment\": \"web\", \"severity\": \"page\"},"
    "  \"annotations\": {\"summary\": \"web is down\"},"
    "  \"startsAt\": \"2026-12-01T10:00:00Z\","
    "  \"endsAt\": \"0001-01-01T00:00:00Z\", \"fingerprint\": \"a1b2\"},"
    " {\"status\": \"firing\", \"labels\": {\"alertname\": \"Slow\"},"
    "  \"startsAt\": \"2026-12-01T10:00:00Z\", \"fingerprint\": \"c3d4\"}"
    "]}";

Test(ingest, alertmanager_one_event_per_alert_and_repeats)
{
	const char *am[] = { "Content-Type: application/json",
		             "Authorization: Bearer am-secret-token", NULL };
	char *firing = tfmt(notification, "firing", "firing");
	char *resolved = tfmt(notification, "resolved", "resolved");
	struct thttp_resp r;
	json_t *j;

	start("");
	post("/hooks/alertmanager", am, firing, &r);
	cr_assert_eq(r.status, 202, "%s", r.body);
	j = thttp_json(&r);
	cr_expect_eq(json_array_size(json_object_get(j, "ids")), 2);
	json_decref(j);
	thttp_free(&r);
	post("/hooks/alertmanager", am, firing, &r);
	cr_expect_eq(r.status, 200, "%s", r.body);
	thttp_free(&r);
	post("/hooks/alertmanager", am, resolved, &r);
	cr_expect_eq(r.status, 202, "%s", r.body);
	thttp_free(&r);
	cr_expect_eq(rows(""), 3);
	cr_expect_eq(rows("WHERE event_type = 'MONITOR_ALERT' AND"
	                  " deployment_id = 'web' AND severity = 'page' AND"
	                  " payload->'alert'->>'status' = 'resolved'"),
	             1);
	free(firing);
	free(resolved);
}

/* Concurrent clients: each thread posts with its own connection. */
struct client {
	pthread_t thread;
	pthread_barrier_t *start;
	int index;
	int count;
	const char *id_prefix; /* NULL: all use "same" */
	int accepted;
	int duplicates;
	int other;
	char first_id[64];
};

static void *client_main(void *arg)
{
	struct client *c = arg;

	pthread_barrier_wait(c->start);
	for (int i = 0; i < c->count; i++) {
		char id[64], *body;
		struct thttp_resp r;

		if (c->id_prefix != NULL)
			snprintf(id, sizeof(id), "%s-%d-%d", c->id_prefix,
			         c->index, i);
		else
			snprintf(id, sizeof(id), "same");
		body = tfmt("{\"type\": \"LOAD\", \"client\": %d, \"i\": %d}",
		            c->id_prefix ? c->index : 0, c->id_prefix ? i : 0);
		post_signed(SECRET, id, 0, body, &r);
		if (r.status == 202)
			c->accepted++;
		else if (r.status == 200)
			c->duplicates++;
		else
			c->other++;
		if (r.status == 200 || r.status == 202)
			json_str(&r, "id", c->first_id, sizeof(c->first_id));
		thttp_free(&r);
		free(body);
	}
	return NULL;
}

static void run_clients(struct client *c, int n, int count, const char *prefix)
{
	pthread_barrier_t start;

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		c[i] = (struct client){ .start = &start,
			                .index = i,
			                .count = count,
			                .id_prefix = prefix };
		pthread_create(&c[i].thread, NULL, client_main, &c[i]);
	}
	for (int i = 0; i < n; i++)
		pthread_join(c[i].thread, NULL);
	pthread_barrier_destroy(&start);
}

Test(ingest, sixteen_identical_requests_store_one_row)
{
	struct client c[16];
	int accepted = 0, duplicates = 0;

	start("");
	run_clients(c, 16, 1, NULL);
	for (int i = 0; i < 16; i++) {
		accepted += c[i].accepted;
		duplicates += c[i].duplicates;
		cr_expect_str_eq(c[i].first_id, c[0].first_id);
	}
	cr_expect_eq(accepted, 1);
	cr_expect_eq(duplicates, 15);
	cr_expect_eq(rows(""), 1);
}

Test(ingest, thirty_two_clients_times_five_hundred)
{
	struct client c[32];
	int accepted = 0, other = 0;

	start("");
	run_clients(c, 32, 500, "load");
	for (int i = 0; i < 32; i++) {
		accepted += c[i].accepted;
		other += c[i].other;
	}
	cr_expect_eq(accepted, 16000);
	cr_expect_eq(other, 0);
	cr_expect_eq(rows("WHERE event_type = 'LOAD'"), 16000);
}

struct waiter {
	pthread_t thread;
	int index;
	long status;
	char retry_after[16];
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct thttp_resp r;
	char id[32], *ra;

	snprintf(id, sizeof(id), "wait-%d", w->index);
	post_signed(SECRET, id, 0, "{\"type\": \"WAIT\"}", &r);
	w->status = r.status;
	ra = thttp_header(&r, "Retry-After");
	snprintf(w->retry_after, sizeof(w->retry_after), "%s", ra ? ra : "");
	free(ra);
	thttp_free(&r);
	return NULL;
}

Test(ingest, full_queue_answers_503_with_retry_after)
{
	enum { N = 8 };
	struct waiter w[N];
	PGconn *blocker;
	int busy = 0, accepted = 0;

	start(", \"ingest\": {\"queue_size\": 2, \"batch_max\": 1,"
	      " \"retry_after\": \"3s\"}");
	/* Hold the writer inside its first batch, so the queue fills. */
	blocker = tpg_connect(h.db);
	tpg_exec(blocker, "BEGIN");
	tpg_exec(blocker, "LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
	for (int i = 0; i < N; i++) {
		w[i] = (struct waiter){ .index = i };
		pthread_create(&w[i].thread, NULL, waiter_main, &w[i]);
	}
	tsleep_ms(1500);
	tpg_exec(blocker, "COMMIT");
	PQfinish(blocker);
	for (int i = 0; i < N; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].status == 503) {
			busy++;
			cr_expect_str_eq(w[i].retry_after, "3");
		}
		accepted += w[i].status == 202;
	}
	cr_expect_eq(busy + accepted, N);
	cr_expect(busy > 0, "no request was refused");
	/* The queue holds two; the writer may have taken a third. */
	cr_expect(accepted >= 2, "only %d stored", accepted);
	cr_expect_eq(rows("WHERE event_type = 'WAIT'"), accepted);
}

Test(ingest, metrics_pass_promtool)
{
	char *url, *file, *out = NULL, *err = NULL;
	struct thttp_resp r;
	int rc;

	if (system_has_promtool() == false)
		tnot_run("promtool (Debian package prometheus) is absent");
	start("");
	post_signed(SECRET, "m1", 0, "{\"type\": \"METRIC\"}", &r);
	thttp_free(&r);
	url = tfmt("%s/metrics", h.url);
	thttp("GET", url, h.ca, NULL, NULL, 0, &r);
	cr_assert_eq(r.status, 200);
	cr_expect_not_null(strstr(r.body,
	                          "herald_events_total{source=\"ci\","
	                          "type=\"METRIC\",outcome=\"stored\"} 1"),
	                   "%s", r.body);
	cr_expect_not_null(
	    strstr(r.body, "herald_writer_commit_seconds_count"));
	cr_expect_not_null(strstr(r.body, "herald_database_up 1"));
	file = tfmt("%s/metrics.txt", h.dir);
	twrite(file, r.body);
	rc = trun((const char *[]){ "promtool", "check", "metrics", NULL },
	          r.body, &out, &err, false);
	cr_expect_eq(rc, 0, "promtool: %s %s", out, err);
	free(out);
	free(err);
	free(file);
	free(url);
	thttp_free(&r);
}

Test(ingest, herald_send_posts_a_signed_event)
{
	char *out = NULL, *err = NULL;
	int rc;

	start("");
	rc = therald_cli((const char *[]){ "send", "-c", h.config, "--url",
	                                   h.url, "ci", "DEPLOYMENT_SUCCESS",
	                                   "--deployment", "api-3",
	                                   "version=\"1.2\"", "n=3", NULL },
	                 &out, &err);
	cr_expect_eq(rc, 0, "%s %s", out, err);
	cr_expect_not_null(strstr(out, "\"status\":\"accepted\""), "%s", out);
	cr_expect_eq(rows("WHERE event_type = 'DEPLOYMENT_SUCCESS' AND"
	                  " deployment_id = 'api-3' AND"
	                  " payload->>'version' = '1.2' AND"
	                  " payload->'n' = '3'"),
	             1);
	free(out);
	free(err);
}
