/*
 * One libcurl easy handle per client, reset before every request so no
 * option of one call leaks into the next, while its connection cache
 * keeps the TLS session to Abacus alive between calls.
 */
#include "abacus/client.h"

#include <curl/curl.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "log.h"
#include "util/buf.h"
#include "version.h"

#define BODY_MAX           (8L * 1024 * 1024)
#define ATTEMPTS           4
#define BACKOFF_MS         250
#define BACKOFF_MAX_MS     8000
#define CONNECT_MAX_MS     10000L
#define PAUSE_SLICE_MS     50
#define RETRY_AFTER_MAX_MS 60000L

struct abacus_client {
	CURL *curl;
	struct curl_slist *headers; /* holds the key: never logged */
	char *base;                 /* api_url without a trailing slash */
	char *ca_file;
	long timeout_ms;
	bool https;
	const atomic_bool *cancel;
	char curl_err[CURL_ERROR_SIZE];
};

enum method {
	M_GET,
	M_POST,
	M_PATCH,
	M_DELETE,
};

static const char *const method_names[] = { "GET", "POST", "PATCH", "DELETE" };

struct call {
	enum method method;
	const char *action;
	const char *qname; /* the one query argument, or NULL */
	const char *qvalue;
	json_t *body; /* borrowed; NULL for none */
};

/* What one attempt brought back. */
struct answer {
	struct buf body;
	bool too_big;
	bool transient;      /* a transport failure worth another try */
	long retry_after_ms; /* -1: none given */
	char request_id[128];
};

/* Errors */

/* Copy len bytes of text, control characters made spaces, so a message
 * from the network stays on one line wherever it is shown. */
