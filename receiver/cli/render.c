/*
 * herald render TEMPLATE --event FILE: render one template over one event
 * the way the dispatcher would, and print the result, so that a template
 * can be written and checked without a database or a sink.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "dispatch/message.h"
#include "template/store.h"
#include "version.h"

static const char usage[] =
    "usage: herald render TEMPLATE --event FILE [OPTIONS]\n"
    "\n"
    "Render TEMPLATE (a file name under the templates folder, such as\n"
    "slack/default.json) over the event in FILE and print the result.\n"
    "FILE (or - for stdin) holds an event as stored (id, received_at,\n"
    "source, event_type, deployment_id, severity, payload, headers) or\n"
    "the whole template data; the data is built again from those fields\n"
    "as the dispatcher builds it. Exit status 0 when the template\n"
    "rendered, 1 when it did not.\n"
    "\n"
    "  -e, --event FILE        the event (required)\n"
    "  -t, --templates DIR     the templates folder (default: the\n"
    "                          configuration's templates_dir with\n"
    "                          --config, else " HERALD_TEMPLATES_DIR ")\n"
    "  -c, --config FILE       take templates_dir and public_url from FILE\n"
    "  -s, --sink NAME         the sink named in delivery.sink (default:\n"
    "                          render)\n"
    "  -H, --header            escape for a mail header (a subject)\n";

struct render_opts {
	const char *template;
	const char *event_file;
	const char *templates;
	const char *config_path;
	const char *sink;
	bool header;
};

static int render_parse_args(int argc, char **argv, struct render_opts *o)
{
	static const struct option longopts[] = {
		{ "event", required_argument, NULL, 'e' },
		{ "templates", required_argument, NULL, 't' },
		{ "config", required_argument, NULL, 'c' },
		{ "sink", required_argument, NULL, 's' },
		{ "header", no_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "e:t:c:s:Hh", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'e': o->event_file = optarg; break;
		case 't': o->templates = optarg; break;
		case 'c': o->config_path = optarg; break;
		case 's': o->sink = optarg; break;
		case 'H': o->header = true; break;
		case 'h': fputs(usage, stdout); return CLI_OK;
		default: fputs(usage, stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1 || o->event_file == NULL) {
		fputs(argc - optind != 1
		          ? "herald: render takes one TEMPLATE\n"
		          : "herald: render needs --event FILE\n",
		      stderr);
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	o->template = argv[optind];
	return -1;
}

static json_t *render_load_event(const char *file)
{
	json_error_t e;
	json_t *j = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &e)
	                                   : json_load_file(file, 0, &e);

	if (j == NULL && e.line < 1) {
		fprintf(stderr, "herald: %s\n", e.text);
		return NULL;
	}
	if (j == NULL) {
		fprintf(stderr, "herald: %s: line %d, column %d: %s\n", file,
		        e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_string(json_object_get(j, "event_type"))) {
		fprintf(stderr,
		        "herald: %s: expected an object with an "
		        "\"event_type\" string\n",
		        file);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The JSON text of field key of ev (malloc'd), or NULL when absent. */
static char *render_field_text(json_t *ev, const char *key)
{
	json_t *v = json_object_get(ev, key);

	if (v == NULL)
		return NULL;
	return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

static const char *render_str(json_t *ev, const char *key)
{
	return json_string_value(json_object_get(ev, key));
}

/* The template data from the fields of an event file. */
static json_t *render_data(json_t *ev, const struct render_opts *o,
                           const char *public_url)
{
	char *payload = render_field_text(ev, "payload");
	char *headers = render_field_text(ev, "headers");
	struct message_event me = {
		.id = render_str(ev, "id"),
		.received_at = render_str(ev, "received_at"),
		.source = render_str(ev, "source"),
		.event_type = render_str(ev, "event_type"),
		.deployment_id = render_str(ev, "deployment_id"),
		.severity = render_str(ev, "severity"),
		.idempotency_key = render_str(ev, "idempotency_key"),
		.payload = payload ? payload : "{}",
		.headers = headers,
	};
	struct message_delivery d = {
		.id = "render",
		.attempt = 1,
		.sink = o->sink ? o->sink : "render",
	};
	json_t *data = message_build(&me, &d, public_url);

	if (data == NULL)
		fprintf(stderr, "herald: %s: cannot build the template data\n",
		        o->event_file);
	free(payload);
	free(headers);
	return data;
}

static int render_print(const struct render_opts *o, const char *dir,
                        json_t *data)
{
	struct tmpl_store *s = tmpl_store_new(dir);
	char err[1024], *out = NULL;
	size_t len = 0;
	int rc = CLI_FAILED;

	if (s == NULL) {
		fputs("herald: out of memory\n", stderr);
		return CLI_FAILED;
	}
	if (!tmpl_store_render(s, o->template, data, o->header, &out, &len, err,
	                       sizeof(err)))
		fprintf(stderr, "herald: %s\n", err);
	else if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0)
		perror("herald: stdout");
	else
		rc = CLI_OK;
	free(out);
	tmpl_store_free(s);
	return rc;
}

int cli_render(int argc, char **argv)
{
	struct render_opts o = { 0 };
	struct config *cfg = NULL;
	const char *dir = HERALD_TEMPLATES_DIR;
	json_t *ev, *data = NULL;
	int rc = render_parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	if (o.config_path != NULL) {
		cfg = cli_load_config(o.config_path);
		if (cfg == NULL)
			return CLI_FAILED;
		if (cfg->templates_dir != NULL)
			dir = cfg->templates_dir;
	}
	if (o.templates != NULL)
		dir = o.templates;

	rc = CLI_FAILED;
	ev = render_load_event(o.event_file);
	if (ev != NULL)
		data = render_data(ev, &o, cfg ? cfg->public_url : NULL);
	if (data != NULL)
		rc = render_print(&o, dir, data);

	json_decref(data);
	json_decref(ev);
	if (cfg != NULL)
		config_unref(cfg);
	return rc;
}
