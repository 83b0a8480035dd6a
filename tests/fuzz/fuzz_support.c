#include "fuzz_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"

static const char config_text[] =
    "{\"tls\": {\"self_signed\": true},"
    " \"sources\": {"
    "  \"alertmanager\": {\"tokens\": [\"am\"]},"
    "  \"generic\": {\"ci\": {\"secrets\": [\"" FUZZ_SECRET "\"],"
    "   \"event_type\": {\"pointer\": \"/a/0/b\"},"
    "   \"deployment_id\": {\"pointer\": \"/d\"},"
    "   \"severity\": {\"header\": \"X-Sev\"}}}}}";

const struct config *fuzz_config(void)
{
	static struct config *cfg;
	struct config_errors errs;

	if (cfg == NULL) {
		cfg = config_load_text("fuzz.json", config_text,
		                       strlen(config_text), &errs);
		if (cfg == NULL)
			abort();
	}
	return cfg;
}

void fuzz_request(struct fuzz_request *f, const char *extra,
                  const uint8_t *data, size_t size)
{
	int n = snprintf(f->head_text, sizeof(f->head_text),
	                 "POST /x HTTP/1.1\r\nHost: h\r\n"
	                 "Content-Type: application/json\r\n%s\r\n",
	                 extra);

	if (n < 0 || (size_t)n >= sizeof(f->head_text) ||
	    http_parse_head(f->head_text, (size_t)n, &f->head) != HTTP_PARSE_OK)
		abort();
	f->rq = (struct source_request){ .cfg = fuzz_config(),
		                         .head = &f->head,
		                         .body = (const char *)data,
		                         .len = size,
		                         .peer = "127.0.0.1",
		                         .param = "token",
		                         .now = (int64_t)time(NULL) };
}
