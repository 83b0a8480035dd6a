/*
 * herald serve as a black box: the real binary, a real PostgreSQL, real
 * TLS. Health and readiness, request limits, TLS versions, reload and a
 * graceful stop.
 */
#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/tls.h"
#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tpg.h"
#include "support/ttls.h"

static struct therald h;

static void setup(void)
{
	therald_init(&h);
}

static void teardown(void)
{
	therald_cleanup(&h);
}

TestSuite(serve, .init = setup, .fini = teardown, .timeout = 120);

static char *url(const char *path)
{
	return tfmt("%s%s", h.url, path);
}

static void get(const char *path, struct thttp_resp *r)
{
	char *u = url(path);

	thttp("GET", u, h.ca, NULL, NULL, 0, r);
	free(u);
}

/* /readyz turns 200 once the writer has connected; wait for it. */
static long wait_ready(int ms)
{
	struct thttp_resp r;
	long status = 0;

	for (int waited = 0; waited < ms; waited += 50) {
		get("/readyz", &r);
		status = r.status;
		thttp_free(&r);
		if (status == 200)
			break;
		tsleep_ms(50);
	}
	return status;
}

static void expect_error_body(const struct thttp_resp *r, const char *code)
{
	json_t *j = thttp_json(r);

	cr_expect_str_eq(json_string_value(json_object_get(j, "error")), code,
	                 "%s", r->body);
	cr_expect(json_is_string(json_object_get(j, "message")), "%s", r->body);
	json_decref(j);
}

Test(serve, health_ready_and_stop)
{
	struct thttp_resp r;
	char *u, *log, *allow;

	therald_start(&h, "{" THERALD_BASE "}", NULL);
	get("/healthz", &r);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(r.body, "{\"status\":\"ok\"}");
	thttp_free(&r);
	cr_expect_eq(wait_ready(10000), 200);

	get("/nowhere", &r);
	cr_expect_eq(r.status, 404);
	expect_error_body(&r, "not_found");
	thttp_free(&r);

	u = url("/healthz");
	thttp("POST", u, h.ca, NULL, "x", 1, &r);
	cr_expect_eq(r.status, 405);
	expect_error_body(&r, "method_not_allowed");
	allow = thttp_header(&r, "Allow");
	cr_expect_str_eq(allow, "GET, HEAD");
	free(allow);
	thttp_free(&r);
	thttp("HEAD", u, h.ca, NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.len, 0);
	thttp_free(&r);
	free(u);

	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	log = therald_log(&h);
	cr_expect_not_null(strstr(log, "msg=stopped"), "%s", log);
	free(log);
}

/* /readyz answers 503 not_ready saying why; the writer finds out why
 * after its first try, so the answer is awaited, not sampled once. */
static void expect_not_ready(const char *why)
{
	struct thttp_resp r = { 0 };
	json_t *j;

	for (int waited = 0; waited <= 20000; waited += 100) {
		thttp_free(&r);
		get("/readyz", &r);
		if (r.status == 503 && strstr(r.body, why) != NULL)
			break;
		tsleep_ms(100);
	}
	cr_expect_eq(r.status, 503);
	j = thttp_json(&r);
	cr_expect_str_eq(json_string_value(json_object_get(j, "error")),
	                 "not_ready");
	cr_expect_not_null(strstr(r.body, why), "%s", r.body);
	json_decref(j);
	thttp_free(&r);
}

Test(serve, readyz_says_why_when_database_is_down)
{
	struct thttp_resp r;

	tpg_drop_db(h.db);
	free(h.db);
	h.db = tfmt("host=127.0.0.1 port=%d user=nobody dbname=x "
	            "connect_timeout=2",
	            tfree_port());
	therald_start_listening(&h,
	                        "{" THERALD_STATE_TLS "," THERALD_LISTEN ","
	                        " \"database\": {\"url\": \"{{db}}\","
	                        " \"migrate_on_start\": false}}",
	                        NULL);
	expect_not_ready("database unreachable");
	get("/healthz", &r);
	cr_expect_eq(r.status, 200);
	thttp_free(&r);
	free(h.db);
	h.db = NULL;
}

Test(serve, readyz_says_why_when_schema_is_behind)
{
	therald_start_listening(&h,
	                        "{" THERALD_STATE_TLS "," THERALD_LISTEN ","
	                        " \"database\": {\"url\": \"{{db}}\","
	                        " \"migrate_on_start\": false}}",
	                        NULL);
	expect_not_ready("schema not current");
}

