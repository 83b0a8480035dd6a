#include "metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"
#include "version.h"

/* Distinct label sets kept per family; more are counted as "other", so a
 * source that invents event types cannot grow memory without bound. */
#define LABEL_SETS_MAX 256

struct counter {
	char *a;
	char *b;
	char *c;
	uint64_t value;
};

struct family {
	struct counter *items;
	size_t count;
	size_t cap;
};

struct metrics {
	struct family requests; /* route, status */
	struct family events;   /* source, type, outcome */
	struct histogram batch_size;
	struct histogram commit_seconds;

	/* Updated by the dispatch thread, read by the ingest thread. */
	pthread_mutex_t mu;
	struct family deliveries; /* sink, status */
	struct family disabled;   /* sink */
	struct histogram delivery_latency;
};

static const double batch_bounds[] = { 1,  2,   4,   8,   16,  32,
	                               64, 128, 256, 512, 1024 };
/* Up to an hour: a delivery retried a few times takes minutes. */
static const double latency_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
	                                 0.5,   1,    2.5,   5,    10,  30,
	                                 60,    300,  900,   3600 };
static const double commit_bounds[] = {
	0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};

struct metrics *metrics_new(void)
{
	struct metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->batch_size.bounds = batch_bounds;
	m->batch_size.n = sizeof(batch_bounds) / sizeof(double);
	m->commit_seconds.bounds = commit_bounds;
	m->commit_seconds.n = sizeof(commit_bounds) / sizeof(double);
	m->delivery_latency.bounds = latency_bounds;
	m->delivery_latency.n = sizeof(latency_bounds) / sizeof(double);
	pthread_mutex_init(&m->mu, NULL);
	return m;
}

static void family_free(struct family *f)
{
	for (size_t i = 0; i < f->count; i++) {
		free(f->items[i].a);
		free(f->items[i].b);
		free(f->items[i].c);
	}
	free(f->items);
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	family_free(&m->requests);
	family_free(&m->events);
	family_free(&m->deliveries);
	family_free(&m->disabled);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool same(const char *x, const char *y)
{
	return strcmp(x ? x : "", y ? y : "") == 0;
}

static struct counter *find(struct family *f, const char *a, const char *b,
                            const char *c)
{
	for (size_t i = 0; i < f->count; i++) {
		struct counter *k = &f->items[i];

		if (same(k->a, a) && same(k->b, b) && same(k->c, c))
			return k;
	}
	return NULL;
}

static struct counter *add(struct family *f, const char *a, const char *b,
                           const char *c)
{
	struct counter *k;

	if (f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		void *items = realloc(f->items, cap * sizeof(*f->items));

		if (items == NULL)
			return NULL;
		f->items = items;
		f->cap = cap;
	}
	k = &f->items[f->count];
	k->a = strdup(a ? a : "");
	k->b = strdup(b ? b : "");
	k->c = strdup(c ? c : "");
	k->value = 0;
	if (k->a == NULL || k->b == NULL || k->c == NULL) {
		free(k->a);
		free(k->b);
		free(k->c);
		return NULL;
	}
	f->count++;
	return k;
}

static void count(struct family *f, const char *a, const char *b, const char *c)
{
	struct counter *k = find(f, a, b, c);

	if (k == NULL && f->count >= LABEL_SETS_MAX) {
		a = "other", b = "other";
		k = find(f, a, b, c);
	}
	if (k == NULL)
		k = add(f, a, b, c);
	if (k != NULL)
		k->value++;
}

void metrics_request(struct metrics *m, const char *route, int status)
{
	char s[8];

	snprintf(s, sizeof(s), "%d", status);
	count(&m->requests, route ? route : "none", s, NULL);
}

void metrics_event(struct metrics *m, const char *source, const char *type,
                   const char *outcome)
{
	count(&m->events, source, type ? type : "", outcome);
}

void metrics_delivery(struct metrics *m, const char *sink, const char *status)
{
	pthread_mutex_lock(&m->mu);
	count(&m->deliveries, sink, status, NULL);
	pthread_mutex_unlock(&m->mu);
}

void metrics_sink_disabled(struct metrics *m, const char *sink)
{
	pthread_mutex_lock(&m->mu);
	count(&m->disabled, sink, NULL, NULL);
	pthread_mutex_unlock(&m->mu);
}

void metrics_delivery_latency(struct metrics *m, double seconds)
{
	histogram_observe(&m->delivery_latency, seconds < 0 ? 0 : seconds);
}

void histogram_observe(struct histogram *h, double v)
{
	size_t i = 0;

	while (i < h->n && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_micros, (uint_fast64_t)(v * 1e6),
	                          memory_order_relaxed);
}

struct histogram *metrics_batch_size(struct metrics *m)
{
	return &m->batch_size;
}

struct histogram *metrics_commit_seconds(struct metrics *m)
{
	return &m->commit_seconds;
}

/* Exposition */

static void label_value(struct buf *out, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	while (*p) {
		size_t n = utf8_valid_prefix(p);

		if (*p == '\\' || *p == '"')
			buf_printf(out, "\\%c", *p);
		else if (*p == '\n')
			buf_puts(out, "\\n");
		else if (n == 0)
			buf_putc(out, '?');
		else
			buf_put(out, p, n);
		p += n ? n : 1;
	}
}

static void header(struct buf *out, const char *name, const char *type,
                   const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void labels(struct buf *out, const char *const names[],
                   const struct counter *k)
{
	const char *values[] = { k->a, k->b, k->c };

	buf_putc(out, '{');
	for (size_t i = 0; i < 3 && names[i]; i++) {
		buf_printf(out, "%s%s=\"", i ? "," : "", names[i]);
		label_value(out, values[i]);
		buf_putc(out, '"');
	}
	buf_putc(out, '}');
}

static void family_render(struct buf *out, const struct family *f,
                          const char *name, const char *help,
                          const char *const label_names[])
{
	header(out, name, "counter", help);
	for (size_t i = 0; i < f->count; i++) {
		buf_puts(out, name);
		labels(out, label_names, &f->items[i]);
		buf_printf(out, " %llu\n",
		           (unsigned long long)f->items[i].value);
	}
}

static void histogram_render(struct buf *out, struct histogram *h,
                             const char *name, const char *help)
{
	uint64_t total = 0;

	header(out, name, "histogram", help);
	for (size_t i = 0; i <= h->n; i++) {
		total += atomic_load(&h->counts[i]);
		if (i < h->n)
			buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
			           h->bounds[i], (unsigned long long)total);
		else
			buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			           (unsigned long long)total);
	}
	buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
	           (double)atomic_load(&h->sum_micros) / 1e6, name,
	           (unsigned long long)total);
}

