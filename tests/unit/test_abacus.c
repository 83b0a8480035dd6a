/*
 * The parts of the Abacus modules that need no network and no database:
 * the answer envelope, URL tokens, payload templates, alert settings, the
 * reconcile plan for given registrations and listings, and the event a
 * new monitor alert version becomes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abacus/client.h"
#include "abacus/plan.h"
#include "abacus/poller.h"
#include "abacus/token.h"
#include "config/config.h"
#include "sources/auth.h"
#include "support/tconfig.h"
#include "util/base64.h"
#include "util/buf.h"

#define PUBLIC "https://herald.example/base/"
#define PREFIX "https://herald.example/base/hooks/abacus/"
#define ALERT  "herald https://herald.example/base "

static const char config_text[] =
    "{\"tls\": {\"self_signed\": true},"
    " \"public_url\": \"" PUBLIC "\","
    " \"abacus\": {\"api_key\": \"k\", \"deployments\": {"
    "  \"dep-1\": {\"events\": [\"DEPLOYMENT_START\", \"DEPLOYMENT_FAILED\","
    "   \"DEPLOYMENT_START\"],"
    "   \"payload\": {\"team\": \"core\"},"
    "   \"alerts\": {\"drop\": {\"condition\": {\"alertType\":"
    "    \"PredictionCount\", \"threshold\": -5},"
    "    \"recipients\": [\"ops@example.com\"], \"email_body\": \"b\"}}},"
    "  \"dep-2\": {\"events\": [\"DEPLOYMENT_SUCCESS\"]}}}}";

static struct config *cfg;

static void setup(void)
{
	cfg = tconfig_load("test.json", config_text);
}

static void teardown(void)
{
	config_unref(cfg);
}

TestSuite(abacus, .init = setup, .fini = teardown);

/* Envelope */

static bool parse(long status, const char *body, const char *rid, json_t **res,
                  struct abacus_error *e)
{
	return abacus_envelope_parse(status, body, strlen(body), rid, res, e);
}

Test(abacus, envelope_success_hands_out_the_result)
{
	struct abacus_error e;
	json_t *res;

	cr_assert(parse(200, "{\"success\": true, \"result\": [1, 2]}", NULL,
	                &res, &e));
	cr_expect_eq(json_array_size(res), 2);
	json_decref(res);
	cr_assert(parse(200, "{\"success\": true}", NULL, &res, &e));
	cr_expect(json_is_null(res));
	json_decref(res);
}

Test(abacus, envelope_failure_names_type_message_and_request)
{
	struct abacus_error e;
	char text[800];
	json_t *res = NULL;

	cr_assert_not(parse(403,
	                    "{\"success\": false, \"error\": \"Invalid API "
	                    "key\", \"errorType\": \"PermissionDeniedError\","
	                    " \"requestId\": \"r-1\"}",
	                    "hdr-1", &res, &e));
	cr_expect_null(res);
	cr_expect_eq(e.status, 403);
	cr_expect_str_eq(e.type, "PermissionDeniedError");
	cr_expect_str_eq(e.message, "Invalid API key");
	cr_expect_str_eq(e.request_id, "r-1");
	abacus_error_format(&e, text, sizeof(text));
	cr_expect_str_eq(text, "HTTP 403 PermissionDeniedError: Invalid API "
	                       "key (request id r-1)");
	cr_expect_not(abacus_error_not_found(&e));
}

Test(abacus, envelope_request_id_from_header_and_default_types)
{
	struct abacus_error e;
	json_t *res;

	cr_assert_not(parse(404,
	                    "{\"success\": false, \"error\": \"gone\","
	                    " \"errorType\": \"DataNotFoundError\"}",
	                    "hdr-2", &res, &e));
	cr_expect_str_eq(e.request_id, "hdr-2");
	cr_expect(abacus_error_not_found(&e));
	cr_assert_not(parse(429, "{\"success\": false}", NULL, &res, &e));
	cr_expect_str_eq(e.type, "TooManyRequestsError");
	cr_expect_str_eq(e.request_id, "");
	/* A failing status wins over a body that claims success. */
	cr_assert_not(parse(500, "{\"success\": true}", NULL, &res, &e));
	cr_expect_str_eq(e.type, "InternalServerError");
}

