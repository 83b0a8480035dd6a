/*
 * The registrations table as the Abacus modules use it: load every row,
 * write a webhook's or an alert's row, delete one, record the alert
 * version last turned into an event, and the advisory locks that keep
 * cluster-wide work on one process.
 *
 * The caller owns the connection. Rows loaded are the caller's (free them
 * with abacus_regs_free). A token hash is all that is ever written for a
 * webhook; the endpoint column shows the URL with the token left out.
 */
#ifndef HERALD_ABACUS_REGISTRY_H
#define HERALD_ABACUS_REGISTRY_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abacus/plan.h"

/* Session advisory locks, beside migrate's key. Reconcile: one
 * reconcile at a time, CLI or serve. Poller: the one process that polls
 * alerts (and reconciles at start), held as long as its connection. */
#define ABACUS_LOCK_RECONCILE "114685405291621"
#define ABACUS_LOCK_POLLER    "114685405291622"

bool abacus_registry_load(PGconn *conn, struct abacus_regs *out, char *err,
                          size_t size) __attribute__((warn_unused_result));

/* Insert or replace the webhook row reg_id. remote_id may be NULL (not
 * created yet); settings is borrowed. */
bool abacus_registry_put_webhook(PGconn *conn, const char *reg_id,
                                 const char *deployment_id,
                                 const char *event_type, const uint8_t hash[32],
                                 const char *remote_id,
                                 const char *endpoint_shown, json_t *settings,
                                 char *err, size_t size)
    __attribute__((warn_unused_result));

/* Insert or replace the alert row reg_id; last_version may be NULL. */
bool abacus_registry_put_alert(PGconn *conn, const char *reg_id,
                               const char *deployment_id, const char *name,
                               const char *remote_id, json_t *settings,
                               const char *last_version, char *err, size_t size)
    __attribute__((warn_unused_result));

bool abacus_registry_delete(PGconn *conn, const char *reg_id, char *err,
                            size_t size) __attribute__((warn_unused_result));

bool abacus_registry_set_version(PGconn *conn, const char *reg_id,
                                 const char *version, char *err, size_t size)
    __attribute__((warn_unused_result));

/* Take lock key (a bigint literal): wait for it (bounded by the
 * session's lock_timeout) or only try. *got says whether it is held. */
bool abacus_registry_lock(PGconn *conn, const char *key, bool wait, bool *got,
                          char *err, size_t size)
    __attribute__((warn_unused_result));

void abacus_registry_unlock(PGconn *conn, const char *key);

#endif
