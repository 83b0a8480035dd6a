/*
 * The http sink: any endpoint, the rendered template as the body, extra
 * headers from the configuration, and the Standard Webhooks headers.
 * webhook-id (the delivery id, the same on every retry) and
 * webhook-timestamp go with every request, signed or not, so that any
 * receiver can drop repeats; webhook-signature only when a secret is set.
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

static struct curl_slist *webhook_headers(const struct sink_basic *s,
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
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	h = h ? post_header(h, "webhook-id", msg->delivery_id) : h;
	h = h ? post_header(h, "webhook-timestamp", ts) : h;
	if (h == NULL || c->key == NULL)
		return h;
	sig_sign(c->key, msg->delivery_id, now, body, len, sig);
	return post_header(h, "webhook-signature", sig);
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
	req.headers = webhook_headers(s, msg, req.body, req.len);
	post_send(s->env->curl, &req, done, arg);
}

const struct sink_ops sink_http_ops = {
	.kind = "http",
	.open = sink_basic_open,
	.deliver = http_deliver,
	.close = sink_basic_close,
};
