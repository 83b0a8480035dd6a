#include "support/thttp.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sources/signature.h"

static long timeout_ms;

void thttp_set_timeout(long ms)
{
	timeout_ms = ms;
}

struct sink {
	FILE *f;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	return fwrite(p, size, n, ((struct sink *)arg)->f) * size;
}

void thttp(const char *method, const char *url, const char *ca,
           const char *const headers[], const char *body, size_t len,
           struct thttp_resp *out)
{
	CURL *c = curl_easy_init();
	struct curl_slist *list = NULL;
	size_t hlen = 0;
	struct sink b, h;
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	b.f = open_memstream(&out->body, &out->len);
	h.f = open_memstream(&out->headers, &hlen);
	for (size_t i = 0; headers != NULL && headers[i]; i++)
		list = curl_slist_append(list, headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(c, CURLOPT_CAINFO, ca);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	                 timeout_ms ? timeout_ms : 30000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)len);
	}
	rc = curl_easy_perform(c);
	fclose(b.f);
	fclose(h.f);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
	else
		snprintf(out->error, sizeof(out->error), "%s",
		         curl_easy_strerror(rc));
	curl_slist_free_all(list);
	curl_easy_cleanup(c);
}

json_t *thttp_json(const struct thttp_resp *r)
{
	json_error_t e;
	json_t *j = json_loads(r->body ? r->body : "", 0, &e);

	cr_assert(j != NULL, "not JSON (%s): %s", e.text, r->body);
	return j;
}

char *thttp_header(const struct thttp_resp *r, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = r->headers; line && *line;) {
		const char *end = strstr(line, "\r\n");

		if (end == NULL)
			break;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;

			while (*v == ' ')
				v++;
			return strndup(v, (size_t)(end - v));
		}
		line = end + 2;
	}
	return NULL;
}

void thttp_free(struct thttp_resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

json_t *thttp_call(const char *method, const char *url, const char *ca,
                   const char *body)
{
	struct thttp_resp r;
	json_t *j;

	thttp(method, url, ca,
	      (const char *[]){ "Content-Type: application/json", NULL }, body,
	      body ? strlen(body) : 0, &r);
	cr_assert_eq(r.status, 200, "%s %s: %ld %s %s", method, url, r.status,
	             r.error, r.body ? r.body : "");
	j = thttp_json(&r);
	thttp_free(&r);
	return j;
}

void thttp_post_signed(const char *url, const char *ca, const char *secret,
                       const char *id, long long ts, const char *body,
                       struct thttp_resp *out)
{
	struct sig_secret s;
	char sig[SIG_HEADER_MAX], hid[160], hts[64], hsig[SIG_HEADER_MAX + 32];

	cr_assert(sig_secret_parse(secret, &s), "not a secret: %s", secret);
	sig_sign(&s, id, ts, body, strlen(body), sig);
	snprintf(hid, sizeof(hid), "webhook-id: %s", id);
	snprintf(hts, sizeof(hts), "webhook-timestamp: %lld", ts);
	snprintf(hsig, sizeof(hsig), "webhook-signature: %s", sig);
	thttp("POST", url, ca,
	      (const char *[]){ "Content-Type: application/json", hid, hts,
	                        hsig, NULL },
	      body, strlen(body), out);
}
