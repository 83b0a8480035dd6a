/*
 * Fan-out end to end: the real herald, a real PostgreSQL, the capture HTTP
 * server and the SMTP fake over TLS. One event reaches all five sink
 * kinds; retries back off and honour Retry-After; deliveries die after
 * their attempts; a 410 turns a sink off; a crash loses nothing; two
 * processes never send the same attempt twice; Standard Webhooks
 * signatures verify with the reference library.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sinks/slack_fit.h"
#include "sources/signature.h"
#include "support/tcheck.h"
#include "support/tfake.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tmail.h"
#include "support/tpg.h"
#include "util/jsonptr.h"

#define SECRET      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SINK_SECRET "whsec_c2luay1zZWNyZXQta2V5LWZvci10ZXN0cw=="

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

TestSuite(fanout, .init = setup, .fini = teardown, .timeout = 300);

/* A configuration with a generic source "ci", a dispatcher lease of
 * lease, and the given routes and sinks (JSON members, {{cap}} the
 * capture server's base URL). */
static void start_leasing(const char *lease, const char *routes_and_sinks)
{
	char *cap = tfmt("https://127.0.0.1:%d", capture.port);
	char *tmpl = tfmt("{" THERALD_BASE ","
	                  " \"log\": {\"level\": \"debug\"},"
	                  " \"dispatch\": {\"sweep\": \"200ms\","
	                  "  \"lease\": \"%s\"},"
	                  " \"sources\": {\"generic\": {\"ci\": {"
	                  "  \"secrets\": [\"" SECRET "\"],"
	                  "  \"event_type\": {\"pointer\": \"/type\"},"
	                  "  \"deployment_id\": {\"pointer\": \"/deployment\"}"
	                  " }}}, %s}",
	                  lease, routes_and_sinks);
	char *a = tsubst(tmpl, "cap", cap);
	char *b = tsubst(a, "cacert", fake_cert);

	therald_start(&h, b, NULL);
	if (db == NULL)
		db = tpg_connect(h.db);
	free(cap);
	free(tmpl);
	free(a);
	free(b);
}

/* The same with the shortest lease the sinks' default timeout (15 s)
 * allows. */
static void start_with(const char *routes_and_sinks)
{
	start_leasing("25s", routes_and_sinks);
}

/* Post body to "ci", signed, with webhook-id id; returns the event id
 * (malloc'd). */
static char *send_body(const char *body, const char *id)
{
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
	return event;
}

/* Post one event of type for deployment web-7 to "ci"; returns the
 * event id (malloc'd). */
static char *send_event(const char *type, const char *id)
{
	char *body = tfmt("{\"type\": \"%s\", \"deployment\": \"web-7\","
	                  " \"labels\": {\"team\": \"core\"}, \"n\": 1}",
	                  type);
	char *event = send_body(body, id);

	free(body);
	return event;
}

/* Start with routes_and_sinks and send one DEPLOYMENT_FAILED event with
 * webhook-id id; returns the event id (malloc'd). */
static char *start_and_send(const char *routes_and_sinks, const char *id)
{
	start_with(routes_and_sinks);
	return send_event("DEPLOYMENT_FAILED", id);
}

/* The capture server's control API. */
static json_t *control(const char *method, const char *path, const char *body)
{
	char *url = tfmt("https://127.0.0.1:%d%s", capture.port, path);
	json_t *j = thttp_call(method, url, fake_cert, body);

	free(url);
	return j;
}

static const char *header_of(json_t *request, const char *name)
{
	json_t *pair;
	size_t i;

	json_array_foreach(json_object_get(request, "headers"), i, pair)
	{
		if (strcasecmp(json_string_value(json_array_get(pair, 0)),
		               name) == 0)
			return json_string_value(json_array_get(pair, 1));
	}
	return NULL;
}

/* The string at pointer in j, or "" when there is none. */
static const char *str_at(json_t *j, const char *pointer)
{
	const char *v = json_string_value(jsonptr_get(j, pointer));

	return v != NULL ? v : "";
}

/* The id of event's delivery to sink (malloc'd). */
static char *delivery_of(const char *event, const char *sink)
{
	char *sql = tfmt("SELECT id::text FROM deliveries WHERE"
	                 " event_id = '%s' AND sink = '%s'",
	                 event, sink);
	PGresult *res = PQexec(db, sql);
	char *id;

	cr_assert_eq(PQntuples(res), 1, "no delivery of %s to %s", event, sink);
	id = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	free(sql);
	return id;
}

/* The envelope of templates/http and templates/command: the event as
 * send_event made it, and the delivery to sink. */
static void expect_envelope(json_t *j, const char *event, const char *sink)
{
	char *delivery = delivery_of(event, sink);

	cr_expect_str_eq(str_at(j, "/type"), "DEPLOYMENT_FAILED");
	cr_expect_str_eq(str_at(j, "/event/id"), event);
	cr_expect_str_eq(str_at(j, "/event/source"), "ci");
	cr_expect_str_eq(str_at(j, "/event/event_type"), "DEPLOYMENT_FAILED");
	cr_expect_str_eq(str_at(j, "/event/deployment_id"), "web-7");
	cr_expect_str_eq(str_at(j, "/event/labels/team"), "core");
	cr_expect_eq(json_integer_value(jsonptr_get(j, "/event/payload/n")), 1);
	cr_expect(json_is_string(jsonptr_get(j, "/event/received_at")));
	cr_expect_str_eq(str_at(j, "/delivery/id"), delivery);
	cr_expect_str_eq(str_at(j, "/delivery/sink"), sink);
	cr_expect_eq(json_integer_value(jsonptr_get(j, "/delivery/attempt")),
	             1);
	free(delivery);
}

