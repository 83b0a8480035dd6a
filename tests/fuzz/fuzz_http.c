/* Request heads and chunked bodies on arbitrary bytes. The first byte
 * picks how the chunked decoder is fed, one piece size per run. */
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void head(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct http_head h;

	memcpy(buf, data, size);
	buf[size] = '\0';
	if (http_parse_head(buf, size, &h) == HTTP_PARSE_OK)
		(void)http_head_get(&h, "Host");
	free(buf);
}

static void chunked(const uint8_t *data, size_t size, size_t step)
{
	char *out = malloc(size + 1);
	struct http_chunked c;
	size_t i = 0, total = 0;

	http_chunked_init(&c, 4096);
	while (i < size && c.state != CHUNK_DONE && c.state != CHUNK_ERROR) {
		size_t n = size - i < step ? size - i : step, got;

		i += http_chunked_feed(&c, (const char *)data + i, n,
		                       out + total, &got);
		total += got;
	}
	if (total > 4096)
		abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	head(data + 1, size - 1);
	chunked(data + 1, size - 1, (size_t)(data[0] % 16) + 1);
	return 0;
}
