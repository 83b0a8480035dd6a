/*
 * The dispatch loop. Sinks are opened per configuration "generation": a
 * reload opens a new generation for new attempts, and the old one is
 * closed when its last attempt ends. Finished attempts are kept in a list
 * and recorded in one statement every few milliseconds, so a burst of
 * answers costs one round trip, not one each.
 */
#include "dispatch/dispatcher.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <inttypes.h>
#include <math.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/schema.h"
#include "dispatch/curl_driver.h"
#include "dispatch/limiter.h"
#include "dispatch/message.h"
#include "dispatch/queries.h"
#include "dispatch/retry.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"
#include "sinks/sink.h"
#include "template/store.h"

#define FLUSH_DELAY_MS   10
#define FLUSH_AT         256
#define EXPIRE_PER_SINK  500 /* deliveries a sweep marks dead, per sink */
#define RECONNECT_MIN_MS 250
#define RECONNECT_MAX_MS 5000

/* The dispatcher gives an attempt its sink's timeout and this much more
 * before it stops waiting: built-in sinks end their own attempts at the
 * timeout with a better error, so this deadline catches the rest. The
 * lease leaves room for it. */
#define DEADLINE_GRACE_MS 1000
_Static_assert(DEADLINE_GRACE_MS < CONFIG_LEASE_MARGIN_MS,
               "the lease margin must cover the dispatcher's deadline");

/* The soonest the claim comes back for work that is due already but was
 * not claimed (capped, or locked by another process's claim just then),
 * so that such work is not polled for in a tight loop; and how soon when
 * the claim took nothing (see next_due_s). */
#define NEXT_DUE_MIN_MS    25
#define NOT_TAKEN_AGAIN_MS 1000

/* A deliver call that keeps the loop this long holds up every other
 * attempt; it is logged. */
#define BLOCKED_WARN_MS 100

struct generation;

struct slot {
	struct slot *next;
	struct generation *gen;
	const struct config_sink *cfg;
	const struct sink_ops *ops;
	void *state;
	struct limiter *lim; /* shared with the same sink of other
	                        generations */
};

struct generation {
	struct generation *next;
	struct config *cfg;
	struct tmpl_store *templates;
	struct sink_env env;
	struct slot *slots;
	struct limiter **limiters; /* the dispatcher's */
	int in_flight;
};

struct attempt {
	struct attempt *prev, *next;
	struct dispatcher *d;
	struct slot *slot;
	char delivery_id[40];
	char event_id[40];
	char *event_type;
	int attempt;
	int64_t age_ms;
	int64_t received_ms;
	int64_t started_us;
	double started; /* monotonic seconds */
	struct event *timer;
	bool late; /* concluded at its deadline; the sink still holds it */
	json_t *event;
	char *event_json;
	struct sink_message msg;
};

struct dispatcher {
	pthread_t thread;
	pthread_mutex_t mu;
	struct config *incoming; /* handed over by dispatcher_reload */
	bool stop_requested;

	struct event_base *base;
	struct event *wake;
	struct event *claim_ev;
	struct event *sweep_ev;
	struct event *flush_ev;
	struct event *listen_ev;
	struct event *reconnect_ev;
	struct event *deadline_ev;
	const struct db_target *target;
	PGconn *conn;
	int backoff_ms;
	struct curl_driver *curl;
	struct generation *gens; /* the first is current */
	struct limiter *limiters;
	struct attempt *flight;
	int nflight;
	int nlate; /* of nflight, attempts past their deadline */
	struct attempt_record *records;
	size_t nrecords;
	size_t records_cap;
	struct metrics *metrics;
	char owner[96];
	bool stopping;
	bool abandoning; /* attempts still running are given back */
};

static void schedule_claim(struct dispatcher *d);
static void reconnect_later(struct dispatcher *d, const char *why);
static void drain_notifies(struct dispatcher *d);

static double now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int64_t now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void after_ms(struct event *ev, int64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
		              .tv_usec = (suseconds_t)(ms % 1000) * 1000 };

	event_add(ev, &tv);
}

static double jitter(void)
{
	uint32_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return 0.5;
	return (double)r / 4294967296.0;
}

/* Generations of sinks */

static void slot_close(struct slot *s)
{
	if (s->state != NULL)
		s->ops->close(s->state);
	limiter_put(s->gen->limiters, s->lim);
	free(s);
}

static void generation_free(struct generation *g)
{
	while (g->slots != NULL) {
		struct slot *next = g->slots->next;

		slot_close(g->slots);
		g->slots = next;
	}
	tmpl_store_free(g->templates);
	config_unref(g->cfg);
	free(g);
}

