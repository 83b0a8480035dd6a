/*
 * Herald's configuration: one JSON file, read once, immutable afterwards.
 *
 * A loaded configuration is reference counted. Every thread that works
 * with it holds a reference for the length of a unit of work; a reload
 * builds a whole new one and swaps the pointer, and the old one is freed
 * when its last holder lets go. Nothing in it is ever written after
 * config_load returns.
 */
#ifndef HERALD_CONFIG_H
#define HERALD_CONFIG_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/schema.h"
#include "util/arena.h"

enum config_tls_version {
	CONFIG_TLS_1_2,
	CONFIG_TLS_1_3,
};

struct config_listen {
	const char *address;
	int64_t port;
	int64_t backlog;
	int64_t max_connections;
	int64_t request_timeout_ms; /* whole request, headers and body */
	int64_t idle_timeout_ms;    /* keep-alive between requests */
	int64_t shutdown_timeout_ms;
	int64_t max_header_size;
	int64_t max_body_size;
};

struct config_tls {
	const char *cert_file;
	const char *key_file;
	bool self_signed; /* generate cert_file and key_file if missing */
	int min_version;  /* enum config_tls_version */
};

struct config_embedded {
	const char *bin_dir; /* PostgreSQL programs; found when NULL */
	const char *user;    /* runs the cluster when Herald runs as root */
};

struct config_database {
	const char *url; /* libpq URI or key=value; NULL: embedded cluster */
	const char *password;
	int64_t connect_timeout_ms;
	int64_t query_timeout_ms; /* the writer's wait for one answer */
	bool migrate_on_start;
	struct config_embedded embedded;
};

struct config_log {
	int level;  /* enum log_level */
	int format; /* enum log_format */
};

struct sig_secret;

struct config_ingest {
	int64_t queue_size;     /* events waiting for the writer, at most */
	int64_t batch_max;      /* events per transaction, at most */
	int64_t retry_after_ms; /* what a 503 tells clients to wait */
};

/* Where a field of an event comes from: one of the three is set. */
struct config_field {
	const char *pointer; /* JSON pointer into the body */
	const char *header;  /* a request header */
	const char *value;   /* a constant */
};

enum config_auth {
	CONFIG_AUTH_STANDARD_WEBHOOKS,
	CONFIG_AUTH_BEARER,
};

struct config_generic {
	const char *name;
	int auth;                   /* enum config_auth */
	struct cfg_strings secrets; /* Standard Webhooks, whsec_... */
	struct cfg_strings tokens;  /* bearer */
	struct config_field event_type;
	struct config_field deployment_id;
	struct config_field severity;
	struct cfg_strings store_headers;

	/* Derived: the decoded secrets. */
	struct sig_secret *keys;
	size_t nkeys;
};

struct config_alertmanager {
	struct cfg_strings tokens; /* bearer */
	const char *username;      /* basic */
	const char *password;
	const char *deployment_label;
	const char *severity_label;
};

struct config_sources {
	struct config_alertmanager alertmanager;
	struct cfg_array generic; /* of struct config_generic */
};

enum config_match_op {
	CONFIG_MATCH_EQ,  /* = */
	CONFIG_MATCH_NE,  /* != */
	CONFIG_MATCH_RE,  /* =~, the whole value must match */
	CONFIG_MATCH_NRE, /* !~ */
};

/* One matcher of a route: "event_type=X", "labels.team=~core|infra". */
struct config_matcher {
	const char *field; /* source, event_type, deployment_id, severity,
	                      or labels.NAME */
	int op;            /* enum config_match_op */
	const char *value;
	void *regex; /* regex_t for =~ and !~, owned by the config */
};

struct config_route {
	const char *name;
	struct cfg_strings match; /* as written */
	struct cfg_strings sinks;
	bool cont; /* keep matching after this route */

	/* Derived from match. */
	struct config_matcher *matchers;
	size_t nmatchers;
};

enum config_sink_kind {
	CONFIG_SINK_SLACK,
	CONFIG_SINK_EMAIL,
	CONFIG_SINK_HTTP,
	CONFIG_SINK_COMMAND,
	CONFIG_SINK_PLUGIN,
};

enum config_smtp_tls {
	CONFIG_SMTP_STARTTLS,
	CONFIG_SMTP_IMPLICIT,
};

/* The default of a sink's max_age, which also applies to deliveries of
 * a sink no longer configured; the two forms must agree. */
#define CONFIG_SINK_MAX_AGE_DEFAULT    "24h"
#define CONFIG_SINK_MAX_AGE_DEFAULT_MS (24LL * 3600 * 1000)

