/*
 * The interface every sink kind implements: open with its configuration,
 * deliver one message, close. Delivery is asynchronous: deliver starts the
 * work on the dispatcher's event loop and calls done exactly once, later
 * or before it returns, with the outcome.
 *
 * Everything here runs on the dispatch thread. A sink borrows the
 * environment and its configuration for as long as it is open; a message
 * is borrowed until done is called. The dispatcher stops waiting for
 * done a second after the sink's timeout (see dispatcher.c), so a sink
 * ends its own attempts at the timeout, with a clearer error.
 */
#ifndef HERALD_SINKS_SINK_H
#define HERALD_SINKS_SINK_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config_sink;
struct curl_driver;
struct tmpl_store;

enum sink_outcome {
	SINK_DELIVERED,
	SINK_RETRY,  /* try again later, after retry_after_ms if set */
	SINK_FAILED, /* for good: retrying would not help */
	SINK_GONE,   /* the endpoint is gone (410): stop using the sink */
};

#define SINK_RESPONSE_MAX 1024

struct sink_result {
	enum sink_outcome outcome;
	int64_t retry_after_ms;               /* -1 when not given */
	long http_status;                     /* 0 when not HTTP */
	char error[256];                      /* why, when not delivered */
	char response[SINK_RESPONSE_MAX + 1]; /* first KiB of the answer */
};

/* What a sink needs from the dispatcher. */
struct sink_env {
	struct event_base *base;
	struct curl_driver *curl;
	struct tmpl_store *templates;
	const char *public_url; /* may be NULL */
};

/* One delivery attempt. event is the template data (see
 * dispatch/message.h); event_json is the same as compact text. */
struct sink_message {
	const char *delivery_id; /* the same on every retry */
	const char *event_id;
	const char *event_type;
	int attempt; /* 1 for the first */
	json_t *event;
	const char *event_json;
};

typedef void (*sink_done_fn)(void *arg, const struct sink_result *r);

struct sink_ops {
	const char *kind;
	/* A new instance for cfg, or NULL with the reason in err. */
	void *(*open)(const struct config_sink *cfg, const struct sink_env *env,
	              char *err, size_t size);
	void (*deliver)(void *sink, const struct sink_message *msg,
	                sink_done_fn done, void *arg);
	/* Called when nothing is in flight any more, or when Herald
	 * stops: attempts still running then end without done. */
	void (*close)(void *sink);
};

/* The implementation for cfg's kind. */
const struct sink_ops *sink_ops_for(const struct config_sink *cfg);

/* Helpers for implementations. */

/* The state of a sink that needs no more than its configuration and the
 * environment (slack, http): what sink_basic_open returns. */
struct sink_basic {
	const struct config_sink *cfg;
	const struct sink_env *env;
};

void *sink_basic_open(const struct config_sink *cfg, const struct sink_env *env,
                      char *err, size_t size);
void sink_basic_close(void *sink);

/* Fill r as the given outcome with a formatted error. */
void sink_result_set(struct sink_result *r, enum sink_outcome outcome,
                     const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy up to SINK_RESPONSE_MAX bytes of an answer into r, NUL-terminated,
 * with bytes that are not printable UTF-8 replaced. */
void sink_result_response(struct sink_result *r, const char *data, size_t len);

/* The outcome of an HTTP status per Standard Webhooks practice: 2xx
 * delivered, 410 gone, 408/425/429/5xx retry, anything else (3xx
 * included: redirects are not followed) failed. */
enum sink_outcome sink_http_outcome(long status);

/*
 * Render the configured template, or the kind's default for the event type
 * and part ("json", "txt"), over msg's event. On failure r is set to
 * SINK_FAILED with a message naming the template: retrying a broken
 * template would not help.
 */
bool sink_render(const struct sink_env *env, const char *configured,
                 const char *kind, const struct sink_message *msg,
                 const char *part, bool header, char **out, size_t *len,
                 struct sink_result *r) __attribute__((warn_unused_result));

/* Seconds or an HTTP date of a Retry-After value, as milliseconds from
 * now; -1 if it is neither. */
int64_t sink_parse_retry_after(const char *value);

#endif
