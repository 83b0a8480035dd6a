/*
 * Options shared by the subcommands that load a configuration and log:
 * --config FILE, --log-format kv|json, --log-level LEVEL.
 */
#ifndef HERALD_CLI_OPTIONS_H
#define HERALD_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>

struct config;

struct cli_common {
	const char *config_path;
	const char *log_format;
	const char *log_level;
};

/* getopt_long entries for the common options; use in a longopts table. */
#define CLI_COMMON_LONGOPTS                                                    \
	{ "config", required_argument, NULL, 'c' },                            \
	    { "log-format", required_argument, NULL, 'F' },                    \
	{                                                                      \
		"log-level", required_argument, NULL, 'L'                      \
	}

#define CLI_COMMON_USAGE                                                       \
	"  -c, --config FILE       configuration (default: $HERALD_CONFIG\n"   \
	"                          or /etc/herald/herald.json)\n"              \
	"      --log-format FMT    kv (default) or json\n"                     \
	"      --log-level LEVEL   debug, info, warn or error\n"

/* Take option c (from getopt_long) if it is a common one. */
bool cli_common_option(struct cli_common *o, int c, const char *arg);

/*
 * Load the configuration and set up logging from it and the options.
 * NULL (errors printed) if the configuration or an option is not valid.
 */
struct config *cli_common_setup(const struct cli_common *o);

#endif
