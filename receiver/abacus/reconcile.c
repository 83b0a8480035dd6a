/*
 * A webhook's registration row is written before Abacus is asked to
 * create or re-point the webhook, so that its token is known the moment
 * Abacus may call it; the row gets its remote id once Abacus answered.
 * A create whose answer was lost leaves a webhook whose token matches
 * the row, and the next reconcile finds it by listing instead of
 * creating another. An alert is recorded only once Abacus answered: the
 * name Herald gives it is enough to find one whose answer was lost.
 */
#include "abacus/reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abacus/registry.h"
#include "abacus/token.h"
#include "config/config.h"
#include "store/db.h"

#define PREFIX_MAX 2048

/* What one run works with; freed by finish. */
struct run {
	struct abacus_reconcile *r;
	char prefix[PREFIX_MAX];
	char alert_prefix[PREFIX_MAX];
	struct abacus_regs regs;
	const char **deps;
	size_t ndeps;
	struct abacus_remote *remote;
	struct abacus_plan plan;
	bool locked;
};

/* Listing */

static bool configured(const struct run *u, const char *dep)
{
	const struct config_abacus *a = &u->r->cfg->abacus;
	const struct config_abacus_deployment *d = a->deployments.items;

	for (size_t i = 0; !u->r->remove_all && i < a->deployments.count; i++) {
		if (strcmp(d[i].id, dep) == 0)
			return true;
	}
	return false;
}

/* List what Abacus has for one deployment. A deployment only old
 * registrations name may be gone at Abacus: then it has nothing left. */
static bool list_one(struct run *u, struct abacus_remote *rm, char *err,
                     size_t size)
{
	struct abacus_client *c = u->r->client;
	struct abacus_error e;
	char why[800];

	if (abacus_list_webhooks(c, rm->deployment_id, &rm->webhooks, &e) &&
	    abacus_list_alerts(c, rm->deployment_id, &rm->alerts, &e))
		return true;
	if (abacus_error_not_found(&e) && !configured(u, rm->deployment_id)) {
		json_decref(rm->webhooks);
		json_decref(rm->alerts);
		rm->webhooks = json_array();
		rm->alerts = json_array();
		return rm->webhooks != NULL && rm->alerts != NULL;
	}
	abacus_error_format(&e, why, sizeof(why));
	snprintf(err, size, "listing deployment %s: %s", rm->deployment_id,
	         why);
	return false;
}

/* Unregister lists the configured deployments too: what Herald owns
 * there is found by listing, rows or not. */
static bool list_all(struct run *u, char *err, size_t size)
{
	u->deps =
	    abacus_plan_deployments(&u->r->cfg->abacus, &u->regs, &u->ndeps);
	if (u->ndeps == SIZE_MAX) {
		snprintf(err, size, "out of memory");
		return false;
	}
	u->remote = calloc(u->ndeps + 1, sizeof(*u->remote));
	if (u->remote == NULL) {
		snprintf(err, size, "out of memory");
		return false;
	}
	for (size_t i = 0; i < u->ndeps; i++) {
		u->remote[i].deployment_id = u->deps[i];
		if (!list_one(u, &u->remote[i], err, size))
			return false;
	}
	return true;
}

/* Applying: webhooks */

static void shown_endpoint(const struct run *u, char *out, size_t size)
{
	snprintf(out, size, "%s{token}", u->prefix);
}

static bool put_hook(struct run *u, const struct abacus_item *it,
                     const char *token, const char *remote_id, char *err,
                     size_t size)
{
	uint8_t hash[32];
	char shown[PREFIX_MAX + 16];
	json_t *settings = json_pack("{s:O}", "payloadTemplate", it->template);
	bool ok;

	if (settings == NULL) {
		snprintf(err, size, "out of memory");
		return false;
	}
	abacus_token_hash(token, hash);
	shown_endpoint(u, shown, sizeof(shown));
	ok = abacus_registry_put_webhook(
	    u->r->conn, it->reg_id, it->deployment_id, it->event_type, hash,
	    remote_id, shown, settings, err, size);
	json_decref(settings);
	return ok;
}

static bool abacus_failed(const struct abacus_error *e, char *err, size_t size)
{
	abacus_error_format(e, err, size);
	return false;
}

