/*
 * The planner walks one deployment at a time: first the webhooks of each
 * configured event type, then what is left of Herald's webhooks and
 * registrations there, then the same for alerts.
 */
#include "abacus/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abacus/token.h"
#include "config/config.h"

/* A Herald webhook as listed: under the endpoint prefix (has_token), or
 * recorded by id and sent elsewhere since. */
struct hook {
	const char *id;
	const char *endpoint;
	const char *type;
	json_t *template; /* own reference */
	bool has_token;
	uint8_t hash[32];
	bool claimed;
};

struct planner {
	const struct abacus_plan_input *in;
	struct abacus_plan *plan;
	bool *used; /* per registration: an item accounts for it */
	struct hook *hooks;
	size_t nhooks;
	const char *dep;
};

/* Registrations */

void abacus_regs_free(struct abacus_regs *r)
{
	for (size_t i = 0; i < r->count; i++) {
		struct abacus_reg *g = &r->items[i];

		free(g->deployment_id);
		free(g->event_type);
		free(g->name);
		free(g->remote_id);
		free(g->last_version);
		json_decref(g->settings);
	}
	free(r->items);
	r->items = NULL;
	r->count = 0;
}

static bool same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* The registration of kind alert for (dep, key), or -1. */
static long find_reg(const struct planner *p, bool alert, const char *key)
{
	const struct abacus_regs *r = p->in->regs;

	for (size_t i = 0; i < r->count; i++) {
		const struct abacus_reg *g = &r->items[i];

		if (g->alert == alert && same(g->deployment_id, p->dep) &&
		    same(alert ? g->name : g->event_type, key))
			return (long)i;
	}
	return -1;
}

/* Deployments */

static bool listed(const char **names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], name) == 0)
			return true;
	}
	return false;
}

const char **abacus_plan_deployments(const struct config_abacus *cfg,
                                     const struct abacus_regs *regs, size_t *n)
{
	size_t ncfg = cfg ? cfg->deployments.count : 0;
	const struct config_abacus_deployment *d =
	    cfg ? cfg->deployments.items : NULL;
	const char **names = calloc(ncfg + regs->count + 1, sizeof(*names));

	*n = 0;
	if (names == NULL) {
		*n = SIZE_MAX;
		return NULL;
	}
	for (size_t i = 0; i < ncfg; i++) {
		if (!listed(names, *n, d[i].id))
			names[(*n)++] = d[i].id;
	}
	for (size_t i = 0; i < regs->count; i++) {
		if (!listed(names, *n, regs->items[i].deployment_id))
			names[(*n)++] = regs->items[i].deployment_id;
	}
	if (*n == 0) {
		free(names);
		return NULL;
	}
	return names;
}

static const struct config_abacus_deployment *
config_deployment(const struct config_abacus *cfg, const char *id)
{
	const struct config_abacus_deployment *d;

	if (cfg == NULL)
		return NULL;
	d = cfg->deployments.items;
	for (size_t i = 0; i < cfg->deployments.count; i++) {
		if (strcmp(d[i].id, id) == 0)
			return &d[i];
	}
	return NULL;
}

/* Templates and settings */

json_t *abacus_plan_template(const char *reg_id, const char *deployment_id,
                             const char *event_type, const json_t *payload)
{
	json_t *t = payload ? json_deep_copy(payload) : json_object();
	json_t *h =
	    json_pack("{s:s, s:s, s:s}", "registration_id", reg_id,
	              "deployment_id", deployment_id, "event_type", event_type);

	/* Configuration refuses a payload with "herald"; it is ours. */
	if (!json_is_object(t) || h == NULL ||
	    json_object_set_new(t, "herald", h) != 0) {
		json_decref(t);
		return NULL;
	}
	return t;
}

