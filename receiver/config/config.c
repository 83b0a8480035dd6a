/*
 * The option tables of every section and the load sequence: parse with
 * jansson, index positions, expand ${VAR} in every string, read the tables,
 * then derive what depends on more than one option.
 */
#include "config/config.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <libpq-fe.h>
#include <regex.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/expand.h"
#include "config/jsonpos.h"
#include "herald/sink_plugin.h"
#include "log.h"
#include "routes.h"
#include "sinks/email.h"
#include "sources/signature.h"
#include "sources/source.h"
#include "version.h"

#define CONFIG_FILE_MAX (4 * 1024 * 1024)

#define OPT(st, field) .offset = offsetof(st, field)

static const char *const tls_versions[] = { "1.2", "1.3", NULL };
static const char *const log_levels[] = { "debug", "info", "warn", "error",
	                                  NULL };
static const char *const log_formats[] = { "kv", "json", NULL };

/* listen */

static const struct cfg_option listen_options[] = {
	{ "address", CFG_STRING, OPT(struct config_listen, address),
	  .def = "127.0.0.1", .restart = true },
	/* 0 lets the kernel choose; the port is logged. */
	{ "port", CFG_INT, OPT(struct config_listen, port), .def = "8443",
	  .min = 0, .max = 65535, .restart = true },
	{ "backlog", CFG_INT, OPT(struct config_listen, backlog), .def = "511",
	  .min = 1, .max = 65535, .restart = true },
	/* Below the 20,000 open files a process may hold here, with room
	 * for the database, log and outbound connections. */
	{ "max_connections", CFG_INT,
	  OPT(struct config_listen, max_connections), .def = "4096", .min = 1,
	  .max = 16384, .restart = true },
	{ "request_timeout", CFG_DURATION,
	  OPT(struct config_listen, request_timeout_ms), .def = "10s",
	  .min = 100, .max = 3600000 },
	{ "idle_timeout", CFG_DURATION,
	  OPT(struct config_listen, idle_timeout_ms), .def = "60s", .min = 1000,
	  .max = 3600000 },
	{ "shutdown_timeout", CFG_DURATION,
	  OPT(struct config_listen, shutdown_timeout_ms), .def = "10s",
	  .min = 0, .max = 600000 },
	{ "max_header_size", CFG_SIZE,
	  OPT(struct config_listen, max_header_size), .def = "16KiB",
	  .min = 1024, .max = 1024 * 1024 },
	{ "max_body_size", CFG_SIZE, OPT(struct config_listen, max_body_size),
	  .def = "1MiB", .min = 1024, .max = 64 * 1024 * 1024 },
	{ .name = NULL },
};

static const struct cfg_section listen_section = {
	.options = listen_options,
};

/* tls */

static bool tls_validate(struct cfg_ctx *ctx, void *obj,
                         const struct cfg_where *w)
{
	struct config_tls *tls = obj;

	if (tls->self_signed)
		return true;
	if (tls->cert_file == NULL || tls->key_file == NULL) {
		cfg_error_at(ctx, w, NULL,
		             "\"cert_file\" and \"key_file\" are required "
		             "unless \"self_signed\" is true");
		return false;
	}
	return true;
}

static const struct cfg_option tls_options[] = {
	{ "cert_file", CFG_STRING, OPT(struct config_tls, cert_file) },
	{ "key_file", CFG_STRING, OPT(struct config_tls, key_file) },
	{ "self_signed", CFG_BOOL, OPT(struct config_tls, self_signed),
	  .def = "false" },
	{ "min_version", CFG_ENUM, OPT(struct config_tls, min_version),
	  .def = "1.2", .choices = tls_versions },
	{ .name = NULL },
};

static const struct cfg_section tls_section = {
	.options = tls_options,
	.validate = tls_validate,
};

/* database */

static const struct cfg_option embedded_options[] = {
	{ "bin_dir", CFG_STRING, OPT(struct config_embedded, bin_dir),
	  .restart = true },
	{ "user", CFG_STRING, OPT(struct config_embedded, user),
	  .def = "postgres", .restart = true },
	{ .name = NULL },
};

static const struct cfg_section embedded_section = {
	.options = embedded_options,
};

static json_t *config_show_conninfo(const void *field);

static const struct cfg_option database_options[] = {
	{ "url", CFG_STRING, OPT(struct config_database, url),
	  .show = config_show_conninfo, .restart = true },
	{ "password", CFG_STRING, OPT(struct config_database, password),
	  .secret = true },
	{ "connect_timeout", CFG_DURATION,
	  OPT(struct config_database, connect_timeout_ms), .def = "5s",
	  .min = 1000, .max = 600000 },
	{ "query_timeout", CFG_DURATION,
	  OPT(struct config_database, query_timeout_ms), .def = "30s",
	  .min = 1000, .max = 3600000, .restart = true },
	{ "migrate_on_start", CFG_BOOL,
	  OPT(struct config_database, migrate_on_start), .def = "true",
	  .restart = true },
	{ "embedded", CFG_OBJECT, OPT(struct config_database, embedded),
	  .sub = &embedded_section },
	{ .name = NULL },
};

