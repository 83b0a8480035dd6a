/*
 * The email sink driven directly, without a herald process: an event
 * loop, a curl driver and a template store of the test's own, the fake
 * SMTP server of tests/fakes/smtp with a generated certificate, and the
 * messages it received read back from its control port. Python's email
 * package decodes them, so the headers and parts are checked by a reader
 * that is not ours.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/config.h"
#include "dispatch/curl_driver.h"
#include "http/tls.h"
#include "sinks/kinds.h"
#include "sinks/sink.h"
#include "support/tcheck.h"
#include "support/tfake.h"
#include "support/thttp.h"
#include "support/tmail.h"
#include "template/store.h"

#define SMTP_USER     "herald"
#define SMTP_PASSWORD "s3cret-Pa55"
#define PYTHON        "/usr/bin/python3"

/* Values with UTF-8, markup and a dot line, to go through every layer. */
#define TITLE                                                                  \
	"\xc3\x89"                                                             \
	"chec du d\xc3\xa9ploiement \xe2\x9c\x93 rollback"
#define NOTE "<b>bold</b> & co"

static struct {
	char *dir;
	char *cert, *key;
	struct event_base *base;
	struct curl_driver *curl;
	struct tmpl_store *templates;
	struct tfake smtp;
} T;

static const char *recipients[] = { "Ops <ops@example.com>",
	                            "oncall@example.com" };

static void write_templates(void)
{
	char *top = tfmt("%s/templates", T.dir);
	char *email = tfmt("%s/email", top);
	struct {
		const char *name, *text;
	} files[] = {
		{ "default.subject.txt", "not this one\n" },
		{ "DEPLOYMENT_FAILED.subject.txt",
		  "[herald] {{event_type}} {{deployment_id}}:\n"
		  "{{payload.title}}\n" },
		{ "default.txt", "{{event_type}} on {{deployment_id}}\n"
		                 "{{payload.title}}\n.\n.hidden line\n"
		                 "{{payload.note}}\n" },
		{ "default.html", "<p>{{payload.title}}</p>"
		                  "<p>{{payload.note}}</p>\n" },
		{ "broken.subject.txt", "{{#open}}never closed" },
	};

	cr_assert(mkdir(top, 0755) == 0);
	cr_assert(mkdir(email, 0755) == 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		char *path = tfmt("%s/%s", email, files[i].name);

		twrite(path, files[i].text);
		free(path);
	}
	free(email);
	free(top);
}

static void setup(void)
{
	char err[256];
	char *templates;

	memset(&T, 0, sizeof(T));
	cr_assert(curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK);
	T.dir = tmkdtemp();
	T.cert = tfmt("%s/cert.pem", T.dir);
	T.key = tfmt("%s/key.pem", T.dir);
	cr_assert(tls_self_signed_ensure(T.cert, T.key, 2, err, sizeof(err)),
	          "%s", err);
	write_templates();

	templates = tfmt("%s/templates", T.dir);
	T.base = event_base_new();
	T.curl = curl_driver_new(T.base);
	T.templates = tmpl_store_new(templates);
	cr_assert(T.base && T.curl && T.templates);
	free(templates);
}

static void teardown(void)
{
	tfake_stop(&T.smtp);
	curl_driver_free(T.curl);
	tmpl_store_free(T.templates);
	if (T.base != NULL)
		event_base_free(T.base);
	trmdir(T.dir);
	free(T.dir);
	free(T.cert);
	free(T.key);
	curl_global_cleanup();
}

TestSuite(email_sink, .init = setup, .fini = teardown, .timeout = 120);

/* The fake SMTP server. */

/* How the fake offers TLS: STARTTLS, from the first byte, or not at all
 * (no certificate, so no STARTTLS in its EHLO answer). */
enum smtp_tls {
	FAKE_STARTTLS,
	FAKE_IMPLICIT,
	FAKE_NO_TLS,
};

static void start_smtp(enum smtp_tls tls)
{
	char *fake = tfmt("%s/smtp", tenv("HERALD_FAKES_DIR"));
	const char *argv[16] = {
		fake,     "--port",  "0",          "--control-port", "0",
		"--user", SMTP_USER, "--password", SMTP_PASSWORD
	};
	size_t n = 9;
	const char *probe[] = { PYTHON, "-c", "import aiosmtpd", NULL };

	if (tls != FAKE_NO_TLS) {
		argv[n++] = "--cert";
		argv[n++] = T.cert;
		argv[n++] = "--key";
		argv[n++] = T.key;
	}
	if (tls == FAKE_IMPLICIT)
		argv[n++] = "--implicit-tls";
	argv[n] = NULL;
	if (trun(probe, NULL, NULL, NULL, false) != 0)
		tnot_run("python3-aiosmtpd is not installed");
	tfake_start(&T.smtp, argv);
	free(fake);
}