static void copy_clean(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0;

	while (n < len && n + 1 < size) {
		unsigned char ch = (unsigned char)src[n];

		dst[n++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
	}
	while (n > 0 && dst[n - 1] == ' ')
		n--;
	dst[n] = '\0';
}

static void set_text(char *dst, size_t size, const char *src)
{
	copy_clean(dst, size, src, strlen(src));
}

/* The name of a failure whose answer names none. */
static const char *default_type(long status)
{
	if (status >= 200 && status < 300)
		return "InvalidResponse";
	switch (status) {
	case 403: return "PermissionDeniedError";
	case 404: return "Generic404Error";
	case 429: return "TooManyRequestsError";
	case 501: return "NotImplementedError";
	case 503: return "ServiceUnavailableError";
	case 504: return "GatewayTimeoutError";
	default:
		return status >= 500 ? "InternalServerError" : "InvalidRequest";
	}
}

void abacus_error_format(const struct abacus_error *e, char *out, size_t size)
{
	char status[32] = "no answer";

	if (e->status > 0)
		snprintf(status, sizeof(status), "HTTP %ld", e->status);
	snprintf(out, size, "%s %s: %s%s%s%s", status, e->type, e->message,
	         e->request_id[0] ? " (request id " : "", e->request_id,
	         e->request_id[0] ? ")" : "");
}

bool abacus_error_not_found(const struct abacus_error *e)
{
	return e->status == 404 && (strcmp(e->type, "DataNotFoundError") == 0 ||
	                            strcmp(e->type, "Generic404Error") == 0);
}

/* Envelope */

static void not_an_envelope(long status, const char *body, size_t len,
                            struct abacus_error *e)
{
	set_text(e->type, sizeof(e->type), default_type(status));
	copy_clean(e->message, sizeof(e->message), body, len);
	if (e->message[0] == '\0')
		snprintf(e->message, sizeof(e->message),
		         "an answer that is not JSON");
}

static void envelope_error(long status, json_t *env, struct abacus_error *e)
{
	const char *type = json_string_value(json_object_get(env, "errorType"));
	const char *msg = json_string_value(json_object_get(env, "error"));
	bool ok_status = status >= 200 && status < 300;

	if (type == NULL || *type == '\0')
		type = default_type(status);
	set_text(e->type, sizeof(e->type), type);
	if (msg != NULL && *msg != '\0')
		set_text(e->message, sizeof(e->message), msg);
	else if (ok_status && !json_is_boolean(json_object_get(env, "success")))
		snprintf(e->message, sizeof(e->message),
		         "the answer is not an Abacus envelope");
	else
		snprintf(e->message, sizeof(e->message),
		         "the call failed without a reason");
}

bool abacus_envelope_parse(long status, const char *body, size_t len,
                           const char *header_request_id, json_t **result,
                           struct abacus_error *e)
{
	json_t *env = json_loadb(body, len, 0, NULL);
	const char *rid = json_string_value(json_object_get(env, "requestId"));
	json_t *res;

	memset(e, 0, sizeof(*e));
	*result = NULL;
	e->status = status;
	if (rid == NULL || *rid == '\0')
		rid = header_request_id;
	if (rid != NULL)
		set_text(e->request_id, sizeof(e->request_id), rid);

	if (!json_is_object(env)) {
		not_an_envelope(status, body, len, e);
		json_decref(env);
		return false;
	}
	if (status < 200 || status >= 300 ||
	    !json_is_true(json_object_get(env, "success"))) {
		envelope_error(status, env, e);
		json_decref(env);
		return false;
	}
	res = json_object_get(env, "result");
	*result = res != NULL ? json_incref(res) : json_null();
	json_decref(env);
	return true;
}

/* The client */

static char *copy_str(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static bool build_headers(struct abacus_client *c, const char *key)
{
	struct buf h = { 0 };
	struct curl_slist *l;

	buf_printf(&h, "apiKey: %s", key);
	if (buf_failed(&h))
		return false;
	l = curl_slist_append(NULL, buf_str(&h));
	buf_free(&h);
	if (l == NULL)
		return false;
	c->headers = l;
	l = curl_slist_append(c->headers, "Accept: application/json");
	l = l ? curl_slist_append(l, "Content-Type: application/json") : NULL;
	/* Answer at once rather than after a 100-continue round trip. */
	l = l ? curl_slist_append(l, "Expect:") : NULL;
	return l != NULL;
}

/* A key goes into a header line: it must not be able to end it. */
static bool usable_key(const char *key)
{
	if (key == NULL || *key == '\0')
		return false;
	for (const char *p = key; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

struct abacus_client *abacus_client_new(const struct config_abacus *cfg,
                                        char *err, size_t size)
{
	struct abacus_client *c = calloc(1, sizeof(*c));
	size_t n = strlen(cfg->api_url);

	if (!usable_key(cfg->api_key)) {
		snprintf(err, size,
		         "abacus.api_key is not set or not one line"
		         " of printable characters");
		free(c);
		return NULL;
	}
	if (c == NULL || (c->curl = curl_easy_init()) == NULL) {
		snprintf(err, size, "cannot set up libcurl");
		free(c);
		return NULL;
	}
	while (n > 0 && cfg->api_url[n - 1] == '/')
		n--;
	c->base = strndup(cfg->api_url, n);
	c->ca_file = copy_str(cfg->ca_file);
	c->timeout_ms = (long)cfg->timeout_ms;
	c->https = strncmp(cfg->api_url, "https://", 8) == 0;
	if (c->base == NULL || (cfg->ca_file && c->ca_file == NULL) ||
	    !build_headers(c, cfg->api_key)) {
		snprintf(err, size, "out of memory");
		abacus_client_free(c);
		return NULL;
	}
	return c;
}

void abacus_client_free(struct abacus_client *c)
{
	if (c == NULL)
		return;
	curl_slist_free_all(c->headers);
	curl_easy_cleanup(c->curl);
	free(c->base);
	free(c->ca_file);
	free(c);
}

void abacus_client_set_cancel(struct abacus_client *c,
                              const atomic_bool *cancel)
{
	c->cancel = cancel;
}

static bool cancelled(const struct abacus_client *c)
{
	return c->cancel != NULL && atomic_load(c->cancel);
}

/* One request */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;

	if (a->body.len + n > (size_t)BODY_MAX) {
		a->too_big = true;
		return 0;
	}
	buf_put(&a->body, p, n);
	return buf_failed(&a->body) ? 0 : n * size;
}

/* The value of header name in line, or NULL; *len is its length. */
static const char *header_value(const char *line, size_t n, const char *name,
                                size_t *len)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	line += k + 1, n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t'))
		line++, n--;
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' ||
	                 line[n - 1] == ' '))
		n--;
	*len = n;
	return line;
}

