/*
 * Abacus end to end: the real herald binary, a real PostgreSQL and the
 * Abacus fake (tests/fakes/abacus) over HTTPS both ways. `herald register`
 * creates webhooks and alerts at the fake, the fake fires deployment
 * events at the running herald, drift is repaired, failures are retried
 * or reported, and a new monitor alert version becomes exactly one event
 * while two herald processes poll.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/tls.h"
#include "support/tcheck.h"
#include "support/tfake.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tpg.h"

#define KEY "abacus-key-7f3a9c"

#define DEPLOYMENTS                                                            \
	"{\"dep-1\": {\"events\": [\"DEPLOYMENT_START\","                      \
	" \"DEPLOYMENT_SUCCESS\", \"DEPLOYMENT_FAILED\"],"                     \
	" \"payload\": {\"team\": \"core\"},"                                  \
	" \"alerts\": {\"traffic-drop\": {\"condition\": {\"alertType\":"      \
	" \"PredictionCount\", \"threshold\": -10,"                            \
	" \"aggregationWindow\": \"1h\", \"aggregationType\": \"sum\"},"       \
	" \"recipients\": [\"ops@example.com\"],"                              \
	" \"email_body\": \"Traffic dropped\"}}}}"

static const char *const event_types[] = { "DEPLOYMENT_START",
	                                   "DEPLOYMENT_SUCCESS",
	                                   "DEPLOYMENT_FAILED" };

static struct therald h, h2;
static struct tfake fake;
static char *fake_dir, *fake_cert, *api;
static PGconn *db;

/* Set-up */

static void make_cert(const char *cert, const char *key)
{
	char err[256];

	cr_assert(tls_self_signed_ensure(cert, key, 30, err, sizeof(err)), "%s",
	          err);
}

static void setup(void)
{
	char *herald_key, *fake_key, *fakes;

	therald_init(&h);
	/* The fake trusts herald's certificate, so it must exist first. */
	herald_key = tfmt("%s/tls/key.pem", h.dir);
	make_cert(h.ca, herald_key);
	fake_dir = tmkdtemp();
	fake_cert = tfmt("%s/cert.pem", fake_dir);
	fake_key = tfmt("%s/key.pem", fake_dir);
	make_cert(fake_cert, fake_key);
	fakes = tfmt("%s/abacus", tenv("HERALD_FAKES_DIR"));
	tfake_start(&fake,
	            (const char *[]){ fakes, "--port", "0", "--cert", fake_cert,
	                              "--key", fake_key, "--ca", h.ca,
	                              "--api-key", KEY, "--deployment", "dep-1",
	                              "--deployment", "dep-2", NULL });
	api = tfmt("https://127.0.0.1:%d", fake.port);
	free(fakes);
	free(fake_key);
	free(herald_key);
}

static void teardown(void)
{
	if (db != NULL)
		PQfinish(db);
	db = NULL;
	therald_cleanup(&h2);
	therald_cleanup(&h);
	tfake_stop(&fake);
	trmdir(fake_dir);
	free(fake_dir);
	free(fake_cert);
	free(api);
}

TestSuite(abacus, .init = setup, .fini = teardown, .timeout = 300);

/* A configuration: the fake as Abacus with key, public_url when given,
 * the listener on port (0: any), extra members of "abacus". */
static char *config(const char *key, const char *public_url, int port,
                    const char *extra)
{
	char *listen = port ? tfmt("\"listen\": {\"port\": %d,"
	                           " \"shutdown_timeout\": \"5s\"}",
	                           port)
	                    : tfmt("%s", THERALD_LISTEN);
	char *pub = public_url ? tfmt("\"public_url\": \"%s\",", public_url)
	                       : tfmt("%s", "");
	char *text = tfmt("{%s " THERALD_STATE_TLS ", %s, " THERALD_DB ","
	                  " \"abacus\": {\"api_url\": \"%s\","
	                  " \"api_key\": \"%s\", \"ca_file\": \"%s\","
	                  " \"timeout\": \"5s\", \"poll_interval\": \"1s\","
	                  " \"deployments\": " DEPLOYMENTS "%s}}",
	                  pub, listen, api, key, fake_cert, extra);

	free(listen);
	free(pub);
	return text;
}