/* Slack: Block Kit whose header, facts and context name the event, and
 * a fallback text for notifications. */
static void expect_slack(const char *event)
{
	json_t *reqs = control("GET", "/_control/requests?path=/slack", NULL);
	json_t *msg, *block;
	const char *text;
	bool has_id = false, has_facts = false;
	size_t i;

	cr_assert_eq(json_array_size(reqs), 1);
	msg = json_loads(str_at(json_array_get(reqs, 0), "/body"), 0, NULL);
	cr_assert_not_null(msg, "Slack body is not JSON");
	text = str_at(msg, "/text");
	cr_expect_not_null(strstr(text, "Deployment failed"), "%s", text);
	cr_expect_not_null(strstr(text, "web-7"), "%s", text);
	cr_expect_str_eq(str_at(msg, "/blocks/0/type"), "header");
	text = str_at(msg, "/blocks/0/text/text");
	cr_expect_not_null(strstr(text, "DEPLOYMENT_FAILED"), "%s", text);
	cr_expect_not_null(strstr(text, "web-7"), "%s", text);
	json_array_foreach(json_object_get(msg, "blocks"), i, block)
	{
		char *all = json_dumps(block, 0);

		has_id |= strcmp(str_at(block, "/type"), "context") == 0 &&
		          strstr(all, event) != NULL;
		has_facts |= strcmp(str_at(block, "/type"), "section") == 0 &&
		             strstr(all, "Deployment: web-7") != NULL &&
		             strstr(all, "Source: ci") != NULL;
		free(all);
	}
	cr_expect(has_id, "no context block with the event id");
	cr_expect(has_facts, "no section with the deployment and source");
	json_decref(msg);
	json_decref(reqs);
}

/* HTTP: signed, webhook-id the delivery id, extra header, the event in
 * its envelope. */
static void expect_http(const char *event)
{
	json_t *reqs = control("GET", "/_control/requests?path=/hook", NULL);
	json_t *req, *body;
	struct sig_secret key;
	char *delivery = delivery_of(event, "hook");
	const char *raw;

	cr_assert_eq(json_array_size(reqs), 1);
	req = json_array_get(reqs, 0);
	raw = str_at(req, "/body");
	cr_assert(sig_secret_parse(SINK_SECRET, &key));
	cr_expect_eq(sig_verify(&key, 1, header_of(req, "webhook-id"),
	                        header_of(req, "webhook-timestamp"),
	                        header_of(req, "webhook-signature"), raw,
	                        strlen(raw), (int64_t)time(NULL)),
	             SIG_OK);
	cr_expect_str_eq(header_of(req, "webhook-id"), delivery);
	cr_expect_str_eq(header_of(req, "X-Team"), "core");
	body = json_loads(raw, 0, NULL);
	cr_assert_not_null(body, "not JSON: %s", raw);
	expect_envelope(body, event, "hook");
	json_decref(body);
	json_decref(reqs);
	free(delivery);
}

static bool part_has(json_t *parts, const char *type, const char *needle)
{
	json_t *part;
	size_t i;

	json_array_foreach(parts, i, part)
	{
		if (strcmp(str_at(part, "/0"), type) == 0 &&
		    strstr(str_at(part, "/1"), needle) != NULL)
			return true;
	}
	return false;
}

/* Email: over STARTTLS with AUTH; subject, both bodies, Message-ID from
 * the delivery id, a Date of now. */
static void expect_email(const struct tfake *smtp, const char *event)
{
	char *url = tfmt("http://127.0.0.1:%d/messages", smtp->control_port);
	char *delivery = delivery_of(event, "mail");
	char *message_id = tfmt("<%s@example.com>", delivery);
	struct thttp_resp r;
	json_t *mails, *mail, *parts;
	double date;

	thttp("GET", url, NULL, NULL, NULL, 0, &r);
	mails = thttp_json(&r);
	thttp_free(&r);
	cr_assert_eq(json_array_size(mails), 1);
	cr_expect(json_is_true(jsonptr_get(mails, "/0/tls")));
	cr_expect(json_is_true(jsonptr_get(mails, "/0/auth")));
	mail = tmail_parse(str_at(mails, "/0/data"));
	parts = json_object_get(mail, "parts");
	cr_expect_eq(json_array_size(json_object_get(mail, "defects")), 0);
	cr_expect_str_eq(str_at(mail, "/subject"),
	                 "[herald] DEPLOYMENT_FAILED web-7 from ci");
	cr_expect_str_eq(str_at(mail, "/message_id"), message_id);
	cr_expect_str_eq(str_at(mail, "/auto_submitted"), "auto-generated");
	cr_expect_str_eq(str_at(mail, "/type"), "multipart/alternative");
	date = json_real_value(json_object_get(mail, "date_epoch"));
	cr_expect(fabs(date - (double)time(NULL)) < 600, "Date: %s",
	          str_at(mail, "/date"));
	cr_expect(part_has(parts, "text/plain", event), "no id in the text");
	cr_expect(part_has(parts, "text/plain", "Deployment:   web-7"));
	cr_expect(part_has(parts, "text/html", event), "no id in the html");
	cr_expect(part_has(parts, "text/html", "DEPLOYMENT_FAILED · web-7"));
	json_decref(mail);
	json_decref(mails);
	free(message_id);
	free(delivery);
	free(url);
}

/* Command: the envelope with the event on stdin. */
static void expect_command(const char *out, const char *event)
{
	char *text = tread(out);
	json_t *j;

	cr_assert_not_null(text, "the command wrote nothing");
	j = json_loads(text, 0, NULL);
	cr_assert_not_null(j, "not JSON: %s", text);
	expect_envelope(j, event, "run");
	cr_expect(json_is_object(jsonptr_get(j, "/event/headers")));
	json_decref(j);
	free(text);
}