/* Retry-After (seconds, or an HTTP date) as milliseconds from now, at
 * most RETRY_AFTER_MAX_MS; -1 when it is neither. */
static long retry_after_ms(const char *v, size_t len)
{
	char text[64];
	long long s;
	time_t when, now;

	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, v, len);
	text[len] = '\0';
	if (strspn(text, "0123456789") == len) {
		s = strtoll(text, NULL, 10);
	} else {
		when = curl_getdate(text, NULL);
		now = time(NULL);
		if (when == -1)
			return -1;
		s = when > now ? (long long)(when - now) : 0;
	}
	return s > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS
	                                     : (long)s * 1000;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	const char *v;
	size_t len;

	if ((v = header_value(p, n, "x-request-id", &len)) != NULL)
		copy_clean(a->request_id, sizeof(a->request_id), v, len);
	else if ((v = header_value(p, n, "retry-after", &len)) != NULL)
		a->retry_after_ms = retry_after_ms(v, len);
	return n * size;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	return cancelled(arg) ? 1 : 0;
}

static char *build_url(struct abacus_client *c, const struct call *k)
{
	struct buf u = { 0 };

	buf_printf(&u, "%s/api/v0/%s", c->base, k->action);
	if (k->qname != NULL) {
		char *v = curl_easy_escape(c->curl, k->qvalue, 0);

		if (v == NULL) {
			buf_free(&u);
			return NULL;
		}
		buf_printf(&u, "?%s=%s", k->qname, v);
		curl_free(v);
	}
	if (buf_failed(&u)) {
		buf_free(&u);
		return NULL;
	}
	return buf_take(&u);
}

/* timeout_ms: what is left of the call's time. */
static void set_common(struct abacus_client *c, struct answer *a,
                       long timeout_ms)
{
	CURL *h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->https ? "https" : "http");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	                 timeout_ms < CONNECT_MAX_MS ? timeout_ms
	                                             : CONNECT_MAX_MS);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "herald/" HERALD_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, a);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
}

static void set_method(CURL *h, const struct call *k, const char *body)
{
	if (k->method != M_GET && k->method != M_POST)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST,
		                 method_names[k->method]);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)strlen(body));
	}
}

/* Failures of the way there rather than of the call. */
static void transport_error(struct abacus_client *c, CURLcode rc,
                            struct answer *a, struct abacus_error *e)
{
	const char *why = c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc);

	memset(e, 0, sizeof(*e));
	a->transient = rc == CURLE_COULDNT_CONNECT ||
	               rc == CURLE_OPERATION_TIMEDOUT ||
	               rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	               rc == CURLE_GOT_NOTHING || rc == CURLE_PARTIAL_FILE;
	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		set_text(e->type, sizeof(e->type), "Cancelled");
		set_text(e->message, sizeof(e->message), "Herald is stopping");
	} else if (a->too_big) {
		set_text(e->type, sizeof(e->type), "InvalidResponse");
		snprintf(e->message, sizeof(e->message),
		         "answer larger than %ld bytes", BODY_MAX);
	} else {
		set_text(e->type, sizeof(e->type),
		         rc == CURLE_OPERATION_TIMEDOUT ? "Timeout"
		                                        : "ConnectionError");
		set_text(e->message, sizeof(e->message), why);
	}
}