Test(abacus, envelope_text_answer_is_the_message)
{
	struct abacus_error e;
	json_t *res;

	cr_assert_not(parse(502, "502 Bad Gateway\n", NULL, &res, &e));
	cr_expect_str_eq(e.type, "InternalServerError");
	cr_expect_str_eq(e.message, "502 Bad Gateway");
	cr_assert_not(parse(504, "line1\r\nline2\x1b", NULL, &res, &e));
	cr_expect_str_eq(e.type, "GatewayTimeoutError");
	cr_expect_str_eq(e.message, "line1  line2");
	cr_assert_not(parse(200, "", NULL, &res, &e));
	cr_expect_str_eq(e.type, "InvalidResponse");
	cr_assert_not(parse(200, "[true]", NULL, &res, &e));
	cr_expect_str_eq(e.type, "InvalidResponse");
	cr_assert_not(parse(200, "{\"result\": 1}", NULL, &res, &e));
	cr_expect_str_eq(e.message, "the answer is not an Abacus envelope");
}

Test(abacus, envelope_long_message_is_cut)
{
	char body[4096];
	struct abacus_error e;
	json_t *res;

	memset(body, 'x', sizeof(body) - 1);
	body[sizeof(body) - 1] = '\0';
	cr_assert_not(parse(503, body, NULL, &res, &e));
	cr_expect_eq(strlen(e.message), sizeof(e.message) - 1);
}

/* Tokens */

Test(abacus, token_is_base64url_of_32_random_bytes)
{
	char a[ABACUS_TOKEN_LEN + 1], b[ABACUS_TOKEN_LEN + 1];

	cr_assert(abacus_token_new(a));
	cr_assert(abacus_token_new(b));
	cr_expect_eq(strlen(a), 43);
	cr_expect_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
	                       "vwxyz0123456789-_"),
	             43, "%s", a);
	cr_expect_str_neq(a, b);
}

Test(abacus, token_encoding_vectors)
{
	char out[16];

	base64url_encode((const uint8_t *)"f", 1, out);
	cr_expect_str_eq(out, "Zg");
	base64url_encode((const uint8_t *)"fo", 2, out);
	cr_expect_str_eq(out, "Zm8");
	base64url_encode((const uint8_t *)"foo", 3, out);
	cr_expect_str_eq(out, "Zm9v");
	base64url_encode((const uint8_t *)"\xfb\xff\xbf", 3, out);
	cr_expect_str_eq(out, "-_-_");
}

Test(abacus, token_hash_is_the_receivers)
{
	static const uint8_t abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
		0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
		0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
		0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};
	uint8_t got[32], want[32];

	abacus_token_hash("abc", got);
	cr_expect_eq(memcmp(got, abc, 32), 0);
	abacus_token_hash("tok3n", got);
	auth_sha256("tok3n", 5, want);
	cr_expect_eq(memcmp(got, want, 32), 0);
}

Test(abacus, endpoint_prefix_and_token)
{
	char prefix[128];

	cr_assert(abacus_endpoint_prefix(PUBLIC "//", prefix, sizeof(prefix)));
	cr_expect_str_eq(prefix, PREFIX);
	cr_expect_not(abacus_endpoint_prefix(PUBLIC, prefix, 10));
	cr_expect_str_eq(abacus_endpoint_token(PREFIX "t0k", PREFIX), "t0k");
	cr_expect_null(abacus_endpoint_token(PREFIX, PREFIX));
	cr_expect_null(
	    abacus_endpoint_token("https://other/hooks/abacus/t", PREFIX));
	cr_expect_null(abacus_endpoint_token(NULL, PREFIX));
}

/* Templates and settings */

static void expect_json(json_t *got, const char *want)
{
	json_t *w = json_loads(want, 0, NULL);
	char *text = json_dumps(got, JSON_SORT_KEYS);

	cr_assert_not_null(w, "%s", want);
	cr_expect(json_equal(got, w), "got %s", text);
	free(text);
	json_decref(w);
}

