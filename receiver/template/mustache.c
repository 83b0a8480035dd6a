/*
 * The Mustache compiler. One pass over the source finds each tag under the
 * delimiters in force, applies the standalone-line rule on the spot and
 * appends nodes (compiled.h). Open sections are kept on a small stack, so
 * nothing here recurses and a template nests at most TMPL_NEST_MAX deep.
 *
 * A tag is standalone when its kind allows it (section start or end,
 * inverted section, partial, comment, delimiter change), only blanks come
 * before it on its line, and only blanks follow it up to the line end or
 * the end of the template. A standalone tag takes its whole line with it;
 * a standalone partial keeps the blanks before it as the indentation of
 * every line it renders.
 */
#include "template/mustache.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/compiled.h"

/* The characters that may follow an opening delimiter and set the kind. */
#define SIGILS "!#^/>&{="

/* Kinds of tag that may stand alone on a line. */
#define STANDALONE_SIGILS "!#^/>="

/* Offsets are into the template's src. */
struct tag {
	char sigil;        /* one of SIGILS, or 0 for a plain variable */
	size_t at;         /* the opening delimiter */
	size_t name;       /* the contents, trimmed */
	size_t name_len;   /* (for {{=a b=}}, the two delimiters) */
	size_t end;        /* just past the closing delimiter */
	bool standalone;   /* the tag took its whole line */
	size_t indent;     /* the blanks before a standalone tag */
	size_t indent_len; /* (a partial indents its lines with them) */
};

struct open_section {
	uint32_t node;
	size_t at;
};

