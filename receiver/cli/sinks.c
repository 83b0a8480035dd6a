/*
 * herald sinks list | enable NAME: the configured sinks and whether an
 * endpoint turned one off (HTTP 410); enable turns it on again, and every
 * dispatcher takes it up at its next sweep.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "config/config.h"
#include "store/place.h"

static const char usage[] =
    "usage: herald sinks list [OPTIONS]\n"
    "       herald sinks enable NAME [OPTIONS]\n"
    "\n"
    "list shows each configured sink and whether an endpoint turned it\n"
    "off by answering 410 Gone; enable turns such a sink on again.\n"
    "\n" CLI_COMMON_USAGE;

static const char *const kinds[] = { "slack", "email", "http", "command",
	                             "plugin" };

static int list(const struct config *cfg, PGconn *conn)
{
	const struct config_sink *k = cfg->sinks.items;
	PGresult *res = PQexec(conn, "SELECT sink, disabled_at, reason"
	                             " FROM sink_state");
	int rc = CLI_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "herald: %s", PQresultErrorMessage(res));
		PQclear(res);
		return CLI_FAILED;
	}
	for (size_t i = 0; i < cfg->sinks.count; i++) {
		const char *state = k[i].enabled ? "on" : "off (configuration)";
		int row = -1;

		for (int r = 0; r < PQntuples(res); r++) {
			if (strcmp(PQgetvalue(res, r, 0), k[i].name) == 0)
				row = r;
		}
		printf("%-24s %-8s %s", k[i].name, kinds[k[i].kind],
		       row < 0 ? state : "off since ");
		if (row >= 0)
			printf("%s: %s", PQgetvalue(res, row, 1),
			       PQgetvalue(res, row, 2));
		printf("\n");
	}
	PQclear(res);
	return rc;
}

static int enable(const struct config *cfg, PGconn *conn, const char *name)
{
	const char *params[1] = { name };
	PGresult *res;
	int rc;

	if (config_sink(cfg, name) == NULL) {
		fprintf(stderr, "herald: no sink \"%s\" in %s\n", name,
		        cfg->path);
		return CLI_FAILED;
	}
	res = PQexecParams(conn, "DELETE FROM sink_state WHERE sink = $1", 1,
	                   NULL, params, NULL, NULL, 0);
	rc = PQresultStatus(res) == PGRES_COMMAND_OK ? CLI_OK : CLI_FAILED;
	if (rc != CLI_OK)
		fprintf(stderr, "herald: %s", PQresultErrorMessage(res));
	else
		printf("%s: %s\n", name,
		       strcmp(PQcmdTuples(res), "0") == 0 ? "was on"
		                                          : "turned on");
	PQclear(res);
	return rc;
}

static int with_database(const struct config *cfg, const char *verb,
                         const char *name)
{
	struct db_place place;
	char err[512];
	PGconn *conn;
	int rc;

	if (!db_place_open(&place, cfg, err, sizeof(err))) {
		fprintf(stderr, "herald: %s\n", err);
		return CLI_FAILED;
	}
	conn = db_connect(&place.target, err, sizeof(err));
	if (conn == NULL) {
		fprintf(stderr, "herald: database unreachable: %s\n", err);
		rc = CLI_FAILED;
	} else {
		rc = strcmp(verb, "list") == 0 ? list(cfg, conn)
		                               : enable(cfg, conn, name);
	}
	PQfinish(conn);
	db_place_close(&place);
	return rc;
}

int cli_sinks(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common = { 0 };
	struct config *cfg;
	const char *verb;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		fputs(usage, c == 'h' ? stdout : stderr);
		return c == 'h' ? CLI_OK : CLI_USAGE;
	}
	verb = optind < argc ? argv[optind] : "";
	if (!((strcmp(verb, "list") == 0 && argc - optind == 1) ||
	      (strcmp(verb, "enable") == 0 && argc - optind == 2))) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	cfg = cli_common_setup(&common);
	if (cfg == NULL)
		return CLI_FAILED;
	rc = with_database(cfg, verb, argv[optind + 1]);
	config_unref(cfg);
	return rc;
}
