/*
 * The herald command line: exit statuses, help, check-config, routes test
 * and migrate.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/tpg.h"
#include "util/jsonptr.h"

static const char *const commands[] = { "serve", "migrate", "check-config",
	                                "version" };

Test(cli, usage_and_help)
{
	char *out, *err;

	cr_expect_eq(therald_cli((const char *[]){ NULL }, &out, &err), 2);
	cr_expect_not_null(strstr(err, "usage: herald COMMAND"));
	free(out);
	free(err);
	cr_expect_eq(
	    therald_cli((const char *[]){ "nonsense", NULL }, &out, &err), 2);
	cr_expect_not_null(strstr(err, "unknown command \"nonsense\""));
	free(out);
	free(err);
	for (size_t i = 0; i < sizeof(commands) / sizeof(*commands); i++) {
		const char *name = commands[i];

		if (strcmp(name, "version") == 0)
			continue;
		cr_expect_eq(
		    therald_cli((const char *[]){ name, "--help", NULL }, &out,
		                &err),
		    0, "%s --help", name);
		cr_expect_not_null(strstr(out, "usage: herald"), "%s", name);
		free(out);
		free(err);
	}
	cr_expect_eq(
	    therald_cli((const char *[]){ "version", NULL }, &out, &err), 0);
	cr_expect(strncmp(out, "herald ", 7) == 0);
	free(out);
	free(err);
}

/* Values that may hold secrets, each marked "hidden-N" where it must
 * never be shown, in a configuration that loads. */
static char *config_with_secrets(void)
{
	char *plugin =
	    tfmt("%s/plugins/herald-jsonl.so", tenv("HERALD_BUILD_DIR"));
	char *text = tfmt(
	    "{\"tls\": {\"self_signed\": true},"
	    " \"public_url\": \"https://pub:hidden-1@herald.example.com/h"
	    "?sig=hidden-2\","
	    " \"database\": {\"url\": \"host=db password=hidden-4\"},"
	    " \"sinks\": {"
	    "  \"run\": {\"kind\": \"command\","
	    "   \"argv\": [\"/bin/true\", \"--token=hidden-5\"],"
	    "   \"env\": {\"DEPLOY_TOKEN\": \"hidden-6\"}},"
	    "  \"plug\": {\"kind\": \"plugin\", \"path\": \"%s\","
	    "   \"settings\": {\"api\": {\"key\": \"hidden-7\"},"
	    "    \"pin\": 4711, \"on\": true}},"
	    "  \"mail\": {\"kind\": \"email\","
	    "   \"smtp_url\": \"smtp://hidden-8@mail.example.com:587\","
	    "   \"from\": \"h@example.com\", \"to\": [\"o@example.com\"]}},"
	    " \"abacus\": {\"api_key\": \"hidden-9\","
	    "  \"api_url\": \"https://u:hidden-10@api.example.com\","
	    "  \"deployments\": {\"dep1\": {\"events\": [\"DEPLOYMENT_START\"],"
	    "   \"payload\": {\"auth\": \"hidden-11\"}}}}}",
	    plugin);

	free(plugin);
	return text;
}

/* The string (or boolean, as text) at a JSON pointer of shown, which
 * must be there. */
static const char *shown_at(json_t *shown, const char *pointer)
{
	json_t *v = jsonptr_get(shown, pointer);

	cr_assert(json_is_string(v) || json_is_boolean(v), "nothing at %s",
	          pointer);
	return json_is_string(v) ? json_string_value(v)
	       : json_is_true(v) ? "true"
	                         : "false";
}

