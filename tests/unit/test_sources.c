/*
 * Source adapters on requests built in memory: what each makes of a body
 * and its headers, and how each refuses.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "sources/abacus.h"
#include "sources/alertmanager.h"
#include "sources/auth.h"
#include "sources/generic.h"
#include "sources/signature.h"
#include "support/tconfig.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static const char config_text[] =
    "{\"tls\": {\"self_signed\": true},"
    " \"sources\": {"
    "  \"alertmanager\": {\"tokens\": [\"am-token\"],"
    "   \"username\": \"am\", \"password\": \"am-pass\"},"
    "  \"generic\": {"
    "   \"ci\": {\"secrets\": [\"" SECRET "\"],"
    "    \"event_type\": {\"pointer\": \"/kind/name\"},"
    "    \"deployment_id\": {\"header\": \"X-Deployment\"},"
    "    \"severity\": {\"value\": \"info\"},"
    "    \"store_headers\": [\"X-Deployment\"]},"
    "   \"tok\": {\"auth\": \"bearer\", \"tokens\": [\"t1\", \"t2\"],"
    "    \"event_type\": {\"pointer\": \"/type\"}}}}}";

static struct config *cfg;

static void setup(void)
{
	cfg = tconfig_load("test.json", config_text);
}

static void teardown(void)
{
	config_unref(cfg);
}

TestSuite(sources, .init = setup, .fini = teardown);

/* A request: head text (without the final blank line) and body. */
struct req {
	char *buf;
	struct http_head head;
	struct source_request rq;
	struct source_result res;
};

static void make(struct req *q, const char *head, const char *body)
{
	size_t n = strlen(head);

	memset(q, 0, sizeof(*q));
	q->buf = malloc(n + 5);
	memcpy(q->buf, head, n);
	memcpy(q->buf + n, "\r\n\r\n", 5);
	cr_assert_eq(http_parse_head(q->buf, n + 4, &q->head), HTTP_PARSE_OK,
	             "%s", head);
	q->rq = (struct source_request){ .cfg = cfg,
		                         .head = &q->head,
		                         .body = body,
		                         .len = strlen(body),
		                         .peer = "192.0.2.7",
		                         .param = "",
		                         .now = (int64_t)time(NULL) };
}

static void done(struct req *q)
{
	source_result_clear(&q->res);
	free(q->buf);
}

#define JSON_HEAD                                                              \
	"POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: application/json"

Test(sources, abacus_keeps_body_and_hashes_token)
{
	struct req q;
	uint8_t want[32];

	make(&q, JSON_HEAD "\r\nAuthorization: Bearer x", "{\"a\": [1, 2]}");
	q.rq.param = "tok3n";
	cr_assert(abacus_events(&q.rq, &q.res), "%s", q.res.message);
	cr_assert_eq(q.res.count, 1);
	cr_expect_str_eq(q.res.events[0].payload, "{\"a\": [1, 2]}");
	cr_expect_null(q.res.events[0].event_type);
	cr_expect(q.res.events[0].has_token);
	auth_sha256("tok3n", 5, want);
	cr_expect_eq(memcmp(want, q.res.events[0].token_sha256, 32), 0);
	cr_expect_null(strstr(q.res.events[0].headers, "uthorization"));
	cr_expect_str_eq(q.res.events[0].peer, "192.0.2.7");
	done(&q);
}

Test(sources, json_errors_name_line_and_column)
{
	struct req q;

	make(&q, JSON_HEAD, "{\n  \"a\": tru\n}");
	cr_expect_not(abacus_events(&q.rq, &q.res));
	cr_expect_eq(q.res.status, 400);
	cr_expect_str_eq(q.res.code, "bad_json");
	cr_expect(
	    strncmp(q.res.message, "invalid JSON at line 2, column ", 31) == 0,
	    "%s", q.res.message);
	done(&q);
}

Test(sources, content_type_must_be_json)
{
	struct req q;

	make(&q, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain",
	     "{}");
	cr_expect_not(abacus_events(&q.rq, &q.res));
	cr_expect_eq(q.res.status, 415);
	done(&q);
	make(&q,
	     "POST /x HTTP/1.1\r\nHost: h\r\n"
	     "Content-Type: application/vnd.x+json; charset=utf-8",
	     "{}");
	cr_expect(abacus_events(&q.rq, &q.res), "%s", q.res.message);
	done(&q);
}

static const char notification[] =
    "{\"version\": \"4\", \"status\": \"firing\", \"receiver\": \"r\","
    " \"groupKey\": \"g\", \"alerts\": ["
    " {\"status\": \"firing\", \"labels\": {\"alertname\": \"Down\","
    "  \"deployment\": \"web\", \"severity\": \"page\"},"
    "  \"annotations\": {}, \"startsAt\": \"2026-01-01T00:00:00Z\","
    "  \"endsAt\": \"0001-01-01T00:00:00Z\", \"fingerprint\": \"f1\"},"
    " {\"status\": \"resolved\", \"labels\": {\"alertname\": \"Slow\"},"
    "  \"startsAt\": \"2026-01-01T00:00:00Z\", \"fingerprint\": \"f2\"}]}";

