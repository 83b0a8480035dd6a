/*
 * Slack's block text limits (sinks/slack_fit.h): texts over a limit are
 * cut to it, ending in "…", between characters, counted as Slack counts;
 * everything else is left as it was. Then each default Slack template
 * over an event that says far too much, fitted, keeps within every limit.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/slack_fit.h"
#include "support/tcheck.h"
#include "template/store.h"
#include "util/jsonptr.h"

#define ELLIPSIS "\xe2\x80\xa6"

/* unit repeated n times (malloc'd). */
static char *repeat(const char *unit, size_t n)
{
	size_t len = strlen(unit);
	char *s = malloc(len * n + 1);

	cr_assert_not_null(s);
	for (size_t i = 0; i < n; i++)
		memcpy(s + i * len, unit, len);
	s[len * n] = '\0';
	return s;
}

/* Fit text; returns the cut count, *out the result (malloc'd). */
static int fit(const char *text, char **out)
{
	size_t len = strlen(text);
	int cut;

	*out = strdup(text);
	cut = slack_fit_blocks(out, &len);
	cr_assert_eq(strlen(*out), len);
	return cut;
}

static const char *str_at(json_t *j, const char *pointer)
{
	const char *s = json_string_value(jsonptr_get(j, pointer));

	cr_assert_not_null(s, "no string at %s", pointer);
	return s;
}

static bool ends_with_ellipsis(const char *s)
{
	size_t n = strlen(s);

	return n >= 3 && strcmp(s + n - 3, ELLIPSIS) == 0;
}

Test(slack_fit, short_messages_are_left_as_they_are)
{
	static const char *const texts[] = {
		"{\"text\": \"hi\", \"blocks\": [{\"type\": \"header\","
		" \"text\": {\"type\": \"plain_text\", \"text\": \"hi\"}}]}",
		"{\"text\": \"no blocks\"}",
		"not JSON at all",
		"[1, 2]",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		char *out;

		cr_expect_eq(fit(texts[i], &out), 0, "%s", texts[i]);
		cr_expect_str_eq(out, texts[i]);
		free(out);
	}
}

Test(slack_fit, each_kind_of_text_is_cut_to_its_limit)
{
	char *a = repeat("a", 200), *b = repeat("b", 5000);
	char *c = repeat("c", 2500), *d = repeat("d", 4000);
	char *text = tfmt(
	    "{\"text\": \"%s\", \"blocks\": ["
	    "{\"type\": \"header\", \"text\": {\"type\": \"plain_text\","
	    " \"text\": \"%s\"}},"
	    "{\"type\": \"section\", \"text\": {\"type\": \"mrkdwn\","
	    " \"text\": \"%s\"}, \"fields\": [{\"type\": \"plain_text\","
	    " \"text\": \"%s\"}, {\"type\": \"plain_text\", \"text\": "
	    "\"ok\"}]},"
	    "{\"type\": \"context\", \"elements\": [{\"type\": \"plain_text\","
	    " \"text\": \"%s\"}]}]}",
	    b, a, b, c, d);
	char *out;
	json_t *j;

	cr_expect_eq(fit(text, &out), 4);
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "%s", out);
	cr_expect_str_eq(str_at(j, "/text"), b, "the fallback was cut");
	cr_expect_eq(slack_fit_length(str_at(j, "/blocks/0/text/text")),
	             SLACK_HEADER_MAX);
	cr_expect_eq(slack_fit_length(str_at(j, "/blocks/1/text/text")),
	             SLACK_TEXT_MAX);
	cr_expect_eq(slack_fit_length(str_at(j, "/blocks/1/fields/0/text")),
	             SLACK_FIELD_MAX);
	cr_expect_str_eq(str_at(j, "/blocks/1/fields/1/text"), "ok");
	cr_expect_eq(slack_fit_length(str_at(j, "/blocks/2/elements/0/text")),
	             SLACK_TEXT_MAX);
	cr_expect(ends_with_ellipsis(str_at(j, "/blocks/0/text/text")));
	cr_expect(strncmp(str_at(j, "/blocks/0/text/text"), a,
	                  SLACK_HEADER_MAX - 1) == 0,
	          "the start of the text was not kept");
	cr_expect_str_eq(str_at(j, "/blocks/1/text/type"), "mrkdwn");
	json_decref(j);
	free(out);
	free(text);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* "é" is two bytes and one unit, "😀" four bytes and two units: the cut
 * counts units and never splits a character. */