json_t *abacus_plan_alert_settings(const struct config_abacus_alert *a)
{
	json_t *to = json_array();
	json_t *action, *out;

	for (size_t i = 0; to != NULL && i < a->recipients.count; i++) {
		if (json_array_append_new(to,
		                          json_string(a->recipients.items[i])))
			json_decref(to), to = NULL;
	}
	if (to == NULL)
		return NULL;
	action = json_pack("{s:s, s:o}", "actionType", "Email",
	                   "emailRecipients", to);
	if (action != NULL && a->email_body != NULL &&
	    json_object_set_new(action, "emailBody",
	                        json_string(a->email_body)) != 0)
		json_decref(action), action = NULL;
	if (action == NULL)
		return NULL;
	out = json_pack("{s:O, s:o}", "conditionConfig", a->condition,
	                "actionConfig", action);
	return out;
}

/* Items */

static struct abacus_item *add_item(struct planner *p, enum abacus_op op,
                                    bool alert, const char *why)
{
	struct abacus_plan *pl = p->plan;
	struct abacus_item *it;

	if (pl->count == pl->cap) {
		size_t cap = pl->cap ? pl->cap * 2 : 16;
		void *m = realloc(pl->items, cap * sizeof(*pl->items));

		if (m == NULL)
			return NULL;
		pl->items = m;
		pl->cap = cap;
	}
	it = &pl->items[pl->count++];
	memset(it, 0, sizeof(*it));
	it->op = op;
	it->alert = alert;
	it->deployment_id = p->dep;
	it->why = why;
	return it;
}

/* Whether id names a registration or an item already. */
static bool id_taken(const struct planner *p, const char *id)
{
	for (size_t i = 0; i < p->in->regs->count; i++) {
		if (strcmp(p->in->regs->items[i].id, id) == 0)
			return true;
	}
	for (size_t i = 0; i < p->plan->count; i++) {
		if (strcmp(p->plan->items[i].reg_id, id) == 0)
			return true;
	}
	return false;
}

static bool new_reg_id(char out[UUID_STR_LEN + 1])
{
	struct uuid u;

	if (!uuid_v7(&u))
		return false;
	uuid_format(&u, out);
	return true;
}

/* The registration id of reg r, else the one an adopted webhook's
 * template carries (if free), else a new one. */
static bool choose_id(const struct planner *p, long r, const struct hook *h,
                      char out[UUID_STR_LEN + 1])
{
	json_t *herald = h ? json_object_get(h->template, "herald") : NULL;
	const char *given =
	    json_string_value(json_object_get(herald, "registration_id"));
	struct uuid u;

	if (r >= 0) {
		memcpy(out, p->in->regs->items[r].id, UUID_STR_LEN + 1);
		return true;
	}
	if (given != NULL && uuid_parse(given, &u)) {
		uuid_format(&u, out);
		if (!id_taken(p, out))
			return true;
	}
	return new_reg_id(out);
}

/* Webhooks as listed */

/* A listed payloadTemplate as an object (a new reference): some answers
 * carry it as JSON text. */
static json_t *listed_template(json_t *v)
{
	if (json_is_string(v))
		return json_loads(json_string_value(v), 0, NULL);
	return json_incref(v);
}

static void free_hooks(struct planner *p)
{
	for (size_t i = 0; i < p->nhooks; i++)
		json_decref(p->hooks[i].template);
	free(p->hooks);
	p->hooks = NULL;
	p->nhooks = 0;
}

/* Whether a registration of this deployment records remote id id. */
static bool recorded(const struct planner *p, bool alert, const char *id)
{
	const struct abacus_regs *r = p->in->regs;

	for (size_t i = 0; id != NULL && i < r->count; i++) {
		const struct abacus_reg *g = &r->items[i];

		if (g->alert == alert && same(g->deployment_id, p->dep) &&
		    same(g->remote_id, id))
			return true;
	}
	return false;
}

