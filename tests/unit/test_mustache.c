/*
 * The Mustache templates. Every case of the official spec, read from
 * $HERALD_SHARED_DIR/specs/mustache with one Test per spec file, and then
 * what Herald adds to the spec: the escape modes, the syntax errors with
 * their positions, and the bounds on a render.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "template/mustache.h"

#define not_run(...)                                                           \
	do {                                                                   \
		printf("not run: " __VA_ARGS__);                               \
		printf("\n");                                                  \
		fflush(stdout);                                                \
		cr_skip_test(__VA_ARGS__);                                     \
	} while (0)

/* The spec folder into buf; false when this machine has none. */
static bool spec_dir(char *buf, size_t size)
{
	const char *shared = getenv("HERALD_SHARED_DIR");
	const char *source = getenv("HERALD_SOURCE_DIR");
	struct stat st;

	if (shared != NULL)
		snprintf(buf, size, "%s/specs/mustache", shared);
	else if (source != NULL)
		snprintf(buf, size, "%s/../shared/specs/mustache", source);
	else
		snprintf(buf, size,
		         "(neither HERALD_SHARED_DIR nor "
		         "HERALD_SOURCE_DIR is set)");
	return stat(buf, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Partials from a JSON object of name to text, as the spec gives them. */
static const char *object_partial(const char *name, void *arg)
{
	return json_string_value(json_object_get(arg, name));
}

/* Run one spec case; false, with a log line naming it, if it fails. */
static bool spec_case(const char *file, const json_t *c)
{
	const char *name = json_string_value(json_object_get(c, "name"));
	const char *text = json_string_value(json_object_get(c, "template"));
	const char *want = json_string_value(json_object_get(c, "expected"));
	json_t *partials = json_object_get(c, "partials");
	char err[256] = "", *out = NULL;
	struct tmpl *t = tmpl_compile(text, strlen(text), err, sizeof(err));
	size_t len = 0;
	bool rendered, ok;

	rendered =
	    t != NULL &&
	    tmpl_render(t, json_object_get(c, "data"), TMPL_ESCAPE_HTML,
	                object_partial, partials, &out, &len, err, sizeof(err));
	ok = rendered && len == strlen(want) && memcmp(out, want, len) == 0;
	if (!rendered)
		cr_log_error("%s: %s: %s", file, name, err);
	else if (!ok)
		cr_log_error("%s: %s:\nexpected: [%s]\ngot:      [%s]", file,
		             name, want, out);
	free(out);
	tmpl_free(t);
	return ok;
}

static void run_spec(const char *file)
{
	char dir[4096], path[4200];
	json_error_t jerr;
	json_t *doc, *tests, *c;
	size_t i, failed = 0;

	if (!spec_dir(dir, sizeof(dir)))
		not_run("no Mustache spec folder %s", dir);
	snprintf(path, sizeof(path), "%s/%s.json", dir, file);
	doc = json_load_file(path, 0, &jerr);
	cr_assert(doc != NULL, "%s: %s", path, jerr.text);

	tests = json_object_get(doc, "tests");
	json_array_foreach(tests, i, c)
	{
		if (!spec_case(file, c))
			failed++;
	}
	cr_log_info("%s: %zu of %zu spec cases pass", file,
	            json_array_size(tests) - failed, json_array_size(tests));
	cr_expect(json_array_size(tests) > 0, "%s has no cases", path);
	cr_expect(failed == 0, "%zu of %zu cases of %s fail", failed,
	          json_array_size(tests), path);
	json_decref(doc);
}

/* The spec files run above; lambdas (~lambdas.json) are optional. */
static const char *const spec_files[] = {
	"comments", "delimiters", "interpolation",
	"inverted", "partials",   "sections",
};

static bool spec_file_known(const char *name)
{
	size_t i, n = sizeof(spec_files) / sizeof(spec_files[0]);

	for (i = 0; i < n; i++) {
		if (strlen(name) == strlen(spec_files[i]) + 5 &&
		    strncmp(name, spec_files[i], strlen(spec_files[i])) == 0)
			return true;
	}
	return false;
}

/* A file added to the spec folder must not go unrun. */
Test(mustache, spec_every_file_is_run)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;
	size_t files = 0;

	if (!spec_dir(dir, sizeof(dir)))
		not_run("no Mustache spec folder %s", dir);
	d = opendir(dir);
	cr_assert(d != NULL, "%s", dir);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0 ||
		    de->d_name[0] == '~')
			continue;
		cr_expect(spec_file_known(de->d_name),
		          "%s/%s is not run by this suite", dir, de->d_name);
		files++;
	}
	closedir(d);
	cr_expect_eq(files, sizeof(spec_files) / sizeof(spec_files[0]));
}