static bool attempt(struct abacus_client *c, const struct call *k,
                    const char *body, long timeout_ms, struct answer *a,
                    json_t **out, struct abacus_error *e)
{
	char *url = build_url(c, k);
	long status = 0;
	CURLcode rc;
	bool ok;

	if (url == NULL) {
		memset(e, 0, sizeof(*e));
		set_text(e->type, sizeof(e->type), "OutOfMemory");
		set_text(e->message, sizeof(e->message), "out of memory");
		return false;
	}
	c->curl_err[0] = '\0';
	set_common(c, a, timeout_ms);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	set_method(c->curl, k, body);

	rc = curl_easy_perform(c->curl);
	free(url);
	if (rc != CURLE_OK) {
		transport_error(c, rc, a, e);
		return false;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	ok = abacus_envelope_parse(status, buf_str(&a->body), a->body.len,
	                           a->request_id[0] ? a->request_id : NULL, out,
	                           e);
	return ok;
}

/* Retries */

static bool worth_retrying(const struct abacus_error *e, const struct answer *a)
{
	switch (e->status) {
	case 0: return a->transient;
	case 429:
	case 502:
	case 503:
	case 504: return true;
	default: return false;
	}
}

/* A number in [0, n] from OpenSSL's generator, which every process
 * seeds on its own (random() unseeded gives them all one sequence). */
static long jitter(long n)
{
	uint32_t r;

	if (n <= 0 || RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 0;
	return (long)(r % ((uint32_t)n + 1));
}

/* The backoff doubles up to BACKOFF_MAX_MS and is jittered down to half
 * of that, so that processes do not retry in step. What Retry-After asks
 * is waited in full, the jitter on top. */
static long backoff_ms(int tries, const struct answer *a)
{
	long ms = (long)BACKOFF_MS << (tries - 1);
	long floor;

	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	floor = a->retry_after_ms > ms / 2 ? a->retry_after_ms : ms / 2;
	return floor + jitter(ms / 2);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What is left until deadline, at least 1 ms: libcurl reads 0 as none. */
static long left_ms(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left < 1 ? 1 : (long)left;
}

/* Sleep ms in short slices; false if cancelled meanwhile. */
static bool pause_ms(const struct abacus_client *c, long ms)
{
	for (long slept = 0; slept < ms; slept += PAUSE_SLICE_MS) {
		struct timespec ts = { 0, PAUSE_SLICE_MS * 1000000L };

		if (cancelled(c))
			return false;
		nanosleep(&ts, NULL);
	}
	return !cancelled(c);
}

/* The timeout bounds the whole call: attempts and the waits between
 * them. A wait that would end past it is not begun. */
static bool call(struct abacus_client *c, const struct call *k, json_t **out,
                 struct abacus_error *e)
{
	bool idempotent = k->method == M_GET || k->method == M_DELETE;
	char *body = k->body ? json_dumps(k->body, JSON_COMPACT) : NULL;
	int64_t deadline = now_ms() + c->timeout_ms;
	bool ok = false;

	for (int tries = 1; !ok; tries++) {
		struct answer a = { .retry_after_ms = -1 };
		long wait;

		ok = attempt(c, k, body, left_ms(deadline), &a, out, e);
		wait = ok ? 0 : backoff_ms(tries, &a);
		buf_free(&a.body);
		if (ok || !idempotent || tries == ATTEMPTS ||
		    !worth_retrying(e, &a) || now_ms() + wait >= deadline)
			break;
		log_info("abacus call retried", LOG_S("action", k->action),
		         LOG_I("status", e->status), LOG_S("error", e->type),
		         LOG_I("attempt", tries), LOG_I("wait_ms", wait));
		if (!pause_ms(c, wait))
			break;
	}
	free(body);
	return ok;
}

/* A result of the expected shape, or an InvalidResponse error. */
static bool expect(json_t **out, bool want_array, struct abacus_error *e)
{
	if (want_array ? json_is_array(*out) : json_is_object(*out))
		return true;
	json_decref(*out);
	*out = NULL;
	set_text(e->type, sizeof(e->type), "InvalidResponse");
	snprintf(e->message, sizeof(e->message), "the result is not %s",
	         want_array ? "a list" : "an object");
	return false;
}

/* Calls */

static bool call_for(struct abacus_client *c, const struct call *k,
                     json_t **out, bool want_array, struct abacus_error *e)
{
	json_t *res = NULL;

	if (!call(c, k, &res, e))
		return false;
	if (out == NULL) {
		json_decref(res);
		return true;
	}
	*out = res;
	return expect(out, want_array, e);
}

bool abacus_list_webhooks(struct abacus_client *c, const char *deployment_id,
                          json_t **out, struct abacus_error *e)
{
	struct call k = { .method = M_GET,
		          .action = "listDeploymentWebhooks",
		          .qname = "deploymentId",
		          .qvalue = deployment_id };

	return call_for(c, &k, out, true, e);
}

/* A body of a webhook's fields; NULL when out of memory. */
static json_t *webhook_body(const char *endpoint, const char *event_type,
                            json_t *template)
{
	return json_pack("{s:s, s:s, s:O}", "endpoint", endpoint,
	                 "webhookEventType", event_type, "payloadTemplate",
	                 template);
}

static bool no_memory(struct abacus_error *e)
{
	memset(e, 0, sizeof(*e));
	set_text(e->type, sizeof(e->type), "OutOfMemory");
	set_text(e->message, sizeof(e->message), "out of memory");
	return false;
}

bool abacus_create_webhook(struct abacus_client *c, const char *deployment_id,
                           const char *endpoint, const char *event_type,
                           json_t *template, json_t **out,
                           struct abacus_error *e)
{
	struct call k = { .method = M_POST,
		          .action = "createDeploymentWebhook",
		          .qname = "deploymentId",
		          .qvalue = deployment_id };
	bool ok;

	k.body = webhook_body(endpoint, event_type, template);
	if (k.body == NULL)
		return no_memory(e);
	ok = call_for(c, &k, out, false, e);
	json_decref(k.body);
	return ok;
}

bool abacus_update_webhook(struct abacus_client *c, const char *webhook_id,
                           const char *endpoint, const char *event_type,
                           json_t *template, json_t **out,
                           struct abacus_error *e)
{
	struct call k = { .method = M_PATCH, .action = "updateWebhook" };
	bool ok;

	k.body = webhook_body(endpoint, event_type, template);
	if (k.body == NULL ||
	    json_object_set_new(k.body, "webhookId", json_string(webhook_id))) {
		json_decref(k.body);
		return no_memory(e);
	}
	ok = call_for(c, &k, out, false, e);
	json_decref(k.body);
	return ok;
}

bool abacus_delete_webhook(struct abacus_client *c, const char *webhook_id,
                           struct abacus_error *e)
{
	struct call k = { .method = M_DELETE,
		          .action = "deleteWebhook",
		          .qname = "webhookId",
		          .qvalue = webhook_id };

	return call_for(c, &k, NULL, false, e);
}

bool abacus_list_alerts(struct abacus_client *c, const char *deployment_id,
                        json_t **out, struct abacus_error *e)
{
	struct call k = { .method = M_GET,
		          .action = "listDeploymentAlerts",
		          .qname = "deploymentId",
		          .qvalue = deployment_id };

	return call_for(c, &k, out, true, e);
}

bool abacus_create_alert(struct abacus_client *c, const char *deployment_id,
                         const char *name, json_t *condition, json_t *action,
                         json_t **out, struct abacus_error *e)
{
	struct call k = { .method = M_POST,
		          .action = "createDeploymentAlert",
		          .qname = "deploymentId",
		          .qvalue = deployment_id };
	bool ok;

	k.body =
	    json_pack("{s:s, s:O, s:O}", "alertName", name, "conditionConfig",
	              condition, "actionConfig", action);
	if (k.body == NULL)
		return no_memory(e);
	ok = call_for(c, &k, out, false, e);
	json_decref(k.body);
	return ok;
}

bool abacus_describe_alert(struct abacus_client *c, const char *alert_id,
                           json_t **out, struct abacus_error *e)
{
	struct call k = { .method = M_GET,
		          .action = "describeMonitorAlert",
		          .qname = "monitorAlertId",
		          .qvalue = alert_id };

	return call_for(c, &k, out, false, e);
}

bool abacus_delete_alert(struct abacus_client *c, const char *alert_id,
                         struct abacus_error *e)
{
	struct call k = { .method = M_DELETE,
		          .action = "deleteMonitorAlert",
		          .qname = "monitorAlertId",
		          .qvalue = alert_id };

	return call_for(c, &k, NULL, false, e);
}
