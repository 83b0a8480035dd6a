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
	bool migrate_on_start;
	struct config_embedded embedded;
};

struct config_log {
	int level;  /* enum log_level */
	int format; /* enum log_format */
};

struct config_admin {
	const char *token;
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

struct config {
	atomic_int refs;
	struct arena arena;
	json_t *root;
	const char *path;

	const char *state_dir;
	const char *public_url;
	struct config_listen listen;
	struct config_tls tls;
	struct config_database database;
	struct config_log log;
	struct config_admin admin;
	struct config_ingest ingest;
	struct config_sources sources;
};

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
