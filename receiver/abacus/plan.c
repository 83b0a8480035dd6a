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
#include "util/buf.h"

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

/* A Herald alert as listed: named under the alert prefix, or recorded
 * by id. */
struct alert {
	const char *id;
	const char *name;
	json_t *condition; /* own references */
	json_t *action;
	const char *version; /* of latestMonitorAlertVersion, or NULL */
	bool claimed;
};

struct planner {
	const struct abacus_plan_input *in;
	struct abacus_plan *plan;
	bool *used; /* per registration: an item accounts for it */
	struct hook *hooks;
	size_t nhooks;
	struct alert *alerts;
	size_t nalerts;
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

/* A listed payloadTemplate, conditionConfig or actionConfig as an object
 * (a new reference): some answers carry them as JSON text. */
static json_t *listed_object(json_t *v)
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

/* The registration of kind alert on this deployment that records
 * remote id id, or -1. */
static long reg_by_remote(const struct planner *p, bool alert, const char *id)
{
	const struct abacus_regs *r = p->in->regs;

	for (size_t i = 0; id != NULL && i < r->count; i++) {
		const struct abacus_reg *g = &r->items[i];

		if (g->alert == alert && same(g->deployment_id, p->dep) &&
		    same(g->remote_id, id))
			return (long)i;
	}
	return -1;
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
		    (token == NULL && reg_by_remote(p, false, h->id) < 0))
			continue;
		h->has_token = token != NULL;
		if (token != NULL)
			abacus_token_hash(token, h->hash);
		h->template =
		    listed_object(json_object_get(w, "payloadTemplate"));
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

/* Alerts as listed */

bool abacus_alert_prefix(const char *public_url, char *out, size_t size)
{
	size_t n = strlen(public_url);
	int len;

	while (n > 0 && public_url[n - 1] == '/')
		n--;
	len = snprintf(out, size, "herald %.*s ", (int)n, public_url);
	return len > 0 && (size_t)len < size;
}

/* Whether name is under the alert prefix, with something after it. */
static bool herald_named(const struct planner *p, const char *name)
{
	size_t n = strlen(p->in->alert_prefix);

	return name != NULL && strncmp(name, p->in->alert_prefix, n) == 0 &&
	       name[n] != '\0';
}

static void free_alerts(struct planner *p)
{
	for (size_t i = 0; i < p->nalerts; i++) {
		json_decref(p->alerts[i].condition);
		json_decref(p->alerts[i].action);
	}
	free(p->alerts);
	p->alerts = NULL;
	p->nalerts = 0;
}

/* Keep the Herald alerts of a listing; others are never looked at. */
static bool load_alerts(struct planner *p, json_t *list)
{
	size_t n = json_array_size(list), i;
	json_t *a, *latest;

	p->alerts = calloc(n + 1, sizeof(*p->alerts));
	if (p->alerts == NULL)
		return false;
	json_array_foreach(list, i, a)
	{
		struct alert *l = &p->alerts[p->nalerts];

		l->id = json_string_value(json_object_get(a, "monitorAlertId"));
		l->name = json_string_value(json_object_get(a, "name"));
		if (l->id == NULL || (!herald_named(p, l->name) &&
		                      reg_by_remote(p, true, l->id) < 0))
			continue;
		l->condition =
		    listed_object(json_object_get(a, "conditionConfig"));
		l->action = listed_object(json_object_get(a, "actionConfig"));
		latest = json_object_get(a, "latestMonitorAlertVersion");
		l->version = json_string_value(
		    json_object_get(latest, "monitorAlertVersion"));
		p->nalerts++;
	}
	return true;
}

static struct alert *alert_by_id(struct planner *p, const char *id)
{
	for (size_t i = 0; id != NULL && i < p->nalerts; i++) {
		if (!p->alerts[i].claimed && strcmp(p->alerts[i].id, id) == 0)
			return &p->alerts[i];
	}
	return NULL;
}

/* An unclaimed alert called name that no registration records: a create
 * whose answer was lost. Adopted rather than created again. */
static struct alert *alert_to_adopt(struct planner *p, const char *name)
{
	for (size_t i = 0; i < p->nalerts; i++) {
		struct alert *l = &p->alerts[i];

		if (!l->claimed && same(l->name, name) &&
		    reg_by_remote(p, true, l->id) < 0)
			return l;
	}
	return NULL;
}

/*
 * Whether have holds everything want does: objects key by key (have may
 * hold more, such as defaults Abacus fills in), arrays item by item,
 * numbers by value (Abacus may answer -10 as -10.0).
 */
static bool covers(json_t *have, json_t *want)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_number(want))
		return json_is_number(have) &&
		       json_number_value(have) == json_number_value(want);
	if (json_is_object(want)) {
		json_object_foreach(want, key, v)
		{
			if (!covers(json_object_get(have, key), v))
				return false;
		}
		return json_is_object(have);
	}
	if (json_is_array(want)) {
		if (json_array_size(have) != json_array_size(want))
			return false;
		json_array_foreach(want, i, v)
		{
			if (!covers(json_array_get(have, i), v))
				return false;
		}
		return json_is_array(have);
	}
	return have != NULL && json_equal(have, want);
}