Test(abacus, template_merges_payload_herald_wins)
{
	json_t *payload = json_pack("{s:s, s:s, s:i}", "team", "core", "herald",
	                            "theirs", "n", 1);
	json_t *t =
	    abacus_plan_template("id-1", "dep-1", "DEPLOYMENT_START", payload);

	expect_json(t, "{\"team\": \"core\", \"n\": 1, \"herald\":"
	               " {\"registration_id\": \"id-1\","
	               " \"deployment_id\": \"dep-1\","
	               " \"event_type\": \"DEPLOYMENT_START\"}}");
	/* The configured payload is left as it was. */
	cr_expect_str_eq(json_string_value(json_object_get(payload, "herald")),
	                 "theirs");
	json_decref(t);
	t = abacus_plan_template("id-2", "d", "DEPLOYMENT_FAILED", NULL);
	expect_json(t, "{\"herald\": {\"registration_id\": \"id-2\","
	               " \"deployment_id\": \"d\","
	               " \"event_type\": \"DEPLOYMENT_FAILED\"}}");
	json_decref(t);
	json_decref(payload);
}

static const struct config_abacus_deployment *dep(size_t i)
{
	const struct config_abacus_deployment *d =
	    cfg->abacus.deployments.items;

	return &d[i];
}

Test(abacus, alert_settings_are_email_action_and_condition)
{
	const struct config_abacus_alert *a = dep(0)->alerts.items;
	json_t *s = abacus_plan_alert_settings(a);

	expect_json(s, "{\"conditionConfig\": {\"alertType\":"
	               " \"PredictionCount\", \"threshold\": -5},"
	               " \"actionConfig\": {\"actionType\": \"Email\","
	               " \"emailRecipients\": [\"ops@example.com\"],"
	               " \"emailBody\": \"b\"}}");
	json_decref(s);
}

/* Plans */

/* A listing, registrations and the plan made from them. */
struct world {
	json_t *hooks[2];
	json_t *alerts[2];
	struct abacus_regs regs;
	struct abacus_remote remote[2];
	struct abacus_plan plan;
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	for (int i = 0; i < 2; i++) {
		w->hooks[i] = json_array();
		w->alerts[i] = json_array();
		w->remote[i] = (struct abacus_remote){
			.deployment_id = i == 0 ? "dep-1" : "dep-2",
			.webhooks = w->hooks[i],
			.alerts = w->alerts[i],
		};
	}
	w->regs.items = calloc(8, sizeof(*w->regs.items));
}

static void world_free(struct world *w)
{
	abacus_plan_free(&w->plan);
	abacus_regs_free(&w->regs);
	for (int i = 0; i < 2; i++) {
		json_decref(w->hooks[i]);
		json_decref(w->alerts[i]);
	}
}

static struct abacus_reg *add_reg(struct world *w, const char *id,
                                  const char *dep_id, const char *type,
                                  const char *token, const char *remote)
{
	struct abacus_reg *g = &w->regs.items[w->regs.count++];

	snprintf(g->id, sizeof(g->id), "%s", id);
	g->deployment_id = strdup(dep_id);
	g->event_type = type ? strdup(type) : NULL;
	g->has_token = token != NULL;
	if (token != NULL)
		abacus_token_hash(token, g->token_sha256);
	g->remote_id = remote ? strdup(remote) : NULL;
	g->settings = json_object();
	return g;
}

static struct abacus_reg *add_alert_reg(struct world *w, const char *id,
                                        const char *name, const char *remote,
                                        json_t *settings)
{
	struct abacus_reg *g = add_reg(w, id, "dep-1", NULL, NULL, remote);

	g->alert = true;
	g->name = strdup(name);
	json_decref(g->settings);
	g->settings = settings;
	return g;
}

/* A listed webhook of dep-1 (or dep-2) whose template is what Herald
 * would register for reg_id. */
static void add_hook(struct world *w, int d, const char *id,
                     const char *endpoint, const char *type, const char *reg_id)
{
	const json_t *payload = d == 0 ? dep(0)->payload : NULL;
	json_t *t = abacus_plan_template(reg_id, d == 0 ? "dep-1" : "dep-2",
	                                 type, payload);

	json_array_append_new(
	    w->hooks[d], json_pack("{s:s, s:s, s:s, s:s, s:o}", "webhookId", id,
	                           "deploymentId", d == 0 ? "dep-1" : "dep-2",
	                           "endpoint", endpoint, "webhookEventType",
	                           type, "payloadTemplate", t));
}