Test(sources, alertmanager_makes_one_event_per_alert)
{
	struct req q;
	json_t *p;

	make(&q, JSON_HEAD "\r\nAuthorization: Bearer am-token", notification);
	cr_assert(alertmanager_events(&q.rq, &q.res), "%s", q.res.message);
	cr_assert_eq(q.res.count, 2);
	cr_expect_str_eq(q.res.events[0].event_type, "MONITOR_ALERT");
	cr_expect_str_eq(q.res.events[0].deployment_id, "web");
	cr_expect_str_eq(q.res.events[0].severity, "page");
	cr_expect_str_eq(q.res.events[0].idempotency_key,
	                 "f1:firing:2026-01-01T00:00:00Z");
	cr_expect_str_eq(q.res.events[1].idempotency_key,
	                 "f2:resolved:2026-01-01T00:00:00Z");
	cr_expect_null(q.res.events[1].deployment_id);
	p = json_loads(q.res.events[0].payload, 0, NULL);
	cr_expect_str_eq(json_string_value(json_object_get(
	                     json_object_get(p, "notification"), "groupKey")),
	                 "g");
	cr_expect_null(
	    json_object_get(json_object_get(p, "notification"), "alerts"));
	json_decref(p);
	done(&q);
}

Test(sources, alertmanager_auth)
{
	struct req q;

	make(&q, JSON_HEAD "\r\nAuthorization: Bearer wrong", notification);
	cr_expect_not(alertmanager_events(&q.rq, &q.res));
	cr_expect_eq(q.res.status, 401);
	done(&q);
	/* am:am-pass */
	make(&q, JSON_HEAD "\r\nAuthorization: Basic YW06YW0tcGFzcw==",
	     notification);
	cr_expect(alertmanager_events(&q.rq, &q.res), "%s", q.res.message);
	done(&q);
	make(&q, JSON_HEAD "\r\nAuthorization: Basic YW06eA==", notification);
	cr_expect_not(alertmanager_events(&q.rq, &q.res));
	done(&q);
	make(&q, JSON_HEAD, notification);
	cr_expect_not(alertmanager_events(&q.rq, &q.res));
	cr_expect_eq(q.res.status, 401);
	done(&q);
}

/* A notification of one alert with the given JSON fields. */
#define ALERT(status, starts, labels)                                          \
	"{\"alerts\": [{\"status\": " status ", \"startsAt\": " starts         \
	", \"labels\": " labels ", \"fingerprint\": \"f1\"}]}"

Test(sources, alertmanager_refuses_what_is_not_a_notification)
{
	const char *bad[] = {
		"[]",
		"{\"alerts\": []}",
		"{\"alerts\": [1]}",
		"{\"alerts\": [{\"status\": \"firing\"}]}",
		ALERT("\"foo\"", "\"2026-01-01T00:00:00Z\"", "{}"),
		ALERT("\"firing\"", "\"yesterday\"", "{}"),
		ALERT("\"firing\"", "\"2026-01-01 00:00:00Z\"", "{}"),
		ALERT("\"firing\"", "\"2026-01-01T00:00:00\"", "{}"),
		ALERT("\"firing\"", "\"2026-01-01T00:00:00Z\"", "\"x\""),
		"{\"alerts\": [{\"status\": \"firing\", \"labels\": {},"
		" \"startsAt\": \"2026-01-01T00:00:00Z\"}]}",
	};
	struct req q;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		make(&q, JSON_HEAD "\r\nAuthorization: Bearer am-token",
		     bad[i]);
		cr_expect_not(alertmanager_events(&q.rq, &q.res), "%s", bad[i]);
		cr_expect_eq(q.res.status, 400, "%s", bad[i]);
		done(&q);
	}
}

Test(sources, alertmanager_times_with_fractions_and_offsets)
{
	const char *good[] = {
		ALERT("\"firing\"", "\"2026-01-01T00:00:00.123456789Z\"", "{}"),
		ALERT("\"resolved\"", "\"2026-01-01T02:00:00+02:00\"", "{}"),
	};
	struct req q;

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		make(&q, JSON_HEAD "\r\nAuthorization: Bearer am-token",
		     good[i]);
		cr_expect(alertmanager_events(&q.rq, &q.res), "%s: %s", good[i],
		          q.res.message);
		done(&q);
	}
}

Test(sources, alertmanager_labels_are_cut_between_characters)
{
	/* 255 ASCII bytes, then a two-byte character that would end past
	 * the 256-byte limit. */
	char body[1024], dep[300];
	struct req q;

	memset(dep, 'a', 255);
	memcpy(dep + 255, "\xc3\xa9", 3);
	snprintf(body, sizeof(body),
	         "{\"alerts\": [{\"status\": \"firing\","
	         " \"startsAt\": \"2026-01-01T00:00:00Z\","
	         " \"labels\": {\"deployment\": \"%s\"},"
	         " \"fingerprint\": \"f1\"}]}",
	         dep);
	make(&q, JSON_HEAD "\r\nAuthorization: Bearer am-token", body);
	cr_assert(alertmanager_events(&q.rq, &q.res), "%s", q.res.message);
	cr_expect_eq(strlen(q.res.events[0].deployment_id), 255);
	done(&q);
}

