/*
 * The built-in sink kinds. Each is defined in its own file: slack.c,
 * email.c, http.c, command.c, plugin.c.
 */
#ifndef HERALD_SINKS_KINDS_H
#define HERALD_SINKS_KINDS_H

#include "sinks/sink.h"

extern const struct sink_ops sink_slack_ops;
extern const struct sink_ops sink_email_ops;
extern const struct sink_ops sink_http_ops;
extern const struct sink_ops sink_command_ops;
extern const struct sink_ops sink_plugin_ops;

#endif
