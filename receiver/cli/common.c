#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "config/config.h"
#include "log.h"

const char *cli_config_path(const char *given)
{
	const char *env = getenv("HERALD_CONFIG");

	if (given != NULL)
		return given;
	if (env != NULL && *env != '\0')
		return env;
	return "/etc/herald/herald.json";
}

struct config *cli_load_config(const char *path)
{
	struct config_errors errs;
	struct config *cfg = config_load(path, &errs);

	if (cfg == NULL) {
		config_errors_print(&errs, stderr);
		config_errors_free(&errs);
	}
	return cfg;
}

bool cli_common_option(struct cli_common *o, int c, const char *arg)
{
	switch (c) {
	case 'c': o->config_path = arg; return true;
	case 'F': o->log_format = arg; return true;
	case 'L': o->log_level = arg; return true;
	default: return false;
	}
}

struct config *cli_common_setup(const struct cli_common *o)
{
	enum log_format format;
	enum log_level level;
	struct config *cfg;

	if (o->log_format && !log_format_parse(o->log_format, &format)) {
		fprintf(stderr, "herald: unknown log format \"%s\"\n",
		        o->log_format);
		return NULL;
	}
	if (o->log_level && !log_level_parse(o->log_level, &level)) {
		fprintf(stderr, "herald: unknown log level \"%s\"\n",
		        o->log_level);
		return NULL;
	}
	cfg = cli_load_config(cli_config_path(o->config_path));
	if (cfg == NULL)
		return NULL;
	if (!o->log_format)
		format = (enum log_format)cfg->log.format;
	if (!o->log_level)
		level = (enum log_level)cfg->log.level;
	log_setup(level, format);
	log_pin(o->log_level != NULL, o->log_format != NULL);
	return cfg;
}
