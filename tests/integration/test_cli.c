/*
 * The herald command line: exit statuses, help, check-config and migrate.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/tpg.h"

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

Test(cli, check_config_exit_status_and_print)
{
	char *dir = tmkdtemp();
	char *good = tfmt("%s/good.json", dir), *bad = tfmt("%s/bad.json", dir);
	char *out, *err;

	twrite(good,
	       "{\"tls\": {\"self_signed\": true},"
	       " \"admin\": {\"token\": \"admin-secret-123\"},"
	       " \"database\": {\"url\": \"host=db password=pw-secret-9\"}}");
	twrite(bad, "{\"tls\": {\"self_signed\": true},\n \"lisen\": {}}");

	cr_expect_eq(therald_cli((const char *[]){ "check-config", good, NULL },
	                         &out, &err),
	             0);
	free(out);
	free(err);
	cr_expect_eq(therald_cli((const char *[]){ "check-config", "--print",
	                                           good, NULL },
	                         &out, &err),
	             0);
	cr_expect_null(strstr(out, "admin-secret-123"), "%s", out);
	cr_expect_null(strstr(out, "pw-secret-9"), "%s", out);
	cr_expect_not_null(strstr(out, "\"token\": \"<redacted>\""), "%s", out);
	free(out);
	free(err);
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