static bool database_validate(struct cfg_ctx *ctx, void *obj,
                              const struct cfg_where *w)
{
	struct config_database *db = obj;
	PQconninfoOption *opts;
	char *err = NULL;

	if (db->url == NULL)
		return true;
	opts = PQconninfoParse(db->url, &err);
	if (opts == NULL) {
		/* libpq's reason quotes the part it could not read, which
		 * may be the password, so it is not passed on. */
		cfg_error_at(ctx, w, "url",
		             "not a valid connection string or URI");
		PQfreemem(err);
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

static const struct cfg_section database_section = {
	.options = database_options,
	.validate = database_validate,
};

/* log */

static const struct cfg_option log_options[] = {
	{ "level", CFG_ENUM, OPT(struct config_log, level), .def = "info",
	  .choices = log_levels },
	{ "format", CFG_ENUM, OPT(struct config_log, format), .def = "kv",
	  .choices = log_formats },
	{ .name = NULL },
};

static const struct cfg_section log_section = {
	.options = log_options,
};

/* ingest */

static const struct cfg_option ingest_options[] = {
	{ "queue_size", CFG_INT, OPT(struct config_ingest, queue_size),
	  .def = "20000", .min = 1, .max = 1000000, .restart = true },
	{ "batch_max", CFG_INT, OPT(struct config_ingest, batch_max),
	  .def = "512", .min = 1, .max = 10000 },
	{ "retry_after", CFG_DURATION,
	  OPT(struct config_ingest, retry_after_ms), .def = "1s", .min = 1000,
	  .max = 3600000 },
	{ .name = NULL },
};

static const struct cfg_section ingest_section = {
	.options = ingest_options,
};

/* sources */

static const char *const auth_kinds[] = { "standard_webhooks", "bearer", NULL };

static bool field_validate(struct cfg_ctx *ctx, void *obj,
                           const struct cfg_where *w)
{
	struct config_field *f = obj;
	int set =
	    (f->pointer != NULL) + (f->header != NULL) + (f->value != NULL);

	if (set > 1) {
		cfg_error_at(ctx, w, NULL,
		             "give one of \"pointer\", \"header\" and "
		             "\"value\", not %d",
		             set);
		return false;
	}
	if (f->pointer != NULL && f->pointer[0] != '\0' &&
	    f->pointer[0] != '/') {
		cfg_error_at(ctx, w, "pointer",
		             "a JSON pointer starts with \"/\"");
		return false;
	}
	return true;
}

static const struct cfg_option field_options[] = {
	{ "pointer", CFG_STRING, OPT(struct config_field, pointer) },
	{ "header", CFG_STRING, OPT(struct config_field, header) },
	{ "value", CFG_STRING, OPT(struct config_field, value) },
	{ .name = NULL },
};

static const struct cfg_section field_section = {
	.options = field_options,
	.validate = field_validate,
};

static bool source_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 64 || strcmp(name, "abacus") == 0 ||
	    strcmp(name, "alertmanager") == 0)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static bool decode_secrets(struct cfg_ctx *ctx, struct config_generic *g,
                           const struct cfg_where *w)
{
	g->nkeys = g->secrets.count;
	g->keys = arena_alloc(ctx->arena, sizeof(*g->keys) * (g->nkeys + 1));
	for (size_t i = 0; i < g->nkeys; i++) {
		if (!sig_secret_parse(g->secrets.items[i], &g->keys[i])) {
			cfg_error_at(ctx, w, "secrets",
			             "secret %zu is not whsec_ followed by "
			             "base64",
			             i + 1);
			return false;
		}
	}
	return true;
}

/* Headers that carry credentials are never kept nor read into fields. */
static bool generic_headers_ok(struct cfg_ctx *ctx, struct config_generic *g,
                               const struct cfg_where *w)
{
	const struct config_field *fields[] = { &g->event_type,
		                                &g->deployment_id,
		                                &g->severity };
	const char *names[] = { "event_type", "deployment_id", "severity" };

	for (size_t i = 0; i < g->store_headers.count; i++) {
		if (source_header_is_credential(g->store_headers.items[i])) {
			cfg_error_at(ctx, w, "store_headers",
			             "\"%s\" may carry a credential and is "
			             "never stored",
			             g->store_headers.items[i]);
			return false;
		}
	}
	for (size_t i = 0; i < 3; i++) {
		const char *h = fields[i]->header;

		if (h != NULL && source_header_is_credential(h)) {
			cfg_error_at(ctx, w, names[i],
			             "\"%s\" may carry a credential and is "
			             "never read into an event",
			             h);
			return false;
		}
	}
	return true;
}

static bool generic_validate(struct cfg_ctx *ctx, void *obj,
                             const struct cfg_where *w)
{
	struct config_generic *g = obj;

	if (!source_name_ok(g->name)) {
		cfg_error_at(ctx, w, NULL,
		             "a source name is 1 to 64 of a-z, 0-9, _ and -, "
		             "and not abacus or alertmanager");
		return false;
	}
	if (g->auth == CONFIG_AUTH_STANDARD_WEBHOOKS && g->secrets.count == 0) {
		cfg_error_at(ctx, w, NULL,
		             "auth \"standard_webhooks\" needs \"secrets\"");
		return false;
	}
	if (g->auth == CONFIG_AUTH_BEARER && g->tokens.count == 0) {
		cfg_error_at(ctx, w, NULL, "auth \"bearer\" needs \"tokens\"");
		return false;
	}
	if (g->event_type.pointer == NULL && g->event_type.header == NULL &&
	    g->event_type.value == NULL) {
		cfg_error_at(ctx, w, "event_type",
		             "say where the event type comes from");
		return false;
	}
	return generic_headers_ok(ctx, g, w) && decode_secrets(ctx, g, w);
}

static const struct cfg_option generic_options[] = {
	{ "auth", CFG_ENUM, OPT(struct config_generic, auth),
	  .def = "standard_webhooks", .choices = auth_kinds },
	{ "secrets", CFG_STRINGS, OPT(struct config_generic, secrets),
	  .secret = true },
	{ "tokens", CFG_STRINGS, OPT(struct config_generic, tokens),
	  .secret = true },
	{ "event_type", CFG_OBJECT, OPT(struct config_generic, event_type),
	  .sub = &field_section, .required = true },
	{ "deployment_id", CFG_OBJECT,
	  OPT(struct config_generic, deployment_id), .sub = &field_section },
	{ "severity", CFG_OBJECT, OPT(struct config_generic, severity),
	  .sub = &field_section },
	{ "store_headers", CFG_STRINGS,
	  OPT(struct config_generic, store_headers) },
	{ .name = NULL },
};

static const struct cfg_section generic_section = {
	.options = generic_options,
	.size = sizeof(struct config_generic),
	.name_offset = offsetof(struct config_generic, name),
	.validate = generic_validate,
};

static bool alertmanager_validate(struct cfg_ctx *ctx, void *obj,
                                  const struct cfg_where *w)
{
	struct config_alertmanager *am = obj;

	if ((am->username == NULL) != (am->password == NULL)) {
		cfg_error_at(ctx, w, NULL,
		             "basic auth needs both \"username\" and "
		             "\"password\"");
		return false;
	}
	return true;
}

static const struct cfg_option alertmanager_options[] = {
	{ "tokens", CFG_STRINGS, OPT(struct config_alertmanager, tokens),
	  .secret = true },
	{ "username", CFG_STRING, OPT(struct config_alertmanager, username) },
	{ "password", CFG_STRING, OPT(struct config_alertmanager, password),
	  .secret = true },
	{ "deployment_label", CFG_STRING,
	  OPT(struct config_alertmanager, deployment_label),
	  .def = "deployment" },
	{ "severity_label", CFG_STRING,
	  OPT(struct config_alertmanager, severity_label), .def = "severity" },
	{ .name = NULL },
};

static const struct cfg_section alertmanager_section = {
	.options = alertmanager_options,
	.validate = alertmanager_validate,
};

static const struct cfg_option sources_options[] = {
	{ "alertmanager", CFG_OBJECT, OPT(struct config_sources, alertmanager),
	  .sub = &alertmanager_section },
	{ "generic", CFG_MAP, OPT(struct config_sources, generic),
	  .sub = &generic_section },
	{ .name = NULL },
};

static const struct cfg_section sources_section = {
	.options = sources_options,
};

/* routes */

static const char *const match_ops[] = { "=", "!=", "=~", "!~" };

static bool field_name_ok(const char *f)
{
	static const char *const plain[] = { "source", "event_type",
		                             "deployment_id", "severity",
		                             NULL };

	for (size_t i = 0; plain[i]; i++) {
		if (strcmp(f, plain[i]) == 0)
			return true;
	}
	return strncmp(f, "labels.", 7) == 0 && f[7] != '\0';
}

static void free_regex(void *arg)
{
	regfree(arg);
}

/* "field op value", op one of = != =~ !~; regexes match whole values. */
static bool parse_matcher(struct cfg_ctx *ctx, const char *text,
                          struct config_matcher *m, const struct cfg_where *w)
{
	size_t n = strspn(text, "abcdefghijklmnopqrstuvwxyz"
	                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");
	const char *op = text + n;
	char *anchored;
	int rc;

	m->op = op[0] == '!'
	            ? (op[1] == '~' ? CONFIG_MATCH_NRE : CONFIG_MATCH_NE)
	            : (op[1] == '~' ? CONFIG_MATCH_RE : CONFIG_MATCH_EQ);
	if (n == 0 || (op[0] != '=' && op[0] != '!') ||
	    (op[0] == '!' && op[1] != '=' && op[1] != '~')) {
		cfg_error_at(ctx, w, NULL,
		             "matcher \"%s\" is not FIELD=VALUE, FIELD!=VALUE,"
		             " FIELD=~REGEX or FIELD!~REGEX",
		             text);
		return false;
	}
	m->field = arena_strndup(ctx->arena, text, n);
	if (!field_name_ok(m->field)) {
		cfg_error_at(ctx, w, NULL,
		             "matcher \"%s\": no field \"%s\"; use source, "
		             "event_type, deployment_id, severity or "
		             "labels.NAME",
		             text, m->field);
		return false;
	}
	m->value = op + strlen(match_ops[m->op]);
	if (m->op == CONFIG_MATCH_EQ || m->op == CONFIG_MATCH_NE)
		return true;
	m->regex = arena_alloc(ctx->arena, sizeof(regex_t));
	anchored = arena_alloc(ctx->arena, strlen(m->value) + 5);
	snprintf(anchored, strlen(m->value) + 5, "^(%s)$", m->value);
	rc = regcomp(m->regex, anchored, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char why[128];

		regerror(rc, m->regex, why, sizeof(why));
		cfg_error_at(ctx, w, NULL, "matcher \"%s\": %s", text, why);
		return false;
	}
	cfg_on_free(ctx, free_regex, m->regex);
	return true;
}

static bool route_validate(struct cfg_ctx *ctx, void *obj,
                           const struct cfg_where *w)
{
	struct config_route *r = obj;

	if (r->sinks.count == 0) {
		cfg_error_at(ctx, w, NULL, "a route needs \"sinks\"");
		return false;
	}
	r->matchers = arena_alloc(ctx->arena,
	                          sizeof(*r->matchers) * (r->match.count + 1));
	for (size_t i = 0; i < r->match.count; i++) {
		if (!parse_matcher(ctx, r->match.items[i], &r->matchers[i], w))
			return false;
		r->nmatchers++;
	}
	return true;
}

static const struct cfg_option route_options[] = {
	{ "name", CFG_STRING, OPT(struct config_route, name) },
	{ "match", CFG_STRINGS, OPT(struct config_route, match) },
	{ "sinks", CFG_STRINGS, OPT(struct config_route, sinks),
	  .required = true },
	{ "continue", CFG_BOOL, OPT(struct config_route, cont),
	  .def = "false" },
	{ .name = NULL },
};

static const struct cfg_section route_section = {
	.options = route_options,
	.size = sizeof(struct config_route),
	.validate = route_validate,
};

/* sinks */

static const char *const sink_kinds[] = { "slack",   "email",  "http",
	                                  "command", "plugin", NULL };
static const char *const smtp_tls_modes[] = { "starttls", "implicit", NULL };

/* Options that apply to a kind only: given for another, they are an
 * error rather than silently ignored. */
struct sink_field {
	const char *name;
	size_t offset;
	unsigned kinds; /* bit per enum config_sink_kind */
	bool required;
};

#define K(k) (1u << CONFIG_SINK_##k)

static const struct sink_field sink_fields[] = {
	{ "url", offsetof(struct config_sink, url), K(SLACK) | K(HTTP), true },
	{ "method", offsetof(struct config_sink, method), K(HTTP), false },
	{ "secret", offsetof(struct config_sink, secret), K(HTTP), false },
	{ "template", offsetof(struct config_sink, template),
	  K(SLACK) | K(HTTP) | K(COMMAND) | K(PLUGIN), false },
	{ "subject", offsetof(struct config_sink, subject), K(EMAIL), false },
	{ "text", offsetof(struct config_sink, text), K(EMAIL), false },
	{ "html", offsetof(struct config_sink, html), K(EMAIL), false },
	{ "smtp_url", offsetof(struct config_sink, smtp_url), K(EMAIL), true },
	{ "from", offsetof(struct config_sink, from), K(EMAIL), true },
	{ "username", offsetof(struct config_sink, username), K(EMAIL), false },
	{ "password", offsetof(struct config_sink, password), K(EMAIL), false },
	{ "ca_file", offsetof(struct config_sink, ca_file),
	  K(SLACK) | K(HTTP) | K(EMAIL), false },
	{ "path", offsetof(struct config_sink, path), K(PLUGIN), true },
	{ NULL, 0, 0, false },
};

static bool sink_fields_fit(struct cfg_ctx *ctx, struct config_sink *k,
                            const struct cfg_where *w)
{
	bool ok = true;

	for (const struct sink_field *f = sink_fields; f->name; f++) {
		const char *v = *(const char **)((char *)k + f->offset);
		bool applies = (f->kinds & (1u << k->kind)) != 0;

		if (v != NULL && !applies) {
			cfg_error_at(ctx, w, f->name,
			             "\"%s\" does not apply to a %s sink",
			             f->name, sink_kinds[k->kind]);
			ok = false;
		} else if (v == NULL && applies && f->required) {
			cfg_error_at(ctx, w, NULL, "a %s sink needs \"%s\"",
			             sink_kinds[k->kind], f->name);
			ok = false;
		}
	}
	return ok;
}

static bool sink_lists_fit(struct cfg_ctx *ctx, struct config_sink *k,
                           const struct cfg_where *w)
{
	struct {
		const char *name;
		size_t count;
		int kind;
		bool required;
	} lists[] = {
		{ "to", k->to.count, CONFIG_SINK_EMAIL, true },
		{ "argv", k->argv.count, CONFIG_SINK_COMMAND, true },
		{ "headers", k->headers.count, CONFIG_SINK_HTTP, false },
		{ "env", k->env.count, CONFIG_SINK_COMMAND, false },
		{ "settings", k->settings != NULL, CONFIG_SINK_PLUGIN, false },
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(*lists); i++) {
		bool applies = lists[i].kind == k->kind;

		if (lists[i].count > 0 && !applies) {
			cfg_error_at(ctx, w, lists[i].name,
			             "\"%s\" does not apply to a %s sink",
			             lists[i].name, sink_kinds[k->kind]);
			return false;
		}
		if (lists[i].count == 0 && applies && lists[i].required) {
			cfg_error_at(ctx, w, NULL, "a %s sink needs \"%s\"",
			             sink_kinds[k->kind], lists[i].name);
			return false;
		}
	}
	return true;
}

static bool sink_rate(struct cfg_ctx *ctx, struct config_sink *k,
                      const char *text, const struct cfg_where *w)
{
	char *end;
	double n;

	if (text == NULL) {
		/* Slack takes about one message a second per webhook. */
		k->rate = k->kind == CONFIG_SINK_SLACK ? 1.0 : 0.0;
		return true;
	}
	n = strtod(text, &end);
	if (end == text || n < 0 ||
	    (strcmp(end, "/s") != 0 && strcmp(end, "/m") != 0)) {
		cfg_error_at(ctx, w, "rate",
		             "expected a rate such as \"1/s\" or \"30/m\"");
		return false;
	}
	k->rate = strcmp(end, "/m") == 0 ? n / 60.0 : n;
	return true;
}

/* A plugin that cannot be loaded, or speaks another ABI, is a
 * configuration error: found by check-config, refused by a reload. */
static bool plugin_loads(struct cfg_ctx *ctx, const struct config_sink *k,
                         const struct cfg_where *w)
{
	void *h = dlopen(k->path, RTLD_NOW | RTLD_LOCAL);
	const struct herald_sink_plugin *api;
	bool ok;

	if (h == NULL) {
		cfg_error_at(ctx, w, "path", "cannot load plugin: %s",
		             dlerror());
		return false;
	}
	api = dlsym(h, "herald_sink_plugin_v1");
	if (api == NULL)
		cfg_error_at(ctx, w, "path",
		             "the plugin exports no herald_sink_plugin_v1");
	else if (api->abi != HERALD_SINK_PLUGIN_ABI)
		cfg_error_at(ctx, w, "path",
		             "the plugin has ABI version %u; this herald "
		             "needs %u",
		             (unsigned)api->abi,
		             (unsigned)HERALD_SINK_PLUGIN_ABI);
	else if (!api->open || !api->deliver || !api->close)
		cfg_error_at(ctx, w, "path",
		             "the plugin lacks open, deliver or close");
	ok = api != NULL && api->abi == HERALD_SINK_PLUGIN_ABI && api->open &&
	     api->deliver && api->close;
	dlclose(h);
	return ok;
}

/* An email sink that could never send is refused here, with the place
 * of the option at fault, rather than when the dispatcher opens it. */
static bool email_fits(struct cfg_ctx *ctx, const struct config_sink *k,
                       const struct cfg_where *w)
{
	const char *key;
	char why[256];

	if ((k->username == NULL) != (k->password == NULL)) {
		cfg_error_at(ctx, w, NULL,
		             "SMTP auth needs both \"username\" and "
		             "\"password\"");
		return false;
	}
	if (!email_check(k, &key, why, sizeof(why))) {
		cfg_error_at(ctx, w, key, "%s", why);
		return false;
	}
	return true;
}

static bool sink_validate(struct cfg_ctx *ctx, void *obj,
                          const struct cfg_where *w)
{
	struct config_sink *k = obj;

	if (!sink_fields_fit(ctx, k, w) || !sink_lists_fit(ctx, k, w) ||
	    !sink_rate(ctx, k, k->rate_text, w))
		return false;
	if (k->kind == CONFIG_SINK_HTTP && k->method == NULL)
		k->method = "POST";
	if (k->kind == CONFIG_SINK_PLUGIN && !plugin_loads(ctx, k, w))
		return false;
	if (k->kind == CONFIG_SINK_EMAIL && !email_fits(ctx, k, w))
		return false;
	if (k->secret == NULL)
		return true;
	k->key = arena_alloc(ctx->arena, sizeof(*k->key));
	if (!sig_secret_parse(k->secret, k->key)) {
		cfg_error_at(ctx, w, "secret", "not whsec_ followed by base64");
		return false;
	}
	return true;
}

/*
 * A command's argv as --print shows it: the program, which is what a
 * reader checks, and its arguments redacted. Arguments are where
 * programs take their tokens ("-H", "Authorization: Bearer ..."), often
 * through ${VAR}, and nothing tells those apart from harmless ones.
 */
static json_t *show_argv(const void *field)
{
	const struct cfg_strings *argv = field;
	json_t *out = json_array();

	for (size_t i = 0; i < argv->count; i++)
		json_array_append_new(
		    out, json_string(i == 0 ? argv->items[i] : CFG_REDACTED));
	return out;
}

static const struct cfg_option sink_options[] = {
	{ "kind", CFG_ENUM, OPT(struct config_sink, kind), .required = true,
	  .choices = sink_kinds, .restart = false },
	{ "enabled", CFG_BOOL, OPT(struct config_sink, enabled),
	  .def = "true" },
	{ "timeout", CFG_DURATION, OPT(struct config_sink, timeout_ms),
	  .def = "15s", .min = 100, .max = 600000 },
	{ "concurrency", CFG_INT, OPT(struct config_sink, concurrency),
	  .def = "8", .min = 1, .max = 1024 },
	{ "rate", CFG_STRING, OPT(struct config_sink, rate_text) },
	{ "max_attempts", CFG_INT, OPT(struct config_sink, max_attempts),
	  .def = "10", .min = 1, .max = 1000 },
	{ "max_age", CFG_DURATION, OPT(struct config_sink, max_age_ms),
	  .def = CONFIG_SINK_MAX_AGE_DEFAULT, .min = 1000,
	  .max = 30LL * 86400000 },
	{ "retry_base", CFG_DURATION, OPT(struct config_sink, retry_base_ms),
	  .def = "5s", .min = 100, .max = 3600000 },
	{ "retry_max", CFG_DURATION, OPT(struct config_sink, retry_max_ms),
	  .def = "1h", .min = 100, .max = 86400000 },
	{ "template", CFG_STRING, OPT(struct config_sink, template) },
	{ "subject", CFG_STRING, OPT(struct config_sink, subject) },
	{ "text", CFG_STRING, OPT(struct config_sink, text) },
	{ "html", CFG_STRING, OPT(struct config_sink, html) },
	{ "url", CFG_STRING, OPT(struct config_sink, url), .secret = true },
	{ "method", CFG_STRING, OPT(struct config_sink, method) },
	{ "headers", CFG_STRMAP, OPT(struct config_sink, headers),
	  .secret = true },
	{ "secret", CFG_STRING, OPT(struct config_sink, secret),
	  .secret = true },
	{ "ca_file", CFG_STRING, OPT(struct config_sink, ca_file) },
	{ "smtp_url", CFG_STRING, OPT(struct config_sink, smtp_url),
	  .show = cfg_show_url },
	{ "smtp_tls", CFG_ENUM, OPT(struct config_sink, smtp_tls),
	  .def = "starttls", .choices = smtp_tls_modes },
	{ "username", CFG_STRING, OPT(struct config_sink, username) },
	{ "password", CFG_STRING, OPT(struct config_sink, password),
	  .secret = true },
	{ "from", CFG_STRING, OPT(struct config_sink, from) },
	{ "to", CFG_STRINGS, OPT(struct config_sink, to) },
	{ "argv", CFG_STRINGS, OPT(struct config_sink, argv),
	  .show = show_argv },
	{ "env", CFG_STRMAP, OPT(struct config_sink, env),
	  .show = cfg_show_keys },
	{ "path", CFG_STRING, OPT(struct config_sink, path) },
	{ "settings", CFG_JSON, OPT(struct config_sink, settings),
	  .show = cfg_show_shape },
	{ .name = NULL },
};

static const struct cfg_section sink_section = {
	.options = sink_options,
	.size = sizeof(struct config_sink),
	.name_offset = offsetof(struct config_sink, name),
	.validate = sink_validate,
};

/* dispatch */

static const struct cfg_option dispatch_options[] = {
	{ "concurrency", CFG_INT, OPT(struct config_dispatch, concurrency),
	  .def = "256", .min = 1, .max = 8192 },
	{ "lease", CFG_DURATION, OPT(struct config_dispatch, lease_ms),
	  .def = "5m", .min = 1000, .max = 86400000 },
	{ "sweep", CFG_DURATION, OPT(struct config_dispatch, sweep_ms),
	  .def = "5s", .min = 100, .max = 3600000 },
	{ "claim_max", CFG_INT, OPT(struct config_dispatch, claim_max),
	  .def = "200", .min = 1, .max = 10000 },
	{ .name = NULL },
};

static const struct cfg_section dispatch_section = {
	.options = dispatch_options,
};

/* abacus */

/* The enumerations of conditionConfig in shared/specs/abacus-api.md. */
static const char *const alert_types[] = {
	"PredictionCount",    "AccuracyBelowThreshold",
	"FeatureDrift",       "TargetDrift",
	"HistoryLengthDrift", "DataIntegrityViolations",
	"BiasViolations",     NULL,
};
static const char *const drift_types[] = { "kl",  "ks",         "ws",  "js",
	                                   "psi", "chi_square", "csi", NULL };
static const char *const aggregation_types[] = { "sum", "avg", NULL };

static const struct {
	const char *key;
	const char *const *values;
} condition_enums[] = {
	{ "alertType", alert_types },
	{ "featureDriftType", drift_types },
	{ "aggregationType", aggregation_types },
};

static bool one_of(const char *s, const char *const *values)
{
	for (size_t i = 0; s != NULL && values[i] != NULL; i++) {
		if (strcmp(s, values[i]) == 0)
			return true;
	}
	return false;
}

/* Each enumerated key of the condition that is present holds one of its
 * values. */
static bool condition_validate(struct cfg_ctx *ctx, json_t *cond,
                               const struct cfg_where *w)
{
	struct cfg_where at;

	cfg_where_child(&at, w, "condition", false);
	for (size_t i = 0;
	     i < sizeof(condition_enums) / sizeof(condition_enums[0]); i++) {
		const char *const *values = condition_enums[i].values;
		json_t *v = json_object_get(cond, condition_enums[i].key);
		char list[256] = "";
		size_t n = 0;

		if (v == NULL || one_of(json_string_value(v), values))
			continue;
		for (size_t k = 0; values[k] != NULL && n < sizeof(list); k++)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			                      "%s%s", k ? ", " : "", values[k]);
		if (json_is_string(v))
			cfg_error_at(ctx, &at, condition_enums[i].key,
			             "unknown value \"%s\"; expected one of %s",
			             json_string_value(v), list);
		else
			cfg_error_at(ctx, &at, condition_enums[i].key,
			             "expected one of %s", list);
		return false;
	}
	return true;
}

static bool alert_validate(struct cfg_ctx *ctx, void *obj,
                           const struct cfg_where *w)
{
	struct config_abacus_alert *a = obj;

	if (!json_is_object(a->condition) ||
	    !json_is_string(json_object_get(a->condition, "alertType"))) {
		cfg_error_at(ctx, w, "condition",
		             "a conditionConfig object with \"alertType\"");
		return false;
	}
	if (a->recipients.count == 0) {
		cfg_error_at(ctx, w, "recipients",
		             "needs at least one address (an Abacus alert can "
		             "only send email)");
		return false;
	}
	return condition_validate(ctx, a->condition, w);
}

static const struct cfg_option alert_options[] = {
	{ "condition", CFG_JSON, OPT(struct config_abacus_alert, condition),
	  .required = true },
	{ "recipients", CFG_STRINGS,
	  OPT(struct config_abacus_alert, recipients), .required = true },
	{ "email_body", CFG_STRING,
	  OPT(struct config_abacus_alert, email_body) },
	{ .name = NULL },
};

static const struct cfg_section alert_section = {
	.options = alert_options,
	.size = sizeof(struct config_abacus_alert),
	.name_offset = offsetof(struct config_abacus_alert, name),
	.validate = alert_validate,
};

static const char *const abacus_events[] = { "DEPLOYMENT_START",
	                                     "DEPLOYMENT_SUCCESS",
	                                     "DEPLOYMENT_FAILED", NULL };

static bool deployment_validate(struct cfg_ctx *ctx, void *obj,
                                const struct cfg_where *w)
{
	struct config_abacus_deployment *d = obj;

	for (size_t i = 0; i < d->events.count; i++) {
		bool known = false;

		for (size_t k = 0; abacus_events[k]; k++)
			known |=
			    strcmp(d->events.items[i], abacus_events[k]) == 0;
		if (!known) {
			cfg_error_at(ctx, w, "events",
			             "unknown event type \"%s\"; expected "
			             "DEPLOYMENT_START, DEPLOYMENT_SUCCESS or "
			             "DEPLOYMENT_FAILED",
			             d->events.items[i]);
			return false;
		}
	}
	if (d->payload != NULL && !json_is_object(d->payload)) {
		cfg_error_at(ctx, w, "payload", "expected an object");
		return false;
	}
	if (json_object_get(d->payload, "herald") != NULL) {
		cfg_error_at(ctx, w, "payload",
		             "the key \"herald\" is Herald's own (its "
		             "registration goes there); use another name");
		return false;
	}
	return true;
}

static const struct cfg_option deployment_options[] = {
	{ "events", CFG_STRINGS, OPT(struct config_abacus_deployment, events) },
	{ "payload", CFG_JSON, OPT(struct config_abacus_deployment, payload),
	  .show = cfg_show_shape },
	{ "alerts", CFG_MAP, OPT(struct config_abacus_deployment, alerts),
	  .sub = &alert_section },
	{ .name = NULL },
};

static const struct cfg_section deployment_section = {
	.options = deployment_options,
	.size = sizeof(struct config_abacus_deployment),
	.name_offset = offsetof(struct config_abacus_deployment, id),
	.validate = deployment_validate,
};

/* The host of an http:// URL into host (brackets of an IPv6 address
 * dropped); false if there is none or it does not fit. */
static bool http_url_host(const char *url, char *host, size_t size)
{
	const char *auth = url + strlen("http://");
	size_t n = strcspn(auth, "/?#"), len;
	const char *at = memrchr(auth, '@', n);

	if (at != NULL) {
		n -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	if (n > 0 && auth[0] == '[') {
		const char *end = memchr(auth, ']', n);

		if (end == NULL)
			return false;
		len = (size_t)(end - auth - 1);
		auth++;
	} else {
		len = strcspn(auth, ":/?#");
		len = len < n ? len : n;
	}
	if (len == 0 || len >= size)
		return false;
	memcpy(host, auth, len);
	host[len] = '\0';
	return true;
}

/* Whether host is this machine: 127.0.0.0/8, ::1 or localhost. Only
 * then may the API key travel without TLS. */
static bool loopback_host(const char *host)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, addr) == 1)
		return addr[0] == 127;
	return inet_pton(AF_INET6, host, addr) == 1 &&
	       memcmp(addr, &in6addr_loopback, sizeof(in6addr_loopback)) == 0;
}