/* Write text as h's configuration, as therald_start would. */
static void write_config(struct therald *t, const char *text)
{
	char *a = tsubst(text, "dir", t->dir);
	char *b = tsubst(a, "db", t->db);

	twrite(t->config, b);
	free(a);
	free(b);
}

/* Start herald, then give its configuration the public_url it got, for
 * the commands that follow. */
static void start(const char *key)
{
	char *text = config(key, NULL, 0, "");

	therald_start(&h, text, NULL);
	free(text);
	text = config(key, h.url, 0, "");
	write_config(&h, text);
	free(text);
	db = tpg_connect(h.db);
}

static int cli(const char *cmd, const char *flag, char **out, char **err)
{
	return therald_cli(
	    (const char *[]){ cmd, "--config", h.config, flag, NULL }, out,
	    err);
}

/* Register, which must succeed; its standard output. */
static char *register_ok(void)
{
	char *out, *err;
	int rc = cli("register", NULL, &out, &err);

	cr_assert_eq(rc, 0, "register: %d\n%s\n%s", rc, out, err);
	cr_expect_null(strstr(out, KEY));
	cr_expect_null(strstr(err, KEY));
	free(err);
	return out;
}

/* Whether a plan line of out starts with op. */
static bool has_op(const char *out, const char *op)
{
	size_t n = strlen(op);

	for (const char *l = out; l != NULL && *l; l = strchr(l, '\n')) {
		if (*l == '\n')
			l++;
		if (strncmp(l, op, n) == 0 && l[n] == ' ')
			return true;
	}
	return false;
}

/* The fake */

static json_t *control(const char *method, const char *path, const char *body)
{
	char *url = tfmt("%s/_control/%s", api, path);
	json_t *j = thttp_call(method, url, fake_cert, body);

	free(url);
	return j;
}

/* The next count calls of action fail with status, and a Retry-After
 * header when retry_after is not NULL. */
static void fail_after(int count, int status, const char *action,
                       const char *retry_after)
{
	char *ra = retry_after ? tfmt(", \"retryAfter\": \"%s\"", retry_after)
	                       : tfmt("%s", "");
	char *body = tfmt("{\"count\": %d, \"status\": %d,"
	                  " \"actions\": [\"%s\"]%s}",
	                  count, status, action, ra);

	json_decref(control("POST", "fail", body));
	free(body);
	free(ra);
}

static void fail_next(int count, int status, const char *action)
{
	fail_after(count, status, action, NULL);
}