/* Keep the Herald webhooks of a listing; others are never looked at. */
static bool load_hooks(struct planner *p, json_t *list)
{
	size_t n = json_array_size(list), i;
	json_t *w;

	p->hooks = calloc(n + 1, sizeof(*p->hooks));
	if (p->hooks == NULL)
		return false;
	json_array_foreach(list, i, w)
	{
		struct hook *h = &p->hooks[p->nhooks];
		const char *token;

		h->id = json_string_value(json_object_get(w, "webhookId"));
		h->endpoint = json_string_value(json_object_get(w, "endpoint"));
		h->type =
		    json_string_value(json_object_get(w, "webhookEventType"));
		token = abacus_endpoint_token(h->endpoint, p->in->prefix);
		if (h->id == NULL ||
		    (token == NULL && !recorded(p, false, h->id)))
			continue;
		h->has_token = token != NULL;
		if (token != NULL)
			abacus_token_hash(token, h->hash);
		h->template =
		    listed_template(json_object_get(w, "payloadTemplate"));
		p->nhooks++;
	}
	return true;
}

static struct hook *hook_by_hash(struct planner *p, const uint8_t hash[32])
{
	for (size_t i = 0; i < p->nhooks; i++) {
		if (!p->hooks[i].claimed && p->hooks[i].has_token &&
		    memcmp(p->hooks[i].hash, hash, 32) == 0)
			return &p->hooks[i];
	}
	return NULL;
}

static struct hook *hook_by_id(struct planner *p, const char *id)
{
	for (size_t i = 0; id != NULL && i < p->nhooks; i++) {
		if (!p->hooks[i].claimed && strcmp(p->hooks[i].id, id) == 0)
			return &p->hooks[i];
	}
	return NULL;
}

/* The webhook registration of this deployment that h belongs to (by
 * token, else by id), or -1. */
static long reg_of_hook(const struct planner *p, const struct hook *h)
{
	const struct abacus_regs *r = p->in->regs;
	long by_id = -1;

	for (size_t i = 0; i < r->count; i++) {
		const struct abacus_reg *g = &r->items[i];

		if (g->alert || !same(g->deployment_id, p->dep))
			continue;
		if (g->has_token && h->has_token &&
		    memcmp(g->token_sha256, h->hash, 32) == 0)
			return (long)i;
		if (same(g->remote_id, h->id))
			by_id = (long)i;
	}
	return by_id;
}

/* An unclaimed webhook of type under the prefix that no registration
 * accounts for, to adopt instead of creating another. */
static struct hook *hook_to_adopt(struct planner *p, const char *type)
{
	for (size_t i = 0; i < p->nhooks; i++) {
		struct hook *h = &p->hooks[i];

		if (!h->claimed && h->has_token && same(h->type, type) &&
		    reg_of_hook(p, h) < 0)
			return h;
	}
	return NULL;
}

/* Webhook items */

/* Keep h, or update it with its token unchanged, as reg_id wants. */
static bool keep_or_update(struct planner *p, struct hook *h, const char *type,
                           const char *reg_id, json_t *want, bool adopted)
{
	bool same_type = same(h->type, type);
	bool keep = same_type && json_equal(h->template, want);
	const char *why = !same_type ? "event type changed remotely"
	                  : keep     ? "unchanged"
	                             : "payloadTemplate changed";
	struct abacus_item *it;

	if (adopted)
		why =
		    keep ? "unrecorded Herald webhook" : "unrecorded, changed";
	it = add_item(p, keep ? ABACUS_KEEP : ABACUS_UPDATE, false, why);
	if (it == NULL)
		return false;
	h->claimed = true;
	it->event_type = type;
	memcpy(it->reg_id, reg_id, sizeof(it->reg_id));
	it->remote_id = h->id;
	it->endpoint = h->endpoint;
	it->template = json_incref(want);
	return true;
}

static bool plan_hook_with(struct planner *p, const char *type, long r,
                           struct hook *h, bool adopted, const json_t *payload)
{
	const struct abacus_reg *g = r >= 0 ? &p->in->regs->items[r] : NULL;
	char id[UUID_STR_LEN + 1];
	struct abacus_item *it;
	json_t *want;
	bool ok;

