/*
 * The monitor-alert poller: Abacus can only email when an alert fires,
 * so Herald asks describeMonitorAlert for each alert it registered and,
 * when latestMonitorAlertVersion names a version other than the one
 * recorded in registrations.last_version, stores one MONITOR_ALERT event
 * through the writer and then records the version.
 *
 * The event's idempotency key is "alert:" + the version id, so two
 * processes, or one that crashed between storing and recording, can
 * never store a version twice. A version that could not be stored (the
 * writer down or full) is tried again next round.
 *
 * An alert Abacus says is gone is reported once, then at debug level,
 * until its registration changes: the next `herald register` creates it
 * again.
 *
 * Everything is borrowed from the caller, who runs rounds on a thread of
 * its own (abacus/abacus.h).
 */
#ifndef HERALD_ABACUS_POLLER_H
#define HERALD_ABACUS_POLLER_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "abacus/client.h"
#include "abacus/plan.h"
#include "event.h"

#define ABACUS_MONITOR_ALERT "MONITOR_ALERT"

struct writer;

/* The remote ids of alerts found deleted at Abacus and reported: the
 * caller keeps it from round to round and frees what it holds. */
struct abacus_poller_gone {
	char **ids;
	size_t count;
};

void abacus_poller_gone_free(struct abacus_poller_gone *g);

struct abacus_poller {
	PGconn *conn;
	struct abacus_client *client;
	struct writer *writer;
	const atomic_bool *stop;         /* give up waiting once true */
	struct abacus_poller_gone *gone; /* NULL: report every round */
};

/*
 * Fill ev (from event_init) as the event of version, the
 * MonitorAlertVersion object of alert registration g: its payload is the
 * object plus "alertName", its registration g. False when version has no
 * id or memory ran out.
 */
bool abacus_poller_event(struct event *ev, const struct abacus_reg *g,
                         json_t *version) __attribute__((warn_unused_result));

/* One round over every alert registration. False with err only when the
 * database failed (the caller reconnects); Abacus failures are logged
 * and the alert is tried again next round. */
bool abacus_poller_round(const struct abacus_poller *p, char *err, size_t size)
    __attribute__((warn_unused_result));

#endif
