/*
 * herald: receive deployment and alert events over HTTPS, keep each one in
 * PostgreSQL, and fan them out. This file only picks the subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_command commands[] = {
	{ "serve", "run the HTTPS receiver", cli_serve },
	{ "migrate", "apply database migrations", cli_migrate },
	{ "check-config", "validate a configuration file", cli_check_config },
	{ "send", "post a signed test event to a generic source", cli_send },
	{ "render", "render a template over an event", cli_render },
	{ "routes", "show which sinks an event would go to", cli_routes },
	{ "sinks", "list sinks, or turn one on again", cli_sinks },
	{ "register", "create or repair Herald's webhooks and alerts at Abacus",
	  cli_register },
	{ "unregister", "remove Herald's webhooks and alerts from Abacus",
	  cli_unregister },
	{ "version", "print the version", cli_version },
	{ NULL, NULL, NULL },
};

static void usage(FILE *out)
{
	fputs("usage: herald COMMAND [OPTIONS]\n\ncommands:\n", out);
	for (const struct cli_command *c = commands; c->name; c++)
		fprintf(out, "  %-14s %s\n", c->name, c->summary);
	fputs("\nRun 'herald COMMAND --help' for the options of one.\n", out);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (name == NULL) {
		usage(stderr);
		return 2;
	}
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
	    strcmp(name, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0)
		name = "version";
	for (const struct cli_command *c = commands; c->name; c++) {
		if (strcmp(c->name, name) == 0)
			return c->run(argc - 1, argv + 1);
	}
	fprintf(stderr, "herald: unknown command \"%s\"\n", name);
	usage(stderr);
	return 2;
}