/* When the fake saw each call of action (seconds), at most max. */
static size_t call_times(const char *action, double *at, size_t max)
{
	json_t *all = control("GET", "calls", NULL), *c;
	size_t n = 0, i;

	json_array_foreach(all, i, c)
	{
		const char *a = json_string_value(json_object_get(c, "action"));

		if (n < max && strcmp(a, action) == 0)
			at[n++] = json_number_value(json_object_get(c, "at"));
	}
	json_decref(all);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* API calls from index from on whose method is method (NULL: any) and
 * action is action (NULL: any). */
static size_t calls(size_t from, const char *method, const char *action)
{
	json_t *all = control("GET", "calls", NULL), *c;
	size_t n = 0, i;

	json_array_foreach(all, i, c)
	{
		const char *m = json_string_value(json_object_get(c, "method"));
		const char *a = json_string_value(json_object_get(c, "action"));

		if (i >= from && (!method || strcmp(m, method) == 0) &&
		    (!action || strcmp(a, action) == 0))
			n++;
	}
	json_decref(all);
	return n;
}

/* A webhook or alert of the fake's state: list "webhooks" or "alerts". */
static char *state_id(const char *list, const char *key, const char *type)
{
	json_t *st = control("GET", "state", NULL), *o;
	char *id = NULL;
	size_t i;

	json_array_foreach(json_object_get(st, list), i, o)
	{
		const char *t =
		    json_string_value(json_object_get(o, "webhookEventType"));

		if (id == NULL && (type == NULL || (t && !strcmp(t, type))))
			id = strdup(json_string_value(json_object_get(o, key)));
	}
	json_decref(st);
	return id;
}

static size_t state_count(const char *list)
{
	json_t *st = control("GET", "state", NULL);
	size_t n = json_array_size(json_object_get(st, list));

	json_decref(st);
	return n;
}

/* Fire type at every matching webhook; each must be answered 202. */
static void fire(const char *type)
{
	char *body =
	    tfmt("{\"deploymentId\": \"dep-1\", \"eventType\": \"%s\"}", type);
	json_t *reports = control("POST", "fire", body), *r;
	size_t i;

	cr_expect_eq(json_array_size(reports), 1, "%s", type);
	json_array_foreach(reports, i, r)
	{
		cr_expect_eq(json_integer_value(json_object_get(r, "status")),
		             202, "%s: %s %s", type,
		             json_string_value(json_object_get(r, "body")),
		             json_string_value(json_object_get(r, "error")));
	}
	json_decref(reports);
	free(body);
}

static long long count(const char *where)
{
	char *sql = tfmt("SELECT count(*) FROM events WHERE %s", where);
	long long n = tpg_value(db, sql);

	free(sql);
	return n;
}

/* Wait up to ms for count(where) to reach want. */
static long long wait_count(const char *where, long long want, int ms)
{
	long long n = 0;

	for (int waited = 0; waited <= ms; waited += 100) {
		n = count(where);
		if (n >= want)
			break;
		tsleep_ms(100);
	}
	return n;
}

/* Only token hashes are kept: no token, no key in registrations. */
static void expect_only_hashes(void)
{
	PGresult *res = PQexec(db, "SELECT string_agg(r::text, ' ')"
	                           " FROM registrations r");
	json_t *st = control("GET", "state", NULL), *w;
	char *regs = strdup(PQgetvalue(res, 0, 0));
	size_t i;

	PQclear(res);
	json_array_foreach(json_object_get(st, "webhooks"), i, w)
	{
		const char *ep =
		    json_string_value(json_object_get(w, "endpoint"));
		const char *token = strrchr(ep, '/') + 1;

		cr_expect_eq(strlen(token), 43, "%s", ep);
		cr_expect_null(strstr(regs, token), "%s", regs);
	}
	cr_expect_null(strstr(regs, KEY));
	json_decref(st);
	free(regs);
}

/* Tests */

Test(abacus, register_then_abacus_calls_are_stored)
{
	char *out;

	start(KEY);
	out = register_ok();
	for (size_t i = 0; i < 3; i++) {
		char *line = tfmt("create webhook dep-1 %s", event_types[i]);

		cr_expect_not_null(strstr(out, line), "%s", out);
		free(line);
	}
	cr_expect_not_null(strstr(out, "create alert   dep-1 traffic-drop"));
	free(out);
	cr_expect_eq(state_count("webhooks"), 3);
	cr_expect_eq(state_count("alerts"), 1);

	for (size_t i = 0; i < 3; i++)
		fire(event_types[i]);
	for (size_t i = 0; i < 3; i++) {
		char *where = tfmt("source = 'abacus' AND deployment_id = "
		                   "'dep-1' AND event_type = '%s' AND "
		                   "payload->'herald'->>'event_type' = '%s' AND"
		                   " payload->>'team' = 'core' AND"
		                   " registration_id IS NOT NULL",
		                   event_types[i], event_types[i]);

		cr_expect_eq(count(where), 1, "%s", event_types[i]);
		free(where);
	}
	cr_expect_eq(count("true"), 3);
	cr_expect_eq(count("registration_id::text ="
	                   " payload->'herald'->>'registration_id'"),
	             3);

	expect_only_hashes();
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM registrations WHERE"
	                           " kind = 'webhook' AND remote_id IS NOT"
	                           " NULL AND octet_length(token_sha256) = 32"),
	             3);
}

Test(abacus, second_register_changes_nothing)
{
	char *out;
	size_t before;

	start(KEY);
	free(register_ok());
	before = calls(0, NULL, NULL);
	out = register_ok();
	cr_expect_not(has_op(out, "create"), "%s", out);
	cr_expect_not(has_op(out, "update"), "%s", out);
	cr_expect_not(has_op(out, "delete"), "%s", out);
	cr_expect_not_null(strstr(out, "0 to create, 0 to update, 0 to delete,"
	                               " 4 to keep"),
	                   "%s", out);
	free(out);
	cr_expect_eq(calls(before, "POST", NULL), 0);
	cr_expect_eq(calls(before, "PATCH", NULL), 0);
	cr_expect_eq(calls(before, "DELETE", NULL), 0);
	cr_expect_gt(calls(before, "GET", "listDeploymentWebhooks"), 0);
}

