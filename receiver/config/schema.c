/*
 * The reader behind every configuration section. One reader function per
 * kind of value, chosen by table; errors are collected, not stopped at, so
 * one run of check-config shows every mistake in a file.
 */
#include "config/schema.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_FILE_MAX (64 * 1024)

static const char cfg_redacted[] = CFG_REDACTED;

/* Errors */

static void ctx_add(struct cfg_ctx *ctx, int line, int column, const char *msg)
{
	char *text;

	if (ctx->nerrors == CFG_ERRORS_MAX) {
		ctx->dropped++;
		return;
	}
	if (line == 0 && asprintf(&text, "%s: %s", ctx->file, msg) < 0)
		return;
	if (line > 0 &&
	    asprintf(&text, "%s:%d:%d: %s", ctx->file, line, column, msg) < 0)
		return;
	ctx->errors[ctx->nerrors++] = (struct cfg_error){ line, column, text };
}

static int by_position(const void *a, const void *b)
{
	const struct cfg_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return (x->column > y->column) - (x->column < y->column);
}

void cfg_sort_errors(struct cfg_ctx *ctx)
{
	/* qsort is not stable; equal positions keep no promised order. */
	qsort(ctx->errors, ctx->nerrors, sizeof(*ctx->errors), by_position);
}

void cfg_error_pos(struct cfg_ctx *ctx, int line, int column, const char *fmt,
                   ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx_add(ctx, line, column, msg);
}

void cfg_where_child(struct cfg_where *child, const struct cfg_where *w,
                     const char *key, bool index)
{
	size_t n = strlen(w->name);

	*child = *w;
	if (!jsonpos_append(child->pointer, sizeof(child->pointer), key))
		child->pointer[0] = '\0';
	if (index)
		snprintf(child->name + n, sizeof(child->name) - n, "[%s]", key);
	else
		snprintf(child->name + n, sizeof(child->name) - n, "%s%s",
		         n ? "." : "", key);
}

