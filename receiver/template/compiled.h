/*
 * The compiled form of a Mustache template, shared by the compiler
 * (mustache.c) and the renderer (render.c) and by no other module.
 *
 * A template is a flat array of nodes in source order. Each node's end is
 * the index of the next node at its own level, so a renderer walks a level
 * with i = nodes[i].end; a section's body is the nodes from i + 1 up to its
 * end. Comments, delimiter changes and section ends leave no node, and the
 * lines that standalone tags took are already gone from the text nodes.
 */
#ifndef HERALD_TEMPLATE_COMPILED_H
#define HERALD_TEMPLATE_COMPILED_H

#include <stdbool.h>
#include <stdint.h>

enum tmpl_kind {
	TMPL_TEXT,     /* literal text */
	TMPL_VAR,      /* {{name}}: escaped for the mode */
	TMPL_RAW,      /* {{{name}}} and {{&name}} */
	TMPL_SECTION,  /* {{#name}} */
	TMPL_INVERTED, /* {{^name}} */
	TMPL_PARTIAL,  /* {{>name}} */
};

/* Offsets and lengths are into the template's src. */
struct tmpl_node {
	enum tmpl_kind kind;
	bool standalone; /* a partial alone on its line */
	uint32_t off;    /* the text, or the tag's name */
	uint32_t len;
	uint32_t indent_off; /* the blanks before a standalone partial */
	uint32_t indent_len;
	uint32_t end;
};

/* The source is stored in the same allocation; the node array is owned. */
struct tmpl {
	struct tmpl_node *nodes;
	uint32_t count;
	uint32_t cap;
	uint32_t len;
	char src[]; /* the source, NUL-terminated */
};

#endif
