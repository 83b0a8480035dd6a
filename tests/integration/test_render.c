/*
 * herald render: the real binary over event files in a temporary folder,
 * with the default templates, a folder of its own, and a configuration;
 * its output, its messages and its exit status.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/tcheck.h"
#include "support/therald.h"

static const char stored_event[] =
    "{\"id\": \"0190a5c2-7d3e-7a1b-8c4d-5e6f70819a2b\","
    " \"received_at\": \"2026-12-03T18:48:48.123Z\","
    " \"source\": \"alertmanager\", \"event_type\": \"MONITOR_ALERT\","
    " \"deployment_id\": \"web-1\", \"severity\": null,"
    " \"payload\": {\"alert\": {\"status\": \"firing\", \"labels\":"
    " {\"alertname\": \"HighErrorRate\"}, \"annotations\": {\"summary\":"
    " \"5% of requests \\\"fail\\\"\"}}, \"notification\": {}}}";

/* The template data as message_build makes it, delivery and all. */
static const char data_model[] =
    "{\"id\": \"e-2\", \"received_at\": \"2026-12-03T18:48:49Z\","
    " \"source\": \"abacus\", \"event_type\": \"DEPLOYMENT_FAILED\","
    " \"deployment_id\": null, \"severity\": null,"
    " \"idempotency_key\": null, \"payload\": {\"labels\": {\"team\":"
    " \"ml\"}}, \"labels\": {\"team\": \"ml\"}, \"headers\": {},"
    " \"delivery\": {\"id\": \"d\", \"attempt\": 3, \"sink\": \"x\"},"
    " \"herald\": {\"public_url\": null, \"version\": \"0\"}}";

struct fixture {
	char *dir;
	char *event;
	char *model;
	char *templates;
};

static void fixture_init(struct fixture *f)
{
	f->dir = tmkdtemp();
	f->event = tfmt("%s/event.json", f->dir);
	f->model = tfmt("%s/model.json", f->dir);
	f->templates = tfmt("%s/templates", f->dir);
	twrite(f->event, stored_event);
	twrite(f->model, data_model);
	cr_assert_eq(mkdir(f->templates, 0700), 0);
}

static void fixture_free(struct fixture *f)
{
	trmdir(f->dir);
	free(f->dir);
	free(f->event);
	free(f->model);
	free(f->templates);
}

static void put(const struct fixture *f, const char *name, const char *text)
{
	char *path = tfmt("%s/%s", f->templates, name);

	twrite(path, text);
	free(path);
}

Test(render, default_slack_template_over_a_stored_event)
{
	struct fixture f;
	char *out, *err;
	char *defaults = tfmt("%s/templates", tenv("HERALD_SOURCE_DIR"));
	json_t *body;
	int rc;

	fixture_init(&f);
	rc = therald_cli((const char *[]){ "render", "slack/MONITOR_ALERT.json",
	                                   "--event", f.event, NULL },
	                 &out, &err);
	cr_expect_eq(rc, 0, "%s", err);
	body = json_loads(out, 0, NULL);
	cr_assert_not_null(body, "%s", out);
	cr_expect(json_is_string(json_object_get(body, "text")));
	cr_expect(json_is_array(json_object_get(body, "blocks")));
	cr_expect_not_null(strstr(out, "HighErrorRate"), "%s", out);
	cr_expect_not_null(strstr(out, "5% of requests \\\"fail\\\""), "%s",
	                   out);
	json_decref(body);
	free(out);
	free(err);

	rc = therald_cli((const char *[]){ "render", "http/default.json", "-e",
	                                   f.event, "--templates", defaults,
	                                   "--sink", "ops-hook", NULL },
	                 &out, &err);
	cr_expect_eq(rc, 0, "%s", err);
	body = json_loads(out, 0, NULL);
	cr_assert_not_null(body, "%s", out);
	cr_expect_str_eq(json_string_value(json_object_get(
	                     json_object_get(body, "delivery"), "sink")),
	                 "ops-hook");
	cr_expect(json_is_null(
	    json_object_get(json_object_get(body, "event"), "severity")));
	json_decref(body);
	free(out);
	free(err);
	free(defaults);
	fixture_free(&f);
}

