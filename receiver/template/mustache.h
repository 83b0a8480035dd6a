/*
 * Mustache templates over jansson values: the notification texts Herald
 * renders for every event, into HTML, JSON, plain text or a mail header.
 *
 * The language is the Mustache spec (interpolation, sections, inverted
 * sections, comments, partials, set delimiters; no lambdas). A template is
 * compiled once into an immutable struct tmpl that any number of threads
 * may render at the same time; all state of a render lives in the call.
 *
 * Names are looked up in the stack of contexts the enclosing sections
 * pushed, innermost first; "a.b.c" finds "a" that way and then goes down
 * through objects only, and {{.}} is the innermost context. A name that is
 * not found renders as nothing. Arrays are not indexed by name.
 *
 * Falsey, so that a section is skipped and an inverted section shown: a
 * missing name, null, false, the empty array and the empty string. The spec
 * names all but the empty string; counting it too (as most Mustache
 * implementations do) lets {{#note}}Note: {{note}}{{/note}} guard an
 * optional text. Numbers, 0 included, and objects, {} included, are truthy.
 * An array runs its section once per element, any other truthy value once
 * with the value pushed as the context.
 *
 * Values are written as: strings as they are; integers in decimal; reals in
 * the shortest form that reads back as the same double (1.5, 0.1, 1e+300,
 * and 2 for 2.0), formatted in the C locale's notation; true and false as
 * words; null as nothing; objects and arrays as compact JSON text (reals
 * inside them with jansson's 17 digits). The text is then escaped for the
 * mode of the render:
 *
 *   TMPL_ESCAPE_HTML    {{x}} escapes & < > " ' as entities; {{{x}}} and
 *                       {{&x}} write the value as it is. The spec's mode.
 *   TMPL_ESCAPE_JSON    {{x}} writes the inside of a JSON string: " and \
 *                       and control characters escaped, bytes that are not
 *                       UTF-8 as \ufffd, so a value never leaves the string
 *                       it is placed in. {{{x}}} writes the value as it is,
 *                       so {"data": {{{obj}}}} embeds an object as JSON.
 *   TMPL_ESCAPE_NONE    nothing escaped: plain text.
 *   TMPL_ESCAPE_HEADER  control characters (CR and LF among them) become a
 *                       space, in {{x}} and {{{x}}} alike, so a value never
 *                       starts a new header line.
 *
 * Every render is bounded: output (TMPL_OUTPUT_MAX), work (TMPL_STEPS_MAX:
 * a node rendered or a section entered once counts one step) and partials
 * within partials (TMPL_PARTIAL_DEPTH). Reaching a bound ends the render
 * with an error instead of a truncated text.
 */
#ifndef HERALD_TEMPLATE_MUSTACHE_H
#define HERALD_TEMPLATE_MUSTACHE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TMPL_TEXT_MAX      (1024 * 1024)     /* bytes of a template */
#define TMPL_OUTPUT_MAX    (4 * 1024 * 1024) /* bytes of a rendered text */
#define TMPL_STEPS_MAX     (8 * 1024 * 1024) /* steps of one render */
#define TMPL_PARTIAL_DEPTH 32  /* partials open at once in a render */
#define TMPL_NEST_MAX      64  /* sections open at once in a template */
#define TMPL_NAME_MAX      255 /* bytes of a tag's name */
#define TMPL_DELIM_MAX     16  /* bytes of a delimiter set by {{=...=}} */

enum tmpl_escape {
	TMPL_ESCAPE_HTML,
	TMPL_ESCAPE_JSON,
	TMPL_ESCAPE_NONE,
	TMPL_ESCAPE_HEADER,
};

/*
 * The text of the partial called name, or NULL when there is none (it then
 * renders as nothing). The text is borrowed: it must stay valid until
 * tmpl_render returns. Each name is asked for at most once per render and
 * compiled then; a partial that does not compile fails the render.
 */
typedef const char *(*tmpl_partial_fn)(const char *name, void *arg);

/* A compiled template: immutable, safe to share between threads. */
struct tmpl;

/*
 * Compile len bytes of text (which need not end in NUL; the template keeps
 * its own copy). NULL on error, with err (errsize bytes) saying
 * "line L, column C: what" for a syntax error: an unclosed tag, a section
 * not closed or closed by the wrong name, a bad delimiter change, an empty
 * or too long name, sections nested deeper than TMPL_NEST_MAX. Columns
 * count UTF-8 characters from 1. Free the result with tmpl_free.
 */
struct tmpl *tmpl_compile(const char *text, size_t len, char *err,
                          size_t errsize) __attribute__((warn_unused_result));

/*
 * Render t over data (borrowed; NULL renders like an empty context),
 * escaping values for mode. partial may be NULL for no partials; arg is
 * passed to it. On success *out is a NUL-terminated string of *outlen
 * bytes, malloc'd and the caller's to free. On failure *out is NULL and err
 * says why: a bound reached, a partial that does not compile, or memory.
 */
bool tmpl_render(const struct tmpl *t, const json_t *data,
                 enum tmpl_escape mode, tmpl_partial_fn partial, void *arg,
                 char **out, size_t *outlen, char *err, size_t errsize)
    __attribute__((warn_unused_result));

/* Free a template from tmpl_compile; NULL is ignored. */
void tmpl_free(struct tmpl *t);

#endif