static struct slot *slot_open(struct generation *g,
                              const struct config_sink *cfg)
{
	struct slot *s = calloc(1, sizeof(*s));
	char err[256];

	if (s == NULL)
		return NULL;
	s->gen = g;
	s->cfg = cfg;
	s->ops = sink_ops_for(cfg);
	s->lim = limiter_get(g->limiters, cfg, now_mono());
	if (s->lim == NULL) {
		log_error("sink not opened: out of memory",
		          LOG_S("sink", cfg->name));
		free(s);
		return NULL;
	}
	s->state = s->ops->open(cfg, &g->env, err, sizeof(err));
	if (s->state == NULL) {
		log_error("sink cannot be opened; its deliveries wait for a "
		          "reload that opens it, or die at max_age",
		          LOG_S("sink", cfg->name), LOG_S("error", err));
		limiter_put(g->limiters, s->lim);
		free(s);
		return NULL;
	}
	return s;
}

static struct generation *generation_new(struct dispatcher *d,
                                         struct config *cfg)
{
	struct generation *g = calloc(1, sizeof(*g));
	const struct config_sink *sinks = cfg->sinks.items;

	if (g == NULL)
		return NULL;
	g->cfg = config_ref(cfg);
	g->limiters = &d->limiters;
	g->templates = tmpl_store_new(cfg->templates_dir);
	g->env = (struct sink_env){ .base = d->base,
		                    .curl = d->curl,
		                    .templates = g->templates,
		                    .public_url = cfg->public_url };
	for (size_t i = 0; i < cfg->sinks.count; i++) {
		struct slot *s;

		if (!sinks[i].enabled)
			continue;
		s = slot_open(g, &sinks[i]);
		if (s != NULL) {
			s->next = g->slots;
			g->slots = s;
		}
	}
	return g;
}

/* Close retired generations that no attempt uses any more. */
static void reap_generations(struct dispatcher *d)
{
	struct generation **p = &d->gens;

	if (*p != NULL)
		p = &(*p)->next;
	while (*p != NULL) {
		struct generation *g = *p;

		if (g->in_flight > 0) {
			p = &g->next;
			continue;
		}
		*p = g->next;
		generation_free(g);
	}
}

static struct slot *slot_named(struct generation *g, const char *name)
{
	for (struct slot *s = g->slots; s != NULL; s = s->next) {
		if (strcmp(s->cfg->name, name) == 0)
			return s;
	}
	return NULL;
}

/* Recording attempts */

static void flush(struct dispatcher *d)
{
	bool retries = false;
	char err[256];

	if (d->nrecords == 0 || d->conn == NULL)
		return;
	if (!dq_record(d->conn, d->records, d->nrecords, d->owner, err,
	               sizeof(err))) {
		/* Kept: recorded after the reconnect, or redone by whoever
		 * takes the leases over. */
		reconnect_later(d, err);
		return;
	}
	for (size_t i = 0; i < d->nrecords; i++)
		retries |= strcmp(d->records[i].status, "pending") == 0;
	d->nrecords = 0;
	/* A retry is due at a time only the claim's look ahead sees. */
	if (retries)
		schedule_claim(d);
	drain_notifies(d);
}

static void on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	flush(arg);
}

static struct attempt_record *new_record(struct dispatcher *d)
{
	if (d->nrecords == d->records_cap) {
		size_t cap = d->records_cap ? d->records_cap * 2 : 64;
		void *p = realloc(d->records, cap * sizeof(*d->records));

		if (p == NULL)
			return NULL;
		d->records = p;
		d->records_cap = cap;
	}
	memset(&d->records[d->nrecords], 0, sizeof(*d->records));
	return &d->records[d->nrecords++];
}

static const char *attempt_outcome(enum sink_outcome o)
{
	switch (o) {
	case SINK_DELIVERED: return "delivered";
	case SINK_RETRY: return "retry";
	case SINK_FAILED:
	case SINK_GONE: return "failed";
	}
	return "failed";
}

static void log_attempt(const struct attempt *a, const struct sink_result *r,
                        const struct retry_decision *dec, int ms)
{
	static const char *const what[] = {
		[RETRY_DELIVERED] = "delivered",
		[RETRY_PENDING] = "delivery retried later",
		[RETRY_FAILED] = "delivery failed",
		[RETRY_DEAD] = "delivery dead",
	};
	enum log_level level = dec->status == RETRY_DELIVERED ? LOG_INFO
	                       : dec->status == RETRY_PENDING ? LOG_INFO
	                                                      : LOG_WARN;

	if (!log_enabled(level))
		return;
	log_emit(level, what[dec->status], LOG_S("delivery", a->delivery_id),
	         LOG_S("event", a->event_id), LOG_S("sink", a->slot->cfg->name),
	         LOG_I("attempt", a->attempt), LOG_I("ms", ms),
	         LOG_I("http_status", r->http_status),
	         LOG_I("retry_in_ms",
	               dec->status == RETRY_PENDING ? dec->delay_ms : 0),
	         LOG_S("error", r->error[0] ? r->error : NULL), LOG_END);
}