Test(serve, limits_answer_in_json)
{
	struct ttls t;
	char *resp, *big;

	therald_start(&h,
	              "{" THERALD_STATE_TLS "," THERALD_DB ","
	              " \"listen\": {\"port\": 0,"
	              " \"max_body_size\": \"4KiB\","
	              " \"max_header_size\": \"2KiB\"}}",
	              NULL);

	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	              "Content-Length: 5000\r\n\r\n");
	resp = ttls_read_response(&t, 5000);
	cr_assert_not_null(resp);
	cr_expect(strncmp(resp, "HTTP/1.1 413 ", 13) == 0, "%s", resp);
	cr_expect_not_null(strstr(resp, "\"error\":\"too_large\""), "%s", resp);
	cr_expect_not_null(strstr(resp, "Connection: close"), "%s", resp);
	free(resp);
	ttls_close(&t);

	big = calloc(1, 3000);
	memset(big, 'a', 2999);
	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	ttls_puts(&t, big);
	ttls_puts(&t, "\r\n\r\n");
	resp = ttls_read_response(&t, 5000);
	cr_assert_not_null(resp);
	cr_expect(strncmp(resp, "HTTP/1.1 431 ", 13) == 0, "%s", resp);
	free(resp);
	ttls_close(&t);
	free(big);

	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	              "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"
	              "\r\n");
	resp = ttls_read_response(&t, 5000);
	cr_assert_not_null(resp);
	cr_expect(strncmp(resp, "HTTP/1.1 501 ", 13) == 0, "%s", resp);
	cr_expect_not_null(strstr(resp, "\"error\":\"bad_request\""), "%s",
	                   resp);
	free(resp);
	ttls_close(&t);
}

Test(serve, keep_alive_and_pipelining)
{
	struct ttls t;
	char *all;
	int answers = 0;

	therald_start(&h, "{" THERALD_BASE "}", NULL);
	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	              "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	              "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	              "Connection: close\r\n\r\n");
	all = ttls_read_all(&t, 5000);
	for (const char *p = all; (p = strstr(p, "HTTP/1.1 200 ")); p++)
		answers++;
	cr_expect_eq(answers, 3, "%s", all);
	free(all);
	ttls_close(&t);
}

Test(serve, tls_versions)
{
	struct ttls t;

	therald_start(&h, "{" THERALD_BASE "}", NULL);
	cr_expect(ttls_open(&t, h.port, h.ca, 0));
	cr_expect_eq(SSL_version(t.ssl), TLS1_3_VERSION);
	ttls_close(&t);
	cr_expect(ttls_open(&t, h.port, h.ca, TLS1_2_VERSION));
	ttls_close(&t);
	cr_expect_not(ttls_open(&t, h.port, h.ca, TLS1_1_VERSION));
	ttls_close(&t);
	therald_stop(&h, SIGTERM);

	therald_start(&h,
	              "{" THERALD_STATE "," THERALD_LISTEN "," THERALD_DB
	              ", \"tls\": {" THERALD_TLS_FILES ","
	              " \"min_version\": \"1.3\"}}",
	              NULL);
	cr_expect_not(ttls_open(&t, h.port, h.ca, TLS1_2_VERSION));
	ttls_close(&t);
}

/* A client's renegotiation is refused: the handshake it starts fails
 * and the connection answers nothing more. */
Test(serve, renegotiation_is_refused)
{
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	struct ttls t;
	char *resp;

	therald_start(&h, "{" THERALD_BASE "}", NULL);
	cr_assert(ttls_open(&t, h.port, h.ca, TLS1_2_VERSION));
	cr_assert_eq(SSL_version(t.ssl), TLS1_2_VERSION);
	cr_assert_eq(SSL_renegotiate(t.ssl), 1);
	cr_expect_neq(SSL_do_handshake(t.ssl), 1,
	              "the server went along with a renegotiation");
	if (SSL_write(t.ssl, req, (int)strlen(req)) > 0) {
		resp = ttls_read_response(&t, 2000);
		cr_expect_null(resp, "answered after a renegotiation: %s",
		               resp);
		free(resp);
	}
	ttls_close(&t);
}

static bool same_cert(int port, const char *file)
{
	FILE *f = fopen(file, "re");
	X509 *want = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	struct ttls t;
	X509 *got;
	bool same;

	if (f != NULL)
		fclose(f);
	cr_assert(want != NULL && ttls_open(&t, port, NULL, 0));
	got = ttls_peer(&t);
	same = got != NULL && X509_cmp(got, want) == 0;
	X509_free(got);
	X509_free(want);
	ttls_close(&t);
	return same;
}

static void rewrite_config(const char *template)
{
	char *a = tsubst(template, "dir", h.dir);
	char *b = tsubst(a, "db", h.db);

	twrite(h.config, b);
	free(a);
	free(b);
}