Test(abacus, dry_run_changes_nothing)
{
	char *out, *err;

	start(KEY);
	cr_expect_eq(cli("register", "--dry-run", &out, &err), 0, "%s", err);
	cr_expect_not_null(strstr(out, "create webhook dep-1"), "%s", out);
	cr_expect_not_null(strstr(out, "dry run"), "%s", out);
	free(out);
	free(err);
	cr_expect_eq(calls(0, "POST", NULL), 0);
	cr_expect_eq(state_count("webhooks"), 0);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM registrations"), 0);
}

Test(abacus, deleted_or_edited_webhook_is_repaired)
{
	char *id, *out, *body;
	json_t *j;

	start(KEY);
	free(register_ok());
	id = state_id("webhooks", "webhookId", "DEPLOYMENT_SUCCESS");
	body = tfmt("webhook?webhookId=%s", id);
	json_decref(control("DELETE", body, NULL));
	free(body);
	free(id);
	/* And another one's template edited behind Herald's back. */
	id = state_id("webhooks", "webhookId", "DEPLOYMENT_FAILED");
	body = tfmt("{\"webhookId\": \"%s\", \"payloadTemplate\": {}}", id);
	j = control("POST", "webhook-edit", body);
	json_decref(j);
	free(body);
	free(id);

	out = register_ok();
	cr_expect_not_null(strstr(out, "create webhook dep-1 DEPLOYMENT_SUCCESS"
	                               " (deleted remotely)"),
	                   "%s", out);
	cr_expect_not_null(
	    strstr(out, "update webhook dep-1 DEPLOYMENT_FAILED"), "%s", out);
	free(out);
	cr_expect_eq(state_count("webhooks"), 3);
	fire("DEPLOYMENT_SUCCESS");
	fire("DEPLOYMENT_FAILED");
	cr_expect_eq(count("event_type = 'DEPLOYMENT_SUCCESS'"), 1);
	cr_expect_eq(count("event_type = 'DEPLOYMENT_FAILED' AND"
	                   " payload->'herald'->>'deployment_id' = 'dep-1'"),
	             1);
	out = register_ok();
	cr_expect_not(has_op(out, "create"), "%s", out);
	free(out);
}

static void edit_endpoint(const char *id, const char *endpoint)
{
	char *body =
	    tfmt("{\"webhookId\": \"%s\", \"endpoint\": \"%s\"}", id, endpoint);

	json_decref(control("POST", "webhook-edit", body));
	free(body);
}

/* Whether every webhook at the fake has an endpoint under base. */
static bool all_under(const char *base)
{
	json_t *st = control("GET", "state", NULL), *w;
	char *prefix = tfmt("%s/hooks/abacus/", base);
	bool all = true;
	size_t i;

	json_array_foreach(json_object_get(st, "webhooks"), i, w)
	{
		const char *ep =
		    json_string_value(json_object_get(w, "endpoint"));

		all &= strncmp(ep, prefix, strlen(prefix)) == 0;
	}
	json_decref(st);
	free(prefix);
	return all;
}

/* A webhook whose endpoint was changed at Abacus is still Herald's by its
 * recorded id: register points it back, unregister deletes it. */
