/*
 * Which sinks an event goes to. Routes are tried in the order of the
 * configuration; a route matches when all its matchers do (a route with
 * none matches everything), adds its sinks, and ends the search unless it
 * says "continue". A label that is absent matches as the empty string, as
 * in Alertmanager. Sinks that are disabled in the configuration receive
 * nothing.
 */
#ifndef HERALD_ROUTES_H
#define HERALD_ROUTES_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"

struct config;

/* Sinks a configuration may name, so one event's deliveries have a
 * bound known before any is matched. */
#define ROUTES_SINKS_MAX 64

struct route_input {
	const char *source;
	const char *event_type;
	const char *deployment_id; /* may be NULL */
	const char *severity;      /* may be NULL */
	json_t *labels;            /* may be NULL */
};

struct route_hit {
	const char *sink;  /* borrowed from the configuration */
	const char *route; /* its name, or NULL */
};

/* The sinks for in, each once, in route order; returns how many were
 * written to out (at most max). */
size_t routes_match(const struct config *cfg, const struct route_input *in,
                    struct route_hit *out, size_t max);

/* A human account of routing in, route by route, for `routes test`. */
void routes_explain(const struct config *cfg, const struct route_input *in,
                    struct buf *out);

#endif
