/*
 * Routing: matchers, order, continue, absent labels, disabled sinks.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "config/config.h"
#include "routes.h"
#include "support/tconfig.h"

static const char config_text[] =
    "{\"tls\": {\"self_signed\": true},"
    " \"routes\": ["
    "  {\"name\": \"failures\", \"match\": [\"event_type=DEPLOYMENT_FAILED\","
    "    \"deployment_id=~prod-.*\"], \"sinks\": [\"a\", \"b\"],"
    "   \"continue\": true},"
    "  {\"name\": \"core\", \"match\": [\"labels.team!=qa\","
    "    \"labels.tier!~db|cache\"], \"sinks\": [\"b\", \"c\"]},"
    "  {\"name\": \"rest\", \"sinks\": [\"d\"]}],"
    " \"sinks\": {"
    "  \"a\": {\"kind\": \"http\", \"url\": \"https://a\"},"
    "  \"b\": {\"kind\": \"http\", \"url\": \"https://b\"},"
    "  \"c\": {\"kind\": \"http\", \"url\": \"https://c\","
    "   \"enabled\": false},"
    "  \"d\": {\"kind\": \"http\", \"url\": \"https://d\"}}}";

static struct config *cfg;

static void setup(void)
{
	cfg = tconfig_load("routes.json", config_text);
}

static void teardown(void)
{
	config_unref(cfg);
}

TestSuite(routes, .init = setup, .fini = teardown);

static size_t route(const char *type, const char *deployment,
                    const char *labels, struct route_hit *hits)
{
	json_t *l = labels ? json_loads(labels, 0, NULL) : NULL;
	struct route_input in = { "ci", type, deployment, NULL, l };
	size_t n = routes_match(cfg, &in, hits, 8);

	json_decref(l);
	return n;
}

Test(routes, continue_collects_and_dedupes)
{
	struct route_hit h[8];
	size_t n =
	    route("DEPLOYMENT_FAILED", "prod-eu", "{\"team\": \"core\"}", h);

	cr_assert_eq(n, 2);
	cr_expect_str_eq(h[0].sink, "a");
	cr_expect_str_eq(h[0].route, "failures");
	cr_expect_str_eq(h[1].sink, "b");
}

Test(routes, regex_matches_the_whole_value)
{
	struct route_hit h[8];
	size_t n = route("DEPLOYMENT_FAILED", "staging-prod-eu", NULL, h);

	/* Not "failures"; "core" with absent labels; c is off. */
	cr_assert_eq(n, 1);
	cr_expect_str_eq(h[0].sink, "b");
}

Test(routes, first_match_stops_without_continue)
{
	struct route_hit h[8];
	size_t n = route("DEPLOYMENT_START", "prod-1", "{\"tier\": \"db\"}", h);

	cr_assert_eq(n, 1);
	cr_expect_str_eq(h[0].sink, "d");
	cr_expect_str_eq(h[0].route, "rest");
}

Test(routes, explain_says_why)
{
	struct route_input in = { "ci", "DEPLOYMENT_START", "prod-1", NULL,
		                  NULL };
	struct buf out = { 0 };

	routes_explain(cfg, &in, &out);
	cr_expect_not_null(strstr(buf_str(&out),
	                          "route 1 failures: no match: event_type is "
	                          "\"DEPLOYMENT_START\", not = "
	                          "DEPLOYMENT_FAILED"),
	                   "%s", buf_str(&out));
	cr_expect_not_null(strstr(buf_str(&out), "c (disabled)"), "%s",
	                   buf_str(&out));
	buf_free(&out);
}