static void error_va(struct cfg_ctx *ctx, const struct cfg_where *w,
                     bool at_key, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void error_va(struct cfg_ctx *ctx, const struct cfg_where *w,
                     bool at_key, const char *fmt, va_list ap)
{
	const struct jsonpos_entry *e = jsonpos_find(&ctx->pos, w->pointer);
	int line = 1, column = 1;
	char msg[1024];
	size_t n = 0;

	if (e != NULL && at_key && e->key_line > 0) {
		line = e->key_line;
		column = e->key_column;
	} else if (e != NULL) {
		line = e->value_line;
		column = e->value_column;
	}
	if (w->name[0] != '\0')
		n = (size_t)snprintf(msg, sizeof(msg), "%s: ", w->name);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	ctx_add(ctx, line, column, msg);
}

static void cfg_error(struct cfg_ctx *ctx, const struct cfg_where *w,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfg_error(struct cfg_ctx *ctx, const struct cfg_where *w,
                      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_va(ctx, w, false, fmt, ap);
	va_end(ap);
}

static void error_key(struct cfg_ctx *ctx, const struct cfg_where *w,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void error_key(struct cfg_ctx *ctx, const struct cfg_where *w,
                      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_va(ctx, w, true, fmt, ap);
	va_end(ap);
}

void cfg_error_at(struct cfg_ctx *ctx, const struct cfg_where *w,
                  const char *key, const char *fmt, ...)
{
	struct cfg_where child;
	const struct cfg_where *at = w;
	va_list ap;

	if (key != NULL) {
		cfg_where_child(&child, w, key, false);
		if (jsonpos_find(&ctx->pos, child.pointer) != NULL)
			at = &child;
	}
	va_start(ap, fmt);
	error_va(ctx, at, false, fmt, ap);
	va_end(ap);
}

void cfg_ctx_free(struct cfg_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nerrors; i++)
		free(ctx->errors[i].text);
	ctx->nerrors = 0;
	jsonpos_free(&ctx->pos);
}

/* Closest known name, for "did you mean" */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];

	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static void consider(const char *key, const char *name, const char **best,
                     size_t *dist)
{
	size_t d = edit_distance(key, name);

	if (d < *dist) {
		*dist = d;
		*best = name;
	}
}

/* The one option the key is the start of, up to an underscore ("cert"
 * for "cert_file"), or NULL. */
static const char *prefix_option(const struct cfg_section *sec, const char *key)
{
	size_t n = strlen(key);
	const char *found = NULL;

	for (const struct cfg_option *o = sec->options; o->name; o++) {
		if (strncmp(o->name, key, n) != 0 || o->name[n] != '_')
			continue;
		if (found != NULL)
			return NULL;
		found = o->name;
	}
	return found;
}

static const char *closest_option(const struct cfg_section *sec,
                                  const char *key)
{
	static _Thread_local char file_name[80];
	const char *best = NULL;
	size_t dist = SIZE_MAX, limit = strlen(key) / 3 + 1;

	for (const struct cfg_option *o = sec->options; o->name; o++)
		consider(key, o->name, &best, &dist);
	for (const struct cfg_option *o = sec->options; o->name; o++) {
		size_t before = dist;

		if (!o->secret)
			continue;
		snprintf(file_name, sizeof(file_name), "%s_file", o->name);
		consider(key, file_name, &best, &dist);
		if (dist < before)
			return dist <= limit ? file_name : NULL;
	}
	if (limit < 2)
		limit = 2;
	return dist <= limit ? best : prefix_option(sec, key);
}

/* The key names of a section, for an unknown key with no near miss. */
static void known_options(const struct cfg_section *sec, char *out, size_t size)
{
	size_t n = 0;

	out[0] = '\0';
	for (const struct cfg_option *o = sec->options; o->name && n < size;
	     o++)
		n += (size_t)snprintf(out + n, size - n, "%s%s", n ? ", " : "",
		                      o->name);
}

/* Units */

struct unit {
	const char *suffix;
	int64_t factor;
};

static const struct unit duration_units[] = {
	{ "ms", 1 },      { "s", 1000 },     { "m", 60000 },
	{ "h", 3600000 }, { "d", 86400000 }, { NULL, 0 },
};

static const struct unit size_units[] = {
	{ "B", 1 },
	{ "KiB", 1024 },
	{ "MiB", 1024 * 1024 },
	{ "GiB", 1024 * 1024 * 1024 },
	{ NULL, 0 },
};

static bool parse_with_units(const char *s, const struct unit *units,
                             int64_t *out)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (end == s || errno != 0 || n < 0 || *s == '+' || *s == '-')
		return false;
	for (const struct unit *u = units; u->suffix; u++) {
		if (strcmp(end, u->suffix) == 0) {
			if (n > INT64_MAX / u->factor)
				return false;
			*out = n * u->factor;
			return true;
		}
	}
	return false;
}

static json_t *show_with_units(int64_t v, const struct unit *units)
{
	const struct unit *best = units;
	char text[48];

	for (const struct unit *u = units; u->suffix; u++) {
		if (v != 0 && v % u->factor == 0)
			best = u;
	}
	snprintf(text, sizeof(text), "%" PRId64 "%s", v / best->factor,
	         best->suffix);
	return json_string(text);
}

void cfg_duration_text(int64_t ms, char *out, size_t size)
{
	json_t *text = show_with_units(ms, duration_units);

	snprintf(out, size, "%s", text ? json_string_value(text) : "?");
	json_decref(text);
}

/* Readers, one per kind */

typedef bool (*cfg_reader)(struct cfg_ctx *ctx, const struct cfg_option *o,
                           json_t *v, void *field, const struct cfg_where *w);

static const char *json_kind_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

static bool expect(struct cfg_ctx *ctx, const json_t *v, bool ok,
                   const char *what, const struct cfg_where *w)
{
	if (!ok)
		cfg_error(ctx, w, "expected %s, got %s", what,
		          json_kind_name(v));
	return ok;
}

static bool check_range(struct cfg_ctx *ctx, const struct cfg_option *o,
                        int64_t v, const struct cfg_where *w)
{
	const struct unit *units = o->kind == CFG_DURATION ? duration_units
	                           : o->kind == CFG_SIZE   ? size_units
	                                                   : NULL;

	if (o->min >= o->max || (v >= o->min && v <= o->max))
		return true;
	if (units == NULL) {
		cfg_error(ctx, w,
		          "%" PRId64 " is out of range (%" PRId64 " to %" PRId64
		          ")",
		          v, o->min, o->max);
		return false;
	}

	json_t *sv = show_with_units(v, units);
	json_t *smin = show_with_units(o->min, units);
	json_t *smax = show_with_units(o->max, units);

	cfg_error(ctx, w, "%s is out of range (%s to %s)",
	          json_string_value(sv), json_string_value(smin),
	          json_string_value(smax));
	json_decref(sv);
	json_decref(smin);
	json_decref(smax);
	return false;
}

