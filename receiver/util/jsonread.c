/*
 * A recursive-descent reader over the whole text at once. Strings without
 * escapes go straight from the input to jansson, which copies them; an
 * escaped string is decoded into one scratch buffer reused for the whole
 * text. Positions are counted only when there is an error to report.
 */
#include "util/jsonread.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/utf8.h"

/* As jansson's JSON_PARSER_MAX_DEPTH: every value counts one level. */
#define JSONREAD_MAX_DEPTH 2048

/* Longest number copied to the stack for strtod; longer ones use the
 * scratch buffer. */
#define JSONREAD_NUMBER_MAX 64

struct reader {
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	struct buf scratch;
	struct jsonread_error *err;
	bool failed;
};

/* A string as read: either a span of the input or the scratch buffer. */
struct span {
	const char *s;
	size_t len;
	bool in_scratch;
};

static json_t *read_value(struct reader *r, int depth);

static void locate(const struct reader *r, const unsigned char *at,
                   struct jsonread_error *err)
{
	err->line = 1;
	err->column = 1;
	for (const unsigned char *q = r->start; q < at; q++) {
		if (*q == '\n') {
			err->line++;
			err->column = 1;
		} else if ((*q & 0xc0) != 0x80) {
			err->column++;
		}
	}
}

/* Record the first error, at position at; returns NULL for the caller. */
static void *fail(struct reader *r, const unsigned char *at, const char *fmt,
                  ...) __attribute__((format(printf, 3, 4)));

static void *fail(struct reader *r, const unsigned char *at, const char *fmt,
                  ...)
{
	va_list ap;

	if (r->failed)
		return NULL;
	r->failed = true;
	locate(r, at, r->err);
	va_start(ap, fmt);
	vsnprintf(r->err->text, sizeof(r->err->text), fmt, ap);
	va_end(ap);
	return NULL;
}

static void *fail_here(struct reader *r)
{
	unsigned c;

	if (r->p >= r->end)
		return fail(r, r->p, "unexpected end of input");
	c = *r->p;
	if (c > 0x20 && c < 0x7f)
		return fail(r, r->p, "unexpected '%c'", (char)c);
	return fail(r, r->p, "unexpected byte 0x%02x", c);
}