Test(serve, reload_takes_good_and_keeps_old_on_bad)
{
	char *cert2 = tfmt("%s/new-cert.pem", h.dir);
	char *key2 = tfmt("%s/new-key.pem", h.dir);
	char *key1 = tfmt("%s/tls/key.pem", h.dir);
	char *bad = tfmt("%s/bad.pem", h.dir);
	char err[256], *log;
	struct thttp_resp r;
	size_t from;

	therald_start(&h, "{" THERALD_BASE "}", NULL);

	rewrite_config("{" THERALD_BASE ", \"log\": {\"level\": \"warn\"");
	kill(h.pid, SIGHUP);
	cr_expect(therald_wait_log(&h, "reload refused", 5000));
	cr_expect(therald_wait_log(&h, "invalid JSON", 100));
	get("/healthz", &r);
	cr_expect_eq(r.status, 200);
	thttp_free(&r);

	rewrite_config("{" THERALD_STATE_TLS "," THERALD_DB
	               ", \"listen\": {\"port\": 1}}");
	kill(h.pid, SIGHUP);
	cr_expect(therald_wait_log(&h, "option=listen.port", 5000));

	/* A valid configuration whose certificate does not load. */
	twrite(bad, "-----BEGIN CERTIFICATE-----\nnot base64\n");
	rewrite_config("{" THERALD_STATE "," THERALD_LISTEN "," THERALD_DB
	               ", \"tls\": {\"cert_file\": \"{{dir}}/bad.pem\","
	               " \"key_file\": \"{{dir}}/tls/key.pem\"}}");
	from = strlen(log = therald_log(&h));
	free(log);
	kill(h.pid, SIGHUP);
	cr_expect(therald_wait_log(&h, "bad.pem", 5000));
	log = therald_log(&h);
	cr_expect_not_null(strstr(log + from, "reload refused"), "%s",
	                   log + from);
	cr_expect_null(strstr(log + from, "configuration reloaded"));
	free(log);
	cr_expect(same_cert(h.port, h.ca), "the old certificate was dropped");

	/* A new certificate under the configured names. */
	cr_assert(tls_self_signed_ensure(cert2, key2, 30, err, sizeof(err)),
	          "%s", err);
	cr_assert(rename(key2, key1) == 0);
	cr_assert(rename(cert2, h.ca) == 0);
	cr_expect_not(same_cert(h.port, h.ca), "old certificate still used");
	rewrite_config("{" THERALD_BASE ", \"log\": {\"level\": \"debug\"}}");
	kill(h.pid, SIGHUP);
	cr_expect(therald_wait_log(&h, "configuration reloaded", 5000));
	cr_expect(same_cert(h.port, h.ca));
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	free(cert2);
	free(key2);
	free(key1);
	free(bad);
}

Test(serve, stop_lets_in_flight_requests_finish)
{
	struct ttls t;
	char *resp;
	int fd;

	therald_start(&h, "{" THERALD_BASE "}", NULL);
	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	              "Content-Length: 10\r\n\r\n12345");
	tsleep_ms(200);
	kill(h.pid, SIGTERM);
	cr_assert(therald_wait_log(&h, "msg=stopping", 5000));
	/* Draining: the port no longer takes connections. */
	fd = ttcp_open(h.port);
	cr_expect_lt(fd, 0, "a new connection was accepted while stopping");
	if (fd >= 0)
		close(fd);
	ttls_puts(&t, "67890");
	resp = ttls_read_response(&t, 5000);
	cr_assert_not_null(resp);
	cr_expect(strncmp(resp, "HTTP/1.1 200 ", 13) == 0, "%s", resp);
	cr_expect_not_null(strstr(resp, "Connection: close"), "%s", resp);
	free(resp);
	ttls_close(&t);
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
}

Test(serve, sigint_stops_like_sigterm)
{
	therald_start(&h, "{" THERALD_BASE "}", NULL);
	cr_expect_eq(therald_stop(&h, SIGINT), 0);
	cr_expect(therald_wait_log(&h, "signal=SIGINT", 100));
	cr_expect(therald_wait_log(&h, "msg=stopped", 100));
}

/* A request that does not finish holds the stop up to
 * listen.shutdown_timeout, and no longer. */
Test(serve, stop_waits_no_longer_than_the_shutdown_timeout)
{
	struct timespec t0, t1;
	struct ttls t;
	long ms;

	therald_start(&h,
	              "{" THERALD_STATE_TLS "," THERALD_DB ", \"listen\":"
	              " {\"port\": 0, \"shutdown_timeout\": \"1s\"}}",
	              NULL);
	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "POST /healthz HTTP/1.1\r\nHost: x\r\n"
	              "Content-Length: 10\r\n\r\n12345");
	tsleep_ms(200);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_expect_geq(ms, 900, "stopped after %ld ms, before the bound", ms);
	cr_expect_lt(ms, 5000, "stopped after %ld ms", ms);
	cr_expect(
	    therald_wait_log(&h, "stopping with requests unanswered", 100));
	ttls_close(&t);
}

Test(serve, connection_limit_pauses_accept)
{
	struct thttp_resp r;
	int a, b;
	char *u;

	therald_start(&h,
	              "{" THERALD_STATE_TLS "," THERALD_DB ","
	              " \"listen\": {\"port\": 0, \"max_connections\": 2}}",
	              NULL);
	a = ttcp_open(h.port);
	b = ttcp_open(h.port);
	cr_assert(a >= 0 && b >= 0);
	tsleep_ms(200);
	u = url("/healthz");
	thttp_set_timeout(1500);
	thttp("GET", u, h.ca, NULL, NULL, 0, &r);
	thttp_set_timeout(0);
	cr_expect_eq(r.status, 0, "answered past the limit");
	thttp_free(&r);
	close(a);
	tsleep_ms(200);
	thttp("GET", u, h.ca, NULL, NULL, 0, &r);
	cr_expect_eq(r.status, 200, "%s", r.error);
	thttp_free(&r);
	close(b);
	free(u);
}
