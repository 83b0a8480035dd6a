#include "sinks/slack_fit.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/utf8.h"

/* What marks a cut: one code unit, three bytes. */
static const char ellipsis[] = "\xe2\x80\xa6";

/* Length of the character at p in bytes; a byte that does not start one
 * counts alone (jansson hands out valid UTF-8, so that never happens). */
static size_t char_bytes(const char *p)
{
	size_t n = utf8_valid_prefix((const unsigned char *)p);

	return n > 0 ? n : 1;
}

size_t slack_fit_length(const char *s)
{
	size_t units = 0;

	for (size_t n; *s != '\0'; s += n) {
		n = char_bytes(s);
		units += n == 4 ? 2 : 1; /* a surrogate pair in UTF-16 */
	}
	return units;
}

/* Bytes of s that make up at most max code units. */
static size_t prefix_bytes(const char *s, size_t max)
{
	size_t units = 0, bytes = 0;

	while (s[bytes] != '\0') {
		size_t n = char_bytes(s + bytes), u = n == 4 ? 2 : 1;

		if (units + u > max)
			break;
		units += u;
		bytes += n;
	}
	return bytes;
}

/* Cut the string member key of obj to max units; -1 out of memory, else
 * how many were cut (0 or 1). */
static int fit_member(json_t *obj, const char *key, size_t max)
{
	json_t *v = json_object_get(obj, key);
	const char *s = json_string_value(v);
	size_t keep;
	char *cut;
	int rc;

	if (s == NULL || slack_fit_length(s) <= max)
		return 0;
	keep = prefix_bytes(s, max - 1);
	cut = malloc(keep + sizeof(ellipsis));
	if (cut == NULL)
		return -1;
	memcpy(cut, s, keep);
	memcpy(cut + keep, ellipsis, sizeof(ellipsis));
	rc = json_string_set(v, cut) == 0 ? 1 : -1;
	free(cut);
	return rc;
}

/* The "text" of every object in the array member key of block. */
static int fit_each(json_t *block, const char *key, size_t max)
{
	json_t *item;
	size_t i;
	int cut = 0;

	json_array_foreach(json_object_get(block, key), i, item)
	{
		int rc = fit_member(item, "text", max);

		if (rc < 0)
			return -1;
		cut += rc;
	}
	return cut;
}

/* A header's text, a section's text and fields, a context's elements. */
static int fit_block(json_t *block)
{
	const char *type = json_string_value(json_object_get(block, "type"));
	bool header = type != NULL && strcmp(type, "header") == 0;
	int text, fields, elements;

	text = fit_member(json_object_get(block, "text"), "text",
	                  header ? SLACK_HEADER_MAX : SLACK_TEXT_MAX);
	fields = fit_each(block, "fields", SLACK_FIELD_MAX);
	elements = fit_each(block, "elements", SLACK_TEXT_MAX);
	if (text < 0 || fields < 0 || elements < 0)
		return -1;
	return text + fields + elements;
}

static int fit_all(json_t *msg)
{
	json_t *block;
	size_t i;
	int cut = 0;

	json_array_foreach(json_object_get(msg, "blocks"), i, block)
	{
		int rc = fit_block(block);

		if (rc < 0)
			return -1;
		cut += rc;
	}
	return cut;
}

int slack_fit_blocks(char **body, size_t *len)
{
	json_t *msg = json_loadb(*body, *len, 0, NULL);
	char *text = NULL;
	int cut;

	if (!json_is_object(msg)) {
		json_decref(msg);
		return 0;
	}
	cut = fit_all(msg);
	if (cut > 0)
		text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (cut > 0 && text == NULL)
		return -1;
	if (cut > 0) {
		free(*body);
		*body = text;
		*len = strlen(text);
	}
	return cut;
}