Test(abacus, webhook_sent_elsewhere_is_pointed_back)
{
	char *id, *out, *err;
	size_t before;

	start(KEY);
	free(register_ok());
	id = state_id("webhooks", "webhookId", "DEPLOYMENT_START");
	edit_endpoint(id, "https://elsewhere.example/hook");
	before = calls(0, NULL, NULL);
	out = register_ok();
	cr_expect_not_null(strstr(out, "update webhook dep-1 DEPLOYMENT_START"
	                               " (endpoint not under public_url)"),
	                   "%s", out);
	free(out);
	cr_expect_eq(calls(before, "PATCH", "updateWebhook"), 1);
	cr_expect_eq(calls(before, "POST", NULL), 0);
	cr_expect_eq(calls(before, "DELETE", NULL), 0);
	cr_expect_eq(state_count("webhooks"), 3);
	cr_expect(all_under(h.url));
	fire("DEPLOYMENT_START");
	cr_expect_eq(count("event_type = 'DEPLOYMENT_START'"), 1);
	expect_only_hashes();

	edit_endpoint(id, "https://elsewhere.example/hook");
	cr_expect_eq(cli("unregister", NULL, &out, &err), 0, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(state_count("webhooks"), 0);
	free(id);
}

/* After public_url changes, the webhooks recorded under the old one are
 * moved, not duplicated, and unregister finds them by id. */
Test(abacus, webhooks_follow_public_url)
{
	char *text, *out, *err;
	size_t before;

	start(KEY);
	free(register_ok());
	text = config(KEY, "https://herald-new.example", 0, "");
	write_config(&h, text);
	free(text);
	before = calls(0, NULL, NULL);
	out = register_ok();
	cr_expect_not(has_op(out, "create"), "%s", out);
	free(out);
	cr_expect_eq(calls(before, "PATCH", "updateWebhook"), 3);
	cr_expect_eq(state_count("webhooks"), 3);
	cr_expect(all_under("https://herald-new.example"));

	text = config(KEY, h.url, 0, "");
	write_config(&h, text);
	free(text);
	cr_expect_eq(cli("unregister", NULL, &out, &err), 0, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(state_count("webhooks"), 0);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM registrations"), 0);
}

static void new_version(const char *alert_id)
{
	char *body = tfmt("{\"monitorAlertId\": \"%s\"}", alert_id);

	json_decref(control("POST", "alert-version", body));
	free(body);
}

/* The one alert at the fake (it must be the only one). */
static json_t *the_alert(void)
{
	json_t *st = control("GET", "state", NULL);
	json_t *alerts = json_object_get(st, "alerts");
	json_t *a;

	cr_assert_eq(json_array_size(alerts), 1);
	a = json_incref(json_array_get(alerts, 0));
	json_decref(st);
	return a;
}

/* The remote id recorded for the alert, matched against the fake's. */
static void expect_alert_recorded(void)
{
	json_t *a = the_alert();
	char *sql =
	    tfmt("SELECT count(*) FROM registrations WHERE kind ="
	         " 'alert' AND name = 'traffic-drop' AND remote_id ="
	         " '%s'",
	         json_string_value(json_object_get(a, "monitorAlertId")));

	cr_expect_eq(tpg_value(db, sql), 1);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM registrations"
	                           " WHERE kind = 'alert'"),
	             1);
	free(sql);
	json_decref(a);
}

/* An answer to createDeploymentAlert that never arrived leaves the alert
 * at Abacus and no row. The alert carries Herald's name for it, so the
 * next register adopts it instead of creating a second one. */
Test(abacus, lost_alert_create_is_adopted)
{
	char *out, *name;
	size_t before;
	json_t *a;

	start(KEY);
	free(register_ok());
	a = the_alert();
	name = tfmt("herald %s traffic-drop", h.url);
	cr_expect_str_eq(json_string_value(json_object_get(a, "name")), name);
	json_decref(a);
	free(name);
	tpg_exec(db, "DELETE FROM registrations WHERE kind = 'alert'");

	before = calls(0, NULL, NULL);
	out = register_ok();
	cr_expect_not_null(strstr(out, "keep   alert   dep-1 traffic-drop"
	                               " (unrecorded Herald alert)"),
	                   "%s", out);
	free(out);
	cr_expect_eq(calls(before, "POST", NULL), 0);
	cr_expect_eq(calls(before, "DELETE", NULL), 0);
	expect_alert_recorded();
	out = register_ok();
	cr_expect_not_null(strstr(out, "4 to keep"), "%s", out);
	free(out);
}

static size_t occurrences(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* The poller says once that the alert is gone, not every round; the next
 * register creates it again and the poller follows the new one. */
Test(abacus, alert_deleted_remotely_is_recreated)
{
	char *out, *path, *log;
	json_t *a;

	start(KEY);
	free(register_ok());
	cr_assert(therald_wait_log(&h, "abacus poller active", 10000));
	a = the_alert();
	path = tfmt("alert?monitorAlertId=%s",
	            json_string_value(json_object_get(a, "monitorAlertId")));
	json_decref(control("DELETE", path, NULL));
	free(path);
	json_decref(a);
	/* Three rounds or more at one a second. */
	cr_assert(
	    therald_wait_log(&h, "monitor alert deleted at Abacus", 5000));
	tsleep_ms(3500);
	log = therald_log(&h);
	cr_expect_eq(occurrences(log, "monitor alert deleted at Abacus"), 1,
	             "%s", log);
	cr_expect_null(strstr(log, "monitor alert not polled"), "%s", log);
	free(log);

	out = register_ok();
	cr_expect_not_null(strstr(out, "create alert   dep-1 traffic-drop"
	                               " (deleted remotely)"),
	                   "%s", out);
	free(out);
	expect_alert_recorded();
	a = the_alert();
	new_version(json_string_value(json_object_get(a, "monitorAlertId")));
	json_decref(a);
	cr_expect_eq(wait_count("event_type = 'MONITOR_ALERT'", 1, 15000), 1);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM events e JOIN"
	                           " registrations r ON r.id ="
	                           " e.registration_id AND r.kind = 'alert'"),
	             1);
}