static bool api_url_validate(struct cfg_ctx *ctx, const char *url,
                             const struct cfg_where *w)
{
	char host[256];

	if (strncmp(url, "https://", 8) == 0)
		return true;
	if (strncmp(url, "http://", 7) != 0) {
		cfg_error_at(ctx, w, "api_url",
		             "must start with https:// or http://");
		return false;
	}
	if (!http_url_host(url, host, sizeof(host)) || !loopback_host(host)) {
		cfg_error_at(ctx, w, "api_url",
		             "http:// would send the API key in clear: use "
		             "https://, or http:// only to a loopback host "
		             "(127.0.0.0/8, ::1, localhost)");
		return false;
	}
	return true;
}

static bool abacus_validate(struct cfg_ctx *ctx, void *obj,
                            const struct cfg_where *w)
{
	struct config_abacus *a = obj;

	if (a->deployments.count > 0 && a->api_key == NULL) {
		cfg_error_at(ctx, w, NULL,
		             "missing required key \"api_key\" (or "
		             "\"api_key_file\")");
		return false;
	}
	return api_url_validate(ctx, a->api_url, w);
}

static const struct cfg_option abacus_options[] = {
	{ "api_url", CFG_STRING, OPT(struct config_abacus, api_url),
	  .def = "https://api.abacus.ai", .show = cfg_show_url },
	{ "api_key", CFG_STRING, OPT(struct config_abacus, api_key),
	  .secret = true },
	{ "ca_file", CFG_STRING, OPT(struct config_abacus, ca_file) },
	{ "timeout", CFG_DURATION, OPT(struct config_abacus, timeout_ms),
	  .def = "30s", .min = 1000, .max = 600000 },
	{ "register_on_start", CFG_BOOL,
	  OPT(struct config_abacus, register_on_start), .def = "false" },
	{ "poll_interval", CFG_DURATION,
	  OPT(struct config_abacus, poll_interval_ms), .def = "60s",
	  .min = 1000, .max = 86400000 },
	{ "deployments", CFG_MAP, OPT(struct config_abacus, deployments),
	  .sub = &deployment_section },
	{ .name = NULL },
};