	if (!choose_id(p, r, h, id))
		return false;
	want = abacus_plan_template(id, p->dep, type, payload);
	if (want == NULL)
		return false;
	if (h != NULL) {
		ok = keep_or_update(p, h, type, id, want, adopted);
		if (ok &&
		    (g == NULL || !same(g->remote_id, h->id) || !g->has_token ||
		     memcmp(g->token_sha256, h->hash, 32) != 0))
			p->plan->items[p->plan->count - 1].write_row = true;
		json_decref(want);
		return ok;
	}
	it = add_item(p, ABACUS_CREATE, false,
	              g && g->remote_id ? "deleted remotely" : "missing");
	if (it == NULL) {
		json_decref(want);
		return false;
	}
	it->event_type = type;
	memcpy(it->reg_id, id, sizeof(id));
	it->template = want;
	return true;
}

static bool plan_hook(struct planner *p, const char *type,
                      const json_t *payload)
{
	long r = find_reg(p, false, type);
	const struct abacus_reg *g = r >= 0 ? &p->in->regs->items[r] : NULL;
	struct hook *h =
	    g && g->has_token ? hook_by_hash(p, g->token_sha256) : NULL;
	struct abacus_item *it;
	json_t *want;

	if (r >= 0)
		p->used[r] = true;
	if (h == NULL && g != NULL && (h = hook_by_id(p, g->remote_id))) {
		/* Ours by id, but its endpoint is not the one recorded:
		 * point it back at us with a new token. */
		want = abacus_plan_template(g->id, p->dep, type, payload);
		it = want ? add_item(p, ABACUS_UPDATE, false,
		                     h->has_token
		                         ? "endpoint token no longer matches"
		                         : "endpoint not under public_url")
		          : NULL;
		if (it == NULL) {
			json_decref(want);
			return false;
		}
		h->claimed = true;
		it->event_type = type;
		memcpy(it->reg_id, g->id, sizeof(it->reg_id));
		it->remote_id = h->id;
		it->template = want;
		return true;
	}
	if (h != NULL)
		return plan_hook_with(p, type, r, h, false, payload);
	h = hook_to_adopt(p, type);
	return plan_hook_with(p, type, r, h, h != NULL, payload);
}

static const char *gone_why(const struct planner *p)
{
	return p->in->cfg == NULL ? "unregister" : "not configured";
}

/* Herald webhooks no configured event type took: delete them. */
static bool plan_leftover_hooks(struct planner *p)
{
	for (size_t i = 0; i < p->nhooks; i++) {
		struct hook *h = &p->hooks[i];
		long r = h->claimed ? -1 : reg_of_hook(p, h);
		bool dup = r >= 0 && p->used[r];
		struct abacus_item *it;

		if (h->claimed)
			continue;
		it = add_item(p, ABACUS_DELETE, false,
		              r < 0 || dup ? "duplicate or unrecorded"
		                           : gone_why(p));
		if (it == NULL)
			return false;
		it->event_type = h->type ? h->type : "?";
		it->remote_id = h->id;
		if (r >= 0 && !dup) {
			p->used[r] = true;
			memcpy(it->reg_id, p->in->regs->items[r].id,
			       sizeof(it->reg_id));
		}
		h->claimed = true;
	}
	return true;
}

/* Alerts */

static bool alert_listed(json_t *alerts, const char *id)
{
	size_t i;
	json_t *a;

	json_array_foreach(alerts, i, a)
	{
		if (same(
		        json_string_value(json_object_get(a, "monitorAlertId")),
		        id))
			return true;
	}
	return false;
}

static const char *alert_why(const struct abacus_reg *g, bool there, bool keep)
{
	if (keep)
		return "unchanged";
	if (there)
		return "configuration changed";
	return g != NULL && g->remote_id != NULL ? "deleted remotely"
	                                         : "missing";
}