static void build(struct world *w, bool remove_all)
{
	struct abacus_plan_input in = {
		.cfg = remove_all ? NULL : &cfg->abacus,
		.prefix = PREFIX,
		.alert_prefix = ALERT,
		.regs = &w->regs,
		.remote = w->remote,
		.nremote = 2,
	};

	cr_assert(abacus_plan_build(&in, &w->plan));
}

/* The plan as lines, for one comparison. */
static char *lines(const struct abacus_plan *p)
{
	struct buf out = { 0 };
	char line[256];

	buf_puts(&out, "");
	for (size_t i = 0; i < p->count; i++) {
		abacus_item_format(&p->items[i], line, sizeof(line));
		buf_printf(&out, "%s\n", line);
	}
	return buf_take(&out);
}

static void expect_plan(const struct world *w, const char *want)
{
	char *got = lines(&w->plan);

	cr_expect_str_eq(got, want);
	free(got);
}

#define R1 "01900000-0000-7000-8000-000000000001"
#define R2 "01900000-0000-7000-8000-000000000002"
#define R3 "01900000-0000-7000-8000-000000000003"
#define R4 "01900000-0000-7000-8000-000000000004"

/* A listed alert of dep-1 with the settings (borrowed, may be NULL) and
 * a latest version "v-ID". */
static json_t *add_alert(struct world *w, const char *id, const char *name,
                         json_t *settings)
{
	json_t *a = json_pack("{s:s, s:s, s:{s:s}}", "monitorAlertId", id,
	                      "name", name, "latestMonitorAlertVersion",
	                      "monitorAlertVersion", "v-latest");

	json_t *copy = json_deep_copy(settings);

	/* A copy: settings shares the configuration's condition. */
	if (copy != NULL)
		json_object_update(a, copy);
	json_decref(copy);
	json_array_append_new(w->alerts[0], a);
	return a;
}

/* The settings of the configured alert drop. */
static json_t *drop_settings(void)
{
	return abacus_plan_alert_settings(dep(0)->alerts.items);
}

/* dep-1 and dep-2 exactly as configured. */
static void all_in_place(struct world *w)
{
	json_t *settings = drop_settings();

	add_reg(w, R1, "dep-1", "DEPLOYMENT_START", "tA", "w1");
	add_reg(w, R2, "dep-1", "DEPLOYMENT_FAILED", "tB", "w2");
	add_reg(w, R3, "dep-2", "DEPLOYMENT_SUCCESS", "tC", "w3");
	add_alert_reg(w, R4, "drop", "a1", settings);
	add_hook(w, 0, "w1", PREFIX "tA", "DEPLOYMENT_START", R1);
	add_hook(w, 0, "w2", PREFIX "tB", "DEPLOYMENT_FAILED", R2);
	add_hook(w, 1, "w3", PREFIX "tC", "DEPLOYMENT_SUCCESS", R3);
	add_alert(w, "a1", ALERT "drop", settings);
}

Test(abacus, plan_from_nothing_creates_everything)
{
	struct world w;
	struct uuid u;

	world_init(&w);
	build(&w, false);
	expect_plan(&w, "create webhook dep-1 DEPLOYMENT_START (missing)\n"
	                "create webhook dep-1 DEPLOYMENT_FAILED (missing)\n"
	                "create alert   dep-1 drop (missing)\n"
	                "create webhook dep-2 DEPLOYMENT_SUCCESS (missing)\n");
	for (size_t i = 0; i < w.plan.count; i++) {
		const struct abacus_item *it = &w.plan.items[i];

		cr_expect(uuid_parse(it->reg_id, &u), "%s", it->reg_id);
		cr_expect_null(it->endpoint);
		for (size_t k = 0; k < i; k++)
			cr_expect_str_neq(it->reg_id, w.plan.items[k].reg_id);
	}
	cr_expect_str_eq(
	    json_string_value(json_object_get(
	        json_object_get(w.plan.items[0].template, "herald"),
	        "registration_id")),
	    w.plan.items[0].reg_id);
	cr_expect_str_eq(w.plan.items[2].alert_name, ALERT "drop");
	world_free(&w);
}