static const struct cfg_section abacus_section = {
	.options = abacus_options,
	.validate = abacus_validate,
};

/* top level */

/* Every sink a route names is configured. */
static bool routes_name_sinks(struct cfg_ctx *ctx, struct config *cfg,
                              const struct cfg_where *w)
{
	const struct config_route *r = cfg->routes.items;

	for (size_t i = 0; i < cfg->routes.count; i++) {
		for (size_t k = 0; k < r[i].sinks.count; k++) {
			struct cfg_where route, sinks;
			char index[24];

			if (config_sink(cfg, r[i].sinks.items[k]) != NULL)
				continue;
			snprintf(index, sizeof(index), "%zu", i);
			cfg_where_child(&route, w, "routes", false);
			cfg_where_child(&sinks, &route, index, true);
			cfg_error_at(ctx, &sinks, "sinks",
			             "no sink called \"%s\"",
			             r[i].sinks.items[k]);
			return false;
		}
	}
	return true;
}

/* The sink with the longest timeout, or NULL when there is none. */
static const struct config_sink *slowest_sink(const struct config *cfg)
{
	const struct config_sink *k = cfg->sinks.items, *slowest = NULL;

	for (size_t i = 0; i < cfg->sinks.count; i++) {
		if (slowest == NULL || k[i].timeout_ms > slowest->timeout_ms)
			slowest = &k[i];
	}
	return slowest;
}