/* Abacus has no update for alerts: an edited one is replaced, and the new
 * id recorded. */
Test(abacus, alert_edited_remotely_is_repaired)
{
	char *out, *body;
	size_t before;
	json_t *a, *cond;

	start(KEY);
	free(register_ok());
	a = the_alert();
	body = tfmt("{\"monitorAlertId\": \"%s\", \"conditionConfig\":"
	            " {\"alertType\": \"PredictionCount\", \"threshold\":"
	            " -99, \"aggregationWindow\": \"1h\","
	            " \"aggregationType\": \"sum\"}}",
	            json_string_value(json_object_get(a, "monitorAlertId")));
	json_decref(control("POST", "alert-edit", body));
	free(body);
	json_decref(a);

	before = calls(0, NULL, NULL);
	out = register_ok();
	cr_expect_not_null(strstr(out, "update alert   dep-1 traffic-drop"
	                               " (changed remotely)"),
	                   "%s", out);
	free(out);
	cr_expect_eq(calls(before, "DELETE", "deleteMonitorAlert"), 1);
	cr_expect_eq(calls(before, "POST", "createDeploymentAlert"), 1);
	a = the_alert();
	cond = json_object_get(a, "conditionConfig");
	cr_expect_eq(json_integer_value(json_object_get(cond, "threshold")),
	             -10);
	json_decref(a);
	expect_alert_recorded();
	out = register_ok();
	cr_expect_not_null(strstr(out, "4 to keep"), "%s", out);
	free(out);
}

Test(abacus, wrong_key_fails_with_abacus_message)
{
	char *out, *err;

	start("not-the-key");
	cr_expect_eq(cli("register", NULL, &out, &err), 1);
	cr_expect_not_null(strstr(err, "PermissionDeniedError"), "%s", err);
	cr_expect_not_null(strstr(err, "Invalid API key"), "%s", err);
	cr_expect_not_null(strstr(err, "request id "), "%s", err);
	cr_expect_null(strstr(err, "not-the-key"), "%s", err);
	free(out);
	free(err);
}

Test(abacus, unavailable_list_is_retried_create_is_reported)
{
	char *out, *err;

	start(KEY);
	fail_next(2, 503, "listDeploymentWebhooks");
	out = register_ok();
	free(out);
	cr_expect_eq(calls(0, "GET", "listDeploymentWebhooks"), 3);
	cr_expect_eq(calls(0, "POST", "createDeploymentWebhook"), 3);
	cr_expect_eq(cli("unregister", NULL, &out, &err), 0, "%s", err);
	free(out);
	free(err);

	fail_next(1, 503, "createDeploymentWebhook");
	cr_expect_eq(cli("register", NULL, &out, &err), 1);
	cr_expect_not_null(strstr(err, "HTTP 503 ServiceUnavailableError: "),
	                   "%s", err);
	free(out);
	free(err);
	/* Sent once each: the refused create was not sent again. */
	cr_expect_eq(calls(0, "POST", "createDeploymentWebhook"), 6);
	cr_expect_eq(state_count("webhooks"), 2);
	out = register_ok();
	cr_expect_not_null(strstr(out, "1 to create"), "%s", out);
	free(out);
	cr_expect_eq(state_count("webhooks"), 3);
}