Test(abacus, plan_in_place_keeps_everything)
{
	struct world w;

	world_init(&w);
	all_in_place(&w);
	/* Somebody else's webhook is never part of the plan. */
	json_array_append_new(
	    w.hooks[0], json_pack("{s:s, s:s, s:s}", "webhookId", "x9",
	                          "endpoint", "https://other.example/hook",
	                          "webhookEventType", "DEPLOYMENT_START"));
	build(&w, false);
	expect_plan(&w,
	            "keep   webhook dep-1 DEPLOYMENT_START (unchanged)\n"
	            "keep   webhook dep-1 DEPLOYMENT_FAILED (unchanged)\n"
	            "keep   alert   dep-1 drop (unchanged)\n"
	            "keep   webhook dep-2 DEPLOYMENT_SUCCESS (unchanged)\n");
	for (size_t i = 0; i < w.plan.count; i++)
		cr_expect_not(w.plan.items[i].write_row);
	world_free(&w);
}

Test(abacus, plan_repairs_drift)
{
	struct world w;

	world_init(&w);
	add_reg(&w, R1, "dep-1", "DEPLOYMENT_START", "tA", "w1");
	add_reg(&w, R2, "dep-1", "DEPLOYMENT_FAILED", "tB", "w2");
	add_reg(&w, R3, "dep-2", "DEPLOYMENT_SUCCESS", "tC", "w3");
	/* w1 is gone, w2's template was edited, w3's token changed. */
	add_hook(&w, 0, "w2", PREFIX "tB", "DEPLOYMENT_FAILED", R3);
	add_hook(&w, 1, "w3", PREFIX "other", "DEPLOYMENT_SUCCESS", R3);
	build(&w, false);
	expect_plan(&w,
	            "create webhook dep-1 DEPLOYMENT_START (deleted "
	            "remotely)\n"
	            "update webhook dep-1 DEPLOYMENT_FAILED (payloadTemplate"
	            " changed)\n"
	            "create alert   dep-1 drop (missing)\n"
	            "update webhook dep-2 DEPLOYMENT_SUCCESS (endpoint token"
	            " no longer matches)\n");
	cr_expect_str_eq(w.plan.items[0].reg_id, R1);
	cr_expect_str_eq(w.plan.items[1].reg_id, R2);
	cr_expect_str_eq(w.plan.items[1].remote_id, "w2");
	cr_expect_str_eq(w.plan.items[1].endpoint, PREFIX "tB");
	cr_expect_str_eq(w.plan.items[3].remote_id, "w3");
	cr_expect_null(w.plan.items[3].endpoint);
	world_free(&w);
}

Test(abacus, plan_points_back_a_recorded_webhook_sent_elsewhere)
{
	struct world w;

	world_init(&w);
	add_reg(&w, R1, "dep-1", "DEPLOYMENT_START", "tA", "w1");
	add_hook(&w, 0, "w1", "https://elsewhere.example/hook",
	         "DEPLOYMENT_START", R1);
	/* Neither recorded nor under the prefix: not Herald's. */
	add_hook(&w, 0, "w7", "https://elsewhere.example/hook",
	         "DEPLOYMENT_FAILED", R2);
	build(&w, false);
	expect_plan(&w, "update webhook dep-1 DEPLOYMENT_START (endpoint not"
	                " under public_url)\n"
	                "create webhook dep-1 DEPLOYMENT_FAILED (missing)\n"
	                "create alert   dep-1 drop (missing)\n"
	                "create webhook dep-2 DEPLOYMENT_SUCCESS (missing)\n");
	cr_expect_str_eq(w.plan.items[0].reg_id, R1);
	cr_expect_str_eq(w.plan.items[0].remote_id, "w1");
	/* No endpoint kept: a new token is minted. */
	cr_expect_null(w.plan.items[0].endpoint);
	world_free(&w);
}

