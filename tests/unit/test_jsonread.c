/*
 * The request-body JSON reader: the values it builds, and where and why
 * it refuses. tests/fuzz/fuzz_jsonread holds it to jansson on random
 * input; these cases pin the edges by hand.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonread.h"

static json_t *read_text(const char *text)
{
	struct jsonread_error err;

	return jsonread(text, strlen(text), &err);
}

/* The error for text, which must be refused. */
static struct jsonread_error refusal(const char *text, size_t len)
{
	struct jsonread_error err = { 0 };
	json_t *j = jsonread(text, len, &err);

	cr_assert_null(j, "accepted: %.*s", (int)len, text);
	return err;
}

static void expect_refused(const char *text, int line, int column,
                           const char *why)
{
	struct jsonread_error err = refusal(text, strlen(text));

	cr_expect_eq(err.line, line, "%s: line %d", text, err.line);
	cr_expect_eq(err.column, column, "%s: column %d", text, err.column);
	cr_expect_str_eq(err.text, why, "%s", text);
}

static void expect_same(const char *text, const char *as)
{
	json_t *got = read_text(text);
	json_t *want = json_loads(as, JSON_DECODE_ANY, NULL);

	cr_assert_not_null(got, "refused: %s", text);
	cr_assert_not_null(want);
	cr_expect(json_equal(got, want), "%s", text);
	json_decref(got);
	json_decref(want);
}

Test(jsonread, values_of_every_kind)
{
	json_t *j = read_text(" {\"a\": [1, -2.5e2, true, false, null],"
	                      " \"b\": {\"c\": \"d\"}, \"e\": \"\"} ");

	cr_assert_not_null(j);
	cr_expect_eq(json_array_size(json_object_get(j, "a")), 5);
	cr_expect(json_is_real(json_array_get(json_object_get(j, "a"), 0)),
	          "every number is a real");
	cr_expect_eq(
	    json_real_value(json_array_get(json_object_get(j, "a"), 1)),
	    -250.0);
	cr_expect_str_eq(
	    json_string_value(json_object_get(json_object_get(j, "b"), "c")),
	    "d");
	cr_expect_str_eq(json_string_value(json_object_get(j, "e")), "");
	json_decref(j);
	expect_same("42", "42.0");
	expect_same("\"x\"", "\"x\"");
	expect_same("[]", "[]");
	expect_same("{}", "{}");
	expect_same("1e-400", "0.0");
}

Test(jsonread, escapes_and_unicode)
{
	expect_same("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
	            "\"\\\"\\\\/\\b\\f\\n\\r\\t\"");
	expect_same("\"\\u00e9\"", "\"\xc3\xa9\"");
	expect_same("\"\\ud83d\\ude00 ok\"", "\"\xf0\x9f\x98\x80 ok\"");
	expect_same("\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"");
	/* An escaped key is kept while its value is read. */
	expect_same("{\"k\\n\": \"v\\t\", \"k2\": [\"\\u0041\"]}",
	            "{\"k\\n\": \"v\\t\", \"k2\": [\"A\"]}");
}

Test(jsonread, the_last_of_repeated_keys_wins)
{
	expect_same("{\"a\": 1, \"a\": 2}", "{\"a\": 2.0}");
}

Test(jsonread, refusals_say_where_and_why)
{
	expect_refused("", 1, 1, "unexpected end of input");
	expect_refused("{\n  \"a\": tru\n}", 2, 8, "invalid literal");
	expect_refused("{\"a\" 1}", 1, 6, "':' expected");
	expect_refused("{\"a\": 1,}", 1, 9, "string or '}' expected");
	expect_refused("[1 2]", 1, 4, "',' or ']' expected");
	expect_refused("[1,", 1, 4, "unexpected end of input");
	expect_refused("{} x", 1, 4, "end of input expected");
	expect_refused("01", 1, 1, "invalid number");
	expect_refused("-", 1, 1, "invalid number");
	expect_refused("1.", 1, 1, "invalid number");
	expect_refused("1e+", 1, 1, "invalid number");
	expect_refused("1e400", 1, 1, "number out of range");
	expect_refused("\"abc", 1, 5, "unterminated string");
	expect_refused("\"a\tb\"", 1, 3, "control character 0x09 in a string");
	expect_refused("\"\\x\"", 1, 2, "invalid escape");
	expect_refused("\"\\u12\"", 1, 2, "invalid \\u escape");
	expect_refused("\"\\u0000\"", 1, 2, "\\u0000 is not allowed");
	expect_refused("\"\\ud800\"", 1, 2, "\\uD800 without a low surrogate");
	expect_refused("\"\\udc00\"", 1, 2, "lone low surrogate \\uDC00");
	expect_refused("'a'", 1, 1, "unexpected '''");
	/* Columns count characters, not bytes. */
	expect_refused("[\"\xc3\xa9\", x]", 1, 7, "invalid literal");
}

Test(jsonread, malformed_utf8_and_nul_bytes)
{
	struct jsonread_error err;

	err = refusal("\"\xc3\x28\"", 4);
	cr_expect_str_eq(err.text, "invalid UTF-8 in a string");
	err = refusal("\"\xed\xa0\x80\"", 5); /* an encoded surrogate */
	cr_expect_str_eq(err.text, "invalid UTF-8 in a string");
	err = refusal("\"\xc3", 2); /* cut in the middle */
	cr_expect_str_eq(err.text, "invalid UTF-8 in a string");
	err = refusal("null\0", 5);
	cr_expect_str_eq(err.text, "end of input expected");
	err = refusal("\"a\0b\"", 5);
	cr_expect_str_eq(err.text, "control character 0x00 in a string");
}

static char *nested(int levels)
{
	char *s = malloc((size_t)levels * 2 + 2);

	for (int i = 0; i < levels; i++) {
		s[i] = '[';
		s[levels + 1 + i] = ']';
	}
	s[levels] = '1';
	s[2 * levels + 1] = '\0';
	return s;
}

Test(jsonread, depth_is_bounded_like_janssons)
{
	/* 2047 arrays and the number inside make 2048 levels. */
	char *ok = nested(2047), *deep = nested(2048);
	json_t *j = read_text(ok);
	struct jsonread_error err;

	cr_expect_not_null(j);
	json_decref(j);
	err = refusal(deep, strlen(deep));
	cr_expect_str_eq(err.text, "nested more than 2048 levels deep");
	free(ok);
	free(deep);
}

Test(jsonread, text_need_not_end_with_nul)
{
	const char text[] = "{\"a\": \"bc\"}garbage";
	struct jsonread_error err;
	json_t *j = jsonread(text, 11, &err);

	cr_assert_not_null(j);
	cr_expect_str_eq(json_string_value(json_object_get(j, "a")), "bc");
	json_decref(j);
	/* A number that runs to the end of the text. */
	j = jsonread("12345", 3, &err);
	cr_assert_not_null(j);
	cr_expect_eq(json_real_value(j), 123.0);
	json_decref(j);
}
