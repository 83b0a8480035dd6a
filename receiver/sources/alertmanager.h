/*
 * POST /hooks/alertmanager: Prometheus Alertmanager's webhook notifications
 * (specs/alertmanager-webhook.md). Each alert of a notification becomes one
 * MONITOR_ALERT event carrying the alert and the notification's context.
 * Alertmanager sends the same alert again at every repeat interval, so
 * (fingerprint, status, startsAt) is the idempotency key: a repeat is a
 * duplicate, a resolution is a new event.
 */
#ifndef HERALD_SOURCES_ALERTMANAGER_H
#define HERALD_SOURCES_ALERTMANAGER_H

#include "sources/source.h"

#define ALERTMANAGER_SOURCE "alertmanager"
#define ALERTMANAGER_EVENT  "MONITOR_ALERT"

struct config_alertmanager;

/* True if the source has credentials configured (it is off otherwise). */
bool alertmanager_enabled(const struct config_alertmanager *am);

bool alertmanager_events(const struct source_request *rq,
                         struct source_result *res);

#endif
