/*
 * The logger formats a whole record into a stack buffer and writes it with
 * one write(2). A record longer than the buffer is cut and marked, never
 * split: one record is always one line.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/utf8.h"

#define LOG_LINE_MAX 8192

static atomic_int log_threshold = LOG_INFO;
static atomic_int log_fmt = LOG_FORMAT_KV;
static atomic_int log_fd = STDERR_FILENO;

static const char *const log_level_names[] = {
	[LOG_DEBUG] = "debug",
	[LOG_INFO] = "info",
	[LOG_WARN] = "warn",
	[LOG_ERROR] = "error",
};

/* LOG_LINE_RESERVE bytes stay free for the cut marker and the newline. */
#define LOG_LINE_RESERVE 32

struct log_line {
	char buf[LOG_LINE_MAX];
	size_t len;
	bool cut;
	bool in_string;
};

void log_setup(enum log_level level, enum log_format format)
{
	atomic_store(&log_threshold, (int)level);
	atomic_store(&log_fmt, (int)format);
}

void log_set_level(enum log_level level)
{
	atomic_store(&log_threshold, (int)level);
}

void log_set_fd(int fd)
{
	atomic_store(&log_fd, fd);
}

bool log_enabled(enum log_level level)
{
	return (int)level >=
	       atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

bool log_level_parse(const char *name, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(log_level_names) / sizeof(char *); i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

bool log_format_parse(const char *name, enum log_format *out)
{
	if (strcmp(name, "kv") == 0 || strcmp(name, "text") == 0)
		*out = LOG_FORMAT_KV;
	else if (strcmp(name, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return false;
	return true;
}

/*
 * Pieces are appended whole or not at all, so a cut never leaves half an
 * escape or half a UTF-8 sequence; once a piece did not fit, nothing more
 * is appended until the closing marker.
 */
static void line_put(struct log_line *l, const char *s, size_t n)
{
	if (l->cut || n > LOG_LINE_MAX - LOG_LINE_RESERVE - l->len) {
		l->cut = true;
		return;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void line_close(struct log_line *l, bool json)
{
	const char *end = json ? "}\n" : "\n";

	if (l->cut && json)
		end = l->in_string ? "\",\"cut\":true}\n" : ",\"cut\":true}\n";
	else if (l->cut)
		end = l->in_string ? "\" cut=true\n" : " cut=true\n";
	memcpy(l->buf + l->len, end, strlen(end));
	l->len += strlen(end);
}

static void line_puts(struct log_line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

static void line_printf(struct log_line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void line_printf(struct log_line *l, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		line_put(l, tmp,
		         (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static bool kv_needs_quotes(const char *s)
{
	if (*s == '\0')
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' ||
		    *p >= 0x7f)
			return true;
	}
	return false;
}

/*
 * Escape one value. Valid UTF-8 passes through; control bytes and invalid
 * sequences become escapes, so a value cannot end the line or forge a field.
 */
static void line_escaped(struct log_line *l, const char *s, bool json)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p && !l->cut) {
		size_t n = utf8_valid_prefix(p);

		if (n > 1 || (n == 1 && *p >= 0x20 && *p != 0x7f && *p != '"' &&
		              *p != '\\')) {
			line_put(l, (const char *)p, n);
			p += n;
			continue;
		}
		switch (*p) {
		case '"': line_puts(l, "\\\""); break;
		case '\\': line_puts(l, "\\\\"); break;
		case '\n': line_puts(l, "\\n"); break;
		case '\r': line_puts(l, "\\r"); break;
		case '\t': line_puts(l, "\\t"); break;
		default:
			if (json && n == 1)
				line_printf(l, "\\u%04x", *p);
			else if (json)
				line_puts(l, "\\ufffd");
			else
				line_printf(l, "\\x%02x", *p);
		}
		p++;
	}
}

static void line_string(struct log_line *l, const char *s, bool json)
{
	if (s == NULL) {
		line_puts(l, json ? "null" : "\"\"");
		return;
	}
	if (!json && !kv_needs_quotes(s)) {
		line_escaped(l, s, false);
		return;
	}
	line_puts(l, "\"");
	l->in_string = !l->cut;
	line_escaped(l, s, json);
	line_puts(l, "\"");
	if (!l->cut)
		l->in_string = false;
}

static void line_value(struct log_line *l, const struct log_kv *kv, bool json)
{
	switch (kv->type) {
	case LOG_T_STR: line_string(l, kv->v.s, json); break;
	case LOG_T_INT: line_printf(l, "%" PRId64, kv->v.i); break;
	case LOG_T_UINT: line_printf(l, "%" PRIu64, kv->v.u); break;
	case LOG_T_DBL: line_printf(l, "%.6g", kv->v.d); break;
	case LOG_T_BOOL: line_puts(l, kv->v.b ? "true" : "false"); break;
	case LOG_T_END: break;
	}
}

static void line_field(struct log_line *l, const struct log_kv *kv, bool json)
{
	if (json) {
		line_puts(l, ",\"");
		line_puts(l, kv->key);
		line_puts(l, "\":");
	} else {
		line_puts(l, " ");
		line_puts(l, kv->key);
		line_puts(l, "=");
	}
	line_value(l, kv, json);
}

static void line_timestamp(struct log_line *l)
{
	struct timespec ts;
	struct tm tm;
	char when[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	line_puts(l, when);
	line_printf(l, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void line_write(struct log_line *l)
{
	int fd = atomic_load(&log_fd);
	size_t off = 0;

	while (off < l->len) {
		ssize_t n = write(fd, l->buf + off, l->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

void log_emit(enum log_level level, const char *msg, ...)
{
	int saved_errno = errno;
	bool json = atomic_load(&log_fmt) == LOG_FORMAT_JSON;
	struct log_line l = { .len = 0 };
	va_list ap;

	line_puts(&l, json ? "{\"ts\":\"" : "ts=");
	line_timestamp(&l);
	line_puts(&l, json ? "\",\"level\":\"" : " level=");
	line_puts(&l, log_level_names[level]);
	line_puts(&l, json ? "\",\"msg\":" : " msg=");
	line_string(&l, msg, json);

	va_start(ap, msg);
	for (;;) {
		struct log_kv kv = va_arg(ap, struct log_kv);

		if (kv.type == LOG_T_END)
			break;
		/* A string field without a value is left out. */
		if (kv.type == LOG_T_STR && kv.v.s == NULL)
			continue;
		line_field(&l, &kv, json);
	}
	va_end(ap);

	line_close(&l, json);
	line_write(&l);
	errno = saved_errno;
}