/* Create, or re-point an existing webhook at a new token. */
static bool hook_new_token(struct run *u, const struct abacus_item *it,
                           char *err, size_t size)
{
	char token[ABACUS_TOKEN_LEN + 1], endpoint[PREFIX_MAX + 64];
	const char *id;
	struct abacus_error e;
	json_t *got = NULL;
	bool ok;

	if (!abacus_token_new(token)) {
		snprintf(err, size, "no randomness for a token");
		return false;
	}
	snprintf(endpoint, sizeof(endpoint), "%s%s", u->prefix, token);
	if (!put_hook(u, it, token, it->remote_id, err, size))
		return false;

	if (it->op == ABACUS_CREATE)
		ok = abacus_create_webhook(u->r->client, it->deployment_id,
		                           endpoint, it->event_type,
		                           it->template, &got, &e);
	else
		ok = abacus_update_webhook(u->r->client, it->remote_id,
		                           endpoint, it->event_type,
		                           it->template, &got, &e);
	if (!ok)
		return abacus_failed(&e, err, size);
	id = json_string_value(json_object_get(got, "webhookId"));
	ok = put_hook(u, it, token, id ? id : it->remote_id, err, size);
	json_decref(got);
	return ok;
}

/* Update the template (or type) of a webhook whose token stays. */
static bool hook_update(struct run *u, const struct abacus_item *it, char *err,
                        size_t size)
{
	const char *token = abacus_endpoint_token(it->endpoint, u->prefix);
	struct abacus_error e;
	json_t *got = NULL;

	if (!abacus_update_webhook(u->r->client, it->remote_id, it->endpoint,
	                           it->event_type, it->template, &got, &e))
		return abacus_failed(&e, err, size);
	json_decref(got);
	return put_hook(u, it, token, it->remote_id, err, size);
}

static bool apply_hook(struct run *u, const struct abacus_item *it, char *err,
                       size_t size)
{
	struct abacus_error e;

	switch (it->op) {
	case ABACUS_KEEP:
		if (!it->write_row)
			return true;
		return put_hook(u, it,
		                abacus_endpoint_token(it->endpoint, u->prefix),
		                it->remote_id, err, size);
	case ABACUS_CREATE: return hook_new_token(u, it, err, size);
	case ABACUS_UPDATE:
		return it->endpoint ? hook_update(u, it, err, size)
		                    : hook_new_token(u, it, err, size);
	case ABACUS_DELETE:
		if (it->remote_id != NULL &&
		    !abacus_delete_webhook(u->r->client, it->remote_id, &e) &&
		    !abacus_error_not_found(&e))
			return abacus_failed(&e, err, size);
		return !it->reg_id[0] || abacus_registry_delete(
		                             u->r->conn, it->reg_id, err, size);
	}
	return true;
}

/* Applying: alerts */

static bool alert_create(struct run *u, const struct abacus_item *it, char *err,
                         size_t size)
{
	json_t *cond = json_object_get(it->settings, "conditionConfig");
	json_t *action = json_object_get(it->settings, "actionConfig");
	struct abacus_error e;
	json_t *got = NULL, *latest;
	const char *id, *version;
	bool ok;

	if (!abacus_create_alert(u->r->client, it->deployment_id,
	                         it->alert_name, cond, action, &got, &e))
		return abacus_failed(&e, err, size);
	id = json_string_value(json_object_get(got, "monitorAlertId"));
	latest = json_object_get(got, "latestMonitorAlertVersion");
	/* A version that exists already is not news. */
	version =
	    json_string_value(json_object_get(latest, "monitorAlertVersion"));
	if (id == NULL) {
		snprintf(err, size, "the answer has no monitorAlertId");
		json_decref(got);
		return false;
	}
	ok = abacus_registry_put_alert(u->r->conn, it->reg_id,
	                               it->deployment_id, it->name, id,
	                               it->settings, version, err, size);
	json_decref(got);
	return ok;
}

static bool alert_delete(struct run *u, const struct abacus_item *it, char *err,
                         size_t size)
{
	struct abacus_error e;

	if (it->remote_id != NULL &&
	    !abacus_delete_alert(u->r->client, it->remote_id, &e) &&
	    !abacus_error_not_found(&e))
		return abacus_failed(&e, err, size);
	return true;
}

