/*
 * Table-driven reading of a JSON configuration into C structs.
 *
 * A section is a table of options; each option names a key, its kind, where
 * the value goes in the struct, its default and its limits. The reader walks
 * the JSON with the table, so every key is validated, an unknown key is an
 * error naming the closest known one, and every error carries the file,
 * line and column of the value it is about.
 *
 * Strings are stored in the context's arena; CFG_JSON values are borrowed
 * from the parsed document, which the caller keeps alive as long as the
 * structs (see config.c).
 */
#ifndef HERALD_CONFIG_SCHEMA_H
#define HERALD_CONFIG_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/jsonpos.h"
#include "util/arena.h"

enum cfg_kind {
	CFG_STRING,   /* const char * */
	CFG_INT,      /* int64_t */
	CFG_BOOL,     /* bool */
	CFG_DURATION, /* int64_t milliseconds, written "250ms", "30s", "5m" */
	CFG_SIZE,     /* int64_t bytes, written 1048576 or "1MiB" */
	CFG_ENUM,     /* int, the index into choices */
	CFG_OBJECT,   /* a nested struct described by sub */
	CFG_LIST,     /* struct cfg_array of sub structs, from a JSON array */
	CFG_MAP,      /* struct cfg_array of sub structs, from a JSON object;
	                 the member name goes to sub->name_offset */
	CFG_STRINGS,  /* struct cfg_strings, from an array of strings */
	CFG_STRMAP,   /* struct cfg_strmap, from an object of strings */
	CFG_JSON,     /* json_t *, any JSON value, borrowed */
};

struct cfg_array {
	void *items;
	size_t count;
};

struct cfg_strings {
	const char **items;
	size_t count;
};

struct cfg_strmap {
	const char **keys;
	const char **values;
	size_t count;
};

struct cfg_ctx;
struct cfg_section;

/* Where a value stands: its JSON pointer and the dotted name people read. */
struct cfg_where {
	char pointer[512];
	char name[512];
};

struct cfg_option {
	const char *name;
	enum cfg_kind kind;
	size_t offset;
	const char *def; /* default, written as in the file */
	bool required;
	bool secret;      /* may come from NAME_file; never printed */
	bool restart;     /* a reload may not change it */
	int64_t min, max; /* limits of INT, DURATION, SIZE when min<max */
	const char *const *choices;    /* ENUM: NULL-terminated */
	const struct cfg_section *sub; /* OBJECT, LIST, MAP */
	/* How --print shows a value that is partly secret (database URLs). */
	json_t *(*show)(const void *field);
};

struct cfg_section {
	const struct cfg_option *options; /* ends with a NULL name */
	size_t size;                      /* one element of a LIST or MAP */
	size_t name_offset;               /* MAP: const char * member name */
	/* Checks across options after they were read; reports with
	 * cfg_error_at and returns false on any error. */
	bool (*validate)(struct cfg_ctx *ctx, void *obj,
	                 const struct cfg_where *w);
};

#define CFG_ERRORS_MAX 32

/* Something a validator made that needs more than freeing memory (a
 * compiled regex), undone when the configuration is freed. */
struct cfg_cleanup {
	void (*fn)(void *arg);
	void *arg;
	struct cfg_cleanup *next;
};

struct cfg_error {
	int line;
	int column;
	char *text; /* "file:line:column: message" */
};

struct cfg_ctx {
	const char *file;
	struct jsonpos pos;
	struct arena *arena;
	struct cfg_error errors[CFG_ERRORS_MAX];
	size_t nerrors;
	size_t dropped;
	struct cfg_cleanup **cleanups; /* where cfg_on_free adds */
};

/* Run fn(arg) when the configuration being read is freed. */
void cfg_on_free(struct cfg_ctx *ctx, void (*fn)(void *arg), void *arg);

/* Read json (NULL when the section is absent) into obj using sec. Errors
 * accumulate in ctx; returns false if any was found. */
bool cfg_read(struct cfg_ctx *ctx, const struct cfg_section *sec, void *obj,
              json_t *json, const struct cfg_where *w);

/* Report an error about member key of the object at w (its value's
 * position if present, else the object's), or about w itself if key is
 * NULL. */
void cfg_error_at(struct cfg_ctx *ctx, const struct cfg_where *w,
                  const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fill child with the place of member key (or array index) of w. */
void cfg_where_child(struct cfg_where *child, const struct cfg_where *w,
                     const char *key, bool index);

/* A duration in milliseconds as the file would write it: "90s", "2m". */
void cfg_duration_text(int64_t ms, char *out, size_t size);

/* Report an error at a line and column with no key. */
void cfg_error_pos(struct cfg_ctx *ctx, int line, int column, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

/* What --print shows in place of a secret. */
#define CFG_REDACTED "<redacted>"

/* The effective values of obj as JSON, defaults included and secrets
 * shown as "<redacted>". New reference. */
json_t *cfg_show(const struct cfg_section *sec, const void *obj);

/*
 * Shows (struct cfg_option.show) for values that are not secrets as a
 * whole but may hold some; each returns a new reference.
 *
 * cfg_show_keys: a CFG_STRMAP with its names and every value redacted.
 * cfg_show_shape: a CFG_JSON with its keys and structure, every string
 * and number redacted.
 * cfg_show_url: a CFG_STRING URL with what carries credentials redacted:
 * user and password, and the query and fragment.
 */
json_t *cfg_show_keys(const void *field);
json_t *cfg_show_shape(const void *field);
json_t *cfg_show_url(const void *field);

/* The first option marked restart whose value differs between a and b, as
 * a dotted name written into name; false if none differs. */
bool cfg_restart_diff(const struct cfg_section *sec, const void *a,
                      const void *b, char *name, size_t size);

/* Put the errors in the order of the file. */
void cfg_sort_errors(struct cfg_ctx *ctx);

/* Free the ctx's position index and error texts (not the arena). */
void cfg_ctx_free(struct cfg_ctx *ctx);

#endif
