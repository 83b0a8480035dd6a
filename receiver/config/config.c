/*
 * The option tables of every section and the load sequence: parse with
 * jansson, index positions, expand ${VAR} in every string, read the tables,
 * then derive what depends on more than one option.
 */
#include "config/config.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config/expand.h"
#include "config/jsonpos.h"
#include "log.h"
#include "sources/signature.h"

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
		/* libpq's message ends with a newline; the value may hold a
		 * password, so it is not repeated. */
		size_t n = err ? strcspn(err, "\n") : 0;

		cfg_error_at(ctx, w, "url",
		             "not a valid connection string: "
		             "%.*s",
		             (int)n, err ? err : "out of memory");
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

/* admin */

static const struct cfg_option admin_options[] = {
	{ "token", CFG_STRING, OPT(struct config_admin, token),
	  .secret = true },
	{ .name = NULL },
};

static const struct cfg_section admin_section = {
	.options = admin_options,
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
	return decode_secrets(ctx, g, w);
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

/* top level */

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
	return true;
}

static const struct cfg_option top_options[] = {
	{ "state_dir", CFG_STRING, OPT(struct config, state_dir),
	  .def = ".herald", .restart = true },
	{ "public_url", CFG_STRING, OPT(struct config, public_url) },
	{ "listen", CFG_OBJECT, OPT(struct config, listen),
	  .sub = &listen_section },
	{ "tls", CFG_OBJECT, OPT(struct config, tls), .sub = &tls_section },
	{ "database", CFG_OBJECT, OPT(struct config, database),
	  .sub = &database_section },
	{ "log", CFG_OBJECT, OPT(struct config, log), .sub = &log_section },
	{ "admin", CFG_OBJECT, OPT(struct config, admin),
	  .sub = &admin_section },
	{ "ingest", CFG_OBJECT, OPT(struct config, ingest),
	  .sub = &ingest_section },
	{ "sources", CFG_OBJECT, OPT(struct config, sources),
	  .sub = &sources_section },
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
		        strcmp(o->keyword, "password") == 0 ? "<redacted>"
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
