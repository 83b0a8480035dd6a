/*
 * An event travels to the writer in a job of its own on the heap, shared
 * by this thread and the writer's done callback, which runs on the
 * ingest loop. Whichever lets go last frees it, so this thread may stop
 * waiting (Herald is stopping) while the writer still holds the job.
 */
#include "abacus/poller.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "abacus/registry.h"
#include "log.h"
#include "sources/abacus.h"
#include "sources/source.h"
#include "store/writer.h"
#include "util/buf.h"
#include "util/deadline.h"

#define WAIT_SLICE_MS 100

struct pending {
	struct writer_job job;
	struct event ev;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool done;
	int refs;
};

/* The event */

bool abacus_poller_event(struct event *ev, const struct abacus_reg *g,
                         json_t *version)
{
	const char *vid =
	    json_string_value(json_object_get(version, "monitorAlertVersion"));
	json_t *payload =
	    json_is_object(version) ? json_deep_copy(version) : NULL;
	struct buf key = { 0 };
	bool ok;

	if (vid == NULL || *vid == '\0' || payload == NULL || g->name == NULL ||
	    json_object_set_new(payload, "alertName", json_string(g->name))) {
		json_decref(payload);
		return false;
	}
	buf_printf(&key, "alert:%s", vid);
	memcpy(ev->registration_id, g->id, sizeof(ev->registration_id));
	ev->event_type = strdup(ABACUS_MONITOR_ALERT);
	ev->deployment_id = strdup(g->deployment_id);
	ev->idempotency_key = buf_take(&key);
	ev->payload = json_dumps(payload, JSON_COMPACT);
	ev->payload_len = ev->payload ? strlen(ev->payload) : 0;
	json_decref(payload);
	ok = ev->event_type && ev->deployment_id && ev->idempotency_key &&
	     ev->payload && strlen(ev->idempotency_key) <= SOURCE_KEY_MAX;
	return ok;
}

/* Handing it to the writer */

static void pending_release(struct pending *p)
{
	bool last;

	pthread_mutex_lock(&p->mu);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->mu);
	if (!last)
		return;
	event_clear(&p->ev);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cond);
	free(p);
}

/* On the ingest loop: wake the poller's thread. */
static void on_done(struct writer_job *job)
{
	struct pending *p = job->arg;

	pthread_mutex_lock(&p->mu);
	p->done = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mu);
	pending_release(p);
}

static struct pending *pending_new(void)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	if (!event_init(&p->ev, ABACUS_SOURCE)) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->refs = 1;
	p->job = (struct writer_job){
		.events = &p->ev, .count = 1, .done = on_done, .arg = p
	};
	return p;
}

static void wait_slice(struct pending *p)
{
	struct timespec until = deadline_after(CLOCK_REALTIME, WAIT_SLICE_MS);

	pthread_cond_timedwait(&p->cond, &p->mu, &until);
}

/* Submit and wait for the outcome; EVENT_UNAVAILABLE if the writer
 * refused it, EVENT_PENDING if we stopped waiting. */
static enum event_outcome submit(const struct abacus_poller *pl,
                                 struct pending *p)
{
	enum event_outcome out;

	p->refs = 2;
	if (writer_submit(pl->writer, &p->job) != WRITER_QUEUED) {
		p->refs = 1;
		return EVENT_UNAVAILABLE;
	}
	pthread_mutex_lock(&p->mu);
	while (!p->done && !atomic_load(pl->stop))
		wait_slice(p);
	out = p->done ? p->ev.outcome : EVENT_PENDING;
	pthread_mutex_unlock(&p->mu);
	return out;
}

/* Alerts gone at Abacus */

void abacus_poller_gone_free(struct abacus_poller_gone *g)
{
	for (size_t i = 0; i < g->count; i++)
		free(g->ids[i]);
	free(g->ids);
	g->ids = NULL;
	g->count = 0;
}

/* Add id unless it is there; true when it was not (news to report). */
static bool gone_add(struct abacus_poller_gone *g, const char *id)
{
	char **more;

	if (g == NULL)
		return true;
	for (size_t i = 0; i < g->count; i++) {
		if (strcmp(g->ids[i], id) == 0)
			return false;
	}
	more = realloc(g->ids, (g->count + 1) * sizeof(*g->ids));
	if (more == NULL)
		return true;
	g->ids = more;
	if ((g->ids[g->count] = strdup(id)) != NULL)
		g->count++;
	return true;
}