static void record(struct dispatcher *d, const struct attempt *a,
                   const struct sink_result *r,
                   const struct retry_decision *dec, int ms)
{
	struct attempt_record *rec = new_record(d);

	if (rec == NULL)
		return; /* the lease runs out and the delivery is redone */
	snprintf(rec->delivery_id, sizeof(rec->delivery_id), "%s",
	         a->delivery_id);
	rec->attempt = a->attempt;
	rec->status = retry_status_name(dec->status);
	rec->delay_ms = dec->status == RETRY_PENDING ? dec->delay_ms : 0;
	rec->started_us = a->started_us;
	rec->duration_ms = ms;
	rec->outcome = attempt_outcome(r->outcome);
	rec->http_status = r->http_status;
	snprintf(rec->error, sizeof(rec->error), "%s", r->error);
	snprintf(rec->response, sizeof(rec->response), "%s", r->response);
	if (d->nrecords >= FLUSH_AT)
		flush(d);
	else if (!evtimer_pending(d->flush_ev, NULL))
		after_ms(d->flush_ev, FLUSH_DELAY_MS);
}

/* An endpoint said the sink is gone: stop using it until someone turns
 * it on again (herald sinks enable NAME). */
static void disable(struct dispatcher *d, struct slot *s,
                    const struct sink_result *r)
{
	char err[256];

	s->lim->disabled = true;
	log_warn("sink disabled: the endpoint answered 410 Gone",
	         LOG_S("sink", s->cfg->name), LOG_S("error", r->error));
	metrics_sink_disabled(d->metrics, s->cfg->name);
	if (d->conn != NULL && !dq_disable_sink(d->conn, s->cfg->name,
	                                        "410 Gone", err, sizeof(err)))
		log_error("cannot record the disabled sink",
		          LOG_S("sink", s->cfg->name), LOG_S("error", err));
}

/* Attempts */

static void attempt_free(struct attempt *a)
{
	if (a->timer != NULL)
		event_free(a->timer);
	json_decref(a->event);
	free(a->event_json);
	free(a->event_type);
	free(a);
}

static void unlink_attempt(struct dispatcher *d, struct attempt *a)
{
	if (a->prev != NULL)
		a->prev->next = a->next;
	else
		d->flight = a->next;
	if (a->next != NULL)
		a->next->prev = a->prev;
	d->nflight--;
	d->nlate -= a->late;
	limiter_ended(a->slot->lim);
	a->slot->gen->in_flight--;
}

static void finish_stop_if_idle(struct dispatcher *d);

/* Decide what follows the attempt's outcome r, log and record it. */
static void conclude(struct dispatcher *d, struct attempt *a,
                     const struct sink_result *r)
{
	int ms = (int)((now_mono() - a->started) * 1000.0);
	struct retry_decision dec =
	    retry_decide(a->slot->cfg, r, a->attempt, a->age_ms + ms, jitter());

	log_attempt(a, r, &dec, ms);
	metrics_delivery(d->metrics, a->slot->cfg->name,
	                 retry_status_name(dec.status));
	if (dec.status == RETRY_DELIVERED)
		metrics_delivery_latency(
		    d->metrics,
		    (double)(now_us() / 1000 - a->received_ms) / 1000.0);
	if (r->outcome == SINK_GONE)
		disable(d, a->slot, r);
	record(d, a, r, &dec, ms);
}

/* What follows the end of an attempt, whoever ended it. */
static void after_attempt(struct dispatcher *d)
{
	reap_generations(d);
	if (d->stopping)
		finish_stop_if_idle(d);
	else
		schedule_claim(d);
}

static void on_done(void *arg, const struct sink_result *r)
{
	struct attempt *a = arg;
	struct dispatcher *d = a->d;
	bool late = a->late;

	unlink_attempt(d, a);
	if (late)
		log_info("outcome after the deadline ignored",
		         LOG_S("delivery", a->delivery_id),
		         LOG_S("sink", a->slot->cfg->name),
		         LOG_I("attempt", a->attempt));
	if (!late && !d->abandoning)
		conclude(d, a, r);
	attempt_free(a);
	if (!d->abandoning)
		after_attempt(d);
}

/*
 * The sink gave no outcome within its timeout and the grace after it.
 * The attempt is recorded as one to retry, so the delivery moves on
 * before its lease runs out. The sink still holds the message, so the
 * attempt stays in flight, keeping its place in the sink's concurrency,
 * until done comes; what done says then is ignored.
 */