struct scan {
	struct tmpl *t;
	size_t pos;        /* start of the text not yet made into nodes */
	size_t line_start; /* start of the line that pos is on */
	bool line_busy;    /* a tag or non-blank text on it before pos */
	char open[TMPL_DELIM_MAX];
	char close[TMPL_DELIM_MAX];
	size_t open_len;
	size_t close_len;
	struct open_section sections[TMPL_NEST_MAX];
	int depth;
	char *err;
	size_t errsize;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void scan_where(const struct tmpl *t, size_t at, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < at; i++) {
		unsigned char c = (unsigned char)t->src[i];

		if (c == '\n') {
			(*line)++;
			*col = 1;
		} else if ((c & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

/* Report "line L, column C: ..." for offset at; returns false. */
static bool scan_fail(struct scan *s, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool scan_fail(struct scan *s, size_t at, const char *fmt, ...)
{
	int line, col, n;
	va_list ap;

	if (s->err == NULL || s->errsize == 0)
		return false;
	scan_where(s->t, at, &line, &col);
	n = snprintf(s->err, s->errsize, "line %d, column %d: ", line, col);
	if (n < 0 || (size_t)n >= s->errsize)
		return false;
	va_start(ap, fmt);
	vsnprintf(s->err + n, s->errsize - (size_t)n, fmt, ap);
	va_end(ap);
	return false;
}

static bool scan_oom(struct scan *s)
{
	if (s->err != NULL && s->errsize > 0)
		snprintf(s->err, s->errsize, "out of memory");
	return false;
}

static bool add_node(struct scan *s, enum tmpl_kind kind, size_t off,
                     size_t len)
{
	struct tmpl *t = s->t;

	if (t->count == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 16;
		void *nodes = realloc(t->nodes, cap * sizeof(*t->nodes));

		if (nodes == NULL)
			return scan_oom(s);
		t->nodes = nodes;
		t->cap = cap;
	}
	t->nodes[t->count] = (struct tmpl_node){
		.kind = kind,
		.off = (uint32_t)off,
		.len = (uint32_t)len,
		.end = t->count + 1,
	};
	t->count++;
	return true;
}

static bool add_text(struct scan *s, size_t from, size_t to)
{
	return from == to || add_node(s, TMPL_TEXT, from, to - from);
}

/* Follow the lines of the text from..to, which holds no tag. */
static void scan_track(struct scan *s, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		char c = s->t->src[i];

		if (c == '\n') {
			s->line_start = i + 1;
			s->line_busy = false;
		} else if (!is_blank(c)) {
			s->line_busy = true;
		}
	}
}

/* Whether only blanks follow pos up to a line end or the template's end;
 * if so *next is the start of the next line. */
static bool rest_is_blank(const struct tmpl *t, size_t pos, size_t *next)
{
	while (pos < t->len && is_blank(t->src[pos]))
		pos++;
	if (pos == t->len)
		*next = pos;
	else if (t->src[pos] == '\n')
		*next = pos + 1;
	else if (t->src[pos] == '\r' && pos + 1 < t->len &&
	         t->src[pos + 1] == '\n')
		*next = pos + 2;
	else
		return false;
	return true;
}

static char tag_sigil(const struct tmpl *t, size_t p)
{
	char c = p < t->len ? t->src[p] : '\0';

	return c != '\0' && strchr(SIGILS, c) != NULL ? c : '\0';
}

/* Read the tag whose opening delimiter is at offset at. */
static bool scan_tag(struct scan *s, size_t at, struct tag *tag)
{
	const struct tmpl *t = s->t;
	size_t p = at + s->open_len, q;
	char needle[TMPL_DELIM_MAX + 1];
	size_t nlen = 0;
	const char *hit;

	while (p < t->len && is_space(t->src[p]))
		p++;
	*tag = (struct tag){ .sigil = tag_sigil(t, p), .at = at };
	if (tag->sigil != '\0')
		p++;

	/* {{{name}}} ends at "}}}", {{=a b=}} at "=}}". */
	if (tag->sigil == '{' || tag->sigil == '=')
		needle[nlen++] = tag->sigil == '{' ? '}' : '=';
	memcpy(needle + nlen, s->close, s->close_len);
	nlen += s->close_len;
	hit = memmem(t->src + p, t->len - p, needle, nlen);
	if (hit == NULL)
		return scan_fail(s, at, "unclosed tag, no '%.*s' after it",
		                 (int)nlen, needle);

	q = (size_t)(hit - t->src);
	tag->end = q + nlen;
	while (p < q && is_space(t->src[p]))
		p++;
	while (q > p && is_space(t->src[q - 1]))
		q--;
	tag->name = p;
	tag->name_len = q - p;
	return true;
}

static bool check_name(struct scan *s, const struct tag *tag)
{
	if (tag->name_len == 0)
		return scan_fail(s, tag->at, "tag without a name");
	if (tag->name_len > TMPL_NAME_MAX)
		return scan_fail(s, tag->at, "name longer than %d bytes",
		                 TMPL_NAME_MAX);
	return true;
}

static bool delimiter_ok(const char *d, size_t n)
{
	if (n == 0 || n > TMPL_DELIM_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (is_space(d[i]) || d[i] == '=')
			return false;
	}
	return true;
}

/* {{=open close=}}: two delimiters apart, without spaces or '='. */
static bool set_delimiters(struct scan *s, const struct tag *tag)
{
	const char *p = s->t->src + tag->name;
	size_t n = tag->name_len, a = 0, b;

	while (a < n && !is_space(p[a]))
		a++;
	b = a;
	while (b < n && is_space(p[b]))
		b++;
	if (!delimiter_ok(p, a) || !delimiter_ok(p + b, n - b))
		return scan_fail(s, tag->at,
		                 "bad delimiters, want two of 1 to %d bytes "
		                 "without spaces or '='",
		                 TMPL_DELIM_MAX);

	memcpy(s->open, p, a);
	s->open_len = a;
	memcpy(s->close, p + b, n - b);
	s->close_len = n - b;
	return true;
}

static bool open_section(struct scan *s, const struct tag *tag,
                         enum tmpl_kind kind)
{
	if (!check_name(s, tag))
		return false;
	if (s->depth == TMPL_NEST_MAX)
		return scan_fail(s, tag->at, "sections nested deeper than %d",
		                 TMPL_NEST_MAX);
	s->sections[s->depth++] = (struct open_section){
		.node = s->t->count,
		.at = tag->at,
	};
	return add_node(s, kind, tag->name, tag->name_len);
}

static bool close_section(struct scan *s, const struct tag *tag)
{
	struct tmpl *t = s->t;
	const char *name = t->src + tag->name;
	int len = (int)tag->name_len;
	struct tmpl_node *sec;

	if (!check_name(s, tag))
		return false;
	if (s->depth == 0)
		return scan_fail(s, tag->at, "end of section '%.*s', not open",
		                 len, name);
	sec = &t->nodes[s->sections[s->depth - 1].node];
	if (sec->len != tag->name_len ||
	    memcmp(t->src + sec->off, name, tag->name_len) != 0)
		return scan_fail(s, tag->at,
		                 "end of section '%.*s' inside section '%.*s'",
		                 len, name, (int)sec->len, t->src + sec->off);

	sec->end = t->count;
	s->depth--;
	return true;
}

static bool add_partial(struct scan *s, const struct tag *tag)
{
	struct tmpl_node *n;

	if (!check_name(s, tag) ||
	    !add_node(s, TMPL_PARTIAL, tag->name, tag->name_len))
		return false;
	n = &s->t->nodes[s->t->count - 1];
	n->standalone = tag->standalone;
	n->indent_off = (uint32_t)tag->indent;
	n->indent_len = (uint32_t)tag->indent_len;
	return true;
}

static bool add_value(struct scan *s, const struct tag *tag,
                      enum tmpl_kind kind)
{
	return check_name(s, tag) &&
	       add_node(s, kind, tag->name, tag->name_len);
}

static bool apply_tag(struct scan *s, const struct tag *tag)
{
	switch (tag->sigil) {
	case '!': return true;
	case '=': return set_delimiters(s, tag);
	case '#': return open_section(s, tag, TMPL_SECTION);
	case '^': return open_section(s, tag, TMPL_INVERTED);
	case '/': return close_section(s, tag);
	case '>': return add_partial(s, tag);
	case '&':
	case '{': return add_value(s, tag, TMPL_RAW);
	default: return add_value(s, tag, TMPL_VAR);
	}
}

/* The tag at offset at, and the text before it. */
static bool scan_step(struct scan *s, size_t at)
{
	struct tag tag;
	size_t next, text_end = at;

	scan_track(s, s->pos, at);
	if (!scan_tag(s, at, &tag))
		return false;

	next = tag.end;
	if (tag.sigil != '\0' && strchr(STANDALONE_SIGILS, tag.sigil) &&
	    !s->line_busy && rest_is_blank(s->t, tag.end, &next)) {
		tag.standalone = true;
		tag.indent = s->line_start;
		tag.indent_len = at - s->line_start;
		text_end = s->line_start;
		s->line_start = next;
	}
	s->line_busy = !tag.standalone;

	if (!add_text(s, s->pos, text_end))
		return false;
	s->pos = next;
	return apply_tag(s, &tag);
}

static bool scan_template(struct scan *s)
{
	const struct tmpl *t = s->t;

	for (;;) {
		const char *hit = memmem(t->src + s->pos, t->len - s->pos,
		                         s->open, s->open_len);

		if (hit == NULL)
			break;
		if (!scan_step(s, (size_t)(hit - t->src)))
			return false;
	}
	if (!add_text(s, s->pos, t->len))
		return false;

	if (s->depth > 0) {
		const struct tmpl_node *n =
		    &t->nodes[s->sections[s->depth - 1].node];

		return scan_fail(s, s->sections[s->depth - 1].at,
		                 "section '%.*s' is not closed", (int)n->len,
		                 t->src + n->off);
	}
	return true;
}

struct tmpl *tmpl_compile(const char *text, size_t len, char *err,
                          size_t errsize)
{
	struct tmpl *t;
	struct scan s = {
		.open = "{{",
		.close = "}}",
		.open_len = 2,
		.close_len = 2,
		.err = err,
		.errsize = errsize,
	};

	if (len > TMPL_TEXT_MAX) {
		if (err != NULL && errsize > 0)
			snprintf(err, errsize, "template longer than %d bytes",
			         TMPL_TEXT_MAX);
		return NULL;
	}
	t = calloc(1, sizeof(*t) + len + 1);
	if (t == NULL) {
		scan_oom(&s);
		return NULL;
	}
	if (len > 0)
		memcpy(t->src, text, len);
	t->len = (uint32_t)len;

	s.t = t;
	if (!scan_template(&s)) {
		tmpl_free(t);
		return NULL;
	}
	return t;
}

void tmpl_free(struct tmpl *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t);
}
