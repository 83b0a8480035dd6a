#include "util/jsonptr.h"

#include <stdlib.h>
#include <string.h>

#define JSONPTR_TOKEN_MAX 256

/* Copy the reference token at p (up to '/' or the end) unescaped. */
static const char *next_token(const char *p, char *out)
{
	size_t n = 0;

	for (; *p && *p != '/'; p++) {
		char c = *p;

		if (c == '~') {
			if (p[1] != '0' && p[1] != '1')
				return NULL;
			c = p[1] == '0' ? '~' : '/';
			p++;
		}
		if (n + 1 >= JSONPTR_TOKEN_MAX)
			return NULL;
		out[n++] = c;
	}
	out[n] = '\0';
	return p;
}

static json_t *array_item(json_t *a, const char *token)
{
	char *end;
	unsigned long i;

	if (token[0] < '0' || token[0] > '9' ||
	    (token[0] == '0' && token[1] != '\0'))
		return NULL;
	i = strtoul(token, &end, 10);
	return *end == '\0' ? json_array_get(a, i) : NULL;
}

json_t *jsonptr_get(json_t *root, const char *pointer)
{
	char token[JSONPTR_TOKEN_MAX];
	json_t *v = root;
	const char *p = pointer;

	if (*p == '\0')
		return root;
	while (v != NULL && *p == '/') {
		p = next_token(p + 1, token);
		if (p == NULL)
			return NULL;
		if (json_is_object(v))
			v = json_object_get(v, token);
		else if (json_is_array(v))
			v = array_item(v, token);
		else
			v = NULL;
	}
	return *p == '\0' ? v : NULL;
}