Test(abacus, plan_deletes_what_is_no_longer_configured)
{
	struct world w;

	world_init(&w);
	all_in_place(&w);
	add_reg(&w, "01900000-0000-7000-8000-000000000005", "dep-1",
	        "DEPLOYMENT_SUCCESS", "tD", "w4");
	add_reg(&w, "01900000-0000-7000-8000-000000000006", "dep-2",
	        "DEPLOYMENT_FAILED", "tE", "w5");
	add_hook(&w, 0, "w4", PREFIX "tD", "DEPLOYMENT_SUCCESS", R1);
	build(&w, false);
	expect_plan(&w, "keep   webhook dep-1 DEPLOYMENT_START (unchanged)\n"
	                "keep   webhook dep-1 DEPLOYMENT_FAILED (unchanged)\n"
	                "delete webhook dep-1 DEPLOYMENT_SUCCESS (not "
	                "configured)\n"
	                "keep   alert   dep-1 drop (unchanged)\n"
	                "keep   webhook dep-2 DEPLOYMENT_SUCCESS (unchanged)\n"
	                "delete webhook dep-2 DEPLOYMENT_FAILED (not "
	                "configured)\n");
	cr_expect_str_eq(w.plan.items[2].remote_id, "w4");
	cr_expect_str_eq(w.plan.items[2].reg_id,
	                 "01900000-0000-7000-8000-000000000005");
	/* w5 is not listed any more: only its row goes. */
	cr_expect_null(w.plan.items[5].remote_id);
	world_free(&w);
}

Test(abacus, plan_adopts_an_unrecorded_herald_webhook)
{
	struct world w;

	world_init(&w);
	/* A create whose answer was lost: at Abacus, not recorded. */
	add_hook(&w, 1, "w9", PREFIX "tZ", "DEPLOYMENT_SUCCESS", R3);
	add_hook(&w, 1, "w8", PREFIX "tY", "DEPLOYMENT_SUCCESS", R2);
	build(&w, false);
	cr_assert_eq(w.plan.count, 5);
	cr_expect_eq(w.plan.items[3].op, ABACUS_KEEP);
	cr_expect(w.plan.items[3].write_row);
	cr_expect_str_eq(w.plan.items[3].reg_id, R3);
	cr_expect_str_eq(w.plan.items[3].endpoint, PREFIX "tZ");
	/* A second one is one too many. */
	cr_expect_eq(w.plan.items[4].op, ABACUS_DELETE);
	cr_expect_str_eq(w.plan.items[4].remote_id, "w8");
	cr_expect_str_eq(w.plan.items[4].reg_id, "");
	world_free(&w);
}

Test(abacus, alert_prefix_names_the_instance)
{
	char out[64];

	cr_assert(abacus_alert_prefix(PUBLIC "//", out, sizeof(out)));
	cr_expect_str_eq(out, ALERT);
	cr_expect_not(abacus_alert_prefix(PUBLIC, out, 20));
}

Test(abacus, plan_replaces_a_changed_alert)
{
	struct world w;
	json_t *old = json_pack("{s:{s:s}}", "conditionConfig", "alertType",
	                        "AccuracyBelowThreshold");
	json_t *want = drop_settings();

	world_init(&w);
	add_alert_reg(&w, R4, "drop", "a1", old);
	add_alert_reg(&w, R3, "gone", "a2", json_object());
	add_alert(&w, "a1", ALERT "drop", old);
	add_alert(&w, "a2", ALERT "gone", NULL);
	/* Neither Herald's name nor recorded: never touched. */
	add_alert(&w, "a3", "drop", want);
	add_alert(&w, "a4", "herald https://other.example drop", want);
	build(&w, false);
	expect_plan(&w, "create webhook dep-1 DEPLOYMENT_START (missing)\n"
	                "create webhook dep-1 DEPLOYMENT_FAILED (missing)\n"
	                "update alert   dep-1 drop (configuration changed)\n"
	                "delete alert   dep-1 gone (not configured)\n"
	                "create webhook dep-2 DEPLOYMENT_SUCCESS (missing)\n");
	cr_expect_str_eq(w.plan.items[2].remote_id, "a1");
	cr_expect_str_eq(w.plan.items[2].reg_id, R4);
	cr_expect_str_eq(w.plan.items[2].alert_name, ALERT "drop");
	cr_expect_str_eq(w.plan.items[3].remote_id, "a2");
	cr_expect_str_eq(w.plan.items[3].reg_id, R3);
	json_decref(want);
	world_free(&w);
}