static bool read_string(struct cfg_ctx *ctx, const struct cfg_option *o,
                        json_t *v, void *field, const struct cfg_where *w)
{
	(void)o;
	if (!expect(ctx, v, json_is_string(v), "a string", w))
		return false;
	if (strlen(json_string_value(v)) != json_string_length(v)) {
		cfg_error(ctx, w, "contains a NUL character");
		return false;
	}
	*(const char **)field = arena_strdup(ctx->arena, json_string_value(v));
	return true;
}

static bool read_int(struct cfg_ctx *ctx, const struct cfg_option *o, json_t *v,
                     void *field, const struct cfg_where *w)
{
	int64_t n;

	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		char *end;

		errno = 0;
		n = strtoll(s, &end, 10);
		if (*s == '\0' || *end != '\0' || errno != 0) {
			cfg_error(ctx, w, "expected an integer, got \"%s\"", s);
			return false;
		}
	} else if (expect(ctx, v, json_is_integer(v), "an integer", w)) {
		n = json_integer_value(v);
	} else {
		return false;
	}
	if (!check_range(ctx, o, n, w))
		return false;
	*(int64_t *)field = n;
	return true;
}

static bool read_bool(struct cfg_ctx *ctx, const struct cfg_option *o,
                      json_t *v, void *field, const struct cfg_where *w)
{
	const char *s = json_string_value(v);

	(void)o;
	if (s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)) {
		*(bool *)field = s[0] == 't';
		return true;
	}
	if (!expect(ctx, v, json_is_boolean(v), "true or false", w))
		return false;
	*(bool *)field = json_is_true(v);
	return true;
}

static bool read_units(struct cfg_ctx *ctx, const struct cfg_option *o,
                       json_t *v, void *field, const struct cfg_where *w)
{
	bool duration = o->kind == CFG_DURATION;
	const struct unit *units = duration ? duration_units : size_units;
	const char *what = duration ? "a duration such as \"30s\""
	                            : "a size such as 1048576 or \"1MiB\"";
	int64_t n;

	if (!duration && json_is_integer(v) && json_integer_value(v) >= 0) {
		n = json_integer_value(v);
	} else if (!json_is_string(v) ||
	           !parse_with_units(json_string_value(v), units, &n)) {
		if (json_is_string(v))
			cfg_error(ctx, w, "expected %s, got \"%s\"", what,
			          json_string_value(v));
		else
			expect(ctx, v, false, what, w);
		return false;
	}
	if (!check_range(ctx, o, n, w))
		return false;
	*(int64_t *)field = n;
	return true;
}

static bool read_enum(struct cfg_ctx *ctx, const struct cfg_option *o,
                      json_t *v, void *field, const struct cfg_where *w)
{
	char list[256] = "";
	const char *s;
	size_t n = 0;

	if (!expect(ctx, v, json_is_string(v), "a string", w))
		return false;
	s = json_string_value(v);
	for (int i = 0; o->choices[i]; i++) {
		if (strcmp(s, o->choices[i]) == 0) {
			*(int *)field = i;
			return true;
		}
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s",
		                      i ? ", " : "", o->choices[i]);
		if (n >= sizeof(list))
			n = sizeof(list) - 1;
	}
	cfg_error(ctx, w, "unknown value \"%s\"; expected one of %s", s, list);
	return false;
}

static bool read_object(struct cfg_ctx *ctx, const struct cfg_option *o,
                        json_t *v, void *field, const struct cfg_where *w)
{
	return cfg_read(ctx, o->sub, field, v, w);
}

static bool read_list(struct cfg_ctx *ctx, const struct cfg_option *o,
                      json_t *v, void *field, const struct cfg_where *w)
{
	struct cfg_array *arr = field;
	bool ok = true;
	size_t i;
	json_t *item;

	if (!expect(ctx, v, json_is_array(v), "an array", w))
		return false;
	arr->count = json_array_size(v);
	arr->items = arena_alloc(ctx->arena, arr->count * o->sub->size + 1);
	json_array_foreach(v, i, item)
	{
		struct cfg_where child;
		char index[24];

		snprintf(index, sizeof(index), "%zu", i);
		cfg_where_child(&child, w, index, true);
		ok &=
		    cfg_read(ctx, o->sub, (char *)arr->items + i * o->sub->size,
		             item, &child);
	}
	return ok;
}

