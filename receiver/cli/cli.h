/*
 * The subcommands of the herald binary. Each takes the arguments after its
 * own name (argv[0] is the subcommand) and returns the process exit status:
 * 0 on success, 1 when the work failed, 2 on a usage error.
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include <stdio.h>

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* Exit statuses shared by every subcommand. */
enum {
	CLI_OK = 0,
	CLI_FAILED = 1,
	CLI_USAGE = 2,
};

int cli_serve(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_check_config(int argc, char **argv);
int cli_send(int argc, char **argv);
int cli_render(int argc, char **argv);
int cli_routes(int argc, char **argv);
int cli_sinks(int argc, char **argv);
int cli_register(int argc, char **argv);
int cli_unregister(int argc, char **argv);
int cli_version(int argc, char **argv);

struct config;

/* The configuration file to use: given (from --config), else
 * $HERALD_CONFIG, else /etc/herald/herald.json. */
const char *cli_config_path(const char *given);

/* Load path, printing every error to stderr; NULL if it is not valid. */
struct config *cli_load_config(const char *path);

#endif