/* Recorded as configured, listed otherwise: Abacus holds what counts. */
Test(abacus, plan_repairs_an_alert_changed_remotely)
{
	struct world w;
	json_t *a;

	world_init(&w);
	all_in_place(&w);
	a = json_array_get(w.alerts[0], 0);
	json_object_set_new(json_object_get(a, "conditionConfig"), "threshold",
	                    json_integer(-50));
	build(&w, false);
	cr_assert_eq(w.plan.count, 4);
	cr_expect_eq(w.plan.items[2].op, ABACUS_UPDATE);
	cr_expect_str_eq(w.plan.items[2].why, "changed remotely");
	cr_expect_str_eq(w.plan.items[2].remote_id, "a1");
	world_free(&w);

	/* Recipients are compared too, and so is the name. */
	world_init(&w);
	all_in_place(&w);
	a = json_array_get(w.alerts[0], 0);
	json_array_append_new(
	    json_object_get(json_object_get(a, "actionConfig"),
	                    "emailRecipients"),
	    json_string("evil@example.com"));
	build(&w, false);
	cr_expect_eq(w.plan.items[2].op, ABACUS_UPDATE);
	world_free(&w);
	world_init(&w);
	all_in_place(&w);
	a = json_array_get(w.alerts[0], 0);
	json_object_set_new(a, "name", json_string("drop"));
	build(&w, false);
	cr_expect_eq(w.plan.items[2].op, ABACUS_UPDATE);
	world_free(&w);
}

/* What Abacus adds to an alert, or how it writes a number, is no
 * change. */
Test(abacus, plan_keeps_an_alert_abacus_filled_in)
{
	struct world w;
	json_t *a, *cond;

	world_init(&w);
	all_in_place(&w);
	a = json_array_get(w.alerts[0], 0);
	cond = json_object_get(a, "conditionConfig");
	json_object_set_new(cond, "threshold", json_real(-5.0));
	json_object_set_new(cond, "aggregationType", json_null());
	json_object_set_new(a, "actionConfig",
	                    json_string("{\"actionType\": \"Email\", "
	                                "\"emailRecipients\": "
	                                "[\"ops@example.com\"], \"emailBody\":"
	                                " \"b\", \"emailCc\": []}"));
	build(&w, false);
	cr_assert_eq(w.plan.count, 4);
	cr_expect_eq(w.plan.items[2].op, ABACUS_KEEP, "%s",
	             w.plan.items[2].why);
	cr_expect_not(w.plan.items[2].write_row);
	world_free(&w);
}

/* A create whose answer was lost: at Abacus under Herald's name, not
 * recorded. */
Test(abacus, plan_adopts_an_unrecorded_herald_alert)
{
	struct world w;
	json_t *want = drop_settings();

	world_init(&w);
	add_alert(&w, "a5", ALERT "drop", want);
	add_alert(&w, "a6", ALERT "drop", want);
	add_alert(&w, "a7", ALERT "old", want);
	build(&w, false);
	expect_plan(&w, "create webhook dep-1 DEPLOYMENT_START (missing)\n"
	                "create webhook dep-1 DEPLOYMENT_FAILED (missing)\n"
	                "keep   alert   dep-1 drop (unrecorded Herald alert)\n"
	                "delete alert   dep-1 drop (duplicate or unrecorded)\n"
	                "delete alert   dep-1 old (duplicate or unrecorded)\n"
	                "create webhook dep-2 DEPLOYMENT_SUCCESS (missing)\n");
	cr_expect(w.plan.items[2].write_row);
	cr_expect_str_eq(w.plan.items[2].remote_id, "a5");
	cr_expect_str_eq(w.plan.items[2].version, "v-latest");
	cr_expect_str_eq(w.plan.items[3].remote_id, "a6");
	cr_expect_str_eq(w.plan.items[3].reg_id, "");
	cr_expect_str_eq(w.plan.items[4].remote_id, "a7");
	json_decref(want);
	world_free(&w);
}