Test(render, data_model_file_and_own_folder)
{
	struct fixture f;
	char *out, *err;
	int rc;

	fixture_init(&f);
	put(&f, "line.txt",
	    "{{event_type}} team={{labels.team}} sink={{delivery.sink}}"
	    " attempt={{delivery.attempt}} dep={{deployment_id}}.");
	rc = therald_cli((const char *[]){ "render", "line.txt", "--event",
	                                   f.model, "--templates", f.templates,
	                                   NULL },
	                 &out, &err);
	cr_expect_eq(rc, 0, "%s", err);
	cr_expect_str_eq(out, "DEPLOYMENT_FAILED team=ml sink=render "
	                      "attempt=1 dep=.");
	free(out);
	free(err);
	fixture_free(&f);
}

Test(render, configuration_gives_folder_and_public_url)
{
	struct fixture f;
	char *cfg, *text, *out, *err;
	int rc;

	fixture_init(&f);
	cfg = tfmt("%s/herald.json", f.dir);
	text = tfmt("{\"tls\": {\"self_signed\": true},"
	            " \"public_url\": \"https://herald.example\","
	            " \"templates_dir\": \"%s\"}",
	            f.templates);
	twrite(cfg, text);
	free(text);
	put(&f, "subject.txt",
	    "{{herald.public_url}} {{payload.alert."
	    "annotations.summary}}");
	rc = therald_cli((const char *[]){ "render", "subject.txt", "-e",
	                                   f.event, "--config", cfg, "--header",
	                                   NULL },
	                 &out, &err);
	cr_expect_eq(rc, 0, "%s", err);
	cr_expect_str_eq(out, "https://herald.example 5% of requests \"fail\"");
	free(out);
	free(err);
	free(cfg);
	fixture_free(&f);
}

Test(render, invalid_json_result_fails_naming_the_template)
{
	struct fixture f;
	char *out, *err;
	int rc;

	fixture_init(&f);
	put(&f, "broken.json", "{\"source\": {{source}}}\n");
	rc = therald_cli((const char *[]){ "render", "broken.json", "--event",
	                                   f.event, "--templates", f.templates,
	                                   NULL },
	                 &out, &err);
	cr_expect_eq(rc, 1);
	cr_expect_str_eq(out, "");
	cr_expect_not_null(strstr(err, "herald: template broken.json: "), "%s",
	                   err);
	cr_expect_not_null(strstr(err, "line 1, column"), "%s", err);
	free(out);
	free(err);
	fixture_free(&f);
}

Test(render, failures_and_usage)
{
	struct fixture f;
	char *out, *err, *missing, *notevent;
	int rc;

	fixture_init(&f);
	missing = tfmt("%s/none.json", f.dir);
	notevent = tfmt("%s/list.json", f.dir);
	twrite(notevent, "[1, 2]");

	rc = therald_cli((const char *[]){ "render", "nope.json", "-e", f.event,
	                                   "-t", f.templates, NULL },
	                 &out, &err);
	cr_expect_eq(rc, 1);
	cr_expect_not_null(strstr(err, "template nope.json: not found"), "%s",
	                   err);
	free(out);
	free(err);

	rc = therald_cli((const char *[]){ "render", "../x.txt", "-e", f.event,
	                                   "-t", f.templates, NULL },
	                 &out, &err);
	cr_expect_eq(rc, 1);
	cr_expect_not_null(strstr(err, "\"..\""), "%s", err);
	free(out);
	free(err);

	rc = therald_cli(
	    (const char *[]){ "render", "x.txt", "-e", missing, NULL }, &out,
	    &err);
	cr_expect_eq(rc, 1);
	cr_expect_not_null(strstr(err, "herald: "), "%s", err);
	free(out);
	free(err);

	rc = therald_cli(
	    (const char *[]){ "render", "x.txt", "-e", notevent, NULL }, &out,
	    &err);
	cr_expect_eq(rc, 1);
	cr_expect_not_null(strstr(err, "event_type"), "%s", err);
	free(out);
	free(err);

	rc = therald_cli((const char *[]){ "render", "x.txt", NULL }, &out,
	                 &err);
	cr_expect_eq(rc, 2);
	cr_expect_not_null(strstr(err, "usage: herald render"), "%s", err);
	free(out);
	free(err);

	rc = therald_cli((const char *[]){ "render", "--help", NULL }, &out,
	                 &err);
	cr_expect_eq(rc, 0);
	cr_expect_not_null(strstr(out, "usage: herald render"), "%s", out);
	free(out);
	free(err);
	free(missing);
	free(notevent);
	fixture_free(&f);
}