static bool read_map(struct cfg_ctx *ctx, const struct cfg_option *o, json_t *v,
                     void *field, const struct cfg_where *w)
{
	struct cfg_array *arr = field;
	bool ok = true;
	size_t i = 0;
	const char *key;
	json_t *item;

	if (!expect(ctx, v, json_is_object(v), "an object", w))
		return false;
	arr->count = json_object_size(v);
	arr->items = arena_alloc(ctx->arena, arr->count * o->sub->size + 1);
	json_object_foreach(v, key, item)
	{
		char *elem = (char *)arr->items + i++ * o->sub->size;
		struct cfg_where child;

		cfg_where_child(&child, w, key, false);
		*(const char **)(elem + o->sub->name_offset) =
		    arena_strdup(ctx->arena, key);
		ok &= cfg_read(ctx, o->sub, elem, item, &child);
	}
	return ok;
}

static bool read_strings(struct cfg_ctx *ctx, const struct cfg_option *o,
                         json_t *v, void *field, const struct cfg_where *w)
{
	struct cfg_strings *out = field;
	bool ok = true;
	size_t i;
	json_t *item;

	if (!expect(ctx, v, json_is_array(v), "an array of strings", w))
		return false;
	out->count = json_array_size(v);
	out->items = arena_alloc(ctx->arena, sizeof(char *) * out->count + 1);
	json_array_foreach(v, i, item)
	{
		struct cfg_where child;
		char index[24];

		snprintf(index, sizeof(index), "%zu", i);
		cfg_where_child(&child, w, index, true);
		ok &= read_string(ctx, o, item, &out->items[i], &child);
	}
	return ok;
}

static bool read_strmap(struct cfg_ctx *ctx, const struct cfg_option *o,
                        json_t *v, void *field, const struct cfg_where *w)
{
	struct cfg_strmap *out = field;
	size_t n, i = 0;
	bool ok = true;
	const char *key;
	json_t *item;

	if (!expect(ctx, v, json_is_object(v), "an object of strings", w))
		return false;
	n = json_object_size(v);
	out->keys = arena_alloc(ctx->arena, sizeof(char *) * n + 1);
	out->values = arena_alloc(ctx->arena, sizeof(char *) * n + 1);
	json_object_foreach(v, key, item)
	{
		struct cfg_where child;

		cfg_where_child(&child, w, key, false);
		out->keys[i] = arena_strdup(ctx->arena, key);
		ok &= read_string(ctx, o, item, &out->values[i], &child);
		i++;
	}
	out->count = n;
	return ok;
}

static bool read_json(struct cfg_ctx *ctx, const struct cfg_option *o,
                      json_t *v, void *field, const struct cfg_where *w)
{
	(void)ctx, (void)o, (void)w;
	*(json_t **)field = v;
	return true;
}

static const cfg_reader cfg_readers[] = {
	[CFG_STRING] = read_string, [CFG_INT] = read_int,
	[CFG_BOOL] = read_bool,     [CFG_DURATION] = read_units,
	[CFG_SIZE] = read_units,    [CFG_ENUM] = read_enum,
	[CFG_OBJECT] = read_object, [CFG_LIST] = read_list,
	[CFG_MAP] = read_map,       [CFG_STRINGS] = read_strings,
	[CFG_STRMAP] = read_strmap, [CFG_JSON] = read_json,
};

/* Sections */

static const struct cfg_option *find_option(const struct cfg_section *sec,
                                            const char *key, bool *from_file)
{
	size_t n = strlen(key);

	*from_file = false;
	for (const struct cfg_option *o = sec->options; o->name; o++) {
		if (strcmp(o->name, key) == 0)
			return o;
	}
	if (n <= 5 || strcmp(key + n - 5, "_file") != 0)
		return NULL;
	for (const struct cfg_option *o = sec->options; o->name; o++) {
		if (o->secret && strlen(o->name) == n - 5 &&
		    strncmp(o->name, key, n - 5) == 0) {
			*from_file = true;
			return o;
		}
	}
	return NULL;
}

