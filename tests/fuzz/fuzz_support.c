#include "fuzz_support.h"

#include <stdbool.h>
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

/* Write the head; false if it does not parse. */
static bool make_head(struct fuzz_request *f, const char *extra,
                      const uint8_t *lines, size_t nlines)
{
	int n = snprintf(f->head_text, sizeof(f->head_text),
	                 "POST /x HTTP/1.1\r\nHost: h\r\n"
	                 "Content-Type: application/json\r\n%s",
	                 extra);
	size_t len = (size_t)n;

	if (n < 0 || len + 2 * nlines + 2 >= sizeof(f->head_text))
		return false;
	for (size_t i = 0; i < nlines; i++) {
		if (lines[i] == '\n')
			f->head_text[len++] = '\r';
		f->head_text[len++] = (char)lines[i];
	}
	memcpy(f->head_text + len, "\r\n", 2);
	len += 2;
	return http_parse_head(f->head_text, len, &f->head) == HTTP_PARSE_OK;
}

void fuzz_request(struct fuzz_request *f, const char *extra,
                  const uint8_t *data, size_t size)
{
	const uint8_t *blank =
	    size >= 2 ? memmem(data, size < 512 ? size : 512, "\n\n", 2) : NULL;
	size_t nlines = blank ? (size_t)(blank - data) + 1 : 0;

	if (blank == NULL || !make_head(f, extra, data, nlines)) {
		nlines = 0;
		blank = NULL;
		if (!make_head(f, extra, NULL, 0))
			abort();
	}
	data += blank ? nlines + 1 : 0;
	size -= blank ? nlines + 1 : 0;
	f->rq = (struct source_request){ .cfg = fuzz_config(),
		                         .head = &f->head,
		                         .body = (const char *)data,
		                         .len = size,
		                         .peer = "127.0.0.1",
		                         .param = "token",
		                         .now = (int64_t)time(NULL) };
}
