#include "config/expand.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct growbuf {
	char *data;
	size_t len;
	size_t cap;
};

static bool grow_put(struct growbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *d = realloc(b->data, cap);

		if (d == NULL)
			return false;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

static bool name_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) ||
	       (!first && isdigit((unsigned char)c));
}

/*
 * Expand the reference that starts after "${" at *pp; on return *pp is past
 * its closing brace.
 */
static bool expand_one(const char **pp, struct growbuf *b, char *err,
                       size_t size)
{
	const char *p = *pp, *name = p, *close, *def = NULL, *value;
	size_t name_len, value_len;

	while (name_char(*p, p == name))
		p++;
	name_len = (size_t)(p - name);
	if (p[0] == ':' && p[1] == '-')
		def = p + 2;
	close = strchr(p, '}');
	if (close == NULL) {
		snprintf(err, size, "unterminated \"${\" in string");
		return false;
	}
	if (name_len == 0 || (def == NULL && p != close)) {
		snprintf(err, size, "bad variable reference \"${%.*s}\"",
		         (int)(close - name), name);
		return false;
	}

	char var[128];

	if (name_len >= sizeof(var)) {
		snprintf(err, size, "variable name too long");
		return false;
	}
	memcpy(var, name, name_len);
	var[name_len] = '\0';
	value = getenv(var);
	*pp = close + 1;
	if (def != NULL && (value == NULL || *value == '\0')) {
		value = def;
		value_len = (size_t)(close - def);
	} else if (value == NULL) {
		snprintf(err, size, "environment variable %s is not set", var);
		return false;
	} else {
		value_len = strlen(value);
	}
	if (!grow_put(b, value, value_len)) {
		snprintf(err, size, "out of memory");
		return false;
	}
	return true;
}

bool expand_env(struct arena *a, const char *in, char **out, char *err,
                size_t size)
{
	struct growbuf b = { 0 };
	const char *p = in;
	bool ok = grow_put(&b, "", 0);

	while (ok && *p) {
		const char *dollar = strchr(p, '$');

		if (dollar == NULL) {
			ok = grow_put(&b, p, strlen(p));
			break;
		}
		ok = grow_put(&b, p, (size_t)(dollar - p));
		if (!ok)
			break;
		if (dollar[1] == '$') {
			ok = grow_put(&b, "$", 1);
			p = dollar + 2;
		} else if (dollar[1] == '{') {
			p = dollar + 2;
			ok = expand_one(&p, &b, err, size);
			if (!ok) {
				free(b.data);
				*out = NULL;
				return false;
			}
		} else {
			ok = grow_put(&b, "$", 1);
			p = dollar + 1;
		}
	}
	if (!ok) {
		snprintf(err, size, "out of memory");
		free(b.data);
		*out = NULL;
		return false;
	}
	*out = arena_strdup(a, b.data);
	free(b.data);
	return true;
}