static char *signed_head(const char *body, int64_t ts, const char *extra)
{
	struct sig_secret s;
	char sig[SIG_HEADER_MAX];
	char *head;

	cr_assert(sig_secret_parse(SECRET, &s));
	sig_sign(&s, "msg_1", ts, body, strlen(body), sig);
	cr_assert(asprintf(&head,
	                   JSON_HEAD "\r\nwebhook-id: msg_1\r\n"
	                             "webhook-timestamp: %lld\r\n"
	                             "webhook-signature: %s%s",
	                   (long long)ts, sig, extra) > 0);
	return head;
}

Test(sources, generic_fields_from_pointer_header_and_value)
{
	const char *body = "{\"kind\": {\"name\": \"DEPLOYMENT_START\"},"
	                   " \"labels\": {\"team\": \"core\"}}";
	char *head =
	    signed_head(body, (int64_t)time(NULL), "\r\nX-Deployment: api-7");
	struct req q;
	struct event *ev;

	make(&q, head, body);
	cr_assert(
	    generic_events(config_generic_source(cfg, "ci"), &q.rq, &q.res),
	    "%s", q.res.message);
	ev = &q.res.events[0];
	cr_expect_str_eq(ev->source, "ci");
	cr_expect_str_eq(ev->event_type, "DEPLOYMENT_START");
	cr_expect_str_eq(ev->deployment_id, "api-7");
	cr_expect_str_eq(ev->severity, "info");
	cr_expect_str_eq(ev->idempotency_key, "msg_1");
	cr_expect_str_eq(ev->payload, body);
	cr_expect_str_eq(json_string_value(json_object_get(ev->labels, "team")),
	                 "core");
	cr_expect_not_null(strstr(ev->headers, "\"x-deployment\":\"api-7\""),
	                   "%s", ev->headers);
	cr_expect_null(strstr(ev->headers, "signature"), "%s", ev->headers);
	done(&q);
	free(head);
}

Test(sources, generic_refusals)
{
	const char *body = "{\"kind\": {\"name\": \"X\"}}";
	char *old = signed_head(body, (int64_t)time(NULL) - 600, "");
	char *good = signed_head("{\"other\": 1}", (int64_t)time(NULL), "");
	struct req q;

	make(&q, old, body);
	cr_expect_not(
	    generic_events(config_generic_source(cfg, "ci"), &q.rq, &q.res));
	cr_expect_eq(q.res.status, 401);
	cr_expect_str_eq(q.res.message, sig_result_text(SIG_TOO_OLD));
	done(&q);

	make(&q, good, "{\"other\": 1}");
	cr_expect_not(
	    generic_events(config_generic_source(cfg, "ci"), &q.rq, &q.res));
	cr_expect_eq(q.res.status, 422, "%s", q.res.message);
	cr_expect_str_eq(q.res.message, "no event type (text of at most "
	                                "256 bytes) at /kind/name");
	done(&q);

	make(&q, JSON_HEAD, body);
	cr_expect_not(generic_events(NULL, &q.rq, &q.res));
	cr_expect_eq(q.res.status, 404);
	done(&q);
	free(old);
	free(good);
}

Test(sources, generic_bearer_and_idempotency_key)
{
	struct req q;

	make(&q,
	     JSON_HEAD "\r\nAuthorization: Bearer t2\r\n"
	               "Idempotency-Key: run-42",
	     "{\"type\": 7}");
	cr_assert(
	    generic_events(config_generic_source(cfg, "tok"), &q.rq, &q.res),
	    "%s", q.res.message);
	cr_expect_str_eq(q.res.events[0].event_type, "7");
	cr_expect_str_eq(q.res.events[0].idempotency_key, "run-42");
	done(&q);
	/* A signed webhook-id wins over a key a replay could add. */
	make(&q,
	     JSON_HEAD "\r\nAuthorization: Bearer t2\r\n"
	               "Idempotency-Key: run-43\r\nwebhook-id: msg_9",
	     "{\"type\": 7}");
	cr_assert(
	    generic_events(config_generic_source(cfg, "tok"), &q.rq, &q.res),
	    "%s", q.res.message);
	cr_expect_str_eq(q.res.events[0].idempotency_key, "msg_9");
	done(&q);
	make(&q,
	     JSON_HEAD "\r\nAuthorization: Bearer t2\r\n"
	               "Idempotency-Key: \xff\xfe",
	     "{\"type\": 7}");
	cr_expect_not(
	    generic_events(config_generic_source(cfg, "tok"), &q.rq, &q.res));
	cr_expect_eq(q.res.status, 400);
	cr_expect_str_eq(q.res.code, "bad_idempotency_key");
	done(&q);
	make(&q, JSON_HEAD "\r\nAuthorization: Bearer t3", "{\"type\": 7}");
	cr_expect_not(
	    generic_events(config_generic_source(cfg, "tok"), &q.rq, &q.res));
	cr_expect_eq(q.res.status, 401);
	done(&q);
}
