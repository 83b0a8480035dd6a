/*
 * The logger formats a whole record into a stack buffer and writes it with
 * one write(2). A record longer than the buffer is cut and marked, never
 * split: one record is always one line.
 */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/deadline.h"
#include "util/utf8.h"

#define LOG_LINE_MAX 8192

static atomic_int log_threshold = LOG_INFO;
static atomic_int log_fmt = LOG_FORMAT_KV;
static atomic_bool log_level_pinned;
static atomic_bool log_format_pinned;
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

void log_pin(bool level, bool format)
{
	atomic_store(&log_level_pinned, level);
	atomic_store(&log_format_pinned, format);
}

void log_configure(enum log_level level, enum log_format format)
{
	if (!atomic_load(&log_level_pinned))
		atomic_store(&log_threshold, (int)level);
	if (!atomic_load(&log_format_pinned))
		atomic_store(&log_fmt, (int)format);
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

static void write_all(int fd, const char *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = write(fd, p + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

/*
 * Asynchronous mode (herald serve): records go into a ring and a thread of
 * their own writes them, so a slow disk or a full pipe never stalls the
 * event loop. When the ring is full a record is dropped and counted, and
 * the count is logged once there is room again.
 */
#define LOG_RING_SIZE (1024 * 1024)
#define LOG_FLUSH_MS  20

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	pthread_t thread;
	char *ring;
	size_t head; /* next byte to write into the ring */
	size_t used;
	uint64_t dropped;
	bool running;
	bool stopping;
} log_async = { .mu = PTHREAD_MUTEX_INITIALIZER,
	        .cond = PTHREAD_COND_INITIALIZER };

static void ring_put(const char *p, size_t len)
{
	size_t at = log_async.head;
	size_t first = len < LOG_RING_SIZE - at ? len : LOG_RING_SIZE - at;

	memcpy(log_async.ring + at, p, first);
	memcpy(log_async.ring, p + first, len - first);
	log_async.head = (at + len) % LOG_RING_SIZE;
	log_async.used += len;
}

static void line_write(struct log_line *l)
{
	bool wake;

	pthread_mutex_lock(&log_async.mu);
	if (!log_async.running) {
		pthread_mutex_unlock(&log_async.mu);
		write_all(atomic_load(&log_fd), l->buf, l->len);
		return;
	}
	if (log_async.used + l->len > LOG_RING_SIZE) {
		log_async.dropped++;
		pthread_mutex_unlock(&log_async.mu);
		return;
	}
	/* The writer looks every LOG_FLUSH_MS anyway; waking it for each
	 * record would cost a context switch per record. */
	wake = log_async.used < LOG_RING_SIZE / 2 &&
	       log_async.used + l->len >= LOG_RING_SIZE / 2;
	ring_put(l->buf, l->len);
	if (wake)
		pthread_cond_signal(&log_async.cond);
	pthread_mutex_unlock(&log_async.mu);
}

/* Wait up to LOG_FLUSH_MS for a wake-up; called with the lock held. */
static void wait_flush(void)
{
	struct timespec until = deadline_after(CLOCK_REALTIME, LOG_FLUSH_MS);

	pthread_cond_timedwait(&log_async.cond, &log_async.mu, &until);
}

/* Write what the ring holds, in contiguous pieces, outside the lock. */
static void *log_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&log_async.mu);
	for (;;) {
		size_t tail, len;
		uint64_t dropped;

		while (log_async.used == 0 && !log_async.stopping)
			wait_flush();
		if (log_async.used == 0)
			break;
		tail = (log_async.head + LOG_RING_SIZE - log_async.used) %
		       LOG_RING_SIZE;
		len = log_async.used < LOG_RING_SIZE - tail
		          ? log_async.used
		          : LOG_RING_SIZE - tail;
		dropped = log_async.dropped;
		log_async.dropped = 0;
		pthread_mutex_unlock(&log_async.mu);
		write_all(atomic_load(&log_fd), log_async.ring + tail, len);
		/* Through the ring like any record, so it keeps its place. */
		if (dropped > 0)
			log_warn("log records dropped",
			         LOG_U("count", dropped));
		pthread_mutex_lock(&log_async.mu);
		log_async.used -= len;
	}
	pthread_mutex_unlock(&log_async.mu);
	return NULL;
}

bool log_async_start(void)
{
	bool ok = false;

	pthread_mutex_lock(&log_async.mu);
	if (log_async.running) {
		pthread_mutex_unlock(&log_async.mu);
		return true;
	}
	log_async.ring = malloc(LOG_RING_SIZE);
	log_async.stopping = false;
	if (log_async.ring != NULL &&
	    pthread_create(&log_async.thread, NULL, log_thread, NULL) == 0)
		ok = log_async.running = true;
	pthread_mutex_unlock(&log_async.mu);
	return ok;
}

void log_async_stop(void)
{
	pthread_mutex_lock(&log_async.mu);
	if (!log_async.running) {
		pthread_mutex_unlock(&log_async.mu);
		return;
	}
	log_async.stopping = true;
	pthread_cond_signal(&log_async.cond);
	pthread_mutex_unlock(&log_async.mu);
	pthread_join(log_async.thread, NULL);
	pthread_mutex_lock(&log_async.mu);
	log_async.running = false;
	free(log_async.ring);
	log_async.ring = NULL;
	log_async.head = log_async.used = 0;
	pthread_mutex_unlock(&log_async.mu);
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
