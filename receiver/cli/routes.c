/*
 * herald routes test --event FILE: which sinks an event would go to, and
 * why, route by route, without storing or sending anything.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "config/config.h"
#include "dispatch/message.h"
#include "routes.h"

static const char usage[] =
    "usage: herald routes test --event FILE [OPTIONS]\n"
    "\n"
    "Show which routes match the event in FILE (or - for stdin) and the\n"
    "sinks it would be delivered to. FILE holds an event as stored\n"
    "(source, event_type, deployment_id, severity, payload) or the\n"
    "template data; labels are taken as the dispatcher takes them.\n"
    "\n"
    "  -e, --event FILE        the event (required)\n" CLI_COMMON_USAGE;

static json_t *load_event(const char *file)
{
	json_error_t e;
	json_t *ev = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &e)
	                                    : json_load_file(file, 0, &e);

	if (ev == NULL)
		fprintf(stderr, "herald: %s:%d:%d: %s\n", file, e.line,
		        e.column, e.text);
	else if (!json_is_object(ev) ||
	         !json_is_string(json_object_get(ev, "source")) ||
	         !json_is_string(json_object_get(ev, "event_type"))) {
		fprintf(stderr,
		        "herald: %s: an event object needs \"source\" "
		        "and \"event_type\"\n",
		        file);
		json_decref(ev);
		ev = NULL;
	}
	return ev;
}

static int show(const struct config *cfg, json_t *ev)
{
	const char *source = json_string_value(json_object_get(ev, "source"));
	json_t *labels = json_object_get(ev, "labels");
	struct route_input in = {
		source,
		json_string_value(json_object_get(ev, "event_type")),
		json_string_value(json_object_get(ev, "deployment_id")),
		json_string_value(json_object_get(ev, "severity")),
		json_is_object(labels)
		    ? labels
		    : message_labels(source, json_object_get(ev, "payload")),
	};
	struct route_hit hits[ROUTES_SINKS_MAX];
	struct buf out = { 0 };
	size_t n;

	if (cfg->routes.count == 0)
		printf("no routes configured: nothing is delivered\n");
	routes_explain(cfg, &in, &out);
	fputs(buf_str(&out), stdout);
	buf_free(&out);
	n = routes_match(cfg, &in, hits, ROUTES_SINKS_MAX);
	printf("delivered to:");
	for (size_t i = 0; i < n; i++)
		printf(" %s", hits[i].sink);
	printf("%s\n", n ? "" : " nothing");
	return CLI_OK;
}

int cli_routes(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "event", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_common common = { 0 };
	const char *file = NULL;
	struct config *cfg;
	json_t *ev;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:e:h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		if (c == 'e') {
			file = optarg;
			continue;
		}
		fputs(usage, c == 'h' ? stdout : stderr);
		return c == 'h' ? CLI_OK : CLI_USAGE;
	}
	if (optind != argc - 1 || strcmp(argv[optind], "test") != 0 ||
	    file == NULL) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	cfg = cli_common_setup(&common);
	ev = cfg ? load_event(file) : NULL;
	rc = ev ? show(cfg, ev) : CLI_FAILED;
	json_decref(ev);
	config_unref(cfg);
	return rc;
}
