/*
 * The slack sink: a Slack incoming webhook. The body is the rendered
 * template (Block Kit with a plain-text fallback by default). Slack
 * answers 200 with the body "ok"; its errors come as plain text with a
 * 4xx status (recorded as the answer), and 429 carries Retry-After.
 * Block texts over Slack's limits are cut before sending (slack_fit.h):
 * Slack would refuse the whole message, for good.
 */
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "sinks/kinds.h"
#include "sinks/post.h"
#include "sinks/slack_fit.h"
#include "version.h"

static void slack_deliver(void *state, const struct sink_message *msg,
                          sink_done_fn done, void *arg)
{
	struct sink_basic *s = state;
	struct sink_result r = { .retry_after_ms = -1 };
	struct post_request req = { .url = s->cfg->url,
		                    .method = "POST",
		                    .timeout_ms = (long)s->cfg->timeout_ms,
		                    .ca_file = s->cfg->ca_file,
		                    .expect_ok = "ok" };

	if (!sink_render(s->env, s->cfg->template, "slack", msg, "json", false,
	                 &req.body, &req.len, &r)) {
		done(arg, &r);
		return;
	}
	if (slack_fit_blocks(&req.body, &req.len) < 0) {
		free(req.body);
		sink_result_set(&r, SINK_RETRY, "out of memory");
		done(arg, &r);
		return;
	}
	req.headers = post_header(NULL, "Content-Type", "application/json");
	req.headers = req.headers ? post_header(req.headers, "User-Agent",
	                                        "herald/" HERALD_VERSION)
	                          : NULL;
	post_send(s->env->curl, &req, done, arg);
}

const struct sink_ops sink_slack_ops = {
	.kind = "slack",
	.open = sink_basic_open,
	.deliver = slack_deliver,
	.close = sink_basic_close,
};
