/*
 * The Mustache renderer: walks a compiled template (compiled.h) over a
 * stack of jansson contexts and appends to one growing buffer, escaping
 * values for the mode of the render.
 *
 * The context stack lives on the C stack, one struct ctx per section
 * level. Partials are compiled the first time a render meets their name
 * and kept until the render ends. A standalone partial indents each line
 * it renders: the indentation of all partials open at once is one string,
 * of which each frame uses a prefix, and it is written lazily before the
 * first text or value of each line, never before an interpolated value's
 * own line breaks (the spec indents a partial's lines, not its data).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/compiled.h"
#include "template/mustache.h"
#include "util/utf8.h"

struct ctx {
	const json_t *value;
	const struct ctx *up;
};

/* A partial met during this render; t is NULL when it has no text. */
struct partial {
	char *name;
	struct tmpl *t;
};

struct render {
	enum tmpl_escape mode;
	tmpl_partial_fn partial_fn;
	void *arg;
	char *out; /* the output so far, with room for a final NUL */
	size_t len;
	size_t cap;
	char *indent; /* indentation of the partials open now */
	size_t indent_cap;
	struct partial *partials;
	size_t npartials;
	size_t partials_cap;
	size_t steps;
	int depth; /* partials open now */
	char *err;
	size_t errsize;
};

/* A template being rendered: the one asked for, or a partial. */
struct frame {
	const struct tmpl *t;
	size_t indent_len; /* the prefix of render.indent this frame uses */
	bool line_start;   /* nothing written yet on this line */
};

typedef bool (*put_fn)(struct render *r, const char *s, size_t n);
typedef bool (*node_fn)(struct render *r, struct frame *f, const struct ctx *c,
                        uint32_t i);

/* Report an error (the first one wins); returns false. */
static bool fail(struct render *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool fail(struct render *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err == NULL || r->errsize == 0 || r->err[0] != '\0')
		return false;
	va_start(ap, fmt);
	vsnprintf(r->err, r->errsize, fmt, ap);
	va_end(ap);
	return false;
}

/* Room for need items of size bytes at p, doubling; NULL if out of memory
 * (p is then unchanged and still owned by the caller). */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *np;

	if (need <= *cap && p != NULL)
		return p;
	while (n < need)
		n *= 2;
	np = realloc(p, n * size);
	if (np != NULL)
		*cap = n;
	return np;
}

static bool put(struct render *r, const char *s, size_t n)
{
	char *out;

	if (n == 0)
		return true;
	if (n > TMPL_OUTPUT_MAX - r->len)
		return fail(r, "output longer than %d bytes", TMPL_OUTPUT_MAX);
	out = grow(r->out, &r->cap, r->len + n + 1, 1);
	if (out == NULL)
		return fail(r, "out of memory");
	r->out = out;
	memcpy(r->out + r->len, s, n);
	r->len += n;
	return true;
}

static const char *html_entity(char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

static bool put_html(struct render *r, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		const char *e = html_entity(s[i]);

		if (e == NULL)
			continue;
		if (!put(r, s + run, i - run) || !put(r, e, strlen(e)))
			return false;
		run = i + 1;
	}
	return put(r, s + run, n - run);
}

/*
 * The JSON escape for the character at s, if it needs one, into esc (room
 * for 7 bytes); returns its length, 0 if the bytes pass as they are, and
 * sets *step to the bytes consumed. s must be NUL-terminated past the
 * value, so a UTF-8 sequence cut short by its end is not taken as whole.
 */
static size_t json_escape_at(const char *s, char *esc, size_t *step)
{
	unsigned char c = (unsigned char)*s;

	*step = 1;
	if (c == '"' || c == '\\')
		return (size_t)snprintf(esc, 8, "\\%c", c);
	if (c >= 0x80) {
		*step = utf8_valid_prefix((const unsigned char *)s);
		if (*step > 0)
			return 0;
		*step = 1;
		return (size_t)snprintf(esc, 8, "\\ufffd");
	}
	if (c >= 0x20)
		return 0;
	switch (c) {
	case '\b': return (size_t)snprintf(esc, 8, "\\b");
	case '\f': return (size_t)snprintf(esc, 8, "\\f");
	case '\n': return (size_t)snprintf(esc, 8, "\\n");
	case '\r': return (size_t)snprintf(esc, 8, "\\r");
	case '\t': return (size_t)snprintf(esc, 8, "\\t");
	default: return (size_t)snprintf(esc, 8, "\\u%04x", c);
	}
}