Test(slack_fit, cuts_count_utf16_units_between_characters)
{
	char *e = repeat("\xc3\xa9", 151),
	     *smile = repeat("\xf0\x9f\x98\x80", 80);
	char *text =
	    tfmt("{\"blocks\": ["
	         "{\"type\": \"header\", \"text\": {\"text\": \"%s\"}},"
	         "{\"type\": \"header\", \"text\": {\"text\": \"%s\"}}]}",
	         e, smile);
	char *kept_e = repeat("\xc3\xa9", SLACK_HEADER_MAX - 1);
	/* 74 faces are 148 units; a 75th would leave no room for the mark */
	char *kept_smile = repeat("\xf0\x9f\x98\x80", 74);
	char *want_e = tfmt("%s" ELLIPSIS, kept_e);
	char *want_smile = tfmt("%s" ELLIPSIS, kept_smile);
	char *out;
	json_t *j;

	cr_expect_eq(fit(text, &out), 2);
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "%s", out);
	cr_expect_str_eq(str_at(j, "/blocks/0/text/text"), want_e);
	cr_expect_str_eq(str_at(j, "/blocks/1/text/text"), want_smile);
	json_decref(j);
	free(kept_e);
	free(kept_smile);
	free(out);
	free(text);
	free(e);
	free(smile);
	free(want_e);
	free(want_smile);
}

/* Every block text of a fitted message within its limit. */
static void expect_within_limits(json_t *msg, const char *name)
{
	json_t *block, *item;
	size_t i, k;

	json_array_foreach(json_object_get(msg, "blocks"), i, block)
	{
		const char *type = str_at(block, "/type");
		const char *text =
		    json_string_value(jsonptr_get(block, "/text/text"));
		size_t max = strcmp(type, "header") == 0 ? SLACK_HEADER_MAX
		                                         : SLACK_TEXT_MAX;

		cr_expect(text == NULL || slack_fit_length(text) <= max,
		          "%s block %zu: %zu units", name, i,
		          slack_fit_length(text));
		json_array_foreach(json_object_get(block, "fields"), k, item)
		{
			cr_expect_leq(slack_fit_length(str_at(item, "/text")),
			              SLACK_FIELD_MAX, "%s block %zu field %zu",
			              name, i, k);
		}
		json_array_foreach(json_object_get(block, "elements"), k, item)
		{
			cr_expect_leq(slack_fit_length(str_at(item, "/text")),
			              SLACK_TEXT_MAX,
			              "%s block %zu element %zu", name, i, k);
		}
	}
}

/* An event whose every field is far too long for Slack. */
static json_t *wordy_event(const char *type)
{
	char *w = repeat("word ", 2000);
	json_t *ev = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:{}, s:{s:s}, s:{s:s, s:s,"
	    " s:s, s:s, s:{s:s, s:{s:s}, s:{s:s, s:s}}}}",
	    "id", "0190a2b4-0000-7000-8000-000000000001", "received_at",
	    "2026-12-01T10:00:00.000Z", "source", w, "event_type", type,
	    "deployment_id", w, "severity", w, "labels", "herald", "version",
	    "1", "payload", "title", w, "message", w, "summary", w, "url", w,
	    "alert", "status", w, "labels", "alertname", w, "annotations",
	    "summary", w, "description", w);

	cr_assert_not_null(ev);
	free(w);
	return ev;
}

Test(slack_fit, default_templates_keep_within_the_limits)
{
	static const char *const types[] = {
		"DEPLOYMENT_START", "DEPLOYMENT_SUCCESS", "DEPLOYMENT_FAILED",
		"MONITOR_ALERT", "SOMETHING_ELSE"
	};
	char *root = tfmt("%s/templates", tenv("HERALD_SOURCE_DIR"));
	struct tmpl_store *s = tmpl_store_new(root);

	cr_assert_not_null(s);
	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		json_t *ev = wordy_event(types[i]), *msg;
		char name[256], err[512], *out = NULL;
		size_t len = 0;

		cr_assert(tmpl_store_find(s, "slack", types[i], "json", name,
		                          sizeof(name)));
		cr_assert(tmpl_store_render(s, name, ev, false, &out, &len, err,
		                            sizeof(err)),
		          "%s: %s", name, err);
		cr_expect_gt(slack_fit_blocks(&out, &len), 0, "%s", name);
		msg = json_loadb(out, len, 0, NULL);
		cr_assert_not_null(msg, "%s: %s", name, out);
		expect_within_limits(msg, name);
		json_decref(msg);
		json_decref(ev);
		free(out);
	}
	tmpl_store_free(s);
	free(root);
}