static void error_unknown_key(struct cfg_ctx *ctx,
                              const struct cfg_section *sec, const char *key,
                              const struct cfg_where *w)
{
	const char *hint = closest_option(sec, key);
	struct cfg_where at;
	char known[512];

	/* Positioned at the key, named by the object that holds it. */
	cfg_where_child(&at, w, key, false);
	memcpy(at.name, w->name, sizeof(at.name));
	if (hint != NULL) {
		error_key(ctx, &at, "unknown key \"%s\"; did you mean \"%s\"?",
		          key, hint);
		return;
	}
	known_options(sec, known, sizeof(known));
	error_key(ctx, &at, "unknown key \"%s\"; known keys: %s", key, known);
}

static bool check_keys(struct cfg_ctx *ctx, const struct cfg_section *sec,
                       json_t *json, const struct cfg_where *w)
{
	bool ok = true, from_file;
	const char *key;
	json_t *v;

	json_object_foreach(json, key, v)
	{
		if (find_option(sec, key, &from_file) != NULL)
			continue;
		error_unknown_key(ctx, sec, key, w);
		ok = false;
	}
	return ok;
}

/* Read a secret file into buf (SECRET_FILE_MAX + 1 bytes), trailing line
 * ends (CR and LF) removed: an editor's last newline is not part of the
 * secret. The path is shown in errors, the contents never are. */
static bool load_secret_text(struct cfg_ctx *ctx, json_t *v, char *buf,
                             size_t *len, const struct cfg_where *w)
{
	const char *path;
	size_t n;
	FILE *f;

	if (!expect(ctx, v, json_is_string(v), "a file name", w))
		return false;
	path = json_string_value(v);
	f = fopen(path, "re");
	if (f == NULL) {
		cfg_error(ctx, w, "cannot read \"%s\": %s", path,
		          strerror(errno));
		return false;
	}
	n = fread(buf, 1, SECRET_FILE_MAX + 1, f);
	fclose(f);
	if (n > SECRET_FILE_MAX || memchr(buf, '\0', n) != NULL) {
		cfg_error(ctx, w,
		          "\"%s\" does not hold a secret (too long or "
		          "binary)",
		          path);
		return false;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n == 0) {
		cfg_error(ctx, w, "\"%s\" is empty", path);
		return false;
	}
	*len = n;
	return true;
}

/* A secret from NAME_file: the whole file, or for a list one secret per
 * non-empty line. */
static bool read_secret_file(struct cfg_ctx *ctx, const struct cfg_option *o,
                             json_t *v, void *field, const struct cfg_where *w)
{
	char buf[SECRET_FILE_MAX + 1];
	struct cfg_strings *list = field;
	size_t n, lines = 1;

	if (!load_secret_text(ctx, v, buf, &n, w))
		return false;
	if (o->kind != CFG_STRINGS) {
		*(const char **)field = arena_strndup(ctx->arena, buf, n);
		explicit_bzero(buf, sizeof(buf));
		return true;
	}
	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	list->items = arena_alloc(ctx->arena, sizeof(char *) * lines);
	list->count = 0;
	for (char *p = buf, *end = buf + n; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t k = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (k > 0 && p[k - 1] == '\r')
			k--;
		if (k > 0)
			list->items[list->count++] =
			    arena_strndup(ctx->arena, p, k);
		p += (nl ? (size_t)(nl - p) + 1 : (size_t)(end - p));
	}
	explicit_bzero(buf, sizeof(buf));
	return true;
}

/*
 * The value of option o in json, or of its NAME_file twin; NULL when
 * neither is set (JSON null counts as not set). False if both are.
 */
static bool option_value(struct cfg_ctx *ctx, const struct cfg_option *o,
                         json_t *json, const struct cfg_where *w, json_t **out,
                         bool *from_file)
{
	char file_key[96];
	json_t *direct = json ? json_object_get(json, o->name) : NULL;
	json_t *file = NULL;

	if (o->secret && json != NULL) {
		snprintf(file_key, sizeof(file_key), "%s_file", o->name);
		file = json_object_get(json, file_key);
	}
	if (json_is_null(direct))
		direct = NULL;
	if (json_is_null(file))
		file = NULL;
	if (direct != NULL && file != NULL) {
		cfg_error_at(ctx, w, NULL,
		             "both \"%s\" and \"%s\" are set; use one", o->name,
		             file_key);
		return false;
	}
	*from_file = file != NULL;
	*out = file != NULL ? file : direct;
	return true;
}