static bool put_json(struct render *r, const char *s, size_t n)
{
	size_t run = 0, i = 0;

	while (i < n) {
		char esc[8];
		size_t step, k = json_escape_at(s + i, esc, &step);

		if (k > 0) {
			if (!put(r, s + run, i - run) || !put(r, esc, k))
				return false;
			run = i + step;
		}
		i += step;
	}
	return put(r, s + run, n - run);
}

static bool put_header(struct render *r, const char *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != 0x7f)
			continue;
		if (!put(r, s + run, i - run) || !put(r, " ", 1))
			return false;
		run = i + 1;
	}
	return put(r, s + run, n - run);
}

/* How {{name}} and {{{name}}} write a value, by mode. */
static const put_fn put_escaped[] = {
	[TMPL_ESCAPE_HTML] = put_html,
	[TMPL_ESCAPE_JSON] = put_json,
	[TMPL_ESCAPE_NONE] = put,
	[TMPL_ESCAPE_HEADER] = put_header,
};

static const put_fn put_unescaped[] = {
	[TMPL_ESCAPE_HTML] = put,
	[TMPL_ESCAPE_JSON] = put,
	[TMPL_ESCAPE_NONE] = put,
	[TMPL_ESCAPE_HEADER] = put_header,
};

static bool step(struct render *r)
{
	if (++r->steps <= TMPL_STEPS_MAX)
		return true;
	return fail(r, "render takes more than %d steps", TMPL_STEPS_MAX);
}

/* Write the frame's indentation if this is the start of a line. */
static bool start_line(struct render *r, struct frame *f)
{
	if (!f->line_start)
		return true;
	f->line_start = false;
	return put(r, r->indent, f->indent_len);
}

/* The value called name (len bytes) in the context stack, or NULL. */
static const json_t *lookup(const struct ctx *c, const char *name, size_t len)
{
	const char *dot = memchr(name, '.', len);
	size_t head = dot ? (size_t)(dot - name) : len;
	const json_t *v = NULL;

	if (len == 1 && name[0] == '.')
		return c->value;
	for (; c != NULL && v == NULL; c = c->up)
		v = json_object_getn(c->value, name, head);

	/* Only the first part searches the stack; the rest must follow. */
	while (v != NULL && head < len) {
		name += head + 1;
		len -= head + 1;
		dot = memchr(name, '.', len);
		head = dot ? (size_t)(dot - name) : len;
		v = json_object_getn(v, name, head);
	}
	return v;
}

static bool falsey(const json_t *v)
{
	return v == NULL || json_is_null(v) || json_is_false(v) ||
	       (json_is_array(v) && json_array_size(v) == 0) ||
	       (json_is_string(v) && json_string_length(v) == 0);
}

