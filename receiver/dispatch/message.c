/*
 * The template data of one event (see message.h): the stored columns as
 * strings or null, the payload and headers parsed back into JSON, the
 * labels routes saw, and who is delivering it.
 */
#include "dispatch/message.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "version.h"

/* s with every byte that is not well-formed UTF-8 replaced by U+FFFD. */
static json_t *message_repair(const char *s)
{
	size_t n = strlen(s), at = 0;
	char *fixed = malloc(n * 3 + 1);
	json_t *j;

	if (fixed == NULL)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p != 0;) {
		size_t len = utf8_valid_prefix(p);

		if (len == 0) {
			at += utf8_encode(0xfffd, fixed + at);
			p++;
			continue;
		}
		memcpy(fixed + at, p, len);
		at += len;
		p += len;
	}
	fixed[at] = '\0';
	j = json_string(fixed);
	free(fixed);
	return j;
}

/* A string, or null for NULL. Strings come from PostgreSQL text and are
 * UTF-8 already; a stray byte is replaced rather than losing the key. */
static json_t *message_string(const char *s)
{
	json_t *j;

	if (s == NULL)
		return json_null();
	j = json_string(s);
	return j != NULL ? j : message_repair(s);
}

/* Parse text as any JSON value; fallback (a new reference) when NULL. */
static json_t *message_parse(const char *text, json_t *fallback)
{
	if (text == NULL)
		return fallback;
	json_decref(fallback);
	return json_loads(text, JSON_DECODE_ANY, NULL);
}

/* Whether text parses; jansson's reason in err when it does not. */
static bool message_parses(const char *what, const char *text, char *err,
                           size_t size)
{
	json_error_t e;
	json_t *j;

	if (text == NULL)
		return true;
	j = json_loads(text, JSON_DECODE_ANY, &e);
	if (j == NULL && json_error_code(&e) != json_error_out_of_memory) {
		snprintf(err, size, "the stored %s cannot be read: %s", what,
		         e.text);
		return false;
	}
	json_decref(j);
	return true;
}

bool message_unreadable(const struct message_event *ev, char *err, size_t size)
{
	return !message_parses("payload", ev->payload, err, size) ||
	       !message_parses("headers", ev->headers, err, size);
}

json_t *message_labels(const char *source, json_t *payload)
{
	json_t *labels;

	if (source != NULL && strcmp(source, "alertmanager") == 0)
		labels = json_object_get(json_object_get(payload, "alert"),
		                         "labels");
	else
		labels = json_object_get(payload, "labels");
	return json_is_object(labels) ? labels : NULL;
}

/* Set key to value (taken); ok turns false if either is missing, which
 * only running out of memory can cause. */
static void message_set(json_t *o, const char *key, json_t *value, bool *ok)
{
	if (o == NULL || value == NULL || json_object_set_new(o, key, value))
		*ok = false;
	if (o == NULL)
		json_decref(value);
}

static json_t *message_delivery(const struct message_delivery *d, bool *ok)
{
	json_t *o = json_object();

	message_set(o, "id", message_string(d->id), ok);
	message_set(o, "attempt", json_integer(d->attempt), ok);
	message_set(o, "sink", message_string(d->sink), ok);
	return o;
}

static json_t *message_herald(const char *public_url, bool *ok)
{
	json_t *o = json_object();

	message_set(o, "public_url", message_string(public_url), ok);
	message_set(o, "version", json_string(HERALD_VERSION), ok);
	return o;
}

/* The stored columns, in the order message.h lists them. */
static void message_columns(json_t *m, const struct message_event *ev, bool *ok)
{
	message_set(m, "id", message_string(ev->id), ok);
	message_set(m, "received_at", message_string(ev->received_at), ok);
	message_set(m, "source", message_string(ev->source), ok);
	message_set(m, "event_type", message_string(ev->event_type), ok);
	message_set(m, "deployment_id", message_string(ev->deployment_id), ok);
	message_set(m, "severity", message_string(ev->severity), ok);
	message_set(m, "idempotency_key", message_string(ev->idempotency_key),
	            ok);
}

json_t *message_build(const struct message_event *ev,
                      const struct message_delivery *delivery,
                      const char *public_url)
{
	json_t *payload = message_parse(ev->payload, json_null());
	json_t *headers = message_parse(ev->headers, json_object());
	json_t *labels, *m;
	bool ok = true;

	if (payload == NULL || headers == NULL) {
		json_decref(payload);
		json_decref(headers);
		return NULL;
	}

	/* Always an object, so a template can embed {{{labels}}} as JSON
	 * and look up labels.NAME whatever the source. */
	labels = message_labels(ev->source, payload);
	labels = labels != NULL ? json_incref(labels) : json_object();

	m = json_object();
	message_columns(m, ev, &ok);
	message_set(m, "payload", payload, &ok);
	message_set(m, "labels", labels, &ok);
	message_set(m, "headers", headers, &ok);
	if (delivery != NULL)
		message_set(m, "delivery", message_delivery(delivery, &ok),
		            &ok);
	message_set(m, "herald", message_herald(public_url, &ok), &ok);
	if (!ok) {
		json_decref(m);
		return NULL;
	}
	return m;
}
