/*
 * The plugin sink: a shared object exporting herald_sink_plugin_v1 (see
 * include/herald/sink_plugin.h), loaded once per sink with dlopen. The
 * configured template, if any, is rendered and handed over as the body.
 *
 * Calls the plugin has not answered are kept in a list: the dispatcher
 * stops waiting for one at its deadline, but its memory is the plugin's
 * to hand back, through done or, at the latest, by closing.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "herald/sink_plugin.h"
#include "sinks/kinds.h"

struct plugin_call;

struct plugin_sink {
	const struct config_sink *cfg;
	const struct sink_env *env;
	void *handle;
	const struct herald_sink_plugin *api;
	void *instance;
	struct plugin_call *calls; /* not answered yet */
};

struct plugin_call {
	struct plugin_call *prev, *next;
	struct plugin_sink *sink;
	sink_done_fn done;
	void *arg;
	char *body;
};

static void call_free(struct plugin_call *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->sink->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c->body);
	free(c);
}

static bool load(struct plugin_sink *s, char *err, size_t size)
{
	s->handle = dlopen(s->cfg->path, RTLD_NOW | RTLD_LOCAL);
	if (s->handle == NULL) {
		snprintf(err, size, "cannot load plugin: %s", dlerror());
		return false;
	}
	s->api = dlsym(s->handle, "herald_sink_plugin_v1");
	if (s->api == NULL) {
		snprintf(err, size, "%s exports no herald_sink_plugin_v1",
		         s->cfg->path);
		return false;
	}
	if (s->api->abi != HERALD_SINK_PLUGIN_ABI) {
		snprintf(err, size,
		         "%s has plugin ABI version %u; this herald needs %u",
		         s->cfg->path, (unsigned)s->api->abi,
		         (unsigned)HERALD_SINK_PLUGIN_ABI);
		return false;
	}
	if (s->api->open == NULL || s->api->deliver == NULL ||
	    s->api->close == NULL) {
		snprintf(err, size, "%s lacks open, deliver or close",
		         s->cfg->path);
		return false;
	}
	return true;
}

static void *plugin_open(const struct config_sink *cfg,
                         const struct sink_env *env, char *err, size_t size)
{
	struct plugin_sink *s = calloc(1, sizeof(*s));
	char *settings;

	if (s == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->env = env;
	settings = json_dumps(cfg->settings ? cfg->settings : json_null(),
	                      JSON_COMPACT | JSON_ENCODE_ANY);
	if (settings != NULL && load(s, err, size))
		s->instance = s->api->open(settings, err, size);
	free(settings);
	if (s->instance == NULL) {
		if (s->handle != NULL)
			dlclose(s->handle);
		free(s);
		return NULL;
	}
	return s;
}

static void on_plugin_done(void *token, int outcome, long retry_after_ms,
                           const char *error)
{
	struct plugin_call *c = token;
	struct sink_result r = { .retry_after_ms = -1 };
	sink_done_fn done;
	void *arg;

	r.outcome = outcome == HERALD_PLUGIN_DELIVERED ? SINK_DELIVERED
	            : outcome == HERALD_PLUGIN_RETRY   ? SINK_RETRY
	                                               : SINK_FAILED;
	if (outcome == HERALD_PLUGIN_RETRY && retry_after_ms >= 0)
		r.retry_after_ms = retry_after_ms;
	if (error != NULL)
		snprintf(r.error, sizeof(r.error), "%s", error);
	done = c->done;
	arg = c->arg;
	call_free(c);
	done(arg, &r);
}

static void plugin_deliver(void *state, const struct sink_message *msg,
                           sink_done_fn done, void *arg)
{
	struct plugin_sink *s = state;
	struct plugin_call *c = calloc(1, sizeof(*c));
	struct sink_result r = { .retry_after_ms = -1 };
	struct herald_plugin_message m;
	size_t len;

	if (c == NULL) {
		sink_result_set(&r, SINK_RETRY, "out of memory");
		done(arg, &r);
		return;
	}
	c->sink = s;
	c->done = done;
	c->arg = arg;
	c->next = s->calls;
	if (s->calls != NULL)
		s->calls->prev = c;
	s->calls = c;
	if (s->cfg->template != NULL &&
	    !sink_render(s->env, s->cfg->template, "plugin", msg, "json", false,
	                 &c->body, &len, &r)) {
		call_free(c);
		done(arg, &r);
		return;
	}
	m = (struct herald_plugin_message){ .delivery_id = msg->delivery_id,
		                            .event_id = msg->event_id,
		                            .event_type = msg->event_type,
		                            .attempt = msg->attempt,
		                            .event_json = msg->event_json,
		                            .body = c->body };
	s->api->deliver(s->instance, &m, on_plugin_done, c);
}

static void plugin_close(void *state)
{
	struct plugin_sink *s = state;

	s->api->close(s->instance);
	/* The plugin answers none of these any more. */
	while (s->calls != NULL)
		call_free(s->calls);
	dlclose(s->handle);
	free(s);
}

const struct sink_ops sink_plugin_ops = {
	.kind = "plugin",
	.open = plugin_open,
	.deliver = plugin_deliver,
	.close = plugin_close,
};