/* Plugin: one JSON line with the delivery and the event's data. */
static void expect_plugin(const char *jsonl, const char *event)
{
	char *text = tread(jsonl);
	char *delivery = delivery_of(event, "plug");
	json_t *line;

	cr_assert_not_null(text, "the plugin wrote nothing");
	line = json_loads(text, 0, NULL);
	cr_assert_not_null(line, "not one JSON line: %s", text);
	cr_expect_str_eq(str_at(line, "/event_id"), event);
	cr_expect_str_eq(str_at(line, "/delivery_id"), delivery);
	cr_expect_str_eq(str_at(line, "/event_type"), "DEPLOYMENT_FAILED");
	cr_expect_eq(json_integer_value(json_object_get(line, "attempt")), 1);
	cr_expect_str_eq(str_at(line, "/event/id"), event);
	cr_expect_str_eq(str_at(line, "/event/deployment_id"), "web-7");
	cr_expect_str_eq(str_at(line, "/event/source"), "ci");
	cr_expect_eq(json_integer_value(jsonptr_get(line, "/event/payload/n")),
	             1);
	json_decref(line);
	free(delivery);
	free(text);
}

Test(fanout, one_event_reaches_all_five_kinds)
{
	char *out = tfmt("%s/command.json", h.dir);
	char *jsonl = tfmt("%s/plugin.jsonl", h.dir);
	char *plugin =
	    tfmt("%s/plugins/herald-jsonl.so", tenv("HERALD_BUILD_DIR"));
	char *smtp_bin = tfmt("%s/smtp", tenv("HERALD_FAKES_DIR"));
	char *sinks, *event;
	struct tfake smtp;

	tfake_start(&smtp, (const char *[]){
	                       smtp_bin, "--port", "0", "--control-port", "0",
	                       "--cert", fake_cert, "--key", fake_key, "--user",
	                       "herald", "--password", "smtp-pass", NULL });
	sinks = tfmt(
	    "\"routes\": [{\"match\": [\"labels.team=core\"],"
	    " \"sinks\": [\"chat\", \"hook\", \"mail\", \"run\", \"plug\"]}],"
	    " \"sinks\": {"
	    "  \"chat\": {\"kind\": \"slack\", \"url\": \"{{cap}}/slack\","
	    "   \"ca_file\": \"{{cacert}}\", \"rate\": \"10/s\"},"
	    "  \"hook\": {\"kind\": \"http\", \"url\": \"{{cap}}/hook\","
	    "   \"ca_file\": \"{{cacert}}\", \"secret\": \"" SINK_SECRET "\","
	    "   \"headers\": {\"X-Team\": \"core\"}},"
	    "  \"mail\": {\"kind\": \"email\","
	    "   \"smtp_url\": \"smtp://127.0.0.1:%d\","
	    "   \"ca_file\": \"{{cacert}}\", \"username\": \"herald\","
	    "   \"password\": \"smtp-pass\", \"from\": \"Herald "
	    "<h@example.com>\","
	    "   \"to\": [\"ops@example.com\"]},"
	    "  \"run\": {\"kind\": \"command\", \"argv\": [\"/bin/sh\", \"-c\","
	    "   \"cat > %s; test \\\"$HERALD_EVENT_TYPE\\\" = "
	    "DEPLOYMENT_FAILED\"]},"
	    "  \"plug\": {\"kind\": \"plugin\", \"path\": \"%s\","
	    "   \"settings\": {\"path\": \"%s\"}}}",
	    smtp.port, out, plugin, jsonl);
	start_with(sinks);
	event = send_event("DEPLOYMENT_FAILED", "fan-1");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries"
	                      " WHERE status = 'delivered'",
	                      5, 20000),
	             5, "not all five delivered");
	cr_expect_eq(tpg_count(db,
	                       "SELECT count(*) FROM delivery_attempts a JOIN "
	                       "deliveries d ON d.id = a.delivery_id WHERE "
	                       "d.event_id = '%s' AND a.outcome = 'delivered'",
	                       event),
	             5);
	expect_slack(event);
	expect_http(event);
	expect_email(&smtp, event);
	expect_command(out, event);
	expect_plugin(jsonl, event);

	tfake_stop(&smtp);
	free(event);
	free(sinks);
	free(out);
	free(jsonl);
	free(plugin);
	free(smtp_bin);
}

/* Whether name may appear in the command's environment: the inherited
 * few, what a shell adds itself, the event's fields, the configured
 * ones. */
static bool command_may_see(const char *name)
{
	static const char *const allowed[] = {
		"PATH",
		"HOME",
		"LANG",
		"LC_ALL",
		"LC_CTYPE",
		"TZ",
		"TMPDIR",
		"PWD",
		"OLDPWD",
		"SHLVL",
		"_",
		"HERALD_EVENT_ID",
		"HERALD_EVENT_TYPE",
		"HERALD_DELIVERY_ID",
		"HERALD_SOURCE",
		"HERALD_DEPLOYMENT_ID",
		"HERALD_SEVERITY",
		"HERALD_ATTEMPT",
		"GREETING",
		"CHOSEN",
	};

	for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed); i++)
		if (strcmp(name, allowed[i]) == 0)
			return true;
	return false;
}

/* Herald's environment holds what ${VAR} expansion reads; the command
 * sees only an allow-list of it, plus what the sink passes on. */
