/*
 * The template store (template/store.h) on synthetic folders: escaping by
 * extension, the JSON check, header mode, partial lookup, names that try
 * to leave the folder, and tmpl_store_find's order. Then every default
 * template under $HERALD_SOURCE_DIR/templates over sample events of each
 * source, built with message_build as the dispatcher builds them.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dispatch/message.h"
#include "support/tcheck.h"
#include "template/store.h"

/* Write text to dir/name, making the folders on the way. */
static void put(const char *dir, const char *name, const char *text)
{
	char *path = tfmt("%s/%s", dir, name);

	for (char *p = path + strlen(dir) + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	twrite(path, text);
	free(path);
}

/* Render name over data; the result (malloc'd) or NULL with err set. */
static char *render(struct tmpl_store *s, const char *name, json_t *data,
                    bool header, char *err, size_t size)
{
	char *out = NULL;
	size_t len = 0;

	err[0] = '\0';
	if (!tmpl_store_render(s, name, data, header, &out, &len, err, size))
		return NULL;
	cr_expect_eq(strlen(out), len, "%s", name);
	return out;
}

static json_t *sample_value(void)
{
	json_t *j =
	    json_loads("{\"v\": \"<a href=\\\"x\\\">&'\\r\\nz\"}", 0, NULL);

	cr_assert_not_null(j);
	return j;
}

Test(template_store, escaping_follows_the_extension)
{
	char *dir = tmkdtemp(), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(dir);
	json_t *data = sample_value(), *parsed;

	put(dir, "a.json", "{\"v\": \"{{v}}\"}");
	put(dir, "a.html", "<p>{{v}}</p>");
	put(dir, "a.txt", "{{v}}");
	put(dir, "a.md", "{{v}}");
	put(dir, "plain", "{{v}}");

	out = render(s, "a.json", data, false, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	parsed = json_loads(out, 0, NULL);
	cr_assert_not_null(parsed, "%s", out);
	cr_expect_str_eq(json_string_value(json_object_get(parsed, "v")),
	                 json_string_value(json_object_get(data, "v")));
	json_decref(parsed);
	free(out);

	out = render(s, "a.html", data, false, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_str_eq(out, "<p>&lt;a href=&quot;x&quot;&gt;&amp;&#39;\r\n"
	                      "z</p>");
	free(out);

	for (const char *const *n =
	         (const char *const[]){ "a.txt", "a.md", "plain", NULL };
	     *n; n++) {
		out = render(s, *n, data, false, err, sizeof(err));
		cr_assert_not_null(out, "%s", err);
		cr_expect_str_eq(out, "<a href=\"x\">&'\r\nz", "%s", *n);
		free(out);
	}
	json_decref(data);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

Test(template_store, header_mode_keeps_values_on_one_line)
{
	char *dir = tmkdtemp(), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(dir);
	json_t *data = sample_value();

	put(dir, "mail/default.subject.txt", "Re: {{v}} {{{v}}}");
	put(dir, "x.json", "{{v}}");
	out =
	    render(s, "mail/default.subject.txt", data, true, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_str_eq(out, "Re: <a href=\"x\">&'  z <a href=\"x\">&'  z");
	free(out);

	/* Header mode wins over .json, and its result is no JSON. */
	out = render(s, "x.json", data, true, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_str_eq(out, "<a href=\"x\">&'  z");
	free(out);
	json_decref(data);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

Test(template_store, json_result_must_parse)
{
	char *dir = tmkdtemp(), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(dir);
	json_t *data = sample_value();

	put(dir, "hooks/bad.json", "{\n  \"v\": {{v}}\n}\n");
	out = render(s, "hooks/bad.json", data, false, err, sizeof(err));
	cr_expect_null(out);
	cr_expect_not_null(strstr(err, "template hooks/bad.json"), "%s", err);
	cr_expect_not_null(strstr(err, "not JSON: line 2, column"), "%s", err);
	free(out);
	json_decref(data);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

Test(template_store, errors_name_the_template)
{
	char *dir = tmkdtemp(), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(dir);

	put(dir, "broken.txt", "line one\n{{#open}}\n");
	out = render(s, "broken.txt", NULL, false, err, sizeof(err));
	cr_expect_null(out);
	cr_expect_not_null(strstr(err, "template broken.txt: line "), "%s",
	                   err);

	out = render(s, "absent.txt", NULL, false, err, sizeof(err));
	cr_expect_null(out);
	cr_expect_not_null(strstr(err, "template absent.txt: not found"), "%s",
	                   err);

	put(dir, "folder/x.txt", "");
	out = render(s, "folder", NULL, false, err, sizeof(err));
	cr_expect_null(out);
	cr_expect_not_null(strstr(err, "folder"), "%s", err);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

Test(template_store, names_stay_inside_the_folder)
{
	char *dir = tmkdtemp(), *inner = tfmt("%s/in", dir), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(inner);
	const char *const bad[] = { "../secret.txt", "a/../../secret.txt",
		                    "a/..", "..", NULL };

	put(dir, "secret.txt", "secret");
	mkdir(inner, 0700);
	put(inner, "a/x.txt", "{{> ../secret.txt}}");
	put(inner, "ok.txt", "fine");

	for (size_t i = 0; bad[i] != NULL; i++) {
		out = render(s, bad[i], NULL, false, err, sizeof(err));
		cr_expect_null(out, "%s", bad[i]);
		cr_expect_not_null(strstr(err, "\"..\""), "%s: %s", bad[i],
		                   err);
		free(out);
	}
	out = render(s, "/etc/hostname", NULL, false, err, sizeof(err));
	cr_expect_null(out);
	cr_expect_not_null(strstr(err, "absolute"), "%s", err);
	out = render(s, "", NULL, false, err, sizeof(err));
	cr_expect_null(out);

	/* A partial is held to the same rule, and says who included it. */
	out = render(s, "a/x.txt", NULL, false, err, sizeof(err));
	cr_expect_null(out);
	cr_expect_not_null(strstr(err, "template a/x.txt: partial"), "%s", err);

	/* Names that only look odd are fine. */
	out = render(s, "./ok.txt", NULL, false, err, sizeof(err));
	cr_expect_str_eq(out ? out : err, "fine");
	free(out);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
	free(inner);
}

Test(template_store, partials_by_name_then_extension_then_txt)
{
	char *dir = tmkdtemp(), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(dir);
	json_t *data = sample_value();

	put(dir, "main.json",
	    "[\"{{> p}}\", \"{{> q}}\", \"{{> r}}\","
	    " \"{{> none}}\"]");
	put(dir, "main.html", "{{> q}}|{{> r}}");
	put(dir, "p", "p-bare");
	put(dir, "p.json", "p-json");
	put(dir, "q.json", "q-json {{v}}");
	put(dir, "q.html", "q-html {{v}}");
	put(dir, "q.txt", "q-txt");
	put(dir, "r.txt", "r-txt");

	out = render(s, "main.json", data, false, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_str_eq(out,
	                 "[\"p-bare\", \"q-json <a href=\\\"x\\\">&'\\r\\nz\","
	                 " \"r-txt\", \"\"]");
	free(out);

	/* Partials render in the including template's mode. */
	out = render(s, "main.html", data, false, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect(strncmp(out, "q-html &lt;a", 12) == 0, "%s", out);
	cr_expect_not_null(strstr(out, "|r-txt"), "%s", out);
	free(out);
	json_decref(data);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

Test(template_store, compiled_once_and_kept)
{
	char *dir = tmkdtemp(), err[512], *out;
	struct tmpl_store *s = tmpl_store_new(dir);

	put(dir, "t.txt", "first");
	out = render(s, "t.txt", NULL, false, err, sizeof(err));
	cr_expect_str_eq(out ? out : err, "first");
	free(out);
	put(dir, "t.txt", "second");
	out = render(s, "t.txt", NULL, false, err, sizeof(err));
	cr_expect_str_eq(out ? out : err, "first");
	free(out);
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

Test(template_store, find_tries_event_type_then_default)
{
	char *dir = tmkdtemp(), name[256];
	struct tmpl_store *s = tmpl_store_new(dir);

	put(dir, "slack/default.json", "{}");
	put(dir, "slack/DEPLOYMENT_FAILED.json", "{}");
	put(dir, "email/default.subject.txt", "s");
	put(dir, "email/MONITOR_ALERT.txt", "t");

	cr_expect(tmpl_store_find(s, "slack", "DEPLOYMENT_FAILED", "json", name,
	                          sizeof(name)));
	cr_expect_str_eq(name, "slack/DEPLOYMENT_FAILED.json");
	cr_expect(tmpl_store_find(s, "slack", "DEPLOYMENT_START", "json", name,
	                          sizeof(name)));
	cr_expect_str_eq(name, "slack/default.json");
	cr_expect(
	    tmpl_store_find(s, "slack", NULL, "json", name, sizeof(name)));
	cr_expect_str_eq(name, "slack/default.json");
	cr_expect(tmpl_store_find(s, "email", "MONITOR_ALERT", "subject.txt",
	                          name, sizeof(name)));
	cr_expect_str_eq(name, "email/default.subject.txt");
	cr_expect(tmpl_store_find(s, "email", "MONITOR_ALERT", "txt", name,
	                          sizeof(name)));
	cr_expect_str_eq(name, "email/MONITOR_ALERT.txt");
	cr_expect_not(
	    tmpl_store_find(s, "email", "X", "html", name, sizeof(name)));
	cr_expect_not(
	    tmpl_store_find(s, "http", "X", "json", name, sizeof(name)));

	/* An event type is a file name, never a path. */
	put(dir, "DEPLOYMENT_FAILED.json", "{}");
	cr_expect(tmpl_store_find(s, "slack", "../DEPLOYMENT_FAILED", "json",
	                          name, sizeof(name)));
	cr_expect_str_eq(name, "slack/default.json");
	tmpl_store_free(s);
	trmdir(dir);
	free(dir);
}

/* Sample events: each source, with and without the optional fields. */
static const struct message_event samples[] = {
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2b",
	  .received_at = "2026-12-03T18:48:48.123Z",
	  .source = "abacus",
	  .event_type = "DEPLOYMENT_FAILED",
	  .deployment_id = "web-1",
	  .payload = "{\"deploymentId\": \"web-1\", \"event\":"
	             " \"DEPLOYMENT_FAILED\", \"message\": \"model did not"
	             " load: \\\"oom\\\" <3>\"}",
	  .headers = "{\"user-agent\": \"Abacus\"}" },
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2c",
	  .received_at = "2026-12-03T18:48:49Z",
	  .source = "abacus",
	  .event_type = "DEPLOYMENT_START",
	  .payload = "{}" },
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2d",
	  .received_at = "2026-12-03T18:48:50Z",
	  .source = "abacus",
	  .event_type = "DEPLOYMENT_SUCCESS",
	  .deployment_id = "web-1",
	  .payload = "{\"labels\": {\"team\": \"ml\"}}" },
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2e",
	  .received_at = "2026-12-03T18:48:51Z",
	  .source = "alertmanager",
	  .event_type = "MONITOR_ALERT",
	  .deployment_id = "web-1",
	  .severity = "critical",
	  .idempotency_key = "fp1:firing:2026-12-03T18:40:00Z",
	  .payload =
	      "{\"alert\": {\"status\": \"firing\", \"labels\": {\"alertname\":"
	      " \"HighErrorRate\", \"severity\": \"critical\", \"deployment\":"
	      " \"web-1\"}, \"annotations\": {\"summary\": \"5% of requests"
	      " fail\\nsince the <b>deploy</b>\", \"description\": \"see"
	      " the dashboard\"}, \"startsAt\": \"2026-12-03T18:40:00Z\","
	      " \"endsAt\": \"0001-01-01T00:00:00Z\", \"generatorURL\":"
	      " \"http://prom/graph\", \"fingerprint\": \"fp1\"},"
	      " \"notification\": {\"version\": \"4\", \"status\": \"firing\","
	      " \"receiver\": \"herald\"}}" },
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2f",
	  .received_at = "2026-12-03T18:48:52Z",
	  .source = "alertmanager",
	  .event_type = "MONITOR_ALERT",
	  .payload = "{\"alert\": {\"status\": \"resolved\", \"labels\": {},"
	             " \"startsAt\": \"2026-12-03T18:40:00Z\","
	             " \"fingerprint\": \"fp2\"}, \"notification\": {}}" },
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a30",
	  .received_at = "2026-12-03T18:48:53Z",
	  .source = "ci",
	  .event_type = "build.finished",
	  .severity = "info",
	  .payload = "{\"title\": \"Build 42 \\\"passed\\\" & <ok>\","
	             " \"url\": \"https://ci.example/42\", \"labels\":"
	             " {\"team\": \"core\"}, \"steps\": [1, 2.5, null, true],"
	             " \"summary\": {\"nested\": \"object\"}}" },
	{ .id = "0190a5c2-7d3e-7a1b-8c4d-5e6f70819a31",
	  .received_at = "2026-12-03T18:48:54Z",
	  .source = "ci",
	  .event_type = "DEPLOYMENT_FAILED",
	  .payload = "[\"an\", \"array\", {\"message\": \"\\u00e9\\t\"}]" },
};

#define NSAMPLES (sizeof(samples) / sizeof(*samples))

struct defaults {
	char *names[64];
	size_t count;
};

/* The templates of one kind's folder; files starting with "_" are
 * partials, not templates. */
static void list_kind(const char *root, const char *kind, struct defaults *d)
{
	char *path = tfmt("%s/%s", root, kind);
	DIR *dir = opendir(path);
	struct dirent *e;

	cr_assert_not_null(dir, "%s", path);
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || e->d_name[0] == '_')
			continue;
		cr_assert_lt(d->count, 64);
		d->names[d->count++] = tfmt("%s/%s", kind, e->d_name);
	}
	closedir(dir);
	free(path);
}

static void check_slack(const char *name, json_t *body, const char *out)
{
	json_t *blocks = json_object_get(body, "blocks"), *b;
	size_t i;

	cr_expect(json_is_string(json_object_get(body, "text")), "%s: %s", name,
	          out);
	cr_expect(json_array_size(blocks) >= 2, "%s: %s", name, out);
	json_array_foreach(blocks, i, b)
	{
		cr_expect(json_is_string(json_object_get(b, "type")),
		          "%s: block %zu", name, i);
	}
}

/* The http and command envelope carries the event as it was. */
static void check_envelope(const char *name, json_t *body, json_t *data)
{
	json_t *ev = json_object_get(body, "event");

	cr_expect(json_equal(json_object_get(ev, "payload"),
	                     json_object_get(data, "payload")),
	          "%s", name);
	cr_expect(json_equal(json_object_get(ev, "deployment_id"),
	                     json_object_get(data, "deployment_id")),
	          "%s", name);
	cr_expect(json_equal(json_object_get(ev, "severity"),
	                     json_object_get(data, "severity")),
	          "%s", name);
	cr_expect_str_eq(json_string_value(json_object_get(body, "type")),
	                 json_string_value(json_object_get(data, "event_type")),
	                 "%s", name);
}

static void check_default(struct tmpl_store *s, const char *name, json_t *data)
{
	bool header = strstr(name, ".subject.") != NULL;
	char err[512], *out = render(s, name, data, header, err, sizeof(err));
	json_t *body;

	cr_assert_not_null(out, "%s: %s", name, err);
	cr_expect_gt(strlen(out), 0, "%s", name);
	if (header)
		cr_expect_null(strpbrk(out, "\r\n"), "%s: [%s]", name, out);
	if (strstr(name, ".json") == NULL) {
		free(out);
		return;
	}
	body = json_loads(out, 0, NULL);
	cr_assert_not_null(body, "%s: %s", name, out);
	if (strncmp(name, "slack/", 6) == 0)
		check_slack(name, body, out);
	else
		check_envelope(name, body, data);
	json_decref(body);
	free(out);
}

Test(template_store, defaults_render_every_sample)
{
	const char *const kinds[] = { "slack", "email", "http", "command" };
	char *root = tfmt("%s/templates", tenv("HERALD_SOURCE_DIR"));
	struct tmpl_store *s = tmpl_store_new(root);
	struct message_delivery d = { .id = "0190a5c2-0000-7000-8000-0000000000"
		                            "01",
		                      .attempt = 1,
		                      .sink = "ops" };
	struct defaults defs = { .count = 0 };

	for (size_t k = 0; k < 4; k++)
		list_kind(root, kinds[k], &defs);
	cr_assert_geq(defs.count, 10);
	for (size_t i = 0; i < NSAMPLES; i++) {
		json_t *with = message_build(&samples[i], &d, NULL);
		json_t *without =
		    message_build(&samples[i], NULL, "https://herald.example");

		cr_assert(with && without, "sample %zu", i);
		for (size_t t = 0; t < defs.count; t++) {
			check_default(s, defs.names[t], with);
			check_default(s, defs.names[t], without);
		}
		json_decref(with);
		json_decref(without);
	}
	for (size_t t = 0; t < defs.count; t++)
		free(defs.names[t]);
	tmpl_store_free(s);
	free(root);
}

Test(template_store, defaults_show_what_matters)
{
	char *root = tfmt("%s/templates", tenv("HERALD_SOURCE_DIR"));
	struct tmpl_store *s = tmpl_store_new(root);
	json_t *alert = message_build(&samples[3], NULL, NULL);
	json_t *failed = message_build(&samples[0], NULL, NULL);
	char err[512], *out;

	cr_assert(alert && failed);
	out = render(s, "slack/MONITOR_ALERT.json", alert, false, err,
	             sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_not_null(strstr(out, "HighErrorRate"), "%s", out);
	cr_expect_not_null(strstr(out, "firing"), "%s", out);
	cr_expect_not_null(strstr(out, "5% of requests fail"), "%s", out);
	free(out);

	out = render(s, "slack/DEPLOYMENT_FAILED.json", failed, false, err,
	             sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_not_null(strstr(out, "DEPLOYMENT_FAILED \xc2\xb7 web-1"),
	                   "%s", out);
	free(out);

	/* HTML mail: the payload's markup arrives as text. */
	out = render(s, "email/default.html", alert, false, err, sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_null(strstr(out, "<b>deploy"), "%s", out);
	cr_expect_not_null(strstr(out, "&lt;b&gt;deploy"), "%s", out);
	free(out);

	out = render(s, "email/MONITOR_ALERT.subject.txt", alert, true, err,
	             sizeof(err));
	cr_assert_not_null(out, "%s", err);
	cr_expect_str_eq(out,
	                 "[herald] firing: HighErrorRate web-1 (critical)");
	free(out);
	json_decref(alert);
	json_decref(failed);
	tmpl_store_free(s);
	free(root);
}