static bool read_missing(struct cfg_ctx *ctx, const struct cfg_option *o,
                         void *field, const struct cfg_where *w,
                         const struct cfg_where *child)
{
	json_t *def;
	bool ok;

	if (o->required && o->secret) {
		cfg_error_at(ctx, w, NULL,
		             "missing required key \"%s\" (or \"%s_file\")",
		             o->name, o->name);
		return false;
	}
	if (o->required) {
		cfg_error_at(ctx, w, NULL, "missing required key \"%s\"",
		             o->name);
		return false;
	}
	if (o->kind == CFG_OBJECT)
		return cfg_read(ctx, o->sub, field, NULL, child);
	if (o->def == NULL)
		return true;
	def = json_string(o->def);
	ok = cfg_readers[o->kind](ctx, o, def, field, child);
	json_decref(def);
	return ok;
}

static bool read_option(struct cfg_ctx *ctx, const struct cfg_option *o,
                        void *obj, json_t *json, const struct cfg_where *w)
{
	void *field = (char *)obj + o->offset;
	struct cfg_where child;
	bool from_file = false;
	char key[96];
	json_t *v = NULL;

	if (!option_value(ctx, o, json, w, &v, &from_file))
		return false;
	snprintf(key, sizeof(key), from_file ? "%s_file" : "%s", o->name);
	cfg_where_child(&child, w, key, false);
	if (v == NULL)
		return read_missing(ctx, o, field, w, &child);
	if (from_file)
		return read_secret_file(ctx, o, v, field, &child);
	return cfg_readers[o->kind](ctx, o, v, field, &child);
}

bool cfg_read(struct cfg_ctx *ctx, const struct cfg_section *sec, void *obj,
              json_t *json, const struct cfg_where *w)
{
	bool ok = true;

	if (json_is_null(json))
		json = NULL;
	if (json != NULL &&
	    !expect(ctx, json, json_is_object(json), "an object", w))
		return false;
	if (json != NULL)
		ok = check_keys(ctx, sec, json, w);
	for (const struct cfg_option *o = sec->options; o->name; o++)
		ok &= read_option(ctx, o, obj, json, w);
	if (ok && sec->validate != NULL)
		ok = sec->validate(ctx, obj, w);
	return ok;
}

/* Showing the effective configuration */

static json_t *show_option(const struct cfg_option *o, const void *field);

static json_t *show_array(const struct cfg_option *o, const void *field)
{
	const struct cfg_array *arr = field;
	bool map = o->kind == CFG_MAP;
	json_t *out = map ? json_object() : json_array();

	for (size_t i = 0; i < arr->count; i++) {
		const char *elem = (const char *)arr->items + i * o->sub->size;
		json_t *v = cfg_show(o->sub, elem);

		if (map)
			json_object_set_new(
			    out,
			    *(const char *const *)(elem + o->sub->name_offset),
			    v);
		else
			json_array_append_new(out, v);
	}
	return out;
}

static json_t *show_strings(const struct cfg_option *o, const void *field)
{
	json_t *out;

	if (o->kind == CFG_STRINGS) {
		const struct cfg_strings *l = field;

		out = json_array();
		for (size_t i = 0; i < l->count; i++)
			json_array_append_new(out, json_string(l->items[i]));
		return out;
	}

	const struct cfg_strmap *m = field;

	out = json_object();
	for (size_t i = 0; i < m->count; i++)
		json_object_set_new(
		    out, m->keys[i],
		    json_string(o->secret ? cfg_redacted : m->values[i]));
	return out;
}

static json_t *show_secret(const struct cfg_option *o, const void *field)
{
	if (o->kind == CFG_STRMAP)
		return show_strings(o, field);
	if (o->kind == CFG_STRINGS) {
		const struct cfg_strings *l = field;
		json_t *out = json_array();

		for (size_t i = 0; i < l->count; i++)
			json_array_append_new(out, json_string(cfg_redacted));
		return out;
	}
	if (*(const char *const *)field == NULL)
		return json_null();
	return json_string(cfg_redacted);
}