Test(fanout, command_sees_only_its_allowed_environment)
{
	char *out = tfmt("%s/env.txt", h.dir);
	char *sinks, *event, *text, *line, *save = NULL;

	setenv("T_LEAK_SECRET", "leak-secret-7Q2W", 1);
	setenv("T_CHOSEN", "chosen-4K8P", 1);
	sinks = tfmt("\"routes\": [{\"sinks\": [\"run\"]}],"
	             " \"sinks\": {\"run\": {\"kind\": \"command\","
	             "  \"argv\": [\"/bin/sh\", \"-c\", \"exec env > %s\"],"
	             "  \"env\": {\"GREETING\": \"hello\","
	             "   \"CHOSEN\": \"${T_CHOSEN}\"}}},"
	             " \"abacus\": {\"api_key\": \"${T_LEAK_SECRET}\"}",
	             out);
	start_with(sinks);
	event = send_event("DEPLOYMENT_START", "env-1");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	line = tread(out);
	cr_assert_not_null(line);
	text = tfmt("\n%s", line);
	free(line);
	cr_expect_null(strstr(text, "leak-secret-7Q2W"), "%s", text);
	cr_expect_not_null(strstr(text, "\nGREETING=hello\n"), "%s", text);
	cr_expect_not_null(strstr(text, "\nCHOSEN=chosen-4K8P\n"), "%s", text);
	cr_expect_not_null(strstr(text, "PATH="), "%s", text);
	for (line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');

		cr_assert_not_null(eq, "%s", line);
		*eq = '\0';
		cr_expect(command_may_see(line), "%s reached the command",
		          line);
		if (strcmp(line, "HERALD_EVENT_ID") == 0)
			cr_expect_str_eq(eq + 1, event);
	}
	unsetenv("T_LEAK_SECRET");
	unsetenv("T_CHOSEN");
	free(text);
	free(event);
	free(sinks);
	free(out);
}

/* Started-at gaps between consecutive attempts of the one delivery of
 * sink, in milliseconds; returns how many attempts there are. */
static int attempt_gaps(const char *sink, long long *gaps, int max)
{
	char *sql = tfmt("SELECT (extract(epoch FROM a.started_at) * 1000)"
	                 "::bigint FROM delivery_attempts a JOIN deliveries d"
	                 " ON d.id = a.delivery_id WHERE d.sink = '%s'"
	                 " ORDER BY a.attempt",
	                 sink);
	PGresult *res = PQexec(db, sql);
	int n = PQntuples(res);

	for (int i = 1; i < n && i - 1 < max; i++)
		gaps[i - 1] = strtoll(PQgetvalue(res, i, 0), NULL, 10) -
		              strtoll(PQgetvalue(res, i - 1, 0), NULL, 10);
	PQclear(res);
	free(sql);
	return n;
}

static const char hook_sink[] =
    "\"routes\": [{\"sinks\": [\"hook\"]}],"
    " \"sinks\": {\"hook\": {\"kind\": \"http\", \"url\": \"{{cap}}/hook\","
    "  \"ca_file\": \"{{cacert}}\", \"retry_base\": \"300ms\","
    "  \"max_attempts\": %d}}";

Test(fanout, three_failures_then_success_back_off)
{
	char *sinks = tfmt(hook_sink, 10);
	long long gaps[3];
	char *event;

	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": ["
	            "{\"status\": 500}, {\"status\": 503},"
	            " {\"status\": 502}], \"then\": {\"status\": 204}}"));
	start_with(sinks);
	event = send_event("DEPLOYMENT_START", "backoff-1");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	cr_assert_eq(attempt_gaps("hook", gaps, 3), 4);
	cr_expect(gaps[1] > gaps[0] && gaps[2] > gaps[1],
	          "delays %lld, %lld, %lld ms do not grow", gaps[0], gaps[1],
	          gaps[2]);
	cr_expect(gaps[0] >= 200, "first delay %lld ms", gaps[0]);
	cr_expect_eq(tpg_count(db,
	                       "SELECT count(*) FROM delivery_attempts WHERE"
	                       " outcome = 'retry' AND http_status >= %s",
	                       "500"),
	             3);
	free(event);
	free(sinks);
}

Test(fanout, retry_after_is_honoured)
{
	char *sinks = tfmt(hook_sink, 10);
	long long gaps[1];
	char *event;

	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/hook\", \"responses\": ["
	                    "{\"status\": 429, \"headers\":"
	                    " {\"Retry-After\": \"2\"}}]}"));
	start_with(sinks);
	event = send_event("DEPLOYMENT_START", "ra-1");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	cr_assert_eq(attempt_gaps("hook", gaps, 1), 2);
	cr_expect(gaps[0] >= 2000, "second attempt after %lld ms", gaps[0]);
	free(event);
	free(sinks);
}

Test(fanout, delivery_dies_after_its_attempts)
{
	char *sinks = tfmt(hook_sink, 3);
	char *event;

	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/hook\", \"responses\": [],"
	                    " \"then\": {\"status\": 500}}"));
	start_with(sinks);
	event = send_event("DEPLOYMENT_START", "dead-1");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'dead'",
	                      1, 20000),
	             1);
	cr_expect_eq(tpg_count(db,
	                       "SELECT count(*) FROM delivery_attempts WHERE"
	                       " outcome = '%s'",
	                       "retry"),
	             3);
	cr_expect(therald_wait_log(&h, "msg=\"delivery dead\"", 2000));
	free(event);
	free(sinks);
}