Test(abacus, plan_to_remove_everything)
{
	struct world w;

	world_init(&w);
	all_in_place(&w);
	/* Registered under an older public_url: Herald's by its id. */
	add_reg(&w, "01900000-0000-7000-8000-000000000005", "dep-2",
	        "DEPLOYMENT_FAILED", "tE", "w5");
	add_hook(&w, 1, "w5", "https://old.example/hooks/abacus/tE",
	         "DEPLOYMENT_FAILED", R1);
	/* Under the prefix, never recorded. */
	add_hook(&w, 1, "w6", PREFIX "tF", "DEPLOYMENT_START", R2);
	/* Somebody else's. */
	add_hook(&w, 1, "w7", "https://old.example/hooks/abacus/tG",
	         "DEPLOYMENT_START", R2);
	add_alert(&w, "a8", "drop", NULL);
	/* Herald's by name, never recorded. */
	add_alert(&w, "a9", ALERT "old", NULL);
	build(&w, true);
	expect_plan(&w, "delete webhook dep-1 DEPLOYMENT_START (unregister)\n"
	                "delete webhook dep-1 DEPLOYMENT_FAILED (unregister)\n"
	                "delete alert   dep-1 drop (unregister)\n"
	                "delete alert   dep-1 old (duplicate or unrecorded)\n"
	                "delete webhook dep-2 DEPLOYMENT_SUCCESS "
	                "(unregister)\n"
	                "delete webhook dep-2 DEPLOYMENT_FAILED "
	                "(unregister)\n"
	                "delete webhook dep-2 DEPLOYMENT_START (duplicate or "
	                "unrecorded)\n");
	cr_assert_eq(w.plan.count, 7);
	cr_expect_str_eq(w.plan.items[2].reg_id, R4);
	cr_expect_str_eq(w.plan.items[3].remote_id, "a9");
	cr_expect_str_eq(w.plan.items[5].remote_id, "w5");
	cr_expect_str_eq(w.plan.items[6].remote_id, "w6");
	world_free(&w);
}

Test(abacus, deployments_to_list)
{
	struct world w;
	const char **names;
	size_t n;

	world_init(&w);
	add_reg(&w, R1, "dep-9", "DEPLOYMENT_START", "t", NULL);
	add_reg(&w, R2, "dep-1", "DEPLOYMENT_START", "u", NULL);
	names = abacus_plan_deployments(&cfg->abacus, &w.regs, &n);
	cr_assert_eq(n, 3);
	cr_expect_str_eq(names[0], "dep-1");
	cr_expect_str_eq(names[1], "dep-2");
	cr_expect_str_eq(names[2], "dep-9");
	free(names);
	names = abacus_plan_deployments(NULL, &w.regs, &n);
	cr_assert_eq(n, 2);
	cr_expect_str_eq(names[0], "dep-9");
	free(names);
	world_free(&w);
}

/* Monitor alert events */

Test(abacus, alert_version_becomes_an_event)
{
	char dep_id[] = "dep-1", name[] = "drop";
	struct abacus_reg g = {
		.id = R4, .alert = true, .deployment_id = dep_id, .name = name
	};
	json_t *v = json_pack("{s:s, s:s, s:s}", "monitorAlertVersion", "v7",
	                      "monitorAlertId", "a1", "status", "COMPLETE");
	struct event ev;
	json_t *payload;

	cr_assert(event_init(&ev, "abacus"));
	cr_assert(abacus_poller_event(&ev, &g, v));
	cr_expect_str_eq(ev.event_type, "MONITOR_ALERT");
	cr_expect_str_eq(ev.deployment_id, "dep-1");
	cr_expect_str_eq(ev.idempotency_key, "alert:v7");
	cr_expect_str_eq(ev.registration_id, R4);
	payload = json_loadb(ev.payload, ev.payload_len, 0, NULL);
	cr_expect_str_eq(
	    json_string_value(json_object_get(payload, "alertName")), "drop");
	cr_expect_str_eq(json_string_value(json_object_get(payload, "status")),
	                 "COMPLETE");
	json_decref(payload);
	event_clear(&ev);

	json_object_del(v, "monitorAlertVersion");
	cr_assert(event_init(&ev, "abacus"));
	cr_expect_not(abacus_poller_event(&ev, &g, v));
	event_clear(&ev);
	json_decref(v);
}
