#include "sinks/post.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dispatch/curl_driver.h"

struct post {
	struct curl_slist *headers;
	char *body;
	const char *expect_ok;
	char answer[SINK_RESPONSE_MAX];
	size_t answer_len;
	char retry_after[64];
	sink_done_fn done;
	void *arg;
};

struct curl_slist *post_header(struct curl_slist *list, const char *name,
                               const char *value)
{
	char line[2048];
	struct curl_slist *more;

	snprintf(line, sizeof(line), "%s: %s", name, value);
	more = curl_slist_append(list, line);
	if (more == NULL)
		curl_slist_free_all(list);
	return more;
}

/* Keep the first KiB of the answer; read and drop the rest. */
static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct post *t = arg;
	size_t len = size * n;
	size_t room = sizeof(t->answer) - t->answer_len;

	memcpy(t->answer + t->answer_len, p, len < room ? len : room);
	t->answer_len += len < room ? len : room;
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct post *t = arg;
	size_t len = size * n;

	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		snprintf(t->retry_after, sizeof(t->retry_after), "%.*s",
		         (int)(len - 12), p + 12);
	return len;
}

static void judge(struct post *t, CURL *easy, CURLcode rc,
                  struct sink_result *r)
{
	long status = 0;

	if (rc != CURLE_OK) {
		sink_result_set(r, SINK_RETRY, "%s", curl_easy_strerror(rc));
		return;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = status;
	sink_result_response(r, t->answer, t->answer_len);
	r->outcome = sink_http_outcome(status);
	if (r->outcome == SINK_RETRY)
		r->retry_after_ms = sink_parse_retry_after(t->retry_after);
	if (r->outcome == SINK_DELIVERED && t->expect_ok != NULL &&
	    (t->answer_len != strlen(t->expect_ok) ||
	     memcmp(t->answer, t->expect_ok, t->answer_len) != 0)) {
		sink_result_set(r, SINK_FAILED, "answered %ld but not \"%s\"",
		                status, t->expect_ok);
		return;
	}
	if (r->outcome != SINK_DELIVERED)
		snprintf(r->error, sizeof(r->error), "HTTP %ld%s", status,
		         status >= 300 && status < 400
		             ? " (redirects are not followed)"
		             : "");
}

static void on_done(CURL *easy, CURLcode rc, void *arg)
{
	struct post *t = arg;
	struct sink_result r = { .retry_after_ms = -1 };

	judge(t, easy, rc, &r);
	curl_easy_cleanup(easy);
	curl_slist_free_all(t->headers);
	free(t->body);
	t->done(t->arg, &r);
	free(t);
}

static CURL *make_easy(struct post *t, const struct post_request *req)
{
	CURL *e = curl_easy_init();

	if (e == NULL)
		return NULL;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	if (req->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file);
	return e;
}

void post_send(struct curl_driver *curl, struct post_request *req,
               sink_done_fn done, void *arg)
{
	struct post *t = calloc(1, sizeof(*t));
	struct sink_result r = { .retry_after_ms = -1 };
	CURL *easy;

	if (t == NULL || req->headers == NULL) {
		curl_slist_free_all(req->headers);
		free(req->body);
		free(t);
		sink_result_set(&r, SINK_RETRY, "out of memory");
		done(arg, &r);
		return;
	}
	t->headers = req->headers;
	t->body = req->body;
	t->expect_ok = req->expect_ok;
	t->done = done;
	t->arg = arg;
	easy = make_easy(t, req);
	if (easy == NULL || !curl_driver_add(curl, easy, on_done, t)) {
		if (easy != NULL)
			curl_easy_cleanup(easy);
		curl_slist_free_all(t->headers);
		free(t->body);
		free(t);
		sink_result_set(&r, SINK_RETRY, "cannot start the request");
		done(arg, &r);
	}
}
