#include "sinks/sink.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "sinks/kinds.h"
#include "template/store.h"
#include "util/utf8.h"

const struct sink_ops *sink_ops_for(const struct config_sink *cfg)
{
	static const struct sink_ops *const table[] = {
		[CONFIG_SINK_SLACK] = &sink_slack_ops,
		[CONFIG_SINK_EMAIL] = &sink_email_ops,
		[CONFIG_SINK_HTTP] = &sink_http_ops,
		[CONFIG_SINK_COMMAND] = &sink_command_ops,
		[CONFIG_SINK_PLUGIN] = &sink_plugin_ops,
	};

	return table[cfg->kind];
}

void sink_result_set(struct sink_result *r, enum sink_outcome outcome,
                     const char *fmt, ...)
{
	va_list ap;

	r->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

void sink_result_response(struct sink_result *r, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t o = 0, i = 0;

	while (i < len && o < SINK_RESPONSE_MAX) {
		size_t n = p[i] ? utf8_valid_prefix(p + i) : 0;

		if (n == 0 || i + n > len || o + n > SINK_RESPONSE_MAX ||
		    (n == 1 && p[i] < 0x20 && p[i] != '\n' && p[i] != '\t')) {
			r->response[o++] = '?';
			i++;
			continue;
		}
		memcpy(r->response + o, p + i, n);
		o += n;
		i += n;
	}
	r->response[o] = '\0';
}

enum sink_outcome sink_http_outcome(long status)
{
	if (status >= 200 && status < 300)
		return SINK_DELIVERED;
	if (status == 410)
		return SINK_GONE;
	if (status == 408 || status == 425 || status == 429 || status >= 500)
		return SINK_RETRY;
	return SINK_FAILED;
}

int64_t sink_parse_retry_after(const char *value)
{
	struct tm tm = { 0 };
	char *end;
	long long secs;

	if (value == NULL)
		return -1;
	while (*value == ' ')
		value++;
	secs = strtoll(value, &end, 10);
	if (end != value && (*end == '\0' || *end == ' ' || *end == '\r'))
		return secs < 0 ? -1 : secs * 1000;
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return -1;
	secs = (long long)timegm(&tm) - (long long)time(NULL);
	return secs < 0 ? 0 : secs * 1000;
}

bool sink_render(const struct sink_env *env, const char *configured,
                 const char *kind, const struct sink_message *msg,
                 const char *part, bool header, char **out, size_t *len,
                 struct sink_result *r)
{
	char name[512], err[256];

	if (configured != NULL)
		snprintf(name, sizeof(name), "%s", configured);
	else if (!tmpl_store_find(env->templates, kind, msg->event_type, part,
	                          name, sizeof(name))) {
		sink_result_set(r, SINK_FAILED,
		                "no template %s/default.%s in the templates "
		                "folder",
		                kind, part);
		return false;
	}
	if (!tmpl_store_render(env->templates, name, msg->event, header, out,
	                       len, err, sizeof(err))) {
		sink_result_set(r, SINK_FAILED, "%s", err);
		return false;
	}
	return true;
}

void *sink_basic_open(const struct config_sink *cfg, const struct sink_env *env,
                      char *err, size_t size)
{
	struct sink_basic *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->env = env;
	return s;
}

void sink_basic_close(void *sink)
{
	free(sink);
}