/* Whether listed alert l is what Herald wants: name and settings. */
static bool alert_matches(const struct alert *l, const char *name, json_t *want)
{
	return same(l->name, name) &&
	       covers(l->condition, json_object_get(want, "conditionConfig")) &&
	       covers(l->action, json_object_get(want, "actionConfig"));
}

/* Alert items */

static const char *alert_why(const struct abacus_reg *g, const struct alert *l,
                             const char *name, json_t *want, bool keep,
                             bool adopted)
{
	if (l == NULL)
		return g != NULL && g->remote_id != NULL ? "deleted remotely"
		                                         : "missing";
	if (adopted)
		return keep ? "unrecorded Herald alert" : "unrecorded, changed";
	if (keep)
		return "unchanged";
	if (!same(l->name, name))
		return "name is not Herald's current one";
	return g != NULL && json_equal(g->settings, want)
	           ? "changed remotely"
	           : "configuration changed";
}

/* Keep l, replace it (Abacus cannot update an alert), or create one when
 * l is NULL. name and want become the item's. */
static struct abacus_item *alert_item(struct planner *p, long r,
                                      struct alert *l, bool adopted, char *name,
                                      json_t *want)
{
	const struct abacus_reg *g = r >= 0 ? &p->in->regs->items[r] : NULL;
	bool keep = l != NULL && alert_matches(l, name, want);
	enum abacus_op op = keep ? ABACUS_KEEP
	                    : l  ? ABACUS_UPDATE
	                         : ABACUS_CREATE;
	struct abacus_item *it =
	    add_item(p, op, true, alert_why(g, l, name, want, keep, adopted));

	if (it == NULL)
		return NULL;
	it->alert_name = name;
	it->settings = want;
	if (l == NULL)
		return it;
	l->claimed = true;
	it->remote_id = l->id;
	it->version = adopted || g == NULL ? l->version : g->last_version;
	it->write_row = keep && (adopted || !same(g->remote_id, l->id) ||
	                         !json_equal(g->settings, want));
	return it;
}

static char *alert_name(const struct planner *p, const char *name)
{
	struct buf b = { 0 };

	buf_printf(&b, "%s%s", p->in->alert_prefix, name);
	if (buf_failed(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

static bool plan_alert(struct planner *p, const struct config_abacus_alert *a)
{
	long r = find_reg(p, true, a->name);
	const struct abacus_reg *g = r >= 0 ? &p->in->regs->items[r] : NULL;
	struct alert *l = g ? alert_by_id(p, g->remote_id) : NULL;
	char *name = alert_name(p, a->name);
	json_t *want = abacus_plan_alert_settings(a);
	bool adopted = false;
	struct abacus_item *it = NULL;

	if (l == NULL && name != NULL) {
		l = alert_to_adopt(p, name);
		adopted = l != NULL;
	}
	if (name != NULL && want != NULL)
		it = alert_item(p, r, l, adopted, name, want);
	if (it == NULL) {
		free(name);
		json_decref(want);
		return false;
	}
	if (r >= 0)
		p->used[r] = true;
	it->name = a->name;
	return choose_id(p, r, NULL, it->reg_id);
}

/* Herald alerts no configured alert took: delete them. */
static bool plan_leftover_alerts(struct planner *p)
{
	size_t skip = strlen(p->in->alert_prefix);

	for (size_t i = 0; i < p->nalerts; i++) {
		struct alert *l = &p->alerts[i];
		long r = l->claimed ? -1 : reg_by_remote(p, true, l->id);
		bool dup = r >= 0 && p->used[r];
		struct abacus_item *it;

		if (l->claimed)
			continue;
		it = add_item(p, ABACUS_DELETE, true,
		              r < 0 || dup ? "duplicate or unrecorded"
		                           : gone_why(p));
		if (it == NULL)
			return false;
		it->remote_id = l->id;
		it->name = herald_named(p, l->name) ? l->name + skip : "?";
		if (r >= 0 && !dup) {
			p->used[r] = true;
			it->name = p->in->regs->items[r].name;
			memcpy(it->reg_id, p->in->regs->items[r].id,
			       sizeof(it->reg_id));
		}
		l->claimed = true;
	}
	return true;
}

/* Registrations of this deployment no item accounts for: the
 * configuration no longer names them, and what they recorded is gone. */
static bool plan_leftover_regs(struct planner *p)
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
	if (!ok || !load_alerts(p, rm->alerts))
		return false;

	for (size_t i = 0; ok && d != NULL && i < d->alerts.count; i++)
		ok = plan_alert(p, &a[i]);
	ok = ok && plan_leftover_alerts(p);
	free_alerts(p);
	return ok && plan_leftover_regs(p);
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
		free(p->items[i].alert_name);
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
