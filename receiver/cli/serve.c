#include <stdio.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "serve.h"

static const char usage[] =
    "usage: herald serve [OPTIONS]\n"
    "\n"
    "Receive events over HTTPS until SIGTERM or SIGINT; SIGHUP reloads\n"
    "the configuration and the TLS certificate.\n"
    "\n" CLI_COMMON_USAGE;

int cli_serve(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common = { 0 };
	struct config *cfg;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		if (c == 'h') {
			fputs(usage, stdout);
			return CLI_OK;
		}
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	if (optind != argc) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	cfg = cli_common_setup(&common);
	if (cfg == NULL)
		return CLI_FAILED;
	return serve_run(cfg);
}