static bool alert_recorded(const struct abacus_regs *regs, const char *id)
{
	for (size_t i = 0; i < regs->count; i++) {
		const struct abacus_reg *g = &regs->items[i];

		if (g->alert && g->remote_id && strcmp(g->remote_id, id) == 0)
			return true;
	}
	return false;
}

/* Forget the ids no alert registration records any more. */
static void gone_prune(struct abacus_poller_gone *g,
                       const struct abacus_regs *regs)
{
	size_t kept = 0;

	if (g == NULL)
		return;
	for (size_t i = 0; i < g->count; i++) {
		if (alert_recorded(regs, g->ids[i]))
			g->ids[kept++] = g->ids[i];
		else
			free(g->ids[i]);
	}
	g->count = kept;
}

/* One alert */

static void report_failure(const struct abacus_poller *pl,
                           const struct abacus_reg *g,
                           const struct abacus_error *e)
{
	char why[800];

	if (atomic_load(pl->stop))
		return;
	abacus_error_format(e, why, sizeof(why));
	if (!abacus_error_not_found(e))
		log_warn("monitor alert not polled", LOG_S("alert", g->name),
		         LOG_S("deployment", g->deployment_id),
		         LOG_S("error", why));
	else if (gone_add(pl->gone, g->remote_id))
		log_warn("monitor alert deleted at Abacus; herald register"
		         " creates it again",
		         LOG_S("alert", g->name),
		         LOG_S("deployment", g->deployment_id),
		         LOG_S("error", why));
	else
		log_debug("monitor alert still deleted at Abacus",
		          LOG_S("alert", g->name),
		          LOG_S("deployment", g->deployment_id));
}

static bool store_version(const struct abacus_poller *pl,
                          const struct abacus_reg *g, json_t *version,
                          const char *vid, char *err, size_t size)
{
	struct pending *p = pending_new();
	enum event_outcome out = EVENT_UNAVAILABLE;
	char id[UUID_STR_LEN + 1] = "";

	if (p != NULL && abacus_poller_event(&p->ev, g, version))
		out = submit(pl, p);
	if (out == EVENT_STORED || out == EVENT_DUPLICATE)
		memcpy(id, out == EVENT_STORED ? p->ev.id : p->ev.first_id,
		       sizeof(id));
	if (p != NULL)
		pending_release(p);

	if (out != EVENT_STORED && out != EVENT_DUPLICATE) {
		if (out != EVENT_PENDING)
			log_warn("monitor alert not stored; trying again",
			         LOG_S("alert", g->name),
			         LOG_S("deployment", g->deployment_id),
			         LOG_S("version", vid));
		return true;
	}
	log_info("monitor alert stored", LOG_S("event", id),
	         LOG_S("alert", g->name), LOG_S("deployment", g->deployment_id),
	         LOG_S("version", vid),
	         LOG_B("duplicate", out != EVENT_STORED));
	return abacus_registry_set_version(pl->conn, g->id, vid, err, size);
}

static bool poll_one(const struct abacus_poller *pl, const struct abacus_reg *g,
                     char *err, size_t size)
{
	struct abacus_error e;
	json_t *alert = NULL, *version;
	const char *vid;
	bool ok = true;

	if (!abacus_describe_alert(pl->client, g->remote_id, &alert, &e)) {
		report_failure(pl, g, &e);
		return true;
	}
	version = json_object_get(alert, "latestMonitorAlertVersion");
	vid =
	    json_string_value(json_object_get(version, "monitorAlertVersion"));
	if (vid != NULL &&
	    (g->last_version == NULL || strcmp(vid, g->last_version) != 0))
		ok = store_version(pl, g, version, vid, err, size);
	json_decref(alert);
	return ok;
}

bool abacus_poller_round(const struct abacus_poller *p, char *err, size_t size)
{
	struct abacus_regs regs;
	bool ok = true;

	if (!abacus_registry_load(p->conn, &regs, err, size))
		return false;
	gone_prune(p->gone, &regs);
	for (size_t i = 0; ok && i < regs.count; i++) {
		const struct abacus_reg *g = &regs.items[i];

		if (atomic_load(p->stop))
			break;
		if (g->alert && g->remote_id != NULL)
			ok = poll_one(p, g, err, size);
	}
	abacus_regs_free(&regs);
	return ok;
}
