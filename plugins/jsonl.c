/*
 * An example Herald sink plugin: appends each delivery as one JSON line to
 * a file named in the sink's settings, {"path": "/var/log/events.jsonl"}.
 * It finishes every delivery before returning, so it needs no loop of its
 * own. Built as herald-jsonl.so; see include/herald/sink_plugin.h.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "herald/sink_plugin.h"

struct jsonl {
	FILE *out;
};

static void *jsonl_open(const char *settings_json, char *err, size_t size)
{
	json_t *s = json_loads(settings_json, JSON_DECODE_ANY, NULL);
	const char *path = json_string_value(json_object_get(s, "path"));
	struct jsonl *j = NULL;

	if (path == NULL) {
		snprintf(err, size, "settings need \"path\"");
	} else if ((j = calloc(1, sizeof(*j))) != NULL &&
	           (j->out = fopen(path, "ae")) == NULL) {
		snprintf(err, size, "cannot open %s: %s", path,
		         strerror(errno));
		free(j);
		j = NULL;
	}
	json_decref(s);
	return j;
}

static void jsonl_deliver(void *instance,
                          const struct herald_plugin_message *msg,
                          herald_plugin_done done, void *token)
{
	struct jsonl *j = instance;
	json_t *line =
	    json_pack("{s:s, s:s, s:i, s:s}", "delivery_id", msg->delivery_id,
	              "event_id", msg->event_id, "attempt", msg->attempt,
	              "event_type", msg->event_type);
	json_t *event = json_loads(msg->event_json, 0, NULL);
	int rc = -1;

	if (line != NULL && event != NULL) {
		json_object_set_new(line, "event", event);
		event = NULL;
		rc = json_dumpf(line, j->out, JSON_COMPACT);
		rc |= fputc('\n', j->out) == EOF;
		rc |= fflush(j->out);
	}
	json_decref(event);
	json_decref(line);
	if (rc == 0)
		done(token, HERALD_PLUGIN_DELIVERED, -1, NULL);
	else
		done(token, HERALD_PLUGIN_RETRY, -1, "cannot write the file");
}

static void jsonl_close(void *instance)
{
	struct jsonl *j = instance;

	fclose(j->out);
	free(j);
}

HERALD_SINK_PLUGIN_EXPORT const struct herald_sink_plugin
    herald_sink_plugin_v1 = {
	    .abi = HERALD_SINK_PLUGIN_ABI,
	    .name = "jsonl",
	    .open = jsonl_open,
	    .deliver = jsonl_deliver,
	    .close = jsonl_close,
    };