static void expect_print(const char *out)
{
	static const char *const expect[][2] = {
		{ "/public_url", "https://<redacted>@herald.example.com/h"
		                 "?<redacted>" },
		{ "/sinks/run/argv/0", "/bin/true" },
		{ "/sinks/run/argv/1", "<redacted>" },
		{ "/sinks/run/env/DEPLOY_TOKEN", "<redacted>" },
		{ "/sinks/plug/settings/api/key", "<redacted>" },
		{ "/sinks/plug/settings/pin", "<redacted>" },
		{ "/sinks/plug/settings/on", "true" },
		{ "/sinks/mail/smtp_url",
		  "smtp://<redacted>@mail.example.com:587" },
		{ "/abacus/api_url", "https://<redacted>@api.example.com" },
		{ "/abacus/deployments/dep1/payload/auth", "<redacted>" },
	};
	json_t *shown = json_loads(out, 0, NULL);

	cr_assert_not_null(shown, "%s", out);
	cr_expect_null(strstr(out, "hidden"), "%s", out);
	for (size_t i = 0; i < sizeof(expect) / sizeof(*expect); i++)
		cr_expect_str_eq(shown_at(shown, expect[i][0]), expect[i][1],
		                 "%s", expect[i][0]);
	json_decref(shown);
}

Test(cli, check_config_exit_status_and_print)
{
	char *dir = tmkdtemp();
	char *good = tfmt("%s/good.json", dir), *bad = tfmt("%s/bad.json", dir);
	char *text = config_with_secrets();
	char *out, *err;

	twrite(good, text);
	twrite(bad, "{\"tls\": {\"self_signed\": true},\n \"lisen\": {}}");

	cr_expect_eq(therald_cli((const char *[]){ "check-config", good, NULL },
	                         &out, &err),
	             0, "%s", err);
	free(out);
	free(err);
	cr_expect_eq(therald_cli((const char *[]){ "check-config", "--print",
	                                           good, NULL },
	                         &out, &err),
	             0, "%s", err);
	expect_print(out);
	free(out);
	free(err);
	free(text);
	cr_expect_eq(therald_cli((const char *[]){ "check-config", bad, NULL },
	                         &out, &err),
	             1);
	cr_expect_not_null(strstr(err, ":2:2: unknown key \"lisen\"; did you "
	                               "mean \"listen\"?"),
	                   "%s", err);
	free(out);
	free(err);
	trmdir(dir);
	free(dir);
	free(good);
	free(bad);
}

static const char routes_config[] =
    "{\"tls\": {\"self_signed\": true},"
    " \"routes\": ["
    "  {\"name\": \"ci failures\","
    "   \"match\": [\"source=ci\", \"event_type=DEPLOYMENT_FAILED\"],"
    "   \"sinks\": [\"a\"], \"continue\": true},"
    "  {\"name\": \"alerts\", \"match\": [\"source=alertmanager\"],"
    "   \"sinks\": [\"b\"]},"
    "  {\"match\": [\"source!~alert.*\", \"labels.team=~core|infra\"],"
    "   \"sinks\": [\"b\", \"c\"]},"
    "  {\"name\": \"rest\", \"sinks\": [\"a\"]}],"
    " \"sinks\": {\"a\": {\"kind\": \"http\", \"url\": \"https://a.test\"},"
    "  \"b\": {\"kind\": \"http\", \"url\": \"https://b.test\"},"
    "  \"c\": {\"kind\": \"http\", \"url\": \"https://c.test\","
    "   \"enabled\": false}}}";

static const struct {
	const char *event;
	const char *out;
} routes_cases[] = {
	{ "{\"source\": \"ci\", \"event_type\": \"DEPLOYMENT_FAILED\","
	  " \"deployment_id\": \"web-7\", \"labels\": {\"team\": \"core\"}}",
	  "route 1 ci failures: matches; sinks a; continuing\n"
	  "route 2 alerts: no match: source is \"ci\", not = alertmanager\n"
	  "route 3: matches; sinks b c (disabled); stopping\n"
	  "delivered to: a b\n" },
	{ "{\"source\": \"alertmanager\", \"event_type\": \"MONITOR_ALERT\","
	  " \"labels\": {\"team\": \"core\"}}",
	  "route 1 ci failures: no match: source is \"alertmanager\","
	  " not = ci\n"
	  "route 2 alerts: matches; sinks b; stopping\n"
	  "delivered to: b\n" },
	{ "{\"source\": \"ci\", \"event_type\": \"DEPLOYMENT_START\"}",
	  "route 1 ci failures: no match: event_type is"
	  " \"DEPLOYMENT_START\", not = DEPLOYMENT_FAILED\n"
	  "route 2 alerts: no match: source is \"ci\", not = alertmanager\n"
	  "route 3: no match: labels.team is \"\", not =~ core|infra\n"
	  "route 4 rest: matches; sinks a; stopping\n"
	  "delivered to: a\n" },
};