static json_t *control(const char *method, const char *path, const char *body)
{
	char *url = tfmt("http://127.0.0.1:%d%s", T.smtp.control_port, path);
	json_t *j = thttp_call(method, url, NULL, body);

	free(url);
	return j;
}

/* The configuration a test starts from: STARTTLS with AUTH. */
static struct config_sink sink_config(const char *url)
{
	return (struct config_sink){
		.name = "mail",
		.kind = CONFIG_SINK_EMAIL,
		.enabled = true,
		.timeout_ms = 10000,
		.smtp_url = url,
		.smtp_tls = CONFIG_SMTP_STARTTLS,
		.username = SMTP_USER,
		.password = SMTP_PASSWORD,
		.from = "Herald <herald@example.com>",
		.to = { .items = recipients, .count = 2 },
		.ca_file = T.cert,
	};
}

static char *smtp_url(const char *scheme)
{
	return tfmt("%s://127.0.0.1:%d", scheme, T.smtp.port);
}

/* Delivering. */

struct outcome {
	bool done;
	struct sink_result r;
};

static void on_done(void *arg, const struct sink_result *r)
{
	struct outcome *o = arg;

	o->done = true;
	o->r = *r;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

static void run_until_done(struct outcome *o)
{
	struct event *t = event_new(T.base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = { 0, 50000 };
	time_t deadline = time(NULL) + 30;

	/* The tick keeps the loop from returning at once when nothing else
	 * is pending, and lets the deadline be checked. */
	event_add(t, &tv);
	while (!o->done && time(NULL) < deadline)
		event_base_loop(T.base, EVLOOP_ONCE);
	event_free(t);
	cr_assert(o->done, "no outcome within 30 s");
}

static json_t *event_data(void)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}}", "id", "e1",
	                 "event_type", "DEPLOYMENT_FAILED", "deployment_id",
	                 "web-1", "source", "abacus", "payload", "title", TITLE,
	                 "note", NOTE);
}

/* Open a sink for cfg, deliver one message, close it. */
static struct sink_result deliver(const struct config_sink *cfg,
                                  const char *delivery_id)
{
	struct sink_env env = { .base = T.base,
		                .curl = T.curl,
		                .templates = T.templates };
	json_t *event = event_data();
	struct sink_message msg = { .delivery_id = delivery_id,
		                    .event_id = "e1",
		                    .event_type = "DEPLOYMENT_FAILED",
		                    .attempt = 1,
		                    .event = event };
	struct outcome o = { 0 };
	char err[256];
	void *sink;

	cr_assert_eq(sink_ops_for(cfg), &sink_email_ops);
	sink = sink_email_ops.open(cfg, &env, err, sizeof(err));
	cr_assert(sink != NULL, "open: %s", err);
	sink_email_ops.deliver(sink, &msg, on_done, &o);
	run_until_done(&o);
	cr_assert_eq(curl_driver_running(T.curl), 0);
	sink_email_ops.close(sink);
	json_decref(event);
	return o.r;
}

/* The messages the fake holds. */
static json_t *received(void)
{
	return control("GET", "/messages", NULL);
}

static const char *str_at(json_t *j, const char *key)
{
	const char *s = json_string_value(json_object_get(j, key));

	cr_assert(s != NULL, "no %s", key);
	return s;
}

static void check_mail(json_t *mail, const char *message_id)
{
	json_t *parts = json_object_get(mail, "parts");

	cr_expect_eq(json_array_size(json_object_get(mail, "defects")), 0,
	             "Python found defects in the message");
	cr_expect_str_eq(str_at(mail, "subject"),
	                 "[herald] DEPLOYMENT_FAILED web-1: " TITLE);
	cr_expect_str_eq(str_at(mail, "from"), "Herald <herald@example.com>");
	cr_expect_str_eq(str_at(mail, "to"),
	                 "Ops <ops@example.com>, oncall@example.com");
	cr_expect_str_eq(str_at(mail, "message_id"), message_id);
	cr_expect_str_eq(str_at(mail, "auto_submitted"), "auto-generated");
	cr_expect_str_eq(str_at(mail, "type"), "multipart/alternative");
	cr_assert_eq(json_array_size(parts), 2);
	cr_expect_str_eq(
	    json_string_value(json_array_get(json_array_get(parts, 0), 0)),
	    "text/plain");
	cr_expect_str_eq(
	    json_string_value(json_array_get(json_array_get(parts, 0), 1)),
	    "DEPLOYMENT_FAILED on web-1\n" TITLE "\n.\n.hidden line\n" NOTE
	    "\n");
	cr_expect_str_eq(
	    json_string_value(json_array_get(json_array_get(parts, 1), 0)),
	    "text/html");
	cr_expect(strstr(json_string_value(
	                     json_array_get(json_array_get(parts, 1), 1)),
	                 "<p>" TITLE "</p><p>&lt;b&gt;bold&lt;/b&gt; &amp;"
	                 " co</p>") != NULL);
}

