/*
 * The Abacus answer envelope on arbitrary bytes: the first two bytes pick
 * the HTTP status, the rest is the body.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "abacus/client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct abacus_error e;
	json_t *result = NULL;
	char text[1024];
	long status = 200;

	if (size >= 2) {
		status = 100 + (long)((data[0] << 8 | data[1]) % 500);
		data += 2;
		size -= 2;
	}
	if (abacus_envelope_parse(status, (const char *)data, size, "hdr-id",
	                          &result, &e)) {
		json_decref(result);
		return 0;
	}
	/* Every field is a bounded, terminated string. */
	abacus_error_format(&e, text, sizeof(text));
	if (strlen(e.type) >= sizeof(e.type) ||
	    strlen(e.message) >= sizeof(e.message) ||
	    strchr(e.message, '\n') != NULL)
		__builtin_trap();
	return 0;
}
