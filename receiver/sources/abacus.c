#include "sources/abacus.h"

#include <string.h>

#include "sources/auth.h"

bool abacus_events(const struct source_request *rq, struct source_result *res)
{
	size_t tlen = strlen(rq->param);
	struct event *ev;
	json_t *body;

	if (!source_check_json_type(rq, res))
		return false;
	body = source_parse_json(rq, res);
	if (body == NULL)
		return false;
	if (tlen > ABACUS_TOKEN_MAX)
		tlen = ABACUS_TOKEN_MAX;

	if (!source_new_events(rq, res, 1, ABACUS_SOURCE, NULL)) {
		json_decref(body);
		return false;
	}
	ev = &res->events[0];
	/* Routes match labels.NAME against a top-level "labels" object. */
	if (json_is_object(json_object_get(body, "labels")))
		ev->labels = json_incref(json_object_get(body, "labels"));
	json_decref(body);
	ev->has_token = true;
	auth_sha256(rq->param, tlen, ev->token_sha256);
	if (!source_set_payload(ev, rq->body, rq->len))
		return source_refuse(res, 503, "unavailable", "out of memory");
	return true;
}