Test(fanout, gone_turns_the_sink_off_until_enabled)
{
	char *sinks = tfmt(hook_sink, 10);
	char *out = NULL, *err = NULL;
	char *event;

	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/hook\", \"responses\": ["
	                    "{\"status\": 410}]}"));
	start_with(sinks);
	event = send_event("DEPLOYMENT_START", "gone-1");
	cr_assert(therald_wait_log(&h, "sink disabled", 10000));
	tsleep_ms(1000);
	cr_expect_eq(tpg_count(db,
	                       "SELECT count(*) FROM deliveries WHERE"
	                       " status = '%s'",
	                       "pending"),
	             1);
	cr_expect_eq(
	    tpg_count(db, "SELECT count(*) FROM sink_state WHERE sink = '%s'",
	              "hook"),
	    1);
	cr_expect_eq(therald_cli((const char *[]){ "sinks", "enable", "hook",
	                                           "-c", h.config, NULL },
	                         &out, &err),
	             0, "%s", err);
	cr_expect_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 10000),
	             1);
	free(out);
	free(err);
	free(event);
	free(sinks);
}

/* A column of attempt n of sink's delivery as text ("" when NULL),
 * malloc'd; fails the test if there is no such attempt. */
static char *attempt_field(const char *sink, int n, const char *column)
{
	char *sql = tfmt("SELECT coalesce(a.%s::text, '') FROM"
	                 " delivery_attempts a JOIN deliveries d"
	                 " ON d.id = a.delivery_id"
	                 " WHERE d.sink = '%s' AND a.attempt = %d",
	                 column, sink, n);
	PGresult *res = PQexec(db, sql);
	char *v;

	cr_assert_eq(PQntuples(res), 1, "no attempt %d of %s: %s", n, sink,
	             PQerrorMessage(db));
	v = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	free(sql);
	return v;
}

/* Attempt n of sink's delivery has this outcome, and its column
 * contains needle. */
static void expect_attempt(const char *sink, int n, const char *outcome,
                           const char *column, const char *needle)
{
	char *got = attempt_field(sink, n, "outcome");
	char *text = attempt_field(sink, n, column);

	cr_expect_str_eq(got, outcome, "%s attempt %d", sink, n);
	cr_expect_not_null(strstr(text, needle), "%s attempt %d %s: %s", sink,
	                   n, column, text);
	free(got);
	free(text);
}

static long long status_of(const char *sink, const char *status)
{
	return tpg_count(db,
	                 "SELECT count(*) FROM deliveries WHERE sink = '%s'"
	                 " AND status = '%s'",
	                 sink, status);
}

static const char command_sinks[] =
    "\"routes\": [{\"sinks\": [\"later\", \"broken\", \"slow\"]}],"
    " \"sinks\": {"
    "  \"later\": {\"kind\": \"command\", \"max_attempts\": 2,"
    "   \"retry_base\": \"300ms\", \"argv\": [\"/bin/sh\", \"-c\","
    "   \"cat > /dev/null; echo busy; exit 75\"]},"
    "  \"broken\": {\"kind\": \"command\", \"max_attempts\": 2,"
    "   \"retry_base\": \"300ms\", \"argv\": [\"/bin/sh\", \"-c\","
    "   \"cat > /dev/null; echo no such host >&2; exit 3\"]},"
    "  \"slow\": {\"kind\": \"command\", \"max_attempts\": 2,"
    "   \"retry_base\": \"300ms\", \"timeout\": \"500ms\","
    "   \"argv\": [\"/bin/sh\", \"-c\", \"exec sleep 60\"]}}";

/* Exit 75 is "try again later", any other exit is for good, and a
 * program that outlives its timeout is killed and tried again; each
 * attempt records why. */
Test(fanout, command_exit_status_decides_the_outcome)
{
	free(start_and_send(command_sinks, "cmd-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status <> 'pending'",
	                      3, 30000),
	             3);
	cr_expect_eq(status_of("later", "dead"), 1);
	expect_attempt("later", 1, "retry", "error", "exit status 75");
	expect_attempt("later", 1, "retry", "response", "busy");
	expect_attempt("later", 2, "retry", "error", "exit status 75");

	cr_expect_eq(status_of("broken", "failed"), 1);
	cr_expect_eq(tpg_count(db,
	                       "SELECT count(*) FROM delivery_attempts a JOIN"
	                       " deliveries d ON d.id = a.delivery_id"
	                       " WHERE d.sink = '%s'",
	                       "broken"),
	             1, "a failed delivery was tried again");
	expect_attempt("broken", 1, "failed", "error", "exit status 3");
	expect_attempt("broken", 1, "failed", "response", "no such host");

	cr_expect_eq(status_of("slow", "dead"), 1);
	expect_attempt("slow", 1, "retry", "error", "timed out after 500 ms");
	expect_attempt("slow", 2, "retry", "error", "timed out after 500 ms");
}

static const char slack_sink[] =
    "\"routes\": [{\"sinks\": [\"chat\"]}],"
    " \"sinks\": {\"chat\": {\"kind\": \"slack\", \"url\": \"{{cap}}/slack\","
    "  \"ca_file\": \"{{cacert}}\", \"rate\": \"10/s\","
    "  \"retry_base\": \"300ms\"}}";

/* Slack answers "ok"; a 200 with anything else means the message was
 * not posted, and posting it again would not change that. */
Test(fanout, slack_answer_other_than_ok_fails)
{
	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/slack\", \"responses\": [],"
	                    " \"then\": {\"status\": 200,"
	                    " \"body\": \"no_active_hooks\"}}"));
	free(start_and_send(slack_sink, "slack-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status <> 'pending'",
	                      1, 20000),
	             1);
	cr_expect_eq(status_of("chat", "failed"), 1);
	expect_attempt("chat", 1, "failed", "response", "no_active_hooks");
	expect_attempt("chat", 1, "failed", "error", "not \"ok\"");
	expect_attempt("chat", 1, "failed", "http_status", "200");
}

