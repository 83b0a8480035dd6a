/*
 * herald migrate [--status] [--dir DIR]: apply the schema migrations, or
 * show which are applied.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "config/config.h"
#include "store/migrate.h"
#include "store/place.h"

static const char usage[] =
    "usage: herald migrate [--status] [--dir DIR] [OPTIONS]\n"
    "\n"
    "Apply the database migrations built into herald, in order, each in\n"
    "its own transaction. Safe to run from several processes at once.\n"
    "\n"
    "  -s, --status            list migrations and whether each is applied\n"
    "  -d, --dir DIR           use the NNNN_name.sql files of DIR "
    "instead\n" CLI_COMMON_USAGE;

static void report(const struct migration *m, void *arg)
{
	(void)arg;
	printf("applied %s\n", m->name);
}

static int show_status(PGconn *conn, const struct migration *list, size_t n)
{
	static const char *const states[] = { "applied", "pending", "CHANGED" };
	struct migrate_status_row *rows = calloc(n + 1, sizeof(*rows));
	char err[512];
	int status = CLI_OK;

	if (rows == NULL ||
	    !migrate_status(conn, list, n, rows, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", rows ? err : "out of memory");
		free(rows);
		return CLI_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		printf("%-8s %-40s %s\n", states[rows[i].state],
		       rows[i].m->name, rows[i].applied_at);
		if (rows[i].state != MIGRATE_APPLIED)
			status = CLI_FAILED;
	}
	free(rows);
	return status;
}

static int run(PGconn *conn, const struct migration *list, size_t n,
               bool status)
{
	char err[1024];

	if (status)
		return show_status(conn, list, n);
	if (!migrate_apply(conn, list, n, report, NULL, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		return CLI_FAILED;
	}
	printf("schema is current (%zu migrations)\n", n);
	return CLI_OK;
}

static int with_database(const struct config *cfg, const char *dir, bool status)
{
	struct migration_set set = { 0 };
	const struct migration *list = migrate_embedded;
	size_t n = migrate_embedded_count;
	struct db_place place;
	char err[1024];
	PGconn *conn = NULL;
	int rc = CLI_FAILED;

	if (dir != NULL) {
		if (!migrate_load_dir(dir, &set, err, sizeof(err))) {
			fprintf(stderr, "herald: %s\n", err);
			return CLI_FAILED;
		}
		list = set.items;
		n = set.count;
	}
	if (!db_place_open(&place, cfg, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		migrate_set_free(&set);
		return CLI_FAILED;
	}
	conn = db_connect(&place.target, err, sizeof(err));
	if (conn == NULL)
		fprintf(stderr, "herald: database unreachable: %s\n", err);
	else
		rc = run(conn, list, n, status);
	PQfinish(conn);
	db_place_close(&place);
	migrate_set_free(&set);
	return rc;
}

int cli_migrate(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "status", no_argument, NULL, 's' },
		{ "dir", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common = { 0 };
	const char *dir = NULL;
	bool status = false;
	struct config *cfg;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:sd:h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 's': status = true; break;
		case 'd': dir = optarg; break;
		case 'h': fputs(usage, stdout); return CLI_OK;
		default: fputs(usage, stderr); return CLI_USAGE;
		}
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	cfg = cli_common_setup(&common);
	if (cfg == NULL)
		return CLI_FAILED;
	rc = with_database(cfg, dir, status);
	config_unref(cfg);
	return rc;
}