static void skip_space(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' ||
	                         *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

/* Strings */

static int hex_digit(unsigned c)
{
	if (c >= '0' && c <= '9')
		return (int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (int)(c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (int)(c - 'A' + 10);
	return -1;
}

/* The four hex digits after "\u" at p; -1 if they are not. */
static long hex4(const struct reader *r, const unsigned char *p)
{
	long v = 0;

	if (r->end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = hex_digit(p[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* A \u escape at r->p (on the backslash), surrogate pairs joined. */
static bool read_unicode(struct reader *r, unsigned *cp)
{
	const unsigned char *at = r->p;
	long hi = hex4(r, at + 2), lo;

	if (hi < 0)
		return fail(r, at, "invalid \\u escape");
	r->p += 6;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(r, at, "lone low surrogate \\u%04lX", hi);
	if (hi >= 0xd800 && hi <= 0xdbff) {
		lo = r->end - r->p >= 2 && r->p[0] == '\\' && r->p[1] == 'u'
		         ? hex4(r, r->p + 2)
		         : -1;
		if (lo < 0xdc00 || lo > 0xdfff)
			return fail(r, at, "\\u%04lX without a low surrogate",
			            hi);
		r->p += 6;
		*cp = 0x10000 + (((unsigned)hi - 0xd800) << 10) +
		      ((unsigned)lo - 0xdc00);
		return true;
	}
	if (hi == 0)
		return fail(r, at, "\\u0000 is not allowed");
	*cp = (unsigned)hi;
	return true;
}

/* One escape at r->p (on the backslash), appended to the scratch. */
static bool read_escape(struct reader *r)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	char utf8[4];
	unsigned cp = 0;

	if (r->end - r->p < 2)
		return fail(r, r->p, "unterminated string");
	if (r->p[1] == 'u') {
		if (!read_unicode(r, &cp))
			return false;
		buf_put(&r->scratch, utf8, utf8_encode(cp, utf8));
		return true;
	}
	hit = r->p[1] ? strchr(from, r->p[1]) : NULL;
	if (hit == NULL)
		return fail(r, r->p, "invalid escape");
	buf_putc(&r->scratch, to[hit - from]);
	r->p += 2;
	return true;
}

/*
 * Move r->p over plain string bytes: printable ASCII, and whole
 * well-formed UTF-8 sequences. Stops at a quote, a backslash, a control
 * byte, the end, or a malformed sequence.
 */
static void skip_plain(struct reader *r)
{
	const unsigned char *p = r->p, *end = r->end;

	while (p < end) {
		size_t n;

		if (*p >= 0x20 && *p < 0x80) {
			if (*p == '"' || *p == '\\')
				break;
			p++;
			continue;
		}
		if (*p < 0x20 || (n = utf8_valid_at(p, (size_t)(end - p))) == 0)
			break;
		p += n;
	}
	r->p = p;
}

static bool string_stop(struct reader *r)
{
	if (r->p >= r->end)
		return fail(r, r->p, "unterminated string");
	if (*r->p < 0x20)
		return fail(r, r->p, "control character 0x%02x in a string",
		            *r->p);
	return fail(r, r->p, "invalid UTF-8 in a string");
}

/* The string whose opening quote is at r->p. */
static bool read_string(struct reader *r, struct span *out)
{
	const unsigned char *run = ++r->p;

	skip_plain(r);
	if (r->p < r->end && *r->p == '"') {
		*out = (struct span){ (const char *)run, (size_t)(r->p - run),
			              false };
		r->p++;
		return true;
	}
	buf_reset(&r->scratch);
	for (;;) {
		buf_put(&r->scratch, run, (size_t)(r->p - run));
		if (r->p < r->end && *r->p == '"')
			break;
		if (r->p >= r->end || *r->p != '\\')
			return string_stop(r);
		if (!read_escape(r))
			return false;
		run = r->p;
		skip_plain(r);
	}
	r->p++;
	if (buf_failed(&r->scratch))
		return fail(r, run, "out of memory");
	*out = (struct span){ r->scratch.data ? r->scratch.data : "",
		              r->scratch.len, true };
	return true;
}

/* Numbers */

static const unsigned char *digits(const unsigned char *p,
                                   const unsigned char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* The end of the number that starts at p, by the JSON grammar; NULL if
 * there is none. */
static const unsigned char *number_end(const unsigned char *p,
                                       const unsigned char *end)
{
	const unsigned char *q;

	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		q = p + 1;
	else if ((q = digits(p, end)) == p)
		return NULL;
	if (q < end && *q >= '0' && *q <= '9')
		return NULL; /* a leading zero */
	if (q < end && *q == '.') {
		p = q + 1;
		if ((q = digits(p, end)) == p)
			return NULL;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		p = q + 1;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if ((q = digits(p, end)) == p)
			return NULL;
	}
	return q;
}

static json_t *read_number(struct reader *r)
{
	const unsigned char *at = r->p, *end = number_end(r->p, r->end);
	char small[JSONREAD_NUMBER_MAX + 1];
	const char *text = small;
	size_t len;
	double v;
	json_t *j;

	if (end == NULL)
		return fail(r, at, "invalid number");
	len = (size_t)(end - at);
	if (len <= JSONREAD_NUMBER_MAX) {
		memcpy(small, at, len);
		small[len] = '\0';
	} else {
		buf_reset(&r->scratch);
		buf_put(&r->scratch, at, len);
		if (buf_failed(&r->scratch))
			return fail(r, at, "out of memory");
		text = buf_str(&r->scratch);
	}
	errno = 0;
	v = strtod(text, NULL);
	if (errno == ERANGE && isinf(v))
		return fail(r, at, "number out of range");
	r->p = end;
	j = json_real(v);
	return j ? j : fail(r, at, "out of memory");
}

/* Literals */

static json_t *read_word(struct reader *r)
{
	static const struct {
		const char *word;
		size_t len;
	} words[] = { { "true", 4 }, { "false", 5 }, { "null", 4 } };
	const unsigned char *at = r->p, *p = r->p;

	/* The whole word, so "nullx" is not null followed by garbage. */
	while (p < r->end &&
	       ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		p++;
	for (size_t i = 0; i < 3; i++) {
		if ((size_t)(p - at) == words[i].len &&
		    memcmp(at, words[i].word, words[i].len) == 0) {
			r->p = p;
			return i == 0   ? json_true()
			       : i == 1 ? json_false()
			                : json_null();
		}
	}
	return fail(r, at, "invalid literal");
}

/* Containers */

/* Past ',' or the closing byte after a member; false on anything else. */
static bool next_member(struct reader *r, char close, bool *more)
{
	skip_space(r);
	if (r->p < r->end && *r->p == ',') {
		r->p++;
		*more = true;
		return true;
	}
	if (r->p < r->end && *r->p == (unsigned char)close) {
		r->p++;
		*more = false;
		return true;
	}
	return fail(r, r->p, "',' or '%c' expected", close);
}

static json_t *read_array(struct reader *r, int depth)
{
	json_t *a = json_array();
	bool more = true;

	if (a == NULL)
		return fail(r, r->p, "out of memory");
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
		return a;
	}
	while (more) {
		json_t *v = read_value(r, depth);

		if (v == NULL || json_array_append_new(a, v) != 0 ||
		    !next_member(r, ']', &more)) {
			json_decref(a);
			return fail(r, r->p, "out of memory");
		}
	}
	return a;
}

/* One "key": value member into o. */
static bool read_member(struct reader *r, json_t *o, int depth)
{
	struct span key;
	char *copy = NULL;
	json_t *v;
	int rc;

	skip_space(r);
	if (r->p >= r->end || *r->p != '"')
		return fail(r, r->p, "string or '}' expected");
	if (!read_string(r, &key))
		return false;
	/* The value may need the scratch buffer the key is in. */
	if (key.in_scratch) {
		copy = malloc(key.len + 1);
		if (copy == NULL)
			return fail(r, r->p, "out of memory");
		memcpy(copy, key.s, key.len);
		key.s = copy;
	}
	skip_space(r);
	if (r->p >= r->end || *r->p != ':') {
		free(copy);
		return fail(r, r->p, "':' expected");
	}
	r->p++;
	v = read_value(r, depth);
	rc = v ? json_object_setn_new_nocheck(o, key.s, key.len, v) : -1;
	free(copy);
	return rc == 0 || fail(r, r->p, "out of memory");
}

static json_t *read_object(struct reader *r, int depth)
{
	json_t *o = json_object();
	bool more = true;

	if (o == NULL)
		return fail(r, r->p, "out of memory");
	r->p++;
	skip_space(r);
	if (r->p < r->end && *r->p == '}') {
		r->p++;
		return o;
	}
	while (more) {
		if (!read_member(r, o, depth) || !next_member(r, '}', &more)) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static json_t *read_value(struct reader *r, int depth)
{
	struct span s;
	unsigned c;
	json_t *j;

	if (++depth > JSONREAD_MAX_DEPTH)
		return fail(r, r->p, "nested more than %d levels deep",
		            JSONREAD_MAX_DEPTH);
	skip_space(r);
	if (r->p >= r->end)
		return fail_here(r);
	c = *r->p;
	if (c == '{')
		return read_object(r, depth);
	if (c == '[')
		return read_array(r, depth);
	if (c == '-' || (c >= '0' && c <= '9'))
		return read_number(r);
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return read_word(r);
	if (c != '"')
		return fail_here(r);
	if (!read_string(r, &s))
		return NULL;
	j = json_stringn_nocheck(s.s, s.len);
	return j ? j : fail(r, r->p, "out of memory");
}

json_t *jsonread(const char *text, size_t len, struct jsonread_error *err)
{
	struct reader r = {
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.err = err,
	};
	json_t *j = read_value(&r, 0);

	if (j != NULL) {
		skip_space(&r);
		if (r.p < r.end) {
			json_decref(j);
			j = fail(&r, r.p, "end of input expected");
		}
	}
	buf_free(&r.scratch);
	return j;
}
