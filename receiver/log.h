/*
 * Levelled logging: one record per line on stderr, key=value by default or
 * one JSON object per line.
 *
 * A record is a message and a list of typed fields built with the LOG_*
 * macros:
 *
 *     log_info("request rejected", LOG_S("rid", rid), LOG_I("status", 401));
 *
 * The level is checked before any argument is formatted. Every string value
 * is escaped, so bytes that came from a client can never split a record over
 * two lines. A record is written with one write(2), so records from several
 * threads never interleave. errno is preserved across every call.
 *
 * The logger is process-wide: the level and format are set once at start-up
 * (and the level again on reload); they are atomics, so any thread may log.
 *
 * By default a record is written before log_emit returns. A server calls
 * log_async_start, after which a thread of the logger's own does the
 * writing, so that a slow disk or a full pipe never blocks an event loop;
 * log_async_stop writes what is left and returns to direct writes.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR,
};

enum log_format {
	LOG_FORMAT_KV,
	LOG_FORMAT_JSON,
};

enum log_type {
	LOG_T_END,
	LOG_T_STR,
	LOG_T_INT,
	LOG_T_UINT,
	LOG_T_DBL,
	LOG_T_BOOL,
};

struct log_kv {
	const char *key;
	enum log_type type;
	union {
		const char *s;
		int64_t i;
		uint64_t u;
		double d;
		bool b;
	} v;
};

#define LOG_S(k, x)                                                            \
	((struct log_kv){ .key = (k), .type = LOG_T_STR, .v.s = (x) })
#define LOG_I(k, x)                                                            \
	((struct log_kv){ .key = (k), .type = LOG_T_INT, .v.i = (int64_t)(x) })
#define LOG_U(k, x)                                                            \
	((struct log_kv){                                                      \
	    .key = (k), .type = LOG_T_UINT, .v.u = (uint64_t)(x) })
#define LOG_D(k, x)                                                            \
	((struct log_kv){ .key = (k), .type = LOG_T_DBL, .v.d = (double)(x) })
#define LOG_B(k, x)                                                            \
	((struct log_kv){ .key = (k), .type = LOG_T_BOOL, .v.b = (x) })
#define LOG_END ((struct log_kv){ .key = NULL, .type = LOG_T_END })

/* Set the threshold and format; safe to call from any thread. */
void log_setup(enum log_level level, enum log_format format);

/* The command line set the level, the format, or both: a configuration
 * loaded later (a reload) no longer changes them. */
void log_pin(bool level, bool format);

/* What a configuration says, for what the command line left alone. */
void log_configure(enum log_level level, enum log_format format);

/* Write records to fd instead of stderr (tests capture the log this way). */
void log_set_fd(int fd);

bool log_enabled(enum log_level level);

/* Write records from a thread of their own (see above). False if the
 * thread could not be started; records are then written directly. */
bool log_async_start(void);
void log_async_stop(void);

/* Parse "debug", "info", "warn", "error"; false if the name is unknown. */
bool log_level_parse(const char *name, enum log_level *out);
bool log_format_parse(const char *name, enum log_format *out);

/* Emit one record; the variadic arguments are struct log_kv ending with
 * LOG_END. A string field whose value is NULL is left out. Use the log_*
 * macros, which add LOG_END and check the level. */
void log_emit(enum log_level level, const char *msg, ...);

#define log_at(lvl, ...)                                                       \
	do {                                                                   \
		if (log_enabled(lvl))                                          \
			log_emit(lvl, __VA_ARGS__, LOG_END);                   \
	} while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