static void gauge(struct buf *out, const char *name, const char *help, double v)
{
	header(out, name, "gauge", help);
	buf_printf(out, "%s %g\n", name, v);
}

void metrics_render(struct metrics *m, const struct metrics_gauges *g,
                    struct buf *out)
{
	static const char *const request_labels[] = { "route", "status", NULL };
	static const char *const event_labels[] = { "source", "type",
		                                    "outcome" };
	static const char *const delivery_labels[] = { "sink", "status", NULL };
	static const char *const sink_labels[] = { "sink", NULL, NULL };

	header(out, "herald_build_info", "gauge",
	       "Herald's version, as a label.");
	buf_printf(out, "herald_build_info{version=\"%s\"} 1\n",
	           HERALD_VERSION);
	family_render(out, &m->requests, "herald_http_requests_total",
	              "HTTP requests answered, by route and status.",
	              request_labels);
	family_render(out, &m->events, "herald_events_total",
	              "Events received, by source, type and outcome.",
	              event_labels);
	histogram_render(out, &m->batch_size, "herald_writer_batch_events",
	                 "Events written per transaction.");
	histogram_render(out, &m->commit_seconds,
	                 "herald_writer_commit_seconds",
	                 "Time from BEGIN to the end of COMMIT of a batch.");
	pthread_mutex_lock(&m->mu);
	family_render(out, &m->deliveries, "herald_deliveries_total",
	              "Delivery attempts, by sink and the delivery's status "
	              "after them.",
	              delivery_labels);
	family_render(out, &m->disabled, "herald_sinks_disabled_total",
	              "Times an endpoint answered 410 and its sink was "
	              "turned off.",
	              sink_labels);
	pthread_mutex_unlock(&m->mu);
	histogram_render(out, &m->delivery_latency,
	                 "herald_delivery_latency_seconds",
	                 "Time from an event's arrival to the end of the "
	                 "attempt that delivered it to a sink, retries "
	                 "included; one observation per delivery "
	                 "delivered.");
	gauge(out, "herald_writer_queue_events",
	      "Events waiting for the writer.", g->queue_events);
	gauge(out, "herald_database_up",
	      "1 if the database is reachable and its schema current.",
	      g->database_up);
	gauge(out, "herald_http_connections", "Open client connections.",
	      g->connections);
	gauge(out, "herald_http_requests_in_flight",
	      "Requests received and not answered yet.", g->in_flight);
}