/* Tests. */

Test(email_sink, starttls_and_auth_deliver)
{
	struct config_sink cfg;
	struct sink_result r;
	json_t *msgs, *m, *mail, *again;
	char *url;

	start_smtp(FAKE_STARTTLS);
	url = smtp_url("smtp");
	cfg = sink_config(url);
	r = deliver(&cfg, "0190a2b4-d1");
	cr_assert_eq(r.outcome, SINK_DELIVERED, "%s", r.error);
	cr_expect(strncmp(r.response, "250 ", 4) == 0, "%s", r.response);

	msgs = received();
	cr_assert_eq(json_array_size(msgs), 1);
	m = json_array_get(msgs, 0);
	cr_expect(json_is_true(json_object_get(m, "tls")));
	cr_expect(json_is_true(json_object_get(m, "auth")));
	cr_expect_str_eq(str_at(m, "auth_user"), SMTP_USER);
	cr_expect_str_eq(str_at(m, "mail_from"), "herald@example.com");
	cr_expect_str_eq(json_string_value(
	                     json_array_get(json_object_get(m, "rcpt_tos"), 0)),
	                 "ops@example.com");
	cr_expect_str_eq(json_string_value(
	                     json_array_get(json_object_get(m, "rcpt_tos"), 1)),
	                 "oncall@example.com");
	mail = tmail_parse(str_at(m, "data"));
	check_mail(mail, "<0190a2b4-d1@example.com>");

	/* A retry of the same delivery carries the same Message-ID. */
	r = deliver(&cfg, "0190a2b4-d1");
	cr_assert_eq(r.outcome, SINK_DELIVERED, "%s", r.error);
	json_decref(msgs);
	msgs = received();
	cr_assert_eq(json_array_size(msgs), 2);
	again = tmail_parse(str_at(json_array_get(msgs, 1), "data"));
	cr_expect_str_eq(str_at(again, "message_id"),
	                 str_at(mail, "message_id"));

	json_decref(again);
	json_decref(mail);
	json_decref(msgs);
	free(url);
}

Test(email_sink, wrong_password_fails_for_good)
{
	struct config_sink cfg;
	struct sink_result r;
	json_t *msgs;
	char *url;

	start_smtp(FAKE_STARTTLS);
	url = smtp_url("smtp");
	cfg = sink_config(url);
	cfg.password = "not-the-password";
	r = deliver(&cfg, "d2");
	cr_expect_eq(r.outcome, SINK_FAILED, "%d %s", r.outcome, r.error);
	cr_expect(strncmp(r.response, "535", 3) == 0, "%s", r.response);
	cr_expect(strstr(r.error, "not-the-password") == NULL);
	cr_expect(strstr(r.response, "not-the-password") == NULL);

	msgs = received();
	cr_expect_eq(json_array_size(msgs), 0);
	json_decref(msgs);
	free(url);
}

Test(email_sink, temporary_refusal_is_retried)
{
	struct config_sink cfg;
	struct sink_result r;
	json_t *msgs;
	char *url;

	start_smtp(FAKE_STARTTLS);
	json_decref(control("POST", "/fail", "{\"count\":1,\"code\":451}"));
	url = smtp_url("smtp");
	cfg = sink_config(url);
	r = deliver(&cfg, "d3");
	cr_expect_eq(r.outcome, SINK_RETRY, "%d %s", r.outcome, r.error);
	cr_expect(strncmp(r.response, "451", 3) == 0, "%s", r.response);
	cr_expect(strstr(r.error, "451") != NULL, "%s", r.error);

	r = deliver(&cfg, "d3");
	cr_expect_eq(r.outcome, SINK_DELIVERED, "%s", r.error);
	msgs = received();
	cr_expect_eq(json_array_size(msgs), 1);
	json_decref(msgs);
	free(url);
}

Test(email_sink, permanent_refusal_fails)
{
	struct config_sink cfg;
	struct sink_result r;
	char *url;

	start_smtp(FAKE_STARTTLS);
	json_decref(control("POST", "/fail", "{\"count\":1,\"code\":554}"));
	url = smtp_url("smtp");
	cfg = sink_config(url);
	r = deliver(&cfg, "d4");
	cr_expect_eq(r.outcome, SINK_FAILED, "%d %s", r.outcome, r.error);
	cr_expect(strncmp(r.response, "554", 3) == 0, "%s", r.response);
	free(url);
}

