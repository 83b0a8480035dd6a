#include "sources/generic.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "sources/auth.h"
#include "sources/signature.h"
#include "util/jsonptr.h"

static bool authorized(const struct config_generic *src,
                       const struct source_request *rq,
                       struct source_result *res)
{
	const struct http_head *h = rq->head;
	enum sig_result r;

	if (src->auth == CONFIG_AUTH_BEARER) {
		if (auth_bearer(http_head_get(h, "Authorization"),
		                src->tokens.items, src->tokens.count))
			return true;
		return source_refuse(res, 401, "unauthorized",
		                     "missing or wrong bearer token");
	}
	r = sig_verify(src->keys, src->nkeys, http_head_get(h, "webhook-id"),
	               http_head_get(h, "webhook-timestamp"),
	               http_head_get(h, "webhook-signature"), rq->body, rq->len,
	               rq->now);
	if (r == SIG_OK)
		return true;
	return source_refuse(res, 401, "unauthorized", "%s",
	                     sig_result_text(r));
}

/* The text of a configured field; *out stays NULL when the field is not
 * configured. False (after a refusal) when it is but gives nothing. */
static bool field(const struct config_field *f, const char *what,
                  const struct source_request *rq, json_t *body, char **out,
                  bool required, struct source_result *res)
{
	const char *from = NULL;

	*out = NULL;
	if (f->value != NULL) {
		*out = strdup(f->value);
	} else if (f->header != NULL) {
		const char *v = http_head_get(rq->head, f->header);

		from = f->header;
		*out = v && strlen(v) <= SOURCE_FIELD_MAX && source_text_ok(v)
		           ? strdup(v)
		           : NULL;
	} else if (f->pointer != NULL) {
		from = f->pointer;
		*out = source_field_text(jsonptr_get(body, f->pointer));
	} else {
		return true;
	}
	if (*out != NULL || (!required && from != NULL))
		return true;
	return source_refuse(res, 422, "missing_field",
	                     "no %s (text of at most %d bytes) at %s", what,
	                     SOURCE_FIELD_MAX, from ? from : "value");
}

static bool fill(const struct config_generic *src,
                 const struct source_request *rq, json_t *body,
                 struct source_result *res)
{
	struct event *ev = &res->events[0];
	json_t *labels = json_object_get(body, "labels");

	if (!field(&src->event_type, "event type", rq, body, &ev->event_type,
	           true, res) ||
	    !field(&src->deployment_id, "deployment id", rq, body,
	           &ev->deployment_id, false, res) ||
	    !field(&src->severity, "severity", rq, body, &ev->severity, false,
	           res))
		return false;
	if (json_is_object(labels))
		ev->labels = json_incref(labels);
	if (!source_set_payload(ev, rq->body, rq->len))
		return source_refuse(res, 503, "unavailable", "out of memory");
	return true;
}

bool generic_events(const struct config_generic *src,
                    const struct source_request *rq, struct source_result *res)
{
	json_t *body;
	bool ok;

	if (src == NULL)
		return source_refuse(res, 404, "not_found",
		                     "no such generic source");
	if (!source_check_json_type(rq, res) || !authorized(src, rq, res))
		return false;
	body = source_parse_json(rq, res);
	if (body == NULL)
		return false;
	ok = source_new_events(rq, res, 1, src->name, &src->store_headers) &&
	     fill(src, rq, body, res);
	json_decref(body);
	return ok;
}