Test(mustache, spec_comments)
{
	run_spec("comments");
}

Test(mustache, spec_delimiters)
{
	run_spec("delimiters");
}

Test(mustache, spec_interpolation)
{
	run_spec("interpolation");
}

Test(mustache, spec_inverted)
{
	run_spec("inverted");
}

Test(mustache, spec_partials)
{
	run_spec("partials");
}

Test(mustache, spec_sections)
{
	run_spec("sections");
}

/* Render text over data (JSON text) with partials (a JSON object text or
 * NULL). Returns the output (malloc'd), or NULL with the error in err. */
static char *try_render(const char *text, const char *data,
                        const char *partials, enum tmpl_escape mode, char *err,
                        size_t errsize)
{
	json_t *d = json_loads(data, JSON_DECODE_ANY, NULL);
	json_t *p = partials ? json_loads(partials, 0, NULL) : NULL;
	struct tmpl *t = tmpl_compile(text, strlen(text), err, errsize);
	char *out = NULL;
	size_t len;

	cr_assert(d != NULL, "bad test data %s", data);
	cr_assert(t != NULL, "%s does not compile: %s", text, err);
	if (!tmpl_render(t, d, mode, object_partial, p, &out, &len, err,
	                 errsize))
		cr_assert(out == NULL);
	else
		cr_assert(strlen(out) == len);
	tmpl_free(t);
	json_decref(p);
	json_decref(d);
	return out;
}

/* Render and compare with want; fails the test on any error. */
static void expect_render(const char *text, const char *data,
                          enum tmpl_escape mode, const char *want)
{
	char err[256] = "";
	char *out = try_render(text, data, NULL, mode, err, sizeof(err));

	cr_assert(out != NULL, "%s: %s", text, err);
	cr_expect_str_eq(out, want, "%s over %s", text, data);
	free(out);
}

/* Render text expecting an error that contains want. */
static void expect_render_error(const char *text, const char *data,
                                const char *partials, const char *want)
{
	char err[256] = "";
	char *out = try_render(text, data, partials, TMPL_ESCAPE_HTML, err,
	                       sizeof(err));

	cr_expect(out == NULL, "%s renders", text);
	cr_expect(strstr(err, want) != NULL, "%s: [%s] lacks [%s]", text, err,
	          want);
	free(out);
}

Test(mustache, values_are_written_in_their_natural_form)
{
	const char *data =
	    "{\"i\": 42, \"neg\": -7, \"r\": 1.5, \"tenth\": 0.1,"
	    " \"big\": 1e300, \"whole\": 2.0, \"t\": true,"
	    " \"f\": false, \"n\": null,"
	    " \"o\": {\"k\": [1, \"x\", 0.25]}, \"a\": [1, 2]}";

	expect_render("{{i}} {{neg}} {{r}} {{tenth}} {{big}} {{whole}}", data,
	              TMPL_ESCAPE_NONE, "42 -7 1.5 0.1 1e+300 2");
	expect_render("{{t}} {{f}} [{{n}}] [{{missing}}]", data,
	              TMPL_ESCAPE_NONE, "true false [] []");
	expect_render("{{o}} {{a}} {{{o}}}", data, TMPL_ESCAPE_HTML,
	              "{&quot;k&quot;:[1,&quot;x&quot;,0.25]} [1,2] "
	              "{\"k\":[1,\"x\",0.25]}");
}

Test(mustache, empty_string_is_falsey_zero_and_empty_object_are_not)
{
	const char *data = "{\"s\": \"\", \"z\": 0, \"o\": {}, \"f\": 0.0}";

	expect_render("{{#s}}s{{/s}}{{^s}}!s{{/s}}", data, TMPL_ESCAPE_NONE,
	              "!s");
	expect_render("{{#z}}z{{/z}}{{#o}}o{{/o}}{{#f}}f{{/f}}", data,
	              TMPL_ESCAPE_NONE, "zof");
}

Test(mustache, html_mode_escapes_apostrophes_too)
{
	expect_render("{{x}}|{{{x}}}|{{&x}}", "{\"x\": \"<a href='&'>\"}",
	              TMPL_ESCAPE_HTML,
	              "&lt;a href=&#39;&amp;&#39;&gt;|<a href='&'>|"
	              "<a href='&'>");
}

Test(mustache, none_mode_writes_values_as_they_are)
{
	expect_render("{{x}}|{{{x}}}", "{\"x\": \"<&>\\\"'\\r\\n\"}",
	              TMPL_ESCAPE_NONE, "<&>\"'\r\n|<&>\"'\r\n");
}