static void on_attempt_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct attempt *a = arg;
	struct dispatcher *d = a->d;
	struct sink_result r = { .outcome = SINK_RETRY, .retry_after_ms = -1 };

	(void)fd, (void)what;
	if (d->abandoning)
		return;
	sink_result_set(&r, SINK_RETRY,
	                "no outcome within the sink's timeout of %lld ms",
	                (long long)a->slot->cfg->timeout_ms);
	a->late = true;
	d->nlate++;
	conclude(d, a, &r);
	if (d->stopping)
		finish_stop_if_idle(d);
}

static struct message_event event_of(const struct claim_row *row)
{
	return (struct message_event){
		row->event_id,        row->received_at,   row->source,
		row->event_type,      row->deployment_id, row->severity,
		row->idempotency_key, row->payload,       row->headers,
	};
}

/* Which delivery and attempt a is, from the claimed row. */
static void identify(struct attempt *a, struct dispatcher *d, struct slot *s,
                     const struct claim_row *row)
{
	a->d = d;
	a->slot = s;
	snprintf(a->delivery_id, sizeof(a->delivery_id), "%s",
	         row->delivery_id);
	snprintf(a->event_id, sizeof(a->event_id), "%s", row->event_id);
	a->attempt = row->attempt;
	a->age_ms = row->age_ms;
	a->received_ms = row->received_ms;
}

static struct attempt *attempt_new(struct dispatcher *d, struct slot *s,
                                   const struct claim_row *row)
{
	struct attempt *a = calloc(1, sizeof(*a));
	struct message_event ev = event_of(row);
	struct message_delivery del = { row->delivery_id, row->attempt,
		                        s->cfg->name };

	if (a == NULL)
		return NULL;
	identify(a, d, s, row);
	a->event_type = strdup(row->event_type ? row->event_type : "");
	a->timer = evtimer_new(d->base, on_attempt_deadline, a);
	a->event = message_build(&ev, &del, s->gen->cfg->public_url);
	a->event_json = a->event ? json_dumps(a->event, JSON_COMPACT) : NULL;
	if (a->event_type == NULL || a->timer == NULL ||
	    a->event_json == NULL) {
		attempt_free(a);
		return NULL;
	}
	a->msg = (struct sink_message){ .delivery_id = a->delivery_id,
		                        .event_id = a->event_id,
		                        .event_type = a->event_type,
		                        .attempt = a->attempt,
		                        .event = a->event,
		                        .event_json = a->event_json };
	return a;
}

/*
 * The claimed attempt could not be prepared. It still counts: a stored
 * event that does not parse fails for good, since it never will; a
 * lack of memory is retried like any other failure, up to max_attempts
 * and max_age. Either way it ends now rather than when the lease runs
 * out, to be claimed and refused again.
 */
static void attempt_refused(struct dispatcher *d, struct slot *s,
                            const struct claim_row *row)
{
	struct message_event ev = event_of(row);
	struct sink_result r = { .outcome = SINK_FAILED, .retry_after_ms = -1 };
	struct attempt stub = { 0 };

	identify(&stub, d, s, row);
	stub.started = now_mono();
	stub.started_us = now_us();
	if (!message_unreadable(&ev, r.error, sizeof(r.error)))
		sink_result_set(&r, SINK_RETRY,
		                "cannot prepare the message: out of memory");
	conclude(d, &stub, &r);
}

/* deliver must not block (sink.h); one that does holds up every other
 * attempt and may outlast its deadline, which cannot fire meanwhile. */
static void check_blocked(const struct slot *s, const char *delivery_id,
                          double since)
{
	int ms = (int)((now_mono() - since) * 1000.0);

	if (ms >= BLOCKED_WARN_MS)
		log_warn("a sink blocked the dispatch thread",
		         LOG_S("sink", s->cfg->name),
		         LOG_S("delivery", delivery_id), LOG_I("ms", ms),
		         LOG_I("timeout_ms", s->cfg->timeout_ms));
}

static void attempt_start(struct dispatcher *d, struct slot *s,
                          const struct claim_row *row)
{
	struct attempt *a = attempt_new(d, s, row);
	char delivery_id[sizeof(a->delivery_id)];
	double started;

	if (a == NULL) {
		attempt_refused(d, s, row);
		return;
	}
	a->next = d->flight;
	if (d->flight != NULL)
		d->flight->prev = a;
	d->flight = a;
	d->nflight++;
	limiter_started(s->lim);
	s->gen->in_flight++;
	a->started = started = now_mono();
	a->started_us = now_us();
	after_ms(a->timer, s->cfg->timeout_ms + DEADLINE_GRACE_MS);
	/* done may come before deliver returns, and free a. */
	snprintf(delivery_id, sizeof(delivery_id), "%s", a->delivery_id);
	s->ops->deliver(s->state, &a->msg, on_done, a);
	check_blocked(s, delivery_id, started);
}