Test(email_sink, implicit_tls_delivers)
{
	struct config_sink cfg;
	struct sink_result r;
	json_t *msgs, *mail;
	char *url;

	start_smtp(FAKE_IMPLICIT);
	url = smtp_url("smtps");
	cfg = sink_config(url);
	cfg.smtp_tls = CONFIG_SMTP_IMPLICIT;
	r = deliver(&cfg, "d5");
	cr_assert_eq(r.outcome, SINK_DELIVERED, "%s", r.error);

	msgs = received();
	cr_assert_eq(json_array_size(msgs), 1);
	cr_expect(
	    json_is_true(json_object_get(json_array_get(msgs, 0), "tls")));
	mail = tmail_parse(str_at(json_array_get(msgs, 0), "data"));
	check_mail(mail, "<d5@example.com>");
	json_decref(mail);
	json_decref(msgs);
	free(url);
}

/* TLS is never optional: a server that does not offer STARTTLS gets
 * neither the password nor the message, and retrying would not help. */
Test(email_sink, server_without_starttls_is_refused)
{
	struct config_sink cfg;
	struct sink_result r;
	json_t *msgs;
	char *url, *log;

	start_smtp(FAKE_NO_TLS);
	url = smtp_url("smtp");
	cfg = sink_config(url);
	r = deliver(&cfg, "d9");
	cr_expect_eq(r.outcome, SINK_FAILED, "%d %s", r.outcome, r.error);
	cr_expect(strstr(r.error, "SSL") != NULL ||
	              strstr(r.error, "STARTTLS") != NULL,
	          "%s", r.error);

	msgs = received();
	cr_expect_eq(json_array_size(msgs), 0);
	log = tread(T.smtp.log);
	cr_expect(log == NULL || strstr(log, "AUTH") == NULL,
	          "credentials went out in clear:\n%s", log);
	free(log);
	json_decref(msgs);
	free(url);
}

Test(email_sink, untrusted_certificate_fails)
{
	struct config_sink cfg;
	struct sink_result r;
	char *url;

	start_smtp(FAKE_STARTTLS);
	url = smtp_url("smtp");
	cfg = sink_config(url);
	cfg.ca_file = NULL; /* the system's roots do not know the fake */
	r = deliver(&cfg, "d6");
	cr_expect_eq(r.outcome, SINK_FAILED, "%d %s", r.outcome, r.error);
	free(url);
}

Test(email_sink, nobody_listening_is_retried)
{
	char *url = tfmt("smtp://127.0.0.1:%d", tfree_port());
	struct config_sink cfg = sink_config(url);
	struct sink_result r = deliver(&cfg, "d7");

	cr_expect_eq(r.outcome, SINK_RETRY, "%d %s", r.outcome, r.error);
	free(url);
}

Test(email_sink, template_error_fails_naming_it)
{
	struct config_sink cfg = sink_config("smtp://127.0.0.1:1");
	struct sink_result r;

	cfg.subject = "email/broken.subject.txt";
	r = deliver(&cfg, "d8");
	cr_expect_eq(r.outcome, SINK_FAILED);
	cr_expect(strstr(r.error, "email/broken.subject.txt") != NULL, "%s",
	          r.error);

	cfg.subject = NULL;
	cfg.text = "email/missing.txt";
	r = deliver(&cfg, "d8");
	cr_expect_eq(r.outcome, SINK_FAILED);
	cr_expect(strstr(r.error, "email/missing.txt") != NULL, "%s", r.error);
}

/* open refuses what cannot work, before anything is sent. */
static void expect_open_error(const struct config_sink *cfg, const char *needle)
{
	struct sink_env env = { .base = T.base,
		                .curl = T.curl,
		                .templates = T.templates };
	char err[256] = "";

	cr_expect(sink_email_ops.open(cfg, &env, err, sizeof(err)) == NULL,
	          "%s opened", cfg->smtp_url);
	cr_expect(strstr(err, needle) != NULL, "%s: %s", needle, err);
}

Test(email_sink, open_refuses_bad_configurations)
{
	static const char *bad_to[] = { "nobody" };
	struct config_sink cfg = sink_config("smtps://mail.example.com:465");

	expect_open_error(&cfg, "smtp_tls");
	cfg = sink_config("smtp://mail.example.com:587");
	cfg.smtp_tls = CONFIG_SMTP_IMPLICIT;
	expect_open_error(&cfg, "smtp_tls");
	cfg = sink_config("https://mail.example.com");
	expect_open_error(&cfg, "smtp://");
	cfg = sink_config("smtp://u:hunter2@mail.example.com:587");
	expect_open_error(&cfg, "password");
	cfg = sink_config("smtp://mail.example.com:587");
	cfg.from = "Herald";
	expect_open_error(&cfg, "from");
	cfg = sink_config("smtp://mail.example.com:587");
	cfg.to.items = bad_to;
	cfg.to.count = 1;
	expect_open_error(&cfg, "nobody");
}