/* A lease that ran out while its attempt still worked would let another
 * process send the delivery at the same time, so every sink's timeout,
 * the dispatcher's deadline after it and the record of the outcome must
 * fit in the lease. Sinks that are off count too: a reload turns them
 * on without a restart. */
static bool lease_outlasts_timeouts(struct cfg_ctx *ctx, struct config *cfg,
                                    const struct cfg_where *w)
{
	const struct config_sink *k = slowest_sink(cfg);
	int64_t need = k ? k->timeout_ms + CONFIG_LEASE_MARGIN_MS : 0;
	char lease[32], timeout[32], least[32];
	struct cfg_where at, lease_at;

	if (k == NULL || cfg->dispatch.lease_ms >= need)
		return true;
	cfg_duration_text(cfg->dispatch.lease_ms, lease, sizeof(lease));
	cfg_duration_text(k->timeout_ms, timeout, sizeof(timeout));
	cfg_duration_text(need, least, sizeof(least));
	cfg_where_child(&at, w, "dispatch", false);
	cfg_where_child(&lease_at, &at, "lease", false);
	if (jsonpos_find(&ctx->pos, lease_at.pointer) != NULL) {
		cfg_error_at(
		    ctx, &at, "lease",
		    "%s is too short: a lease must outlast the longest "
		    "sink timeout (%s, sink \"%s\") by %ds, so at "
		    "least %s",
		    lease, timeout, k->name, CONFIG_LEASE_MARGIN_MS / 1000,
		    least);
		return false;
	}
	cfg_where_child(&at, w, "sinks", false);
	cfg_where_child(&lease_at, &at, k->name, false);
	cfg_error_at(ctx, &lease_at, "timeout",
	             "%s is too long for dispatch.lease (%s): a lease must "
	             "outlast the longest sink timeout by %ds, so at least %s",
	             timeout, lease, CONFIG_LEASE_MARGIN_MS / 1000, least);
	return false;
}