/* Claiming */

#define CLAIM_SINKS_MAX 256

/* Attempts that may start now, all sinks together. */
static int room_left(const struct dispatcher *d)
{
	return (int)d->gens->cfg->dispatch.concurrency - d->nflight;
}

/* The sinks of the current generation to claim for, with their caps. */
static int claim_plan(struct dispatcher *d, const char **names, int *caps,
                      size_t *n, double *wait_s)
{
	struct generation *g = d->gens;
	struct limiter *ls[CLAIM_SINKS_MAX];
	int all[CLAIM_SINKS_MAX], total;
	size_t k = 0;

	for (struct slot *s = g->slots; s && k < CLAIM_SINKS_MAX; s = s->next)
		ls[k++] = s->lim;
	total =
	    limiter_plan(ls, k, room_left(d), (int)g->cfg->dispatch.claim_max,
	                 now_mono(), all, wait_s);
	*n = 0;
	for (size_t i = 0; i < k; i++) {
		if (all[i] == 0)
			continue;
		names[*n] = ls[i]->name;
		caps[(*n)++] = all[i];
	}
	return total;
}

/* Claim up to caps[i] deliveries of sink names[i] and start them; how
 * many, or -1 when the database failed (the connection is dropped
 * then). */
static int claim_rows(struct dispatcher *d, const char **names, const int *caps,
                      size_t n, int total)
{
	struct claim_row *rows = calloc((size_t)total, sizeof(*rows));
	PGresult *res = NULL;
	char err[256];
	int got;

	got = rows ? dq_claim(d->conn, names, caps, n,
	                      d->gens->cfg->dispatch.lease_ms, d->owner, &res,
	                      rows, err, sizeof(err))
	           : -1;
	if (got < 0) {
		free(rows);
		reconnect_later(d, rows ? err : "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct slot *s = slot_named(d->gens, names[i]);
		int mine = 0;

		for (int r = 0; r < got; r++)
			mine += strcmp(rows[r].sink, names[i]) == 0;
		if (s != NULL)
			s->lim->maybe_more = mine == caps[i];
	}
	for (int r = 0; r < got; r++) {
		struct slot *s = slot_named(d->gens, rows[r].sink);

		/* Claimed for a sink of this generation, so always found. */
		if (s != NULL)
			attempt_start(d, s, &rows[r]);
	}
	PQclear(res);
	free(rows);
	return got;
}

/*
 * Seconds until the claim should look again, from the deliveries due
 * soonest of sinks that have room (retries and Retry-After included),
 * each no sooner than the sink's rate allows; -1 if nothing is waiting.
 * Sinks without room are looked at again when an attempt ends.
 *
 * A delivery due already, with a token for it, that the claim did not
 * take was held back by the claim's caps, is being claimed by another
 * process, or came due just after the claim looked. Only after a claim
 * that took some is it worth coming straight back; otherwise the
 * attempts holding the room bring the claim back as they end, and a
 * slow look covers the rest.
 */
static double next_due_s(struct dispatcher *d, bool due_now_too)
{
	const char *names[CLAIM_SINKS_MAX];
	struct limiter *ls[CLAIM_SINKS_MAX];
	int64_t ms[CLAIM_SINKS_MAX];
	double best = -1;
	char err[256];
	size_t n = 0;

	if (room_left(d) <= 0)
		return -1;
	for (struct slot *s = d->gens->slots; s && n < CLAIM_SINKS_MAX;
	     s = s->next) {
		if (s->lim->disabled ||
		    s->lim->in_flight >= s->lim->concurrency)
			continue;
		ls[n] = s->lim;
		names[n++] = s->cfg->name;
	}
	if (n == 0)
		return -1;
	if (!dq_next_due(d->conn, names, n, ms, err, sizeof(err))) {
		reconnect_later(d, err);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		double due = (double)ms[i] / 1000.0,
		       token = limiter_wait_s(ls[i]);

		if (ms[i] < 0)
			continue;
		if (token > due)
			due = token;
		if (due == 0 && !due_now_too)
			due = NOT_TAKEN_AGAIN_MS / 1000.0;
		if (best < 0 || due < best)
			best = due;
	}
	return best;
}

/* Come back after wait_s, or for what is due next, whichever is sooner;
 * the sweep covers anything later. */
static void arm_claim(struct dispatcher *d, double wait_s, bool claimed)
{
	double due = next_due_s(d, claimed);
	double next = wait_s > 0 ? wait_s : -1;
	int64_t ms;

	if (due >= 0 && (next < 0 || due < next))
		next = due;
	if (next < 0)
		return;
	ms = (int64_t)(next * 1000.0) + 1;
	if (ms < NEXT_DUE_MIN_MS)
		ms = NEXT_DUE_MIN_MS;
	if (ms < d->gens->cfg->dispatch.sweep_ms)
		after_ms(d->claim_ev, ms);
}

static void claim(struct dispatcher *d)
{
	const char *names[CLAIM_SINKS_MAX];
	int caps[CLAIM_SINKS_MAX];
	double wait_s;
	size_t n;
	int total, got = 0;

	if (d->stopping || d->conn == NULL || d->gens == NULL)
		return;
	total = claim_plan(d, names, caps, &n, &wait_s);
	if (total > 0 && (got = claim_rows(d, names, caps, n, total)) < 0)
		return;
	if (d->stopping || d->conn == NULL)
		return;
	arm_claim(d, wait_s, got > 0);
	/* A NOTIFY that came in during the queries is only in libpq now. */
	if (d->conn != NULL)
		drain_notifies(d);
}

static void on_claim(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	claim(arg);
}

static void schedule_claim(struct dispatcher *d)
{
	if (!d->stopping)
		event_active(d->claim_ev, EV_TIMEOUT, 0);
}

/* The connection */

static void drain_notifies(struct dispatcher *d)
{
	PGnotify *n;
	bool any = false;

	while ((n = PQnotifies(d->conn)) != NULL) {
		any = true;
		PQfreemem(n);
	}
	if (any)
		schedule_claim(d);
}

static void on_listen(evutil_socket_t fd, short what, void *arg)
{
	struct dispatcher *d = arg;

	(void)fd, (void)what;
	if (d->conn == NULL)
		return;
	if (PQconsumeInput(d->conn) != 1) {
		reconnect_later(d, PQerrorMessage(d->conn));
		return;
	}
	drain_notifies(d);
}

/* Which sinks an endpoint turned off; any turned on again are used. */
static void refresh_disabled(struct dispatcher *d)
{
	char err[256];
	PGresult *res = dq_disabled_sinks(d->conn, err, sizeof(err));

	if (res == NULL) {
		reconnect_later(d, err);
		return;
	}
	for (struct slot *s = d->gens->slots; s != NULL; s = s->next) {
		bool off = false;

		for (int i = 0; i < PQntuples(res); i++)
			off |= strcmp(PQgetvalue(res, i, 0), s->cfg->name) == 0;
		if (s->lim->disabled && !off)
			log_info("sink enabled again",
			         LOG_S("sink", s->cfg->name));
		s->lim->disabled = off;
	}
	PQclear(res);
}

static bool connect_db(struct dispatcher *d)
{
	char err[512];

	d->conn = db_connect(d->target, err, sizeof(err));
	if (d->conn == NULL || !dq_prepare(d->conn, err, sizeof(err)) ||
	    PQsetnonblocking(d->conn, 0) != 0) {
		log_warn("dispatcher cannot use the database",
		         LOG_S("error", err));
		PQfinish(d->conn);
		d->conn = NULL;
		return false;
	}
	d->listen_ev = event_new(d->base, PQsocket(d->conn),
	                         EV_READ | EV_PERSIST, on_listen, d);
	if (d->listen_ev == NULL || event_add(d->listen_ev, NULL) != 0) {
		PQfinish(d->conn);
		d->conn = NULL;
		return false;
	}
	d->backoff_ms = RECONNECT_MIN_MS;
	refresh_disabled(d);
	flush(d);
	schedule_claim(d);
	return d->conn != NULL;
}

static void on_reconnect(evutil_socket_t fd, short what, void *arg)
{
	struct dispatcher *d = arg;

	(void)fd, (void)what;
	if (d->conn == NULL && !connect_db(d))
		reconnect_later(d, NULL);
}

static void reconnect_later(struct dispatcher *d, const char *why)
{
	if (why != NULL)
		log_warn("dispatcher lost the database", LOG_S("error", why));
	if (d->listen_ev != NULL) {
		event_free(d->listen_ev);
		d->listen_ev = NULL;
	}
	PQfinish(d->conn);
	d->conn = NULL;
	if (!evtimer_pending(d->reconnect_ev, NULL))
		after_ms(d->reconnect_ev, d->backoff_ms);
	d->backoff_ms = d->backoff_ms * 2 > RECONNECT_MAX_MS
	                    ? RECONNECT_MAX_MS
	                    : d->backoff_ms * 2;
}

/* Why a configured sink's deliveries may outlive their max_age. */
static const char *stuck_because(struct dispatcher *d,
                                 const struct config_sink *k)
{
	const struct slot *s = slot_named(d->gens, k->name);

	if (!k->enabled)
		return "its sink is off in the configuration";
	if (s == NULL)
		return "its sink cannot be opened";
	if (s->lim->disabled)
		return "its sink was turned off by a 410 answer";
	return "not delivered in time";
}

static void policy_reason(char *out, size_t size, int64_t max_age_ms,
                          const char *why)
{
	char age[32];

	cfg_duration_text(max_age_ms, age, sizeof(age));
	snprintf(out, size, "older than max_age %s: %s", age, why);
}

static void log_expired(PGresult *res)
{
	for (int i = 0; i < PQntuples(res); i++)
		log_warn("delivery dead",
		         LOG_S("delivery", PQgetvalue(res, i, 0)),
		         LOG_S("event", PQgetvalue(res, i, 1)),
		         LOG_S("sink", PQgetvalue(res, i, 2)),
		         LOG_S("error", PQgetvalue(res, i, 3)));
}

/*
 * Deliveries can stay pending with nothing to end them: their sink is
 * off, was turned off by a 410, cannot be opened, or is gone from the
 * configuration. Those older than their sink's max_age die here, as do
 * any others that waited that long; a sink no longer configured gets
 * the default max_age.
 */
static void expire(struct dispatcher *d)
{
	const struct config *cfg = d->gens->cfg;
	const struct config_sink *k = cfg->sinks.items;
	struct dq_policy pol[ROUTES_SINKS_MAX], others;
	char why[ROUTES_SINKS_MAX + 1][160], err[256];
	size_t n = 0;
	PGresult *res;

	for (size_t i = 0; i < cfg->sinks.count && n < ROUTES_SINKS_MAX; i++) {
		policy_reason(why[n], sizeof(why[n]), k[i].max_age_ms,
		              stuck_because(d, &k[i]));
		pol[n] =
		    (struct dq_policy){ k[i].name, k[i].max_age_ms, why[n] };
		n++;
	}
	policy_reason(why[n], sizeof(why[n]), CONFIG_SINK_MAX_AGE_DEFAULT_MS,
	              "its sink is no longer configured");
	others =
	    (struct dq_policy){ NULL, CONFIG_SINK_MAX_AGE_DEFAULT_MS, why[n] };
	res = dq_expire(d->conn, pol, n, &others, EXPIRE_PER_SINK, err,
	                sizeof(err));
	if (res == NULL) {
		reconnect_later(d, err);
		return;
	}
	log_expired(res);
	PQclear(res);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct dispatcher *d = arg;

	(void)fd, (void)what;
	if (d->conn != NULL && PQstatus(d->conn) != CONNECTION_OK)
		reconnect_later(d, PQerrorMessage(d->conn));
	if (d->conn != NULL)
		refresh_disabled(d);
	if (d->conn != NULL)
		expire(d);
	if (d->conn != NULL)
		drain_notifies(d);
	claim(d);
	if (d->gens != NULL)
		after_ms(d->sweep_ev, d->gens->cfg->dispatch.sweep_ms);
}

/* Reload and stop, handed over from other threads */

static void adopt(struct dispatcher *d, struct config *cfg)
{
	struct generation *g = generation_new(d, cfg);

	config_unref(cfg);
	if (g == NULL) {
		log_error("dispatcher keeps its sinks: out of memory");
		return;
	}
	/* Attempts of the old sinks go on; the limiters they share with
	 * the new ones count them. */
	log_info("dispatcher uses the new configuration",
	         LOG_I("in_flight", d->nflight));
	g->next = d->gens;
	d->gens = g;
	reap_generations(d);
	schedule_claim(d);
}

static void give_back(struct dispatcher *d)
{
	const char **ids = calloc((size_t)d->nflight + 1, sizeof(char *));
	char err[256];
	size_t n = 0;

	/* A late attempt's outcome is recorded already. */
	for (struct attempt *a = d->flight; ids && a; a = a->next) {
		if (!a->late)
			ids[n++] = a->delivery_id;
	}
	if (n > 0 && d->conn != NULL &&
	    !dq_release(d->conn, ids, n, d->owner, err, sizeof(err)))
		log_warn("leases not given back; they run out instead",
		         LOG_S("error", err));
	if (n > 0)
		log_warn("stopping with deliveries unfinished",
		         LOG_I("count", (int64_t)n));
	free(ids);
}

static void finish_stop(struct dispatcher *d)
{
	flush(d);
	give_back(d);
	d->abandoning = true;
	event_base_loopexit(d->base, NULL);
}

/* Late attempts wait for their sink, not the stop. */
static void finish_stop_if_idle(struct dispatcher *d)
{
	if (d->nflight == d->nlate)
		finish_stop(d);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	finish_stop(arg);
}

static void begin_stop(struct dispatcher *d)
{
	d->stopping = true;
	event_del(d->claim_ev);
	event_del(d->sweep_ev);
	if (d->nflight == d->nlate) {
		finish_stop(d);
		return;
	}
	log_info("dispatcher waiting for deliveries in flight",
	         LOG_I("count", d->nflight - d->nlate));
	after_ms(d->deadline_ev, d->gens->cfg->listen.shutdown_timeout_ms);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct dispatcher *d = arg;
	struct config *cfg;
	bool stop;

	(void)fd, (void)what;
	pthread_mutex_lock(&d->mu);
	cfg = d->incoming;
	d->incoming = NULL;
	stop = d->stop_requested;
	pthread_mutex_unlock(&d->mu);
	if (cfg != NULL && !d->stopping)
		adopt(d, cfg);
	else
		config_unref(cfg);
	if (stop && !d->stopping)
		begin_stop(d);
}

/* The thread */

static bool make_events(struct dispatcher *d)
{
	d->wake = event_new(d->base, -1, 0, on_wake, d);
	d->claim_ev = evtimer_new(d->base, on_claim, d);
	d->sweep_ev = evtimer_new(d->base, on_sweep, d);
	d->flush_ev = evtimer_new(d->base, on_flush, d);
	d->reconnect_ev = evtimer_new(d->base, on_reconnect, d);
	d->deadline_ev = evtimer_new(d->base, on_deadline, d);
	return d->wake && d->claim_ev && d->sweep_ev && d->flush_ev &&
	       d->reconnect_ev && d->deadline_ev;
}

static void free_events(struct dispatcher *d)
{
	struct event *evs[] = { d->wake,     d->claim_ev,     d->sweep_ev,
		                d->flush_ev, d->reconnect_ev, d->deadline_ev,
		                d->listen_ev };

	for (size_t i = 0; i < sizeof(evs) / sizeof(*evs); i++) {
		if (evs[i] != NULL)
			event_free(evs[i]);
	}
}

/* Who holds a lease: host, process and a random part, so two processes
 * never take each other's leases for their own. */
static void make_owner(struct dispatcher *d)
{
	char host[64] = "herald";
	uint32_t r = 0;

	gethostname(host, sizeof(host) - 1);
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)time(NULL);
	snprintf(d->owner, sizeof(d->owner), "%s:%ld:%08x", host,
	         (long)getpid(), r);
}