Test(abacus, retry_after_is_waited_in_full)
{
	double at[4];

	start(KEY);
	fail_after(1, 429, "listDeploymentWebhooks", "1");
	fail_after(1, 503, "listDeploymentWebhooks", "1");
	free(register_ok());
	cr_assert_eq(call_times("listDeploymentWebhooks", at, 4), 3);
	for (int i = 1; i < 3; i++) {
		cr_expect_geq(at[i] - at[i - 1], 1.0, "retry %d after %.3f s",
		              i, at[i] - at[i - 1]);
		cr_expect_lt(at[i] - at[i - 1], 3.0, "retry %d after %.3f s", i,
		             at[i] - at[i - 1]);
	}
}

/* A Retry-After that ends past abacus.timeout (5 s here) is not waited
 * for: the call fails at once with what Abacus said. */
Test(abacus, retry_after_past_the_timeout_fails_the_call)
{
	char *out, *err;
	double t0;

	start(KEY);
	fail_after(1, 429, "listDeploymentWebhooks", "120");
	t0 = now_s();
	cr_expect_eq(cli("register", NULL, &out, &err), 1, "%s", out);
	cr_expect_lt(now_s() - t0, 4.0);
	cr_expect_not_null(strstr(err, "HTTP 429 TooManyRequestsError"), "%s",
	                   err);
	free(out);
	free(err);
	cr_expect_eq(calls(0, "GET", "listDeploymentWebhooks"), 1);
	cr_expect_eq(calls(0, "POST", NULL), 0);
}

/* The gateway's plain-text 502 and 504 are retried for lists and
 * deletes, which are idempotent. */