static bool top_validate(struct cfg_ctx *ctx, void *obj,
                         const struct cfg_where *w)
{
	struct config *cfg = obj;
	const char *u = cfg->public_url;

	if (u != NULL && strncmp(u, "https://", 8) != 0 &&
	    strncmp(u, "http://", 7) != 0) {
		cfg_error_at(ctx, w, "public_url",
		             "must start with https:// or http://");
		return false;
	}
	if (cfg->state_dir[0] == '\0') {
		cfg_error_at(ctx, w, "state_dir", "must not be empty");
		return false;
	}
	if (cfg->sinks.count > ROUTES_SINKS_MAX) {
		cfg_error_at(ctx, w, "sinks", "at most %d sinks, not %zu",
		             ROUTES_SINKS_MAX, cfg->sinks.count);
		return false;
	}
	return routes_name_sinks(ctx, cfg, w) &&
	       lease_outlasts_timeouts(ctx, cfg, w);
}

static const struct cfg_option top_options[] = {
	{ "state_dir", CFG_STRING, OPT(struct config, state_dir),
	  .def = ".herald", .restart = true },
	{ "public_url", CFG_STRING, OPT(struct config, public_url),
	  .show = cfg_show_url },
	{ "listen", CFG_OBJECT, OPT(struct config, listen),
	  .sub = &listen_section },
	{ "tls", CFG_OBJECT, OPT(struct config, tls), .sub = &tls_section },
	{ "database", CFG_OBJECT, OPT(struct config, database),
	  .sub = &database_section },
	{ "log", CFG_OBJECT, OPT(struct config, log), .sub = &log_section },
	{ "ingest", CFG_OBJECT, OPT(struct config, ingest),
	  .sub = &ingest_section },
	{ "sources", CFG_OBJECT, OPT(struct config, sources),
	  .sub = &sources_section },
	{ "templates_dir", CFG_STRING, OPT(struct config, templates_dir),
	  .def = HERALD_TEMPLATES_DIR },
	{ "routes", CFG_LIST, OPT(struct config, routes),
	  .sub = &route_section },
	{ "sinks", CFG_MAP, OPT(struct config, sinks), .sub = &sink_section },
	{ "dispatch", CFG_OBJECT, OPT(struct config, dispatch),
	  .sub = &dispatch_section },
	{ "abacus", CFG_OBJECT, OPT(struct config, abacus),
	  .sub = &abacus_section },
	{ .name = NULL },
};