static void *dispatcher_main(void *arg)
{
	struct dispatcher *d = arg;

	if (!connect_db(d))
		reconnect_later(d, NULL);
	after_ms(d->sweep_ev, d->gens->cfg->dispatch.sweep_ms);
	event_base_dispatch(d->base);

	/* Transfers still running end now, their attempts abandoned. */
	d->abandoning = true;
	curl_driver_free(d->curl);
	d->curl = NULL;
	while (d->gens != NULL) {
		struct generation *next = d->gens->next;

		generation_free(d->gens);
		d->gens = next;
	}
	while (d->flight != NULL) {
		struct attempt *a = d->flight;

		d->flight = a->next;
		attempt_free(a);
	}
	PQfinish(d->conn);
	d->conn = NULL;
	return NULL;
}

static void dispatcher_free(struct dispatcher *d)
{
	free_events(d);
	if (d->curl != NULL)
		curl_driver_free(d->curl);
	if (d->base != NULL)
		event_base_free(d->base);
	free(d->records);
	config_unref(d->incoming);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

struct dispatcher *dispatcher_start(struct config *cfg,
                                    const struct db_target *target,
                                    struct metrics *metrics, char *err,
                                    size_t size)
{
	struct dispatcher *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&d->mu, NULL);
	d->target = target;
	d->metrics = metrics;
	d->backoff_ms = RECONNECT_MIN_MS;
	make_owner(d);
	evthread_use_pthreads();
	d->base = event_base_new();
	d->curl = d->base ? curl_driver_new(d->base) : NULL;
	if (d->curl == NULL || !make_events(d) ||
	    (d->gens = generation_new(d, cfg)) == NULL ||
	    pthread_create(&d->thread, NULL, dispatcher_main, d) != 0) {
		snprintf(err, size, "cannot start the dispatch thread");
		if (d->gens != NULL)
			generation_free(d->gens);
		dispatcher_free(d);
		return NULL;
	}
	return d;
}

void dispatcher_reload(struct dispatcher *d, struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&d->mu);
	old = d->incoming;
	d->incoming = config_ref(cfg);
	pthread_mutex_unlock(&d->mu);
	config_unref(old);
	event_active(d->wake, EV_READ, 0);
}

void dispatcher_stop(struct dispatcher *d)
{
	if (d == NULL)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop_requested = true;
	pthread_mutex_unlock(&d->mu);
	event_active(d->wake, EV_READ, 0);
	pthread_join(d->thread, NULL);
	dispatcher_free(d);
}