Test(cli, routes_test_explains_each_route)
{
	char *dir = tmkdtemp();
	char *config = tfmt("%s/herald.json", dir);
	char *event = tfmt("%s/event.json", dir);
	char *out, *err;

	twrite(config, routes_config);
	for (size_t i = 0; i < sizeof(routes_cases) / sizeof(*routes_cases);
	     i++) {
		twrite(event, routes_cases[i].event);
		cr_expect_eq(
		    therald_cli((const char *[]){ "routes", "test", "--event",
		                                  event, "-c", config, NULL },
		                &out, &err),
		    0, "%s", err);
		cr_expect_str_eq(out, routes_cases[i].out, "case %zu", i);
		free(out);
		free(err);
	}
	twrite(event, "{\"event_type\": \"X\"}");
	cr_expect_eq(therald_cli((const char *[]){ "routes", "test", "--event",
	                                           event, "-c", config, NULL },
	                         &out, &err),
	             1);
	cr_expect_not_null(strstr(err, "needs \"source\" and \"event_type\""),
	                   "%s", err);
	free(out);
	free(err);
	trmdir(dir);
	free(dir);
	free(config);
	free(event);
}

static void write_config(const char *path, const char *db)
{
	char *text = tfmt("{\"tls\": {\"self_signed\": true},"
	                  " \"database\": {\"url\": \"%s\"}}",
	                  db);

	twrite(path, text);
	free(text);
}

Test(cli, migrate_applies_reports_and_refuses_changes, .timeout = 120)
{
	char *dir = tmkdtemp();
	char *db = tpg_create_db();
	char *cfg = tfmt("%s/herald.json", dir);
	char *mig = tfmt("%s/migrations", dir);
	char *one = tfmt("%s/0001_one.sql", mig);
	char *out, *err;

	write_config(cfg, db);
	cr_expect_eq(therald_cli((const char *[]){ "migrate", "--status", "-c",
	                                           cfg, NULL },
	                         &out, &err),
	             1, "%s", err);
	cr_expect_not_null(strstr(out, "pending  0001_init.sql"), "%s", out);
	free(out);
	free(err);
	cr_expect_eq(therald_cli((const char *[]){ "migrate", "-c", cfg, NULL },
	                         &out, &err),
	             0, "%s", err);
	cr_expect_not_null(strstr(out, "applied 0001_init.sql"), "%s", out);
	free(out);
	free(err);
	cr_expect_eq(therald_cli((const char *[]){ "migrate", "--status", "-c",
	                                           cfg, NULL },
	                         &out, &err),
	             0, "%s", err);
	free(out);
	free(err);

	/* A database of its own for a folder of migrations. */
	tpg_drop_db(db);
	free(db);
	db = tpg_create_db();
	write_config(cfg, db);
	cr_assert(mkdir(mig, 0755) == 0);
	twrite(one, "CREATE TABLE one (x int);");
	cr_expect_eq(therald_cli((const char *[]){ "migrate", "--dir", mig,
	                                           "-c", cfg, NULL },
	                         &out, &err),
	             0, "%s", err);
	free(out);
	free(err);
	twrite(one, "CREATE TABLE one (x text);");
	cr_expect_eq(therald_cli((const char *[]){ "migrate", "--dir", mig,
	                                           "-c", cfg, NULL },
	                         &out, &err),
	             1);
	cr_expect_str_eq(err, "herald: migration 0001_one.sql was changed "
	                      "after it was applied\n");
	free(out);
	free(err);

	tpg_drop_db(db);
	trmdir(dir);
	free(db);
	free(dir);
	free(cfg);
	free(mig);
	free(one);
}