static const struct cfg_section top_section = {
	.options = top_options,
	.validate = top_validate,
};

/* A libpq connection string for display: the password, if any, redacted. */
static json_t *config_show_conninfo(const void *field)
{
	const char *url = *(const char *const *)field;
	PQconninfoOption *opts;
	json_t *out;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (url == NULL)
		return json_null();
	opts = PQconninfoParse(url, NULL);
	if (opts == NULL)
		return json_string("<unparsable>");
	f = open_memstream(&text, &len);
	for (PQconninfoOption *o = opts; f != NULL && o->keyword; o++) {
		if (o->val == NULL)
			continue;
		fprintf(f, "%s%s=%s", ftell(f) ? " " : "", o->keyword,
		        strcmp(o->keyword, "password") == 0 ? CFG_REDACTED
		                                            : o->val);
	}
	if (f != NULL)
		fclose(f);
	PQconninfoFree(opts);
	out = json_string(text ? text : "");
	free(text);
	return out;
}

/* Loading */

static bool read_file(const char *path, char **text, size_t *len,
                      struct cfg_ctx *ctx)
{
	FILE *f = fopen(path, "re");
	size_t cap = 64 * 1024, n = 0;
	char *buf;

	if (f == NULL) {
		cfg_error_pos(ctx, 0, 0, "cannot open: %s", strerror(errno));
		return false;
	}
	buf = malloc(cap);
	while (buf != NULL && !feof(f) && !ferror(f)) {
		if (n == cap) {
			char *bigger = cap < CONFIG_FILE_MAX
			                   ? realloc(buf, cap * 2)
			                   : NULL;

			if (bigger == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
		n += fread(buf + n, 1, cap - n, f);
	}
	if (buf == NULL || ferror(f)) {
		cfg_error_pos(ctx, 0, 0, "%s",
		              buf ? strerror(errno) : "file too large");
		free(buf);
		fclose(f);
		return false;
	}
	fclose(f);
	*text = buf;
	*len = n;
	return true;
}

static bool expand_tree(struct cfg_ctx *ctx, json_t *v,
                        const struct cfg_where *w)
{
	struct cfg_where child;
	bool ok = true;
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_string(v) && strchr(json_string_value(v), '$')) {
		char err[256], *out;

		if (!expand_env(ctx->arena, json_string_value(v), &out, err,
		                sizeof(err))) {
			cfg_error_at(ctx, w, NULL, "%s", err);
			return false;
		}
		json_string_set(v, out);
	} else if (json_is_object(v)) {
		json_object_foreach(v, key, item)
		{
			cfg_where_child(&child, w, key, false);
			ok &= expand_tree(ctx, item, &child);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item)
		{
			char index[24];

			snprintf(index, sizeof(index), "%zu", i);
			cfg_where_child(&child, w, index, true);
			ok &= expand_tree(ctx, item, &child);
		}
	}
	return ok;
}

static json_t *parse(struct cfg_ctx *ctx, const char *text, size_t len)
{
	const char *nul = memchr(text, '\0', len);
	json_error_t jerr;
	json_t *root;

	if (nul != NULL) {
		cfg_error_pos(ctx, 1, 1, "invalid JSON: NUL byte at offset %zu",
		              (size_t)(nul - text));
		return NULL;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		cfg_error_pos(ctx, jerr.line, jerr.column, "invalid JSON: %s",
		              jerr.text);
		return NULL;
	}
	if (!jsonpos_build(&ctx->pos, text, len)) {
		cfg_error_pos(ctx, 1, 1, "cannot index the file");
		json_decref(root);
		return NULL;
	}
	return root;
}

static const char *state_path(struct config *cfg, const char *name)
{
	size_t n = strlen(cfg->state_dir) + strlen(name) + 2;
	char *p = arena_alloc(&cfg->arena, n);

	snprintf(p, n, "%s/%s", cfg->state_dir, name);
	return p;
}

/* Values that follow from other values. */
static void derive(struct config *cfg)
{
	if (cfg->tls.cert_file == NULL)
		cfg->tls.cert_file = state_path(cfg, "tls/cert.pem");
	if (cfg->tls.key_file == NULL)
		cfg->tls.key_file = state_path(cfg, "tls/key.pem");
}

static void take_errors(struct cfg_ctx *ctx, struct config_errors *errs)
{
	size_t n = ctx->nerrors + (ctx->dropped ? 1 : 0);

	errs->lines = NULL;
	errs->count = 0;
	if (n == 0)
		return;
	cfg_sort_errors(ctx);
	errs->lines = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < ctx->nerrors; i++) {
		if (errs->lines != NULL)
			errs->lines[errs->count++] = ctx->errors[i].text;
		else
			free(ctx->errors[i].text);
	}
	if (ctx->dropped && errs->lines != NULL &&
	    asprintf(&errs->lines[errs->count], "%s: %zu more errors",
	             ctx->file, ctx->dropped) >= 0)
		errs->count++;
	ctx->nerrors = 0;
}

