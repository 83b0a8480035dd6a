/*
 * herald check-config FILE [--print]: validate a configuration and, with
 * --print, show the effective values with every secret redacted.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli/cli.h"
#include "config/config.h"

static const char usage[] =
    "usage: herald check-config [--print] [FILE]\n"
    "\n"
    "Validate FILE (default: $HERALD_CONFIG or /etc/herald/herald.json)\n"
    "and exit 0 if it is valid, 1 if not, printing every error as\n"
    "file:line:column: message.\n"
    "\n"
    "  -p, --print   print the effective configuration, secrets redacted\n";

int cli_check_config(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "print", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool print = false;
	struct config *cfg;
	int c;

	while ((c = getopt_long(argc, argv, "ph", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': print = true; break;
		case 'h': fputs(usage, stdout); return CLI_OK;
		default: fputs(usage, stderr); return CLI_USAGE;
		}
	}
	if (argc - optind > 1) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}

	cfg = cli_load_config(cli_config_path(argv[optind]));
	if (cfg == NULL)
		return CLI_FAILED;
	if (print) {
		json_t *shown = config_show(cfg);

		json_dumpf(shown, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(shown);
	} else {
		printf("%s: ok\n", cfg->path);
	}
	config_unref(cfg);
	return CLI_OK;
}
