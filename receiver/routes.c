#include "routes.h"

#include <regex.h>
#include <string.h>

#include "config/config.h"

static const char *field_value(const struct route_input *in, const char *field)
{
	const char *v = NULL;

	if (strcmp(field, "source") == 0)
		v = in->source;
	else if (strcmp(field, "event_type") == 0)
		v = in->event_type;
	else if (strcmp(field, "deployment_id") == 0)
		v = in->deployment_id;
	else if (strcmp(field, "severity") == 0)
		v = in->severity;
	else if (strncmp(field, "labels.", 7) == 0)
		v = json_string_value(json_object_get(in->labels, field + 7));
	return v ? v : "";
}

static bool matcher_holds(const struct config_matcher *m,
                          const struct route_input *in)
{
	const char *v = field_value(in, m->field);

	switch (m->op) {
	case CONFIG_MATCH_EQ: return strcmp(v, m->value) == 0;
	case CONFIG_MATCH_NE: return strcmp(v, m->value) != 0;
	case CONFIG_MATCH_RE: return regexec(m->regex, v, 0, NULL, 0) == 0;
	case CONFIG_MATCH_NRE: return regexec(m->regex, v, 0, NULL, 0) != 0;
	}
	return false;
}

/* The first matcher of r that fails, or NULL if r matches. */
static const struct config_matcher *first_miss(const struct config_route *r,
                                               const struct route_input *in)
{
	for (size_t i = 0; i < r->nmatchers; i++) {
		if (!matcher_holds(&r->matchers[i], in))
			return &r->matchers[i];
	}
	return NULL;
}

static bool already(const struct route_hit *out, size_t n, const char *sink)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(out[i].sink, sink) == 0)
			return true;
	}
	return false;
}

size_t routes_match(const struct config *cfg, const struct route_input *in,
                    struct route_hit *out, size_t max)
{
	const struct config_route *routes = cfg->routes.items;
	size_t n = 0;

	for (size_t i = 0; i < cfg->routes.count; i++) {
		const struct config_route *r = &routes[i];

		if (first_miss(r, in) != NULL)
			continue;
		for (size_t k = 0; k < r->sinks.count && n < max; k++) {
			const char *name = r->sinks.items[k];
			const struct config_sink *s = config_sink(cfg, name);

			if (s != NULL && s->enabled && !already(out, n, name))
				out[n++] = (struct route_hit){ name, r->name };
		}
		if (!r->cont)
			break;
	}
	return n;
}

void routes_explain(const struct config *cfg, const struct route_input *in,
                    struct buf *out)
{
	const struct config_route *routes = cfg->routes.items;

	for (size_t i = 0; i < cfg->routes.count; i++) {
		const struct config_route *r = &routes[i];
		const struct config_matcher *miss = first_miss(r, in);

		buf_printf(out, "route %zu%s%s: ", i + 1, r->name ? " " : "",
		           r->name ? r->name : "");
		if (miss != NULL) {
			buf_printf(out, "no match: %s is \"%s\", not %s%s\n",
			           miss->field, field_value(in, miss->field),
			           miss->op == CONFIG_MATCH_EQ   ? "= "
			           : miss->op == CONFIG_MATCH_NE ? "!= "
			           : miss->op == CONFIG_MATCH_RE ? "=~ "
			                                         : "!~ ",
			           miss->value);
			continue;
		}
		buf_puts(out, "matches; sinks");
		for (size_t k = 0; k < r->sinks.count; k++) {
			const struct config_sink *s =
			    config_sink(cfg, r->sinks.items[k]);

			buf_printf(out, " %s%s", r->sinks.items[k],
			           s && !s->enabled ? " (disabled)" : "");
		}
		buf_puts(out, r->cont ? "; continuing\n" : "; stopping\n");
		if (!r->cont)
			return;
	}
}
