#include "health.h"

#include "store/writer.h"

void health_live(struct http_req *r, void *arg)
{
	static const char ok[] = "{\"status\":\"ok\"}";

	(void)arg;
	http_reply_text(r, 200, "application/json", ok, sizeof(ok) - 1);
}

void health_ready(struct http_req *r, void *arg)
{
	static const char ok[] = "{\"status\":\"ready\"}";
	char reason[512];

	if (!writer_ready(arg, reason, sizeof(reason))) {
		http_req_set_header(r, "Retry-After", "5");
		http_reply_error(r, 503, "not_ready", "%s", reason);
		return;
	}
	http_reply_text(r, 200, "application/json", ok, sizeof(ok) - 1);
}
