/*
 * The http sink: any endpoint, the rendered template as the body, extra
 * headers from the configuration, and Standard Webhooks signature headers
 * when a secret is set. webhook-id is the delivery id, the same on every
 * retry, so a receiver can drop repeats.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "sinks/kinds.h"
#include "sinks/post.h"
#include "sources/signature.h"
#include "version.h"

static struct curl_slist *signed_headers(const struct sink_basic *s,
                                         const struct sink_message *msg,
                                         const char *body, size_t len)
{
	const struct config_sink *c = s->cfg;
	struct curl_slist *h =
	    post_header(NULL, "Content-Type", "application/json");
	char sig[SIG_HEADER_MAX], ts[24];
	int64_t now = (int64_t)time(NULL);

	h = h ? post_header(h, "User-Agent", "herald/" HERALD_VERSION) : h;
	for (size_t i = 0; h && i < c->headers.count; i++)
		h = post_header(h, c->headers.keys[i], c->headers.values[i]);
	if (h == NULL || c->key == NULL)
		return h;
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	sig_sign(c->key, msg->delivery_id, now, body, len, sig);
	h = post_header(h, "webhook-id", msg->delivery_id);
	h = h ? post_header(h, "webhook-timestamp", ts) : h;
	return h ? post_header(h, "webhook-signature", sig) : h;
}

static void http_deliver(void *state, const struct sink_message *msg,
                         sink_done_fn done, void *arg)
{
	struct sink_basic *s = state;
	struct sink_result r = { .retry_after_ms = -1 };
	struct post_request req = { .url = s->cfg->url,
		                    .method = s->cfg->method,
		                    .timeout_ms = (long)s->cfg->timeout_ms,
		                    .ca_file = s->cfg->ca_file };

	if (!sink_render(s->env, s->cfg->template, "http", msg, "json", false,
	                 &req.body, &req.len, &r)) {
		done(arg, &r);
		return;
	}
	req.headers = signed_headers(s, msg, req.body, req.len);
	post_send(s->env->curl, &req, done, arg);
}

const struct sink_ops sink_http_ops = {
	.kind = "http",
	.open = sink_basic_open,
	.deliver = http_deliver,
	.close = sink_basic_close,
};