Test(fanout, slack_rate_limit_waits_for_retry_after)
{
	long long gaps[1];

	json_decref(control("POST", "/_control/script",
	                    "{\"path\": \"/slack\", \"responses\": ["
	                    "{\"status\": 429, \"body\": \"rate_limited\","
	                    " \"headers\": {\"Retry-After\": \"2\"}}]}"));
	free(start_and_send(slack_sink, "slack-2"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	expect_attempt("chat", 1, "retry", "http_status", "429");
	expect_attempt("chat", 1, "retry", "response", "rate_limited");
	cr_assert_eq(attempt_gaps("chat", gaps, 1), 2);
	cr_expect(gaps[0] >= 2000, "second attempt after %lld ms", gaps[0]);
}

/* Slack refuses a whole message with one block text over its limit; the
 * sink cuts such texts instead, marking the cut. */
Test(fanout, slack_cuts_texts_slack_would_refuse)
{
	char *words = tfmt("%0*d", 4000, 7);
	char *body = tfmt("{\"type\": \"DEPLOYMENT_FAILED\","
	                  " \"deployment\": \"web-%.200s\", \"title\": \"%s\"}",
	                  words, words);
	json_t *reqs, *msg;
	const char *header, *title;

	start_with(slack_sink);
	free(send_body(body, "slack-3"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	reqs = control("GET", "/_control/requests?path=/slack", NULL);
	cr_assert_eq(json_array_size(reqs), 1);
	msg = json_loads(str_at(json_array_get(reqs, 0), "/body"), 0, NULL);
	cr_assert_not_null(msg);
	header = str_at(msg, "/blocks/0/text/text");
	title = str_at(msg, "/blocks/1/text/text");
	cr_expect_eq(slack_fit_length(header), SLACK_HEADER_MAX, "%s", header);
	cr_expect_eq(slack_fit_length(title), SLACK_TEXT_MAX, "%s", title);
	cr_expect_str_eq(header + strlen(header) - 3, "\xe2\x80\xa6");
	cr_expect_str_eq(title + strlen(title) - 3, "\xe2\x80\xa6");
	json_decref(msg);
	json_decref(reqs);
	free(body);
	free(words);
}

/* Receivers of unsigned sinks deduplicate retries too: webhook-id and
 * webhook-timestamp go with every request, the signature only with a
 * secret. */
Test(fanout, unsigned_http_sink_sends_id_and_timestamp)
{
	char *sinks = tfmt(hook_sink, 10);
	json_t *reqs, *req;
	const char *id, *ts;
	char *event, *end;
	long long when;

	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": ["
	            "{\"status\": 503}], \"then\": {\"status\": 200}}"));
	start_with(sinks);
	event = send_event("DEPLOYMENT_START", "unsigned-1");
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	reqs = control("GET", "/_control/requests?path=/hook", NULL);
	cr_assert_eq(json_array_size(reqs), 2);
	for (size_t i = 0; i < 2; i++) {
		req = json_array_get(reqs, i);
		id = header_of(req, "webhook-id");
		ts = header_of(req, "webhook-timestamp");
		cr_assert_not_null(id, "request %zu has no webhook-id", i);
		cr_assert_not_null(ts, "request %zu has no timestamp", i);
		cr_expect_null(header_of(req, "webhook-signature"));
		cr_expect_eq(tpg_count(db,
		                       "SELECT count(*) FROM deliveries WHERE"
		                       " id = '%s' AND event_id = '%s'",
		                       id, event),
		             1, "webhook-id %s is not the delivery id", id);
		when = strtoll(ts, &end, 10);
		cr_expect(*end == '\0' && llabs(when - time(NULL)) < 600,
		          "webhook-timestamp %s", ts);
	}
	cr_expect_str_eq(header_of(json_array_get(reqs, 0), "webhook-id"),
	                 header_of(json_array_get(reqs, 1), "webhook-id"));
	json_decref(reqs);
	free(event);
	free(sinks);
}

/* Requests the capture server saw per webhook-id. */
struct seen {
	char id[40];
	int n;
};

static int tally(struct seen *seen, int max)
{
	json_t *reqs = control("GET", "/_control/requests?path=/hook", NULL);
	json_t *req;
	size_t i;
	int n = 0;

	json_array_foreach(reqs, i, req)
	{
		const char *id = header_of(req, "webhook-id");
		int k = 0;

		while (k < n && strcmp(seen[k].id, id) != 0)
			k++;
		if (k == n && n < max) {
			snprintf(seen[n].id, sizeof(seen[n].id), "%s", id);
			seen[n++].n = 0;
		}
		if (k < max)
			seen[k].n++;
	}
	json_decref(reqs);
	return n;
}

#define SLOW_HOOK(timeout)                                                     \
	"\"routes\": [{\"sinks\": [\"hook\"]}],"                               \
	" \"sinks\": {\"hook\": {\"kind\": \"http\","                          \
	"  \"url\": \"{{cap}}/hook\", \"ca_file\": \"{{cacert}}\","            \
	"  \"secret\": \"" SINK_SECRET "\", \"concurrency\": 8,"               \
	"  \"retry_base\": \"200ms\", \"timeout\": \"" timeout "\"}}"

static const char slow_hook[] = SLOW_HOOK("15s");

/* Deliveries whose outcome the database holds, with their attempts. */
struct recorded {
	char id[40];
	long long attempts;
};

static int recorded_now(struct recorded *r, int max)
{
	PGresult *res = PQexec(db, "SELECT id::text, attempts FROM deliveries"
	                           " WHERE status <> 'pending'");
	int n;

	cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s",
	             PQerrorMessage(db));
	n = PQntuples(res) < max ? PQntuples(res) : max;
	for (int i = 0; i < n; i++) {
		snprintf(r[i].id, sizeof(r[i].id), "%s", PQgetvalue(res, i, 0));
		r[i].attempts = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	PQclear(res);
	return n;
}

static const struct recorded *find_recorded(const struct recorded *r, int n,
                                            const char *id)
{
	for (int i = 0; i < n; i++)
		if (strcmp(r[i].id, id) == 0)
			return &r[i];
	return NULL;
}

static double wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* After the restart: nothing recorded at the kill was sent again or
 * attempted again, and every repeat was of a delivery that was not. */
static void expect_recorded_left_alone(const struct recorded *r, int nr,
                                       double killed_at)
{
	json_t *reqs = control("GET", "/_control/requests?path=/hook", NULL);
	struct seen seen[256];
	int n = tally(seen, 256), repeats = 0;
	json_t *req;
	size_t i;

	json_array_foreach(reqs, i, req)
	{
		const char *id = header_of(req, "webhook-id");
		double at = json_real_value(json_object_get(req, "time"));

		cr_expect(find_recorded(r, nr, id) == NULL || at < killed_at,
		          "%s was recorded at the kill but sent %.3f s after",
		          id, at - killed_at);
	}
	for (int k = 0; k < n; k++) {
		repeats += seen[k].n > 1;
		cr_expect(seen[k].n == 1 ||
		              find_recorded(r, nr, seen[k].id) == NULL,
		          "%s was recorded at the kill but sent %d times",
		          seen[k].id, seen[k].n);
	}
	for (int k = 0; k < nr; k++)
		cr_expect_eq(tpg_count(db,
		                       "SELECT attempts FROM deliveries"
		                       " WHERE id = '%s'",
		                       r[k].id),
		             r[k].attempts, "%s attempted again", r[k].id);
	cr_log_info("%d recorded at the kill, %d repeated after it", nr,
	            repeats);
	json_decref(reqs);
}

Test(fanout, crash_loses_nothing_and_repeats_keep_their_id)
{
	enum { EVENTS = 40 };
	struct recorded recorded[EVENTS];
	struct seen seen[EVENTS * 2];
	double killed_at;
	char *config;
	int nr;

	/* 8 at a time, a second each: at least 4 s for the 30 left when
	 * 10 are delivered, however slowly the events arrive, so the kill
	 * lands in the middle. */
	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": [],"
	            " \"then\": {\"status\": 200, \"delay_ms\": 1000}}"));
	/* The shortest lease a 3 s timeout allows: the restarted process
	 * waits for the dead one's leases to run out. */
	start_leasing("13s", SLOW_HOOK("3s"));
	for (int i = 0; i < EVENTS; i++) {
		char id[32];

		snprintf(id, sizeof(id), "crash-%d", i);
		free(send_event("DEPLOYMENT_SUCCESS", id));
	}
	cr_assert_geq(tpg_wait(db,
	                       "SELECT count(*) FROM deliveries WHERE"
	                       " status = 'delivered'",
	                       EVENTS / 4, 30000),
	              EVENTS / 4);
	cr_assert_eq(therald_stop(&h, SIGKILL), 128 + SIGKILL);
	/* Dead and reaped: whatever reaches the capture server from now on
	 * comes from the next process. */
	killed_at = wall_now();
	nr = recorded_now(recorded, EVENTS);
	cr_assert(nr >= EVENTS / 4 && nr < EVENTS,
	          "%d of %d recorded at the kill", nr, EVENTS);

	config = tread(h.config);
	therald_start(&h, config, NULL);
	free(config);
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      EVENTS, 60000),
	             EVENTS);
	cr_expect_eq(tally(seen, EVENTS * 2), EVENTS,
	             "not one webhook-id per delivery");
	expect_recorded_left_alone(recorded, nr, killed_at);
}

