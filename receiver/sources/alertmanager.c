#include "sources/alertmanager.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sources/auth.h"

bool alertmanager_enabled(const struct config_alertmanager *am)
{
	return am->tokens.count > 0 || am->username != NULL;
}

static bool authorized(const struct config_alertmanager *am,
                       const struct http_head *head)
{
	const char *h = http_head_get(head, "Authorization");

	return auth_bearer(h, am->tokens.items, am->tokens.count) ||
	       (am->username != NULL &&
	        auth_basic(h, am->username, am->password));
}

static const char *label(json_t *alert, const char *name)
{
	return json_string_value(
	    json_object_get(json_object_get(alert, "labels"), name));
}

/* The notification without its alerts: the context of each alert. */
static json_t *notification_context(json_t *body)
{
	json_t *ctx = json_copy(body);

	if (ctx != NULL)
		json_object_del(ctx, "alerts");
	return ctx;
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

/* RFC 3339 date-time, as Alertmanager writes it: fractions and an
 * offset are allowed, field ranges are not checked beyond their form. */
static bool rfc3339(const char *s)
{
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return false;
	s += 19;
	if (*s == '.' && digits(s + 1, 1)) {
		s++;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'Z' || *s == 'z')
		return s[1] == '\0';
	return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' &&
	       digits(s + 4, 2) && s[6] == '\0';
}

/* The fields an alert must have, in the form the format gives them. */
static bool alert_valid(json_t *alert, size_t i, struct source_result *res)
{
	const char *status =
	    json_string_value(json_object_get(alert, "status"));
	const char *starts =
	    json_string_value(json_object_get(alert, "startsAt"));
	json_t *annotations = json_object_get(alert, "annotations");

	if (!json_is_object(alert))
		return source_refuse(res, 400, "bad_alert",
		                     "alert %zu is not an object", i);
	if (status == NULL ||
	    (strcmp(status, "firing") != 0 && strcmp(status, "resolved") != 0))
		return source_refuse(res, 400, "bad_alert",
		                     "alert %zu: status must be \"firing\" or "
		                     "\"resolved\"",
		                     i);
	if (starts == NULL || !rfc3339(starts))
		return source_refuse(res, 400, "bad_alert",
		                     "alert %zu: startsAt must be an RFC 3339 "
		                     "time",
		                     i);
	if (!json_is_object(json_object_get(alert, "labels")) ||
	    (annotations != NULL && !json_is_object(annotations)))
		return source_refuse(res, 400, "bad_alert",
		                     "alert %zu: labels and annotations must "
		                     "be objects",
		                     i);
	return true;
}

static bool alert_key(json_t *alert, size_t i, char *key, size_t size,
                      struct source_result *res)
{
	const char *fp =
	    json_string_value(json_object_get(alert, "fingerprint"));
	const char *status =
	    json_string_value(json_object_get(alert, "status"));
	const char *starts =
	    json_string_value(json_object_get(alert, "startsAt"));

	if (fp == NULL || *fp == '\0' || !source_text_ok(fp))
		return source_refuse(res, 400, "bad_alert",
		                     "alert %zu needs a fingerprint", i);
	if ((size_t)snprintf(key, size, "%s:%s:%s", fp, status, starts) >= size)
		return source_refuse(res, 400, "bad_alert",
		                     "alert %zu: key too long", i);
	return true;
}

static bool fill_event(const struct config_alertmanager *am, struct event *ev,
                       json_t *alert, json_t *ctx, const char *key)
{
	json_t *payload =
	    json_pack("{s:O, s:O}", "alert", alert, "notification", ctx);
	char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	const char *dep = label(alert, am->deployment_label);
	const char *sev = label(alert, am->severity_label);
	bool ok = text != NULL;

	json_decref(payload);
	free(ev->idempotency_key);
	ev->idempotency_key = strdup(key);
	ev->event_type = strdup(ALERTMANAGER_EVENT);
	ev->deployment_id =
	    dep ? source_strndup_text(dep, SOURCE_FIELD_MAX) : NULL;
	ev->severity = sev ? source_strndup_text(sev, SOURCE_FIELD_MAX) : NULL;
	ev->labels = json_incref(json_object_get(alert, "labels"));
	ok = ok && ev->idempotency_key && ev->event_type &&
	     (dep == NULL || ev->deployment_id) &&
	     (sev == NULL || ev->severity);
	ev->payload = text;
	ev->payload_len = text ? strlen(text) : 0;
	return ok;
}

static bool build(const struct source_request *rq, struct source_result *res,
                  json_t *body)
{
	const struct config_alertmanager *am = &rq->cfg->sources.alertmanager;
	json_t *alerts = json_object_get(body, "alerts"), *alert, *ctx;
	char key[SOURCE_KEY_MAX + 64];
	size_t i, n = json_array_size(alerts);
	bool ok = true;

	if (!json_is_object(body) || !json_is_array(alerts) || n == 0)
		return source_refuse(res, 400, "bad_notification",
		                     "expected an Alertmanager notification "
		                     "with a non-empty \"alerts\" array");
	if (n > SOURCE_EVENTS_MAX)
		return source_refuse(res, 413, "too_many_alerts",
		                     "at most %d alerts per notification",
		                     SOURCE_EVENTS_MAX);
	json_array_foreach(alerts, i, alert)
	{
		if (!alert_valid(alert, i, res) ||
		    !alert_key(alert, i, key, sizeof(key), res))
			return false;
	}
	if (!source_new_events(rq, res, n, ALERTMANAGER_SOURCE, NULL))
		return false;
	ctx = notification_context(body);
	json_array_foreach(alerts, i, alert)
	{
		if (ok && alert_key(alert, i, key, sizeof(key), res))
			ok = fill_event(am, &res->events[i], alert, ctx, key);
	}
	json_decref(ctx);
	return ok ? true
	          : source_refuse(res, 503, "unavailable", "out of memory");
}

bool alertmanager_events(const struct source_request *rq,
                         struct source_result *res)
{
	const struct config_alertmanager *am = &rq->cfg->sources.alertmanager;
	json_t *body;
	bool ok;

	if (!alertmanager_enabled(am))
		return source_refuse(res, 404, "not_found",
		                     "the alertmanager source is not "
		                     "configured");
	if (!source_check_json_type(rq, res))
		return false;
	if (!authorized(am, rq->head))
		return source_refuse(res, 401, "unauthorized",
		                     "missing or wrong credentials");
	body = source_parse_json(rq, res);
	if (body == NULL)
		return false;
	ok = build(rq, res, body);
	json_decref(body);
	return ok;
}