static json_t *show_option(const struct cfg_option *o, const void *field)
{
	if (o->secret)
		return show_secret(o, field);
	if (o->show != NULL)
		return o->show(field);

	switch (o->kind) {
	case CFG_STRING:
		return *(const char *const *)field
		           ? json_string(*(const char *const *)field)
		           : json_null();
	case CFG_INT: return json_integer(*(const int64_t *)field);
	case CFG_BOOL: return json_boolean(*(const bool *)field);
	case CFG_DURATION:
		return show_with_units(*(const int64_t *)field, duration_units);
	case CFG_SIZE:
		return show_with_units(*(const int64_t *)field, size_units);
	case CFG_ENUM: return json_string(o->choices[*(const int *)field]);
	case CFG_OBJECT: return cfg_show(o->sub, field);
	case CFG_LIST:
	case CFG_MAP: return show_array(o, field);
	case CFG_STRINGS:
	case CFG_STRMAP: return show_strings(o, field);
	case CFG_JSON:
		return *(json_t *const *)field
		           ? json_deep_copy(*(json_t *const *)field)
		           : json_null();
	}
	return json_null();
}

json_t *cfg_show(const struct cfg_section *sec, const void *obj)
{
	json_t *out = json_object();

	for (const struct cfg_option *o = sec->options; o->name; o++)
		json_object_set_new(
		    out, o->name,
		    show_option(o, (const char *)obj + o->offset));
	return out;
}

json_t *cfg_show_keys(const void *field)
{
	const struct cfg_strmap *m = field;
	json_t *out = json_object();

	for (size_t i = 0; i < m->count; i++)
		json_object_set_new(out, m->keys[i], json_string(cfg_redacted));
	return out;
}

static json_t *shape_of(json_t *v)
{
	json_t *out, *item;
	const char *key;
	size_t i;

	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach(v, key, item)
		{
			json_object_set_new(out, key, shape_of(item));
		}
		return out;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, item)
		{
			json_array_append_new(out, shape_of(item));
		}
		return out;
	}
	if (json_is_string(v) || json_is_number(v))
		return json_string(cfg_redacted);
	return json_incref(v); /* true, false, null: nothing to hide */
}

json_t *cfg_show_shape(const void *field)
{
	json_t *v = *(json_t *const *)field;

	return v != NULL ? shape_of(v) : json_null();
}

/* scheme://[userinfo@]host[:port][/path][?query][#fragment]: the
 * userinfo, query and fragment become "<redacted>". A value without
 * "://" is read as starting at the host. */
json_t *cfg_show_url(const void *field)
{
	const char *url = *(const char *const *)field, *sep, *host, *at, *rest;
	size_t head, hostlen;
	json_t *out;
	char *text;

	if (url == NULL)
		return json_null();
	sep = strstr(url, "://");
	host = sep != NULL ? sep + 3 : url;
	head = (size_t)(host - url);
	hostlen = strcspn(host, "/?#");
	at = memrchr(host, '@', hostlen);
	if (at != NULL) {
		hostlen -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	rest = host + hostlen + strcspn(host + hostlen, "?#");
	if (asprintf(&text, "%.*s%s%.*s%.1s%s", (int)head, url,
	             at != NULL ? CFG_REDACTED "@" : "", (int)(rest - host),
	             host, rest, *rest != '\0' ? CFG_REDACTED : "") < 0)
		return json_string(cfg_redacted);
	out = json_string(text);
	free(text);
	return out;
}

static bool restart_diff_in(const struct cfg_section *sec, const void *a,
                            const void *b, const char *prefix, char *name,
                            size_t size)
{
	for (const struct cfg_option *o = sec->options; o->name; o++) {
		const char *fa = (const char *)a + o->offset;
		const char *fb = (const char *)b + o->offset;
		char path[256];
		json_t *ja, *jb;
		bool same;

		snprintf(path, sizeof(path), "%s%s%s", prefix,
		         *prefix ? "." : "", o->name);
		if (o->kind == CFG_OBJECT && !o->restart) {
			if (restart_diff_in(o->sub, fa, fb, path, name, size))
				return true;
			continue;
		}
		if (!o->restart)
			continue;
		ja = show_option(o, fa);
		jb = show_option(o, fb);
		same = json_equal(ja, jb);
		json_decref(ja);
		json_decref(jb);
		if (!same) {
			snprintf(name, size, "%s", path);
			return true;
		}
	}
	return false;
}

bool cfg_restart_diff(const struct cfg_section *sec, const void *a,
                      const void *b, char *name, size_t size)
{
	return restart_diff_in(sec, a, b, "", name, size);
}

void cfg_on_free(struct cfg_ctx *ctx, void (*fn)(void *arg), void *arg)
{
	struct cfg_cleanup *c = arena_alloc(ctx->arena, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->next = *ctx->cleanups;
	*ctx->cleanups = c;
}