/* The shortest %g form that reads back as the same double. */
static void format_real(double d, char *buf, size_t size)
{
	for (int digits = 1; digits <= 17; digits++) {
		snprintf(buf, size, "%.*g", digits, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

/*
 * The text of a value as interpolation writes it, NUL-terminated, *len
 * bytes. It is in num (32 bytes), a constant, the value's own string, or
 * in *owned, which the caller frees. NULL if memory ran out.
 */
static const char *value_text(const json_t *v, char *num, size_t *len,
                              char **owned)
{
	const char *text = num;

	*owned = NULL;
	switch (json_typeof(v)) {
	case JSON_STRING:
		*len = json_string_length(v);
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(num, 32, "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		break;
	case JSON_REAL: format_real(json_real_value(v), num, 32); break;
	case JSON_TRUE: text = "true"; break;
	case JSON_FALSE: text = "false"; break;
	case JSON_NULL: text = ""; break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		*owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		text = *owned;
		break;
	}
	if (text != NULL)
		*len = strlen(text);
	return text;
}

static bool render_nodes(struct render *r, struct frame *f, const struct ctx *c,
                         uint32_t from, uint32_t to);

static bool render_text(struct render *r, struct frame *f, const struct ctx *c,
                        uint32_t i)
{
	const struct tmpl_node *n = &f->t->nodes[i];
	const char *s = f->t->src + n->off;
	size_t len = n->len;

	(void)c;
	while (len > 0) {
		const char *nl = memchr(s, '\n', len);
		size_t k = nl ? (size_t)(nl - s) + 1 : len;

		if (!start_line(r, f) || !put(r, s, k))
			return false;
		f->line_start = nl != NULL;
		s += k;
		len -= k;
	}
	return true;
}

static bool render_value(struct render *r, struct frame *f, const struct ctx *c,
                         uint32_t i)
{
	const struct tmpl_node *n = &f->t->nodes[i];
	const json_t *v = lookup(c, f->t->src + n->off, n->len);
	put_fn emit =
	    n->kind == TMPL_VAR ? put_escaped[r->mode] : put_unescaped[r->mode];
	char num[32], *owned;
	const char *text;
	size_t len;
	bool ok;

	if (!start_line(r, f))
		return false;
	if (v == NULL)
		return true;
	text = value_text(v, num, &len, &owned);
	if (text == NULL)
		return fail(r, "out of memory");
	ok = emit(r, text, len);
	free(owned);
	return ok;
}

static bool render_section(struct render *r, struct frame *f,
                           const struct ctx *c, uint32_t i)
{
	const struct tmpl_node *n = &f->t->nodes[i];
	const json_t *v = lookup(c, f->t->src + n->off, n->len);

	if (falsey(v))
		return true;
	if (!json_is_array(v)) {
		struct ctx top = { .value = v, .up = c };

		return render_nodes(r, f, &top, i + 1, n->end);
	}
	for (size_t k = 0; k < json_array_size(v); k++) {
		struct ctx item = { .value = json_array_get(v, k), .up = c };

		if (!step(r) || !render_nodes(r, f, &item, i + 1, n->end))
			return false;
	}
	return true;
}

static bool render_inverted(struct render *r, struct frame *f,
                            const struct ctx *c, uint32_t i)
{
	const struct tmpl_node *n = &f->t->nodes[i];

	if (!falsey(lookup(c, f->t->src + n->off, n->len)))
		return true;
	return render_nodes(r, f, c, i + 1, n->end);
}

/* Remember the partial called name; t (NULL for none) is taken. */
static bool partial_keep(struct render *r, const char *name, struct tmpl *t)
{
	struct partial *list = grow(r->partials, &r->partials_cap,
	                            r->npartials + 1, sizeof(*list));
	char *copy;

	if (list == NULL)
		return false;
	r->partials = list;
	copy = strdup(name);
	if (copy == NULL)
		return false;
	r->partials[r->npartials++] = (struct partial){ .name = copy, .t = t };
	return true;
}

/* Ask for the partial called name and compile it. */
static bool partial_load(struct render *r, const char *name,
                         const struct tmpl **out)
{
	const char *text = r->partial_fn ? r->partial_fn(name, r->arg) : NULL;
	struct tmpl *t = NULL;
	char msg[256];

	if (text != NULL) {
		t = tmpl_compile(text, strlen(text), msg, sizeof(msg));
		if (t == NULL)
			return fail(r, "partial '%s': %s", name, msg);
	}
	if (!partial_keep(r, name, t)) {
		tmpl_free(t);
		return fail(r, "out of memory");
	}
	*out = t;
	return true;
}

/* The compiled partial called name (len bytes), or NULL if it has none. */
static bool partial_get(struct render *r, const char *name, size_t len,
                        const struct tmpl **out)
{
	char key[TMPL_NAME_MAX + 1];

	memcpy(key, name, len);
	key[len] = '\0';
	for (size_t k = 0; k < r->npartials; k++) {
		if (strcmp(r->partials[k].name, key) == 0) {
			*out = r->partials[k].t;
			return true;
		}
	}
	return partial_load(r, key, out);
}

/* Put the node's own indentation after the frame's in render.indent. */
static bool push_indent(struct render *r, const struct frame *f,
                        const struct tmpl_node *n)
{
	size_t need = f->indent_len + n->indent_len;
	char *indent = grow(r->indent, &r->indent_cap, need, 1);

	if (indent == NULL)
		return fail(r, "out of memory");
	r->indent = indent;
	memcpy(r->indent + f->indent_len, f->t->src + n->indent_off,
	       n->indent_len);
	return true;
}

static bool render_partial(struct render *r, struct frame *f,
                           const struct ctx *c, uint32_t i)
{
	const struct tmpl_node *n = &f->t->nodes[i];
	struct frame inner = { .line_start = true };
	bool ok;

	/* A standalone partial's first line takes the indentation below. */
	if (!n->standalone && !start_line(r, f))
		return false;
	if (!partial_get(r, f->t->src + n->off, n->len, &inner.t))
		return false;
	if (inner.t == NULL)
		return true;
	if (r->depth == TMPL_PARTIAL_DEPTH)
		return fail(r, "partials nested deeper than %d at '%.*s'",
		            TMPL_PARTIAL_DEPTH, (int)n->len,
		            f->t->src + n->off);
	if (n->standalone) {
		if (!push_indent(r, f, n))
			return false;
		inner.indent_len = f->indent_len + n->indent_len;
	}

	r->depth++;
	ok = render_nodes(r, &inner, c, 0, inner.t->count);
	r->depth--;
	return ok;
}

static const node_fn render_node[] = {
	[TMPL_TEXT] = render_text,         [TMPL_VAR] = render_value,
	[TMPL_RAW] = render_value,         [TMPL_SECTION] = render_section,
	[TMPL_INVERTED] = render_inverted, [TMPL_PARTIAL] = render_partial,
};

static bool render_nodes(struct render *r, struct frame *f, const struct ctx *c,
                         uint32_t from, uint32_t to)
{
	for (uint32_t i = from; i < to; i = f->t->nodes[i].end) {
		if (!step(r) || !render_node[f->t->nodes[i].kind](r, f, c, i))
			return false;
	}
	return true;
}

/* Make sure there is an output, even an empty one, and end it in NUL. */
static bool render_finish(struct render *r)
{
	char *out = grow(r->out, &r->cap, r->len + 1, 1);

	if (out == NULL)
		return fail(r, "out of memory");
	r->out = out;
	r->out[r->len] = '\0';
	return true;
}

static void render_release(struct render *r)
{
	for (size_t k = 0; k < r->npartials; k++) {
		free(r->partials[k].name);
		tmpl_free(r->partials[k].t);
	}
	free(r->partials);
	free(r->indent);
}

bool tmpl_render(const struct tmpl *t, const json_t *data,
                 enum tmpl_escape mode, tmpl_partial_fn partial, void *arg,
                 char **out, size_t *outlen, char *err, size_t errsize)
{
	struct render r = {
		.mode = mode,
		.partial_fn = partial,
		.arg = arg,
		.err = err,
		.errsize = errsize,
	};
	struct frame top = { .t = t, .line_start = true };
	struct ctx root = { .value = data };
	bool ok;

	*out = NULL;
	*outlen = 0;
	if (err != NULL && errsize > 0)
		err[0] = '\0';

	if ((unsigned)mode > TMPL_ESCAPE_HEADER)
		ok = fail(&r, "unknown escape mode %d", (int)mode);
	else
		ok = render_nodes(&r, &top, &root, 0, t->count) &&
		     render_finish(&r);
	render_release(&r);

	if (!ok) {
		free(r.out);
		return false;
	}
	*out = r.out;
	*outlen = r.len;
	return true;
}