static bool plan_alert(struct planner *p, const struct config_abacus_alert *a,
                       json_t *listing)
{
	long r = find_reg(p, true, a->name);
	const struct abacus_reg *g = r >= 0 ? &p->in->regs->items[r] : NULL;
	bool there = g != NULL && alert_listed(listing, g->remote_id);
	json_t *want = abacus_plan_alert_settings(a);
	bool keep = there && json_equal(g->settings, want);
	enum abacus_op op = keep    ? ABACUS_KEEP
	                    : there ? ABACUS_UPDATE
	                            : ABACUS_CREATE;
	struct abacus_item *it;

	it = want ? add_item(p, op, true, alert_why(g, there, keep)) : NULL;
	if (it == NULL || !choose_id(p, r, NULL, it->reg_id)) {
		json_decref(want);
		return false;
	}
	if (r >= 0)
		p->used[r] = true;
	it->name = a->name;
	it->remote_id = there ? g->remote_id : NULL;
	it->settings = want;
	return true;
}

/* Registrations of this deployment no item accounts for: the
 * configuration no longer names them. */
static bool plan_leftover_regs(struct planner *p, json_t *alerts)
{
	const struct abacus_regs *r = p->in->regs;

	for (size_t i = 0; i < r->count; i++) {
		const struct abacus_reg *g = &r->items[i];
		struct abacus_item *it;

		if (p->used[i] || !same(g->deployment_id, p->dep))
			continue;
		it = add_item(p, ABACUS_DELETE, g->alert, gone_why(p));
		if (it == NULL)
			return false;
		p->used[i] = true;
		it->event_type = g->event_type;
		it->name = g->name;
		memcpy(it->reg_id, g->id, sizeof(it->reg_id));
		if (g->alert && alert_listed(alerts, g->remote_id))
			it->remote_id = g->remote_id;
	}
	return true;
}

/* One deployment */

static bool plan_hooks(struct planner *p,
                       const struct config_abacus_deployment *d)
{
	for (size_t i = 0; d != NULL && i < d->events.count; i++) {
		const char *type = d->events.items[i];

		if (listed(d->events.items, i, type))
			continue;
		if (!plan_hook(p, type, d->payload))
			return false;
	}
	return plan_leftover_hooks(p);
}

static bool plan_deployment(struct planner *p, const struct abacus_remote *rm)
{
	const struct config_abacus_deployment *d =
	    config_deployment(p->in->cfg, rm->deployment_id);
	const struct config_abacus_alert *a = d ? d->alerts.items : NULL;
	bool ok;

	p->dep = rm->deployment_id;
	if (!load_hooks(p, rm->webhooks))
		return false;
	ok = plan_hooks(p, d);
	free_hooks(p);

	for (size_t i = 0; ok && d != NULL && i < d->alerts.count; i++)
		ok = plan_alert(p, &a[i], rm->alerts);
	return ok && plan_leftover_regs(p, rm->alerts);
}

bool abacus_plan_build(const struct abacus_plan_input *in,
                       struct abacus_plan *out)
{
	struct planner p = { .in = in, .plan = out };
	bool ok = true;

	memset(out, 0, sizeof(*out));
	p.used = calloc(in->regs->count + 1, sizeof(*p.used));
	if (p.used == NULL)
		return false;
	for (size_t i = 0; ok && i < in->nremote; i++)
		ok = plan_deployment(&p, &in->remote[i]);
	free(p.used);
	if (!ok)
		abacus_plan_free(out);
	return ok;
}

void abacus_plan_free(struct abacus_plan *p)
{
	for (size_t i = 0; i < p->count; i++) {
		json_decref(p->items[i].template);
		json_decref(p->items[i].settings);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

/* Showing */

const char *abacus_op_name(enum abacus_op op)
{
	static const char *const names[] = { "keep", "create", "update",
		                             "delete" };

	return names[op];
}

void abacus_item_format(const struct abacus_item *it, char *out, size_t size)
{
	snprintf(out, size, "%-6s %-7s %s %s (%s)", abacus_op_name(it->op),
	         it->alert ? "alert" : "webhook", it->deployment_id,
	         it->alert ? it->name : it->event_type, it->why);
}