static struct config *load(const char *path, const char *given, size_t len,
                           struct config_errors *errs)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	struct cfg_ctx ctx = { .file = path };
	struct cfg_where top = { .pointer = "", .name = "" };
	char *text = NULL;
	bool ok = false;

	errs->lines = NULL;
	errs->count = 0;
	if (cfg == NULL)
		return NULL;
	atomic_init(&cfg->refs, 1);
	ctx.arena = &cfg->arena;
	ctx.cleanups = &cfg->cleanups;
	cfg->path = arena_strdup(&cfg->arena, path);

	if (given != NULL || read_file(path, &text, &len, &ctx))
		cfg->root = parse(&ctx, given ? given : text, len);
	if (cfg->root != NULL && expand_tree(&ctx, cfg->root, &top) &&
	    cfg_read(&ctx, &top_section, cfg, cfg->root, &top)) {
		derive(cfg);
		ok = true;
	}

	free(text);
	take_errors(&ctx, errs);
	cfg_ctx_free(&ctx);
	if (!ok) {
		config_unref(cfg);
		return NULL;
	}
	return cfg;
}

struct config *config_load(const char *path, struct config_errors *errs)
{
	return load(path, NULL, 0, errs);
}

struct config *config_load_text(const char *name, const char *text, size_t len,
                                struct config_errors *errs)
{
	return load(name, text, len, errs);
}

void config_errors_print(const struct config_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->count; i++)
		fprintf(out, "%s\n", errs->lines[i]);
}

void config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		free(errs->lines[i]);
	free(errs->lines);
	errs->lines = NULL;
	errs->count = 0;
}

struct config *config_ref(struct config *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
	return cfg;
}

void config_unref(struct config *cfg)
{
	if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) != 1)
		return;
	for (struct cfg_cleanup *c = cfg->cleanups; c != NULL; c = c->next)
		c->fn(c->arg);
	json_decref(cfg->root);
	arena_free(&cfg->arena);
	free(cfg);
}

json_t *config_show(const struct config *cfg)
{
	return cfg_show(&top_section, cfg);
}

bool config_needs_restart(const struct config *old, const struct config *new,
                          char *name, size_t size)
{
	return cfg_restart_diff(&top_section, old, new, name, size);
}

const struct config_generic *config_generic_source(const struct config *cfg,
                                                   const char *name)
{
	const struct config_generic *g = cfg->sources.generic.items;

	for (size_t i = 0; i < cfg->sources.generic.count; i++) {
		if (strcmp(g[i].name, name) == 0)
			return &g[i];
	}
	return NULL;
}

const struct config_sink *config_sink(const struct config *cfg,
                                      const char *name)
{
	const struct config_sink *k = cfg->sinks.items;

	for (size_t i = 0; i < cfg->sinks.count; i++) {
		if (strcmp(k[i].name, name) == 0)
			return &k[i];
	}
	return NULL;
}
