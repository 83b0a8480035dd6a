/*
 * Prometheus metrics in the text exposition format.
 *
 * Counters with labels belong to the ingest thread, which alone updates
 * and reads them. Histograms are lock-free (atomic counts), so the writer
 * thread observes into them directly. Gauges are read at scrape time from
 * whoever owns the value, through a callback.
 */
#ifndef HERALD_METRICS_H
#define HERALD_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define METRICS_BUCKETS_MAX 16

struct histogram {
	const double *bounds; /* upper bounds, ascending */
	size_t n;
	atomic_uint_fast64_t counts[METRICS_BUCKETS_MAX + 1];
	atomic_uint_fast64_t sum_micros; /* sum of observations, x 1e6 */
};

struct metrics;

/* A new registry; NULL on no memory. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Ingest thread only. */
void metrics_request(struct metrics *m, const char *route, int status);
void metrics_event(struct metrics *m, const char *source, const char *type,
                   const char *outcome);

/* Any thread. */
void histogram_observe(struct histogram *h, double v);
void metrics_delivery(struct metrics *m, const char *sink, const char *status);
void metrics_sink_disabled(struct metrics *m, const char *sink);
/* Seconds from an event's arrival to the end of the attempt that
 * delivered it; once per delivery, when it is delivered. */
void metrics_delivery_latency(struct metrics *m, double seconds);
struct histogram *metrics_batch_size(struct metrics *m);
struct histogram *metrics_commit_seconds(struct metrics *m);

/* Values read at scrape time. */
struct metrics_gauges {
	double queue_events;
	double database_up;
	double connections;
	double in_flight;
};

/* Write the whole exposition into out. */
void metrics_render(struct metrics *m, const struct metrics_gauges *g,
                    struct buf *out);

#endif