/* The deliveries t's log says it delivered, up to max. */
static int delivered_by(struct therald *t, char (*ids)[40], int max)
{
	char *log = therald_log(t), *save = NULL;
	int n = 0;

	for (char *line = strtok_r(log, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *d = strstr(line, " delivery=");

		if (strstr(line, " msg=delivered ") != NULL && d != NULL)
			snprintf(ids[n++], sizeof(*ids), "%.36s", d + 10);
	}
	free(log);
	return n;
}

/* Each process logged some of the deliveries, and no delivery was
 * logged by both. The loggers write on threads of their own, so the
 * lines may trail the database a little. */
static void expect_both_delivered(struct therald *a, struct therald *b,
                                  int events)
{
	char(*ids_a)[40] = calloc((size_t)events, sizeof(*ids_a));
	char(*ids_b)[40] = calloc((size_t)events, sizeof(*ids_b));
	int na = 0, nb = 0;

	for (int waited = 0; waited <= 10000; waited += 100) {
		na = delivered_by(a, ids_a, events);
		nb = delivered_by(b, ids_b, events);
		if (na + nb >= events)
			break;
		tsleep_ms(100);
	}
	cr_expect_eq(na + nb, events, "logged %d and %d deliveries", na, nb);
	cr_expect(na > 0 && nb > 0, "one process delivered all: %d and %d", na,
	          nb);
	for (int i = 0; i < na; i++)
		for (int k = 0; k < nb; k++)
			cr_expect(strcmp(ids_a[i], ids_b[k]) != 0,
			          "both delivered %s", ids_a[i]);
	cr_log_info("first process delivered %d, second %d", na, nb);
	free(ids_a);
	free(ids_b);
}

Test(fanout, two_processes_never_send_the_same_attempt)
{
	enum { EVENTS = 60 };
	struct therald second = { 0 };
	struct seen seen[EVENTS * 2];
	char *config;
	int n;

	/* A second per answer: each process holds at most 8 at a time, so
	 * neither can take all 60 while the other waits. The lease is long
	 * enough that no answer, however late, lets the other process
	 * claim the delivery again. */
	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": [],"
	            " \"then\": {\"status\": 200, \"delay_ms\": 1000}}"));
	start_leasing("60s", slow_hook);
	/* A second process on the same database and configuration. */
	second.dir = tmkdtemp();
	second.config = tfmt("%s/herald.json", second.dir);
	second.log = tfmt("%s/herald.log", second.dir);
	second.ca = strdup(h.ca); /* the configuration names h's files */
	second.db = strdup(h.db);
	/* The same configuration: state, certificate and database. */
	config = tread(h.config);
	therald_start(&second, config, NULL);
	for (int i = 0; i < EVENTS; i++) {
		char id[32];

		snprintf(id, sizeof(id), "two-%d", i);
		free(send_event("DEPLOYMENT_SUCCESS", id));
	}
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      EVENTS, 60000),
	             EVENTS);
	n = tally(seen, EVENTS * 2);
	cr_expect_eq(n, EVENTS);
	for (int i = 0; i < n; i++)
		cr_expect_eq(seen[i].n, 1, "%s received %d times", seen[i].id,
		             seen[i].n);
	cr_expect_eq(tpg_count(db, "SELECT count(*) FROM delivery_attempts"),
	             EVENTS, "some delivery was attempted twice");
	expect_both_delivered(&h, &second, EVENTS);
	free(second.db);
	second.db = NULL;
	therald_cleanup(&second);
	free(config);
}