Test(abacus, gateway_errors_of_idempotent_calls_are_retried)
{
	char *out, *err;

	start(KEY);
	fail_next(1, 502, "listDeploymentWebhooks");
	fail_next(1, 504, "listDeploymentAlerts");
	free(register_ok());
	cr_expect_eq(calls(0, "GET", "listDeploymentWebhooks"), 2);
	cr_expect_eq(calls(0, "GET", "listDeploymentAlerts"), 2);

	fail_next(1, 504, "deleteWebhook");
	fail_next(1, 502, "deleteMonitorAlert");
	cr_expect_eq(cli("unregister", NULL, &out, &err), 0, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(calls(0, "DELETE", "deleteWebhook"), 4);
	cr_expect_eq(calls(0, "DELETE", "deleteMonitorAlert"), 2);
	cr_expect_eq(state_count("webhooks"), 0);
	cr_expect_eq(state_count("alerts"), 0);
}

/* Create something at the fake as another user of the account would. */
static void create_foreign(const char *action, const char *body)
{
	char *url = tfmt("%s/api/v0/%s?deploymentId=dep-1", api, action);
	struct thttp_resp r;

	thttp("POST", url, fake_cert,
	      (const char *[]){ "apiKey: " KEY,
	                        "Content-Type: application/json", NULL },
	      body, strlen(body), &r);
	cr_assert_eq(r.status, 200, "%s", r.body);
	thttp_free(&r);
	free(url);
}

Test(abacus, unregister_leaves_what_is_not_herald_s)
{
	char *out, *err;

	start(KEY);
	create_foreign("createDeploymentWebhook",
	               "{\"endpoint\": \"https://other.example/hook\","
	               " \"webhookEventType\": \"DEPLOYMENT_START\"}");
	/* Called as Herald's configured alert is, but not by Herald. */
	create_foreign("createDeploymentAlert",
	               "{\"alertName\": \"traffic-drop\", \"conditionConfig\":"
	               " {\"alertType\": \"PredictionCount\"},"
	               " \"actionConfig\": {\"actionType\": \"Email\","
	               " \"emailRecipients\": [\"them@example.com\"]}}");

	out = register_ok();
	cr_expect_null(strstr(out, "other.example"), "%s", out);
	cr_expect_not_null(strstr(out, "create alert   dep-1 traffic-drop"),
	                   "%s", out);
	cr_expect_eq(state_count("webhooks"), 4);
	cr_expect_eq(state_count("alerts"), 2);
	free(out);
	cr_expect_eq(cli("unregister", NULL, &out, &err), 0, "%s", err);
	cr_expect_not_null(strstr(out, "0 to create, 0 to update, 4 to delete"),
	                   "%s", out);
	free(out);
	free(err);
	cr_expect_eq(state_count("webhooks"), 1);
	cr_expect_eq(state_count("alerts"), 1);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM registrations"), 0);
}

/* Rows lost (a restored backup, a dropped database): unregister still
 * finds Herald's webhooks and alerts on the configured deployments. */
Test(abacus, unregister_without_rows_finds_herald_s)
{
	char *out, *err;

	start(KEY);
	free(register_ok());
	tpg_exec(db, "DELETE FROM registrations");
	cr_expect_eq(cli("unregister", NULL, &out, &err), 0, "%s", err);
	cr_expect_not_null(strstr(out, "0 to create, 0 to update, 4 to delete"),
	                   "%s", out);
	free(out);
	free(err);
	cr_expect_eq(state_count("webhooks"), 0);
	cr_expect_eq(state_count("alerts"), 0);
}

Test(abacus, register_needs_public_url)
{
	char *text = config(KEY, NULL, 0, "");
	char *out, *err;

	therald_start(&h, text, NULL);
	free(text);
	cr_expect_eq(cli("register", NULL, &out, &err), 1);
	cr_expect_not_null(strstr(err, "public_url is not set"), "%s", err);
	free(out);
	free(err);
	cr_expect_eq(calls(0, NULL, NULL), 0);
}

Test(abacus, serve_registers_on_start)
{
	int port = tfree_port();
	char *pub = tfmt("https://127.0.0.1:%d", port);
	char *text = config(KEY, pub, port, ", \"register_on_start\": true");

	therald_start(&h, text, NULL);
	free(text);
	free(pub);
	db = tpg_connect(h.db);
	cr_assert(
	    therald_wait_log(&h, "abacus registrations reconciled", 15000),
	    "serve did not reconcile at start (abacus_start in serve?)");
	cr_expect_eq(state_count("webhooks"), 3);
	cr_expect_eq(state_count("alerts"), 1);
	fire("DEPLOYMENT_START");
	cr_expect_eq(count("event_type = 'DEPLOYMENT_START'"), 1);
}

/* Start h2 on h's database. */
static void start_second(void)
{
	char *text = config(KEY, NULL, 0, "");
	char *same_db = tsubst(text, "db", h.db);

	therald_init(&h2);
	tpg_drop_db(h2.db);
	free(h2.db);
	h2.db = NULL;
	therald_start(&h2, same_db, NULL);
	free(same_db);
	free(text);
}

#define MONITOR "event_type = 'MONITOR_ALERT'"

Test(abacus, alert_version_is_one_event_with_two_pollers)
{
	char *alert, *log, *where, *text;

	start(KEY);
	free(register_ok());
	alert = state_id("alerts", "monitorAlertId", NULL);
	start_second();
	cr_assert(therald_wait_log(&h, "abacus poller active", 10000) ||
	              therald_wait_log(&h2, "abacus poller active", 10000),
	          "no serve polls alerts (abacus_start in serve?)");

	new_version(alert);
	cr_expect_eq(wait_count(MONITOR, 1, 15000), 1);
	tsleep_ms(3000);
	where = tfmt(MONITOR " AND source = 'abacus' AND deployment_id ="
	                     " 'dep-1' AND payload->>'alertName' ="
	                     " 'traffic-drop' AND payload->>'monitorAlertId' ="
	                     " '%s' AND idempotency_key LIKE 'alert:%%'",
	             alert);
	cr_expect_eq(count(where), 1);
	free(where);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM registrations r JOIN"
	                           " events e ON e.idempotency_key = 'alert:'"
	                           " || r.last_version"),
	             1);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM events e JOIN"
	                           " registrations r ON r.id ="
	                           " e.registration_id AND r.kind = 'alert'"
	                           " AND r.name = e.payload->>'alertName'"),
	             1);

	/* The process polling stops: the other takes over, and the version
	 * recorded is not news to it. */
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	new_version(alert);
	cr_expect_eq(wait_count(MONITOR, 2, 15000), 2);

	/* Across a restart: what was recorded stays recorded. */
	cr_expect_eq(therald_stop(&h2, SIGTERM), 0);
	text = tread(h.config);
	therald_start(&h, text, NULL);
	free(text);
	new_version(alert);
	cr_expect_eq(wait_count(MONITOR, 3, 15000), 3);
	tsleep_ms(2000);
	cr_expect_eq(count(MONITOR), 3);
	log = therald_log(&h);
	cr_expect_null(strstr(log, "duplicate=true"), "%s", log);
	cr_expect_null(strstr(log, KEY));
	free(log);
	free(alert);
}
