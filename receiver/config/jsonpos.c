/*
 * A small recursive scanner over JSON text that jansson has already
 * accepted. It tracks line and column (in characters, as jansson counts
 * them) and records one entry per value, keyed by JSON pointer.
 */
#include "config/jsonpos.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

#define JSONPOS_DEPTH   64
#define JSONPOS_PTR_MAX 1024

struct scan {
	const char *p;
	const char *end;
	int line;
	int column;
	struct jsonpos *idx;
	char pointer[JSONPOS_PTR_MAX];
	int depth;
};

static void scan_advance(struct scan *s)
{
	unsigned char c = (unsigned char)*s->p++;

	if (c == '\n') {
		s->line++;
		s->column = 1;
	} else if ((c & 0xc0) != 0x80) {
		s->column++;
	}
}

static void scan_space(struct scan *s)
{
	while (s->p < s->end && strchr(" \t\r\n", *s->p) != NULL && *s->p)
		scan_advance(s);
}

static bool scan_record(struct scan *s, int kl, int kc)
{
	struct jsonpos *idx = s->idx;
	struct jsonpos_entry *e;

	if (idx->count == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 32;
		void *n = realloc(idx->entries, cap * sizeof(*e));

		if (n == NULL)
			return false;
		idx->entries = n;
		idx->cap = cap;
	}
	e = &idx->entries[idx->count];
	e->pointer = strdup(s->pointer);
	if (e->pointer == NULL)
		return false;
	e->key_line = kl;
	e->key_column = kc;
	e->value_line = s->line;
	e->value_column = s->column;
	idx->count++;
	return true;
}

static unsigned scan_hex4(const char *p)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
	}
	return v;
}

/* Decode the escape after a backslash into out; returns bytes written. */
static size_t scan_escape(struct scan *s, char *out)
{
	char c = *s->p;
	unsigned cp;

	scan_advance(s);
	switch (c) {
	case 'b': *out = '\b'; return 1;
	case 'f': *out = '\f'; return 1;
	case 'n': *out = '\n'; return 1;
	case 'r': *out = '\r'; return 1;
	case 't': *out = '\t'; return 1;
	case 'u': break;
	default: *out = c; return 1;
	}
	if (s->end - s->p < 4)
		return 0;
	cp = scan_hex4(s->p);
	for (int i = 0; i < 4; i++)
		scan_advance(s);
	if (cp >= 0xd800 && cp < 0xdc00 && s->end - s->p >= 6 &&
	    s->p[0] == '\\' && s->p[1] == 'u') {
		unsigned lo = scan_hex4(s->p + 2);

		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		for (int i = 0; i < 6; i++)
			scan_advance(s);
	}
	return utf8_encode(cp, out);
}

/* Read a string starting at its opening quote; decoded into out. */
static bool scan_string(struct scan *s, char *out, size_t size)
{
	size_t n = 0;

	scan_advance(s);
	while (s->p < s->end && *s->p != '"') {
		char tmp[4];
		size_t k;

		if (*s->p == '\\') {
			scan_advance(s);
			k = scan_escape(s, tmp);
		} else {
			tmp[0] = *s->p;
			k = 1;
			scan_advance(s);
		}
		if (out != NULL && n + k < size) {
			memcpy(out + n, tmp, k);
			n += k;
		}
	}
	if (out != NULL)
		out[n] = '\0';
	if (s->p >= s->end)
		return false;
	scan_advance(s);
	return true;
}

static bool scan_value(struct scan *s, int kl, int kc);

static bool scan_member(struct scan *s, size_t base)
{
	char key[JSONPOS_PTR_MAX];
	int kl = s->line, kc = s->column;

	if (*s->p != '"' || !scan_string(s, key, sizeof(key)))
		return false;
	scan_space(s);
	if (s->p >= s->end || *s->p != ':')
		return false;
	scan_advance(s);
	scan_space(s);
	s->pointer[base] = '\0';
	if (!jsonpos_append(s->pointer, sizeof(s->pointer), key))
		return false;
	return scan_value(s, kl, kc);
}

static bool scan_container(struct scan *s, char close, bool object)
{
	size_t base = strlen(s->pointer);
	size_t i = 0;

	if (++s->depth > JSONPOS_DEPTH)
		return false;
	scan_advance(s);
	scan_space(s);
	while (s->p < s->end && *s->p != close) {
		bool ok;

		if (object) {
			ok = scan_member(s, base);
		} else {
			char index[24];

			snprintf(index, sizeof(index), "%zu", i);
			s->pointer[base] = '\0';
			ok = jsonpos_append(s->pointer, sizeof(s->pointer),
			                    index) &&
			     scan_value(s, 0, 0);
		}
		if (!ok)
			return false;
		i++;
		scan_space(s);
		if (s->p < s->end && *s->p == ',') {
			scan_advance(s);
			scan_space(s);
		} else if (s->p < s->end && *s->p != close) {
			return false;
		}
	}
	s->pointer[base] = '\0';
	s->depth--;
	if (s->p >= s->end)
		return false;
	scan_advance(s);
	return true;
}

static bool scan_value(struct scan *s, int kl, int kc)
{
	if (s->p >= s->end || !scan_record(s, kl, kc))
		return false;
	switch (*s->p) {
	case '{': return scan_container(s, '}', true);
	case '[': return scan_container(s, ']', false);
	case '"': return scan_string(s, NULL, 0);
	default: break;
	}
	/* A number or a literal: up to the next delimiter. */
	const char *start = s->p;

	while (s->p < s->end && *s->p != '\0' &&
	       strchr(",]} \t\r\n", *s->p) == NULL)
		scan_advance(s);
	return s->p > start;
}

bool jsonpos_build(struct jsonpos *idx, const char *text, size_t len)
{
	struct scan s = {
		.p = text,
		.end = text + len,
		.line = 1,
		.column = 1,
		.idx = idx,
	};

	memset(idx, 0, sizeof(*idx));
	scan_space(&s);
	if (!scan_value(&s, 0, 0)) {
		jsonpos_free(idx);
		return false;
	}
	return true;
}

const struct jsonpos_entry *jsonpos_find(const struct jsonpos *idx,
                                         const char *pointer)
{
	for (size_t i = 0; i < idx->count; i++) {
		if (strcmp(idx->entries[i].pointer, pointer) == 0)
			return &idx->entries[i];
	}
	return NULL;
}

void jsonpos_free(struct jsonpos *idx)
{
	for (size_t i = 0; i < idx->count; i++)
		free(idx->entries[i].pointer);
	free(idx->entries);
	memset(idx, 0, sizeof(*idx));
}

bool jsonpos_append(char *pointer, size_t size, const char *key)
{
	size_t n = strlen(pointer);

	if (n + 1 >= size)
		return false;
	pointer[n++] = '/';
	for (; *key; key++) {
		const char *rep = *key == '~'   ? "~0"
		                  : *key == '/' ? "~1"
		                                : NULL;
		size_t k = rep ? 2 : 1;

		if (n + k >= size)
			return false;
		memcpy(pointer + n, rep ? rep : key, k);
		n += k;
	}
	pointer[n] = '\0';
	return true;
}
