/*
 * herald register [--dry-run] and herald unregister [--dry-run]: make
 * the webhooks and alerts at Abacus match the configuration, or remove
 * every one Herald created. The plan goes to stdout, one line per item;
 * failures go to stderr, each once.
 */
#include <stdio.h>
#include <stdlib.h>

#include "abacus/client.h"
#include "abacus/reconcile.h"
#include "cli/cli.h"
#include "cli/options.h"
#include "config/config.h"
#include "store/migrate.h"
#include "store/place.h"

/* How long to wait for a reconcile another process is running. */
#define LOCK_WAIT_MS 60000

static const char register_usage[] =
    "usage: herald register [--dry-run] [OPTIONS]\n"
    "\n"
    "Create, repair or delete Herald's webhooks and alerts at Abacus so\n"
    "that they match the configuration, and record them in the database.\n"
    "Only Herald's own are touched: webhooks under public_url, alerts\n"
    "named \"herald PUBLIC_URL NAME\", and those whose id is recorded.\n"
    "Prints one line per item: create, update, delete or keep.\n"
    "\n"
    "  -n, --dry-run           print the plan, change nothing\n"
    "" CLI_COMMON_USAGE;

static const char unregister_usage[] =
    "usage: herald unregister [--dry-run] [OPTIONS]\n"
    "\n"
    "Delete every webhook and alert of Herald's at Abacus, and their\n"
    "registrations: on the configured deployments and on those the\n"
    "registrations name, recorded or not. Prints one line per item.\n"
    "\n"
    "  -n, --dry-run           print the plan, change nothing\n"
    "" CLI_COMMON_USAGE;

struct command {
	const char *usage;
	bool remove_all;
	bool dry_run;
};

static void show(const struct abacus_item *it, void *arg)
{
	char line[512];

	(void)arg;
	abacus_item_format(it, line, sizeof(line));
	printf("%s\n", line);
}

static void failed(const struct abacus_item *it, const char *why, void *arg)
{
	char line[512];

	(void)arg;
	abacus_item_format(it, line, sizeof(line));
	fprintf(stderr, "herald: failed: %s: %s\n", line, why);
}

static void summary(const struct abacus_reconcile *r)
{
	printf("%zu to create, %zu to update, %zu to delete, %zu to keep\n",
	       r->counts[ABACUS_CREATE], r->counts[ABACUS_UPDATE],
	       r->counts[ABACUS_DELETE], r->counts[ABACUS_KEEP]);
	if (r->dry_run)
		printf("dry run: nothing changed\n");
}

/* The schema as serve would have it: migrated when the configuration
 * says so, else it must be current already. */
static bool schema_ready(const struct config *cfg, PGconn *conn, char *err,
                         size_t size)
{
	if (cfg->database.migrate_on_start)
		return migrate_apply(conn, migrate_embedded,
		                     migrate_embedded_count, NULL, NULL, err,
		                     size);
	return migrate_is_current(conn, migrate_embedded,
	                          migrate_embedded_count, err, size);
}

static int run(const struct config *cfg, PGconn *conn,
               const struct command *cmd)
{
	struct abacus_reconcile r = { .cfg = cfg,
		                      .conn = conn,
		                      .dry_run = cmd->dry_run,
		                      .remove_all = cmd->remove_all,
		                      .lock_wait_ms = LOCK_WAIT_MS,
		                      .show = show,
		                      .failed = failed };
	char err[1024];
	bool ok;

	r.client = abacus_client_new(&cfg->abacus, err, sizeof(err));
	if (r.client == NULL) {
		fprintf(stderr, "herald: %s\n", err);
		return CLI_FAILED;
	}
	ok = abacus_reconcile_run(&r, err, sizeof(err));
	abacus_client_free(r.client);
	if (r.counts[0] + r.counts[1] + r.counts[2] + r.counts[3] > 0 || ok)
		summary(&r);
	if (!ok)
		fprintf(stderr, "herald: %s\n", err);
	return ok ? CLI_OK : CLI_FAILED;
}

static int with_database(const struct config *cfg, const struct command *cmd)
{
	struct db_place place;
	char err[1024];
	PGconn *conn;
	int rc = CLI_FAILED;

	if (cfg->public_url == NULL) {
		fprintf(stderr, "herald: public_url is not set; register needs "
		                "it to build the URLs Abacus calls\n");
		return CLI_FAILED;
	}
	if (!db_place_open(&place, cfg, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		return CLI_FAILED;
	}
	conn = db_connect(&place.target, err, sizeof(err));
	if (conn == NULL)
		fprintf(stderr, "herald: database unreachable: %s\n", err);
	else if (!schema_ready(cfg, conn, err, sizeof(err)))
		fprintf(stderr, "herald: database schema: %s\n", err);
	else
		rc = run(cfg, conn, cmd);
	PQfinish(conn);
	db_place_close(&place);
	return rc;
}

static int command_main(int argc, char **argv, struct command *cmd)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common = { 0 };
	struct config *cfg;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:nh", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 'n': cmd->dry_run = true; break;
		case 'h': fputs(cmd->usage, stdout); return CLI_OK;
		default: fputs(cmd->usage, stderr); return CLI_USAGE;
		}
	}
	if (optind != argc) {
		fputs(cmd->usage, stderr);
		return CLI_USAGE;
	}
	cfg = cli_common_setup(&common);
	if (cfg == NULL)
		return CLI_FAILED;
	rc = with_database(cfg, cmd);
	config_unref(cfg);
	return rc;
}

int cli_register(int argc, char **argv)
{
	struct command cmd = { .usage = register_usage };

	return command_main(argc, argv, &cmd);
}

int cli_unregister(int argc, char **argv)
{
	struct command cmd = { .usage = unregister_usage, .remove_all = true };

	return command_main(argc, argv, &cmd);
}