struct config_sink {
	const char *name;
	int kind; /* enum config_sink_kind */
	bool enabled;

	/* Delivery policy, every kind. */
	int64_t timeout_ms;
	int64_t concurrency; /* attempts in flight at once */
	double rate;         /* attempts per second, 0: unlimited */
	int64_t max_attempts;
	int64_t max_age_ms;
	int64_t retry_base_ms;
	int64_t retry_max_ms;
	const char *rate_text; /* "1/s", "30/m" */

	/* Templates: file names under templates_dir; empty means the
	 * default for the kind and event type. */
	const char *template; /* slack, http, command stdin */
	const char *subject;  /* email */
	const char *text;     /* email */
	const char *html;     /* email */

	/* slack, http */
	const char *url;           /* secret: it carries credentials */
	const char *method;        /* http */
	struct cfg_strmap headers; /* http; secret values */
	const char *secret;        /* http: Standard Webhooks signing */
	const char *ca_file;

	/* email */
	const char *smtp_url; /* smtp://host:587 or smtps://host:465 */
	int smtp_tls;         /* enum config_smtp_tls */
	const char *username;
	const char *password;
	const char *from;
	struct cfg_strings to;

	/* command */
	struct cfg_strings argv;
	struct cfg_strmap env;

	/* plugin */
	const char *path;
	json_t *settings;

	/* Derived: the decoded signing secret of an http sink. */
	struct sig_secret *key;
};

/*
 * How much longer than the longest sink timeout dispatch.lease must be.
 * Besides the attempt itself the lease covers the dispatcher's own
 * deadline (a second past the timeout), starting the attempt after the
 * claim, and recording its outcome, reconnecting at the longest backoff
 * (5 s) if the connection was lost meanwhile. An outcome recorded later
 * is still kept, but another process may have sent the delivery again.
 */
#define CONFIG_LEASE_MARGIN_MS 10000

struct config_dispatch {
	int64_t concurrency; /* attempts in flight at once, all sinks */
	int64_t lease_ms;    /* how long a claimed delivery stays ours */
	int64_t sweep_ms;    /* look for due deliveries at least this often */
	int64_t claim_max;   /* deliveries claimed per query */
};

struct config_abacus_alert {
	const char *name;
	json_t *condition; /* conditionConfig, as the API takes it */
	struct cfg_strings recipients;
	const char *email_body;
};

struct config_abacus_deployment {
	const char *id;
	struct cfg_strings events; /* webhook event types */
	json_t *payload;           /* merged into each payloadTemplate */
	struct cfg_array alerts;   /* of struct config_abacus_alert */
};

struct config_abacus {
	const char *api_url;
	const char *api_key;
	const char *ca_file;
	int64_t timeout_ms;
	bool register_on_start;
	int64_t poll_interval_ms;
	struct cfg_array deployments; /* of struct config_abacus_deployment */
};

struct config {
	atomic_int refs;
	struct arena arena;
	json_t *root;
	struct cfg_cleanup *cleanups;
	const char *path;

	const char *state_dir;
	const char *public_url;
	struct config_listen listen;
	struct config_tls tls;
	struct config_database database;
	struct config_log log;
	struct config_ingest ingest;
	struct config_sources sources;
	const char *templates_dir;
	struct cfg_array routes; /* of struct config_route */
	struct cfg_array sinks;  /* of struct config_sink */
	struct config_dispatch dispatch;
	struct config_abacus abacus;
};

/* The sink called name, or NULL. */
const struct config_sink *config_sink(const struct config *cfg,
                                      const char *name);

/* The generic source called name, or NULL. */
const struct config_generic *config_generic_source(const struct config *cfg,
                                                   const char *name);

struct config_errors {
	char **lines; /* "file:line:column: message" */
	size_t count;
};

/*
 * Load and validate path. On success returns a configuration holding one
 * reference. On failure returns NULL and fills errs (free it with
 * config_errors_free).
 */
struct config *config_load(const char *path, struct config_errors *errs)
    __attribute__((warn_unused_result));

/* The same, from text already in memory; name is used in messages. */
struct config *config_load_text(const char *name, const char *text, size_t len,
                                struct config_errors *errs)
    __attribute__((warn_unused_result));

void config_errors_print(const struct config_errors *errs, FILE *out);
void config_errors_free(struct config_errors *errs);

struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);

/* The effective configuration with every secret replaced by
 * "<redacted>"; a new reference. */
json_t *config_show(const struct config *cfg);

/* If an option that needs a restart differs, write its name and return
 * true. */
bool config_needs_restart(const struct config *old, const struct config *new,
                          char *name, size_t size);

#endif