static bool apply_alert(struct run *u, const struct abacus_item *it, char *err,
                        size_t size)
{
	switch (it->op) {
	case ABACUS_KEEP:
		return !it->write_row ||
		       abacus_registry_put_alert(
		           u->r->conn, it->reg_id, it->deployment_id, it->name,
		           it->remote_id, it->settings, it->version, err, size);
	case ABACUS_CREATE: return alert_create(u, it, err, size);
	case ABACUS_UPDATE:
		/* Abacus cannot change an alert: replace it. */
		return alert_delete(u, it, err, size) &&
		       alert_create(u, it, err, size);
	case ABACUS_DELETE:
		return alert_delete(u, it, err, size) &&
		       (!it->reg_id[0] ||
		        abacus_registry_delete(u->r->conn, it->reg_id, err,
		                               size));
	}
	return true;
}

/* The run */

static void apply(struct run *u)
{
	for (size_t i = 0; i < u->plan.count; i++) {
		const struct abacus_item *it = &u->plan.items[i];
		char why[1024];
		bool ok = it->alert ? apply_alert(u, it, why, sizeof(why))
		                    : apply_hook(u, it, why, sizeof(why));

		if (!ok) {
			u->r->failures++;
			if (u->r->failed != NULL)
				u->r->failed(it, why, u->r->arg);
		}
	}
}

static bool lock(struct run *u, char *err, size_t size)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "SET lock_timeout = %ld",
	         u->r->lock_wait_ms);
	if (u->r->lock_wait_ms > 0 && !db_exec(u->r->conn, sql, err, size))
		return false;
	if (!abacus_registry_lock(u->r->conn, ABACUS_LOCK_RECONCILE,
	                          u->r->lock_wait_ms > 0, &u->locked, err,
	                          size))
		return false;
	if (u->r->lock_wait_ms > 0)
		db_exec_quiet(u->r->conn, "RESET lock_timeout");
	u->r->busy = !u->locked;
	if (!u->locked)
		snprintf(err, size, "another herald is reconciling");
	return u->locked;
}

static bool plan(struct run *u, char *err, size_t size)
{
	struct abacus_plan_input in = {
		.cfg = u->r->remove_all ? NULL : &u->r->cfg->abacus,
		.prefix = u->prefix,
		.alert_prefix = u->alert_prefix,
		.regs = &u->regs,
	};

	if (!abacus_registry_load(u->r->conn, &u->regs, err, size) ||
	    !list_all(u, err, size))
		return false;
	in.remote = u->remote;
	in.nremote = u->ndeps;
	if (!abacus_plan_build(&in, &u->plan)) {
		snprintf(err, size, "out of memory planning");
		return false;
	}
	for (size_t i = 0; i < u->plan.count; i++) {
		u->r->counts[u->plan.items[i].op]++;
		if (u->r->show != NULL)
			u->r->show(&u->plan.items[i], u->r->arg);
	}
	return true;
}

static void finish(struct run *u)
{
	abacus_plan_free(&u->plan);
	for (size_t i = 0; u->remote != NULL && i < u->ndeps; i++) {
		json_decref(u->remote[i].webhooks);
		json_decref(u->remote[i].alerts);
	}
	free(u->remote);
	free(u->deps);
	abacus_regs_free(&u->regs);
	if (u->locked)
		abacus_registry_unlock(u->r->conn, ABACUS_LOCK_RECONCILE);
}

bool abacus_reconcile_run(struct abacus_reconcile *r, char *err, size_t size)
{
	struct run u = { .r = r };
	const char *url = r->cfg->public_url;
	size_t total;
	bool ok;

	memset(r->counts, 0, sizeof(r->counts));
	r->failures = 0;
	r->busy = false;
	if (url == NULL || *url == '\0') {
		snprintf(err, size,
		         "public_url is not set: it is the address Abacus "
		         "calls, {public_url}/hooks/abacus/...");
		return false;
	}
	if (!abacus_endpoint_prefix(url, u.prefix, sizeof(u.prefix)) ||
	    !abacus_alert_prefix(url, u.alert_prefix, sizeof(u.alert_prefix))) {
		snprintf(err, size, "public_url is too long");
		return false;
	}

	ok = lock(&u, err, size) && plan(&u, err, size);
	if (ok && !r->dry_run)
		apply(&u);
	total = u.plan.count;
	finish(&u);
	if (ok && r->failures > 0) {
		snprintf(err, size, "%zu of %zu items failed", r->failures,
		         total);
		ok = false;
	}
	return ok;
}