Test(mustache, header_mode_never_adds_a_line)
{
	expect_render(
	    "Subject: {{s}}|{{{s}}}",
	    "{\"s\": \"hi\\r\\nBcc: x@example.com\\t\\u0001\\u007f\"}",
	    TMPL_ESCAPE_HEADER,
	    "Subject: hi  Bcc: x@example.com   |"
	    "hi  Bcc: x@example.com   ");
}

/* Render {"text": "{{x}}"} over x in JSON mode and read the text back. */
static void expect_json_round_trip(json_t *x, const char *want, size_t len)
{
	struct tmpl *t = tmpl_compile("{\"text\": \"{{x}}\"}", 17, NULL, 0);
	json_t *data = json_pack("{s:o}", "x", x), *doc, *text;
	char *out, err[256];
	size_t outlen;
	json_error_t jerr;

	cr_assert(t != NULL && data != NULL);
	cr_assert(tmpl_render(t, data, TMPL_ESCAPE_JSON, NULL, NULL, &out,
	                      &outlen, err, sizeof(err)),
	          "%s", err);
	doc = json_loadb(out, outlen, JSON_ALLOW_NUL, &jerr);
	cr_assert(doc != NULL, "%s does not parse: %s", out, jerr.text);
	text = json_object_get(doc, "text");
	cr_expect(json_string_length(text) == len &&
	              memcmp(json_string_value(text), want, len) == 0,
	          "%s does not give back the value", out);
	json_decref(doc);
	free(out);
	json_decref(data);
	tmpl_free(t);
}

Test(mustache, json_mode_keeps_values_inside_the_string)
{
	static const char nasty[] = "quote \" backslash \\ newline \n tab \t "
	                            "cr \r bell \a esc \x1b del \x7f nul \0 "
	                            "é ☃ 😀 \u2028 </script> {{x}}";
	char controls[32];

	expect_json_round_trip(json_stringn(nasty, sizeof(nasty) - 1), nasty,
	                       sizeof(nasty) - 1);
	for (int c = 1; c < 32; c++)
		controls[c - 1] = (char)c;
	controls[31] = '"';
	expect_json_round_trip(json_stringn(controls, 32), controls, 32);
}

Test(mustache, json_mode_replaces_bytes_that_are_not_utf8)
{
	json_t *bad = json_stringn_nocheck("a\xff"
	                                   "b\xc3",
	                                   4);

	expect_json_round_trip(bad,
	                       "a\xef\xbf\xbd"
	                       "b\xef\xbf\xbd",
	                       8);
}

Test(mustache, json_mode_triple_mustache_embeds_json)
{
	char err[256] = "";
	const char *data = "{\"o\": {\"a\": [1, \"x\\\"y\", null]}, \"n\": 3}";
	char *out = try_render("{\"data\": {{{o}}}, \"n\": {{n}}}", data, NULL,
	                       TMPL_ESCAPE_JSON, err, sizeof(err));
	json_t *doc, *want = json_loads(data, 0, NULL);

	cr_assert(out != NULL, "%s", err);
	doc = json_loads(out, 0, NULL);
	cr_assert(doc != NULL, "%s does not parse", out);
	cr_expect(json_equal(json_object_get(doc, "data"),
	                     json_object_get(want, "o")));
	json_decref(doc);
	json_decref(want);
	free(out);
}

