/*
 * What `herald register` must do, worked out without side effects: from
 * the configuration, the registrations Herald recorded and what Abacus
 * lists for each deployment, one plan item per webhook or alert (keep,
 * create, update, delete). Nothing here talks to the network or the
 * database, so the whole policy is tested in memory.
 *
 * The policy:
 * - A webhook is Herald's when its endpoint is under
 *   {public_url}/hooks/abacus/, or when its webhookId is recorded in a
 *   registration of its deployment (its endpoint was changed remotely,
 *   or public_url was). No other webhook is ever touched.
 * - For each configured (deployment, event type), the Herald webhook
 *   whose URL token hashes to the recorded one is kept, or updated when
 *   its payloadTemplate or event type changed remotely. One whose
 *   endpoint no longer carries the recorded token (but whose id is
 *   recorded) is pointed back with a new token. A webhook under the
 *   prefix nobody recorded (a create whose answer was lost) is adopted
 *   rather than created again. Otherwise one is created.
 * - Herald webhooks left over are deleted, with their registrations.
 * - Herald names the alert it creates for configured alert NAME
 *   "herald {public_url} NAME" (public_url without trailing slashes;
 *   see abacus_alert_prefix). An alert is Herald's when its name starts
 *   with that prefix, or when its id is recorded in a registration of
 *   its deployment. No other alert is ever touched.
 * - For each configured alert, the recorded alert, else an unrecorded
 *   one of the name Herald would give it (a create whose answer was
 *   lost), is kept while its listed name, conditionConfig and
 *   actionConfig hold what the configuration asks (Abacus may add
 *   keys); otherwise it is deleted and created again, as Abacus has no
 *   update for alerts. Without one, one is created.
 * - Herald alerts left over are deleted, with their registrations.
 *
 * A plan borrows from the configuration, the registrations and the
 * listings it was built from, which must outlive it; the templates and
 * settings it holds are its own.
 */
#ifndef HERALD_ABACUS_PLAN_H
#define HERALD_ABACUS_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/uuid.h"

struct config_abacus;
struct config_abacus_alert;

/* One registrations row; the strings and settings are the row's own. */
struct abacus_reg {
	char id[UUID_STR_LEN + 1];
	bool alert;
	char *deployment_id;
	char *event_type; /* webhooks */
	char *name;       /* alerts */
	bool has_token;
	uint8_t token_sha256[32];
	char *remote_id; /* NULL until Abacus answered the create */
	json_t *settings;
	char *last_version;
};

struct abacus_regs {
	struct abacus_reg *items;
	size_t count;
};

void abacus_regs_free(struct abacus_regs *r);

/* What Abacus listed for one deployment (borrowed JSON arrays). */
struct abacus_remote {
	const char *deployment_id;
	json_t *webhooks;
	json_t *alerts;
};

enum abacus_op {
	ABACUS_KEEP,
	ABACUS_CREATE,
	ABACUS_UPDATE, /* alerts: delete, then create */
	ABACUS_DELETE,
};

struct abacus_item {
	enum abacus_op op;
	bool alert;
	const char *deployment_id;
	const char *event_type; /* webhooks */
	const char *name;       /* alerts */
	const char *why;        /* a constant phrase */

	/* The registration written or deleted; "" for none. */
	char reg_id[UUID_STR_LEN + 1];
	bool write_row; /* keep: the row must be written all the same */

	const char *remote_id; /* the object at Abacus acted upon, if any */
	/* Webhooks: the endpoint whose token stays; NULL means mint one. */
	const char *endpoint;
	json_t *template; /* webhooks: the payloadTemplate wanted */
	json_t *settings; /* alerts: conditionConfig and actionConfig */
	char *alert_name; /* alerts configured: the name at Abacus */
	/* Alerts kept whose row is written: the version already seen. */
	const char *version;
};

struct abacus_plan {
	struct abacus_item *items;
	size_t count;
	size_t cap;
};

struct abacus_plan_input {
	const struct config_abacus *cfg; /* NULL: remove everything */
	const char *prefix;              /* from abacus_endpoint_prefix */
	const char *alert_prefix;        /* from abacus_alert_prefix */
	const struct abacus_regs *regs;
	const struct abacus_remote *remote; /* one per deployment */
	size_t nremote;
};

/* The deployments to list, in order: the configured ones, then those
 * only registrations name. The names are borrowed; free the array. NULL
 * (with *n 0) when there are none or memory ran out (*n SIZE_MAX). */
const char **abacus_plan_deployments(const struct config_abacus *cfg,
                                     const struct abacus_regs *regs, size_t *n);

/* The start of the name of every alert Herald creates: "herald ",
 * public_url without trailing slashes, a space. False if it does not fit
 * in size bytes. */
bool abacus_alert_prefix(const char *public_url, char *out, size_t size)
    __attribute__((warn_unused_result));

/* Build the plan. False only when memory or randomness ran out. */
bool abacus_plan_build(const struct abacus_plan_input *in,
                       struct abacus_plan *out)
    __attribute__((warn_unused_result));

void abacus_plan_free(struct abacus_plan *p);

/* The payloadTemplate of a webhook: the configured payload (borrowed, may
 * be NULL) with "herald" set to the registration, deployment and event
 * type. A new reference, NULL when out of memory. */
json_t *abacus_plan_template(const char *reg_id, const char *deployment_id,
                             const char *event_type, const json_t *payload);

/* {"conditionConfig": ..., "actionConfig": {"actionType": "Email", ...}}
 * for an alert. A new reference, NULL when out of memory. */
json_t *abacus_plan_alert_settings(const struct config_abacus_alert *a);

const char *abacus_op_name(enum abacus_op op);

/* "create  webhook dep-1 DEPLOYMENT_START (missing)" */
void abacus_item_format(const struct abacus_item *it, char *out, size_t size);

#endif
