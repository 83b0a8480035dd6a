/*
 * Herald sink plugins: a shared object that Herald loads with dlopen and
 * uses like a built-in sink. It exports one symbol,
 *
 *     const struct herald_sink_plugin herald_sink_plugin_v1;
 *
 * whose abi field must be HERALD_SINK_PLUGIN_ABI. Herald refuses a plugin
 * with another ABI version, naming both, when the configuration is
 * loaded.
 *
 * Everything runs on Herald's dispatch thread. deliver must not block: it
 * either finishes at once and calls done before returning, or starts work
 * of its own and calls done later from that thread. done is called exactly
 * once per delivery, and never after close. Strings handed to the plugin
 * are valid until done is called (settings_json until close).
 *
 * done must come within the sink's timeout. Herald waits one second more,
 * then records the attempt as one to retry and ignores what done says
 * later; the call keeps its place in the sink's concurrency until done
 * comes or the plugin is closed. A deliver that blocks cannot be cut
 * short: Herald logs how long it held the dispatch thread, and every
 * other delivery waits meanwhile.
 */
#ifndef HERALD_SINK_PLUGIN_H
#define HERALD_SINK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#define HERALD_SINK_PLUGIN_ABI 1

/* Put before the definition of herald_sink_plugin_v1, so that it stays
 * visible when the plugin hides its other symbols. */
#define HERALD_SINK_PLUGIN_EXPORT __attribute__((visibility("default")))

enum herald_plugin_outcome {
	HERALD_PLUGIN_DELIVERED = 0,
	HERALD_PLUGIN_RETRY = 1, /* later; after retry_after_ms if >= 0 */
	HERALD_PLUGIN_FAILED = 2,
};

struct herald_plugin_message {
	const char *delivery_id; /* the same on every retry */
	const char *event_id;
	const char *event_type;
	int attempt;            /* 1 for the first */
	const char *event_json; /* the template data of the event */
	const char *body;       /* the rendered template, or NULL */
};

typedef void (*herald_plugin_done)(void *token, int outcome,
                                   long retry_after_ms, const char *error);

struct herald_sink_plugin {
	uint32_t abi;
	const char *name;
	/* A new instance from the sink's "settings" (JSON text, "null" when
	 * absent); NULL with a reason in err. */
	void *(*open)(const char *settings_json, char *err, size_t size);
	void (*deliver)(void *instance, const struct herald_plugin_message *msg,
	                herald_plugin_done done, void *token);
	void (*close)(void *instance);
};

#endif