Test(fanout, stop_gives_back_its_leases)
{
	json_t *n;

	json_decref(
	    control("POST", "/_control/script",
	            "{\"path\": \"/hook\", \"responses\": [],"
	            " \"then\": {\"status\": 200, \"delay_ms\": 9000}}"));
	start_leasing("60s", slow_hook);
	free(send_event("DEPLOYMENT_SUCCESS", "lease-1"));
	/* Claimed, and the attempt under way: the stop has a lease to give
	 * back and an attempt to abandon. */
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " locked_until > now() AND locked_by IS NOT NULL",
	                      1, 20000),
	             1, "the delivery was never claimed");
	for (int waited = 0; waited <= 20000; waited += 100) {
		n = control("GET", "/_control/count?path=/hook", NULL);
		if (json_integer_value(json_object_get(n, "count")) > 0)
			break;
		json_decref(n);
		n = NULL;
		tsleep_ms(100);
	}
	cr_assert_not_null(n, "the attempt never reached the endpoint");
	json_decref(n);
	cr_assert_eq(tpg_count(db,
	                       "SELECT count(*) FROM deliveries WHERE"
	                       " locked_by IS NOT NULL AND status = '%s'",
	                       "pending"),
	             1, "the lease was gone before the stop");

	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM deliveries WHERE"
	                           " locked_by IS NOT NULL"
	                           " OR locked_until IS NOT NULL"),
	             0, "a lease was kept after a clean stop");
	/* The request went out: the attempt is on record, due again now. */
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM deliveries WHERE"
	                           " status = 'pending' AND attempts = 1"
	                           " AND next_attempt_at <= now()"),
	             1);
	cr_expect_eq(tpg_value(db, "SELECT count(*) FROM delivery_attempts"
	                           " WHERE attempt = 1 AND outcome = 'retry'"
	                           " AND error LIKE 'abandoned: %'"),
	             1);
}

Test(fanout, signatures_verify_with_the_reference_library, .timeout = 600)
{
	char *dir = tmkdtemp(), *script, *out = NULL, *err = NULL;
	char *npm_err = NULL;
	json_t *reqs, *req, *input;
	int rc;

	if (trun((const char *[]){ "node", "--version", NULL }, NULL, NULL,
	         NULL, false) != 0)
		tnot_run("node is not installed");
	rc = trun((const char *[]){ "npm", "install", "--prefix", dir,
	                            "--no-audit", "--no-fund",
	                            "standardwebhooks", NULL },
	          NULL, NULL, &npm_err, false);
	if (rc != 0)
		tnot_run("npm install standardwebhooks failed: %.200s",
		         npm_err);
	start_with(slow_hook);
	free(send_event("DEPLOYMENT_SUCCESS", "npm-1"));
	cr_assert_eq(tpg_wait(db,
	                      "SELECT count(*) FROM deliveries WHERE"
	                      " status = 'delivered'",
	                      1, 20000),
	             1);
	reqs = control("GET", "/_control/requests?path=/hook", NULL);
	req = json_array_get(reqs, 0);
	input =
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "secret", SINK_SECRET,
	              "body", json_string_value(json_object_get(req, "body")),
	              "id", header_of(req, "webhook-id"), "timestamp",
	              header_of(req, "webhook-timestamp"), "signature",
	              header_of(req, "webhook-signature"));
	script = tfmt(
	    "const { Webhook } = require('%s/node_modules/standardwebhooks');"
	    "let d = ''; process.stdin.on('data', c => d += c);"
	    "process.stdin.on('end', () => { const i = JSON.parse(d);"
	    " new Webhook(i.secret).verify(i.body, {"
	    "  'webhook-id': i.id, 'webhook-timestamp': i.timestamp,"
	    "  'webhook-signature': i.signature });"
	    " console.log('verified'); });",
	    dir);
	{
		char *text = json_dumps(input, 0);

		rc = trun((const char *[]){ "node", "-e", script, NULL }, text,
		          &out, &err, false);
		free(text);
	}
	cr_expect_eq(rc, 0, "%s %s", out, err);
	cr_expect_not_null(strstr(out, "verified"));
	json_decref(input);
	json_decref(reqs);
	free(script);
	free(out);
	free(err);
	free(npm_err);
	trmdir(dir);
	free(dir);
}
