#include "sources/source.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/jsonread.h"
#include "util/jsonw.h"
#include "util/utf8.h"

/* Request headers kept with every event; credentials never are. */
static const char *const kept_headers[] = {
	"user-agent",      "content-type",     "x-request-id",
	"x-forwarded-for", "webhook-id",       "webhook-timestamp",
	"idempotency-key", "x-github-event",   "x-gitlab-event",
	"x-event-key",     "x-correlation-id", NULL,
};

static const char *const never_kept[] = {
	"authorization", "proxy-authorization", "cookie", "apikey", NULL,
};

/* Parts of a header name that mark a credential: signatures
 * (webhook-signature, x-hub-signature-256), tokens, keys, passwords. */
static const char *const credential_parts[] = {
	"signature", "token", "secret", "password", "api-key", "auth", NULL,
};

bool source_refuse(struct source_result *res, int status, const char *code,
                   const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	res->code = code;
	va_start(ap, fmt);
	vsnprintf(res->message, sizeof(res->message), fmt, ap);
	va_end(ap);
	return false;
}

bool source_check_json_type(const struct source_request *rq,
                            struct source_result *res)
{
	const char *ct = http_head_get(rq->head, "Content-Type");
	size_t n = ct ? strcspn(ct, "; \t") : 0;

	if (ct != NULL &&
	    ((n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
	     (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0)))
		return true;
	return source_refuse(res, 415, "unsupported_media_type",
	                     "Content-Type must be application/json");
}

json_t *source_parse_json(const struct source_request *rq,
                          struct source_result *res)
{
	struct jsonread_error e;
	json_t *j = jsonread(rq->body, rq->len, &e);

	if (j == NULL)
		source_refuse(res, 400, "bad_json",
		              "invalid JSON at line %d, column %d: %s", e.line,
		              e.column, e.text);
	return j;
}

static bool listed(const char *name, const char *const *list)
{
	for (size_t i = 0; list[i]; i++) {
		if (strcasecmp(name, list[i]) == 0)
			return true;
	}
	return false;
}

bool source_header_is_credential(const char *name)
{
	if (listed(name, never_kept))
		return true;
	for (size_t i = 0; credential_parts[i]; i++) {
		if (strcasestr(name, credential_parts[i]) != NULL)
			return true;
	}
	return false;
}

static bool extra_listed(const char *name, const struct cfg_strings *extra)
{
	for (size_t i = 0; extra && i < extra->count; i++) {
		if (strcasecmp(name, extra->items[i]) == 0)
			return true;
	}
	return false;
}

/* The kept headers as a JSON object text with lower-case names. Values
 * that are not UTF-8 are left out, not mangled. */
static char *headers_json(const struct http_head *head,
                          const struct cfg_strings *extra)
{
	struct buf b = { 0 };

	buf_putc(&b, '{');
	for (size_t i = 0; i < head->nheaders; i++) {
		const struct http_header *h = &head->headers[i];
		size_t mark = b.len;
		char name[64];
		size_t n = strlen(h->name);

		/* The credential check last: it is the costly one, and most
		 * headers are not kept anyway. */
		if (n >= sizeof(name) ||
		    (!listed(h->name, kept_headers) &&
		     !extra_listed(h->name, extra)) ||
		    source_header_is_credential(h->name))
			continue;
		for (size_t k = 0; k <= n; k++)
			name[k] = (char)(h->name[k] >= 'A' && h->name[k] <= 'Z'
			                     ? h->name[k] + 32
			                     : h->name[k]);
		buf_printf(&b, "%s\"%s\":", b.len > 1 ? "," : "", name);
		if (!jsonw_string(&b, h->value)) {
			b.len = mark;
			b.data[mark] = '\0';
		}
	}
	buf_putc(&b, '}');
	if (buf_failed(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* webhook-id first: a signed source signs it, so a replay that adds its
 * own Idempotency-Key is still the same event. */
static const char *idempotency_key(const struct http_head *head)
{
	const char *k = http_head_get(head, "webhook-id");

	return k ? k : http_head_get(head, "Idempotency-Key");
}

bool source_text_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		size_t n = utf8_valid_prefix(p);

		if (n == 0 || *p < 0x20 || *p == 0x7f)
			return false;
		p += n;
	}
	return true;
}

char *source_strndup_text(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = 0;

	/* Whole characters only: a cut sequence is not UTF-8, and the
	 * database would refuse the batch that carries it. */
	while (p[len] != '\0') {
		size_t n = utf8_valid_prefix(p + len);

		if (n == 0 || len + n > max)
			break;
		len += n;
	}
	return strndup(s, len);
}

bool source_new_events(const struct source_request *rq,
                       struct source_result *res, size_t n, const char *source,
                       const struct cfg_strings *extra_headers)
{
	const char *key = idempotency_key(rq->head);
	char *headers;
	bool ok = true;

	if (key != NULL && (strlen(key) == 0 || strlen(key) > SOURCE_KEY_MAX ||
	                    !source_text_ok(key)))
		return source_refuse(res, 400, "bad_idempotency_key",
		                     "idempotency key must be 1 to %d bytes of "
		                     "UTF-8 text",
		                     SOURCE_KEY_MAX);
	res->events = calloc(n, sizeof(*res->events));
	headers = headers_json(rq->head, extra_headers);
	for (size_t i = 0; ok && res->events && headers && i < n; i++) {
		struct event *ev = &res->events[i];

		if (!event_init(ev, source)) {
			ok = false;
			break;
		}
		res->count++;
		snprintf(ev->peer, sizeof(ev->peer), "%s", rq->peer);
		ev->headers = strdup(headers);
		ev->idempotency_key = key ? strdup(key) : NULL;
		ok =
		    ev->headers != NULL && (key == NULL || ev->idempotency_key);
	}
	if (res->events == NULL || headers == NULL)
		ok = false;
	free(headers);
	return ok ? true
	          : source_refuse(res, 503, "unavailable",
	                          "out of memory or randomness");
}

bool source_set_payload(struct event *ev, const char *text, size_t len)
{
	ev->payload = malloc(len + 1);
	if (ev->payload == NULL)
		return false;
	memcpy(ev->payload, text, len);
	ev->payload[len] = '\0';
	ev->payload_len = len;
	return true;
}

char *source_field_text(const json_t *v)
{
	char num[64];

	if (json_is_string(v)) {
		if (json_string_length(v) > SOURCE_FIELD_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v))
			return NULL;
		return strdup(json_string_value(v));
	}
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld",
		         (long long)json_integer_value(v));
		return strdup(num);
	}
	if (json_is_real(v)) {
		/* The shortest form that reads back as the same number. */
		snprintf(num, sizeof(num), "%.15g", json_real_value(v));
		if (strtod(num, NULL) != json_real_value(v))
			snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return strdup(num);
	}
	return NULL;
}

void source_result_clear(struct source_result *res)
{
	for (size_t i = 0; i < res->count; i++)
		event_clear(&res->events[i]);
	free(res->events);
	memset(res, 0, sizeof(*res));
}