Test(mustache, syntax_errors_name_line_and_column)
{
	static const char *const cases[][2] = {
		{ "abc\n  {{name", "line 2, column 3: unclosed tag, no '}}'" },
		{ "é {{{x}}", "line 1, column 3: unclosed tag, no '}}}'" },
		{ "{{#a}}\n{{/b}}",
		  "line 2, column 1: end of section 'b' inside section 'a'" },
		{ "x\n {{#a}}{{#b}}{{/b}}",
		  "line 2, column 2: section 'a' is not closed" },
		{ "\n\n{{/a}}",
		  "line 3, column 1: end of section 'a', not open" },
		{ "{{=<% =}}", "line 1, column 1: bad delimiters" },
		{ "{{=<% a b %>=}}", "line 1, column 1: bad delimiters" },
		{ "{{=<% %>=}}\n<%x",
		  "line 2, column 1: unclosed tag, no '%>'" },
		{ "ab{{ }}", "line 1, column 3: tag without a name" },
		{ "{{#}}", "line 1, column 1: tag without a name" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[256] = "";
		struct tmpl *t = tmpl_compile(cases[i][0], strlen(cases[i][0]),
		                              err, sizeof(err));

		cr_expect(t == NULL, "%s compiles", cases[i][0]);
		cr_expect(strncmp(err, cases[i][1], strlen(cases[i][1])) == 0,
		          "%s: [%s], want [%s]", cases[i][0], err, cases[i][1]);
		tmpl_free(t);
	}
}

Test(mustache, sections_nest_only_so_deep)
{
	char text[(TMPL_NEST_MAX + 1) * 6];
	char err[256] = "";
	struct tmpl *t;

	for (int i = 0; i <= TMPL_NEST_MAX; i++)
		memcpy(text + i * 6, "{{#a}}", 6);
	t = tmpl_compile(text, sizeof(text), err, sizeof(err));
	cr_expect(t == NULL);
	cr_expect(strstr(err, "nested deeper") != NULL, "%s", err);
}

Test(mustache, partial_recursion_is_bounded)
{
	expect_render_error("{{>r}}", "{}", "{\"r\": \"x{{>r}}\"}",
	                    "partials nested deeper than 32");
}

Test(mustache, partial_that_does_not_compile_fails_the_render)
{
	expect_render_error("a {{>bad}}", "{}", "{\"bad\": \"\\n {{#s}}\"}",
	                    "partial 'bad': line 2, column 2: section 's'");
}

Test(mustache, standalone_partials_indent_cumulatively)
{
	char err[256] = "";
	char *out = try_render("  {{>a}}\n", "{\"v\": \"1\\n2\"}",
	                       "{\"a\": \"x\\n {{>b}}\\ny\\n\","
	                       " \"b\": \"{{v}}\\n-\\n\"}",
	                       TMPL_ESCAPE_NONE, err, sizeof(err));

	cr_assert(out != NULL, "%s", err);
	cr_expect_str_eq(out, "  x\n   1\n2\n   -\n  y\n");
	free(out);
}

Test(mustache, output_is_capped)
{
	/* 100 x 100 copies of 64 KiB would be 640 MiB. */
	json_t *data = json_object(), *a = json_array();
	char *big = calloc(64 * 1024 + 1, 1), *out = NULL, err[256] = "";
	struct tmpl *t =
	    tmpl_compile("{{#a}}{{#a}}{{s}}{{/a}}{{/a}}", 29, NULL, 0);
	size_t len;

	cr_assert(t != NULL && big != NULL);
	memset(big, 'x', 64 * 1024);
	for (int i = 0; i < 100; i++)
		json_array_append_new(a, json_integer(i));
	json_object_set_new(data, "a", a);
	json_object_set_new(data, "s", json_string(big));
	cr_expect(!tmpl_render(t, data, TMPL_ESCAPE_NONE, NULL, NULL, &out,
	                       &len, err, sizeof(err)));
	cr_expect(out == NULL);
	cr_expect(strstr(err, "output longer than") != NULL, "%s", err);
	tmpl_free(t);
	json_decref(data);
	free(big);
}

Test(mustache, work_is_capped)
{
	expect_render_error("{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}{{#a}}"
	                    "{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}{{/a}}",
	                    "{\"a\": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,"
	                    " 13, 14, 15, 16]}",
	                    NULL, "more than");
}

Test(mustache, compiled_template_renders_many_times)
{
	struct tmpl *t = tmpl_compile("{{#e}}<{{.}}>{{/e}}", 19, NULL, 0);
	const char *sets[] = { "{\"e\": [1, 2]}", "{\"e\": \"x\"}", "{}" };
	const char *want[] = { "<1><2>", "<x>", "" };

	cr_assert(t != NULL);
	for (int i = 0; i < 3; i++) {
		json_t *data = json_loads(sets[i], 0, NULL);
		char *out, err[256];
		size_t len;

		cr_assert(tmpl_render(t, data, TMPL_ESCAPE_HTML, NULL, NULL,
		                      &out, &len, err, sizeof(err)),
		          "%s", err);
		cr_expect_str_eq(out, want[i]);
		free(out);
		json_decref(data);
	}
	tmpl_free(t);
}

Test(mustache, no_data_renders_like_an_empty_context)
{
	struct tmpl *t =
	    tmpl_compile("[{{a}}{{#b}}x{{/b}}{{^c}}y{{/c}}]", 33, NULL, 0);
	char *out, err[256];
	size_t len;

	cr_assert(t != NULL);
	cr_assert(tmpl_render(t, NULL, TMPL_ESCAPE_HTML, NULL, NULL, &out, &len,
	                      err, sizeof(err)),
	          "%s", err);
	cr_expect_str_eq(out, "[y]");
	free(out);
	tmpl_free(t);
}
