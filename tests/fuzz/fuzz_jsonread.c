/* Herald's JSON reader against jansson on arbitrary bytes: both accept
 * or both refuse, and what both accept reads as the same value. The one
 * difference is meant: jansson stops reading at some NUL bytes, which
 * PostgreSQL could not store, and Herald refuses every one. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/jsonread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonread_error err;
	json_t *ours = jsonread((const char *)data, size, &err);
	json_t *theirs =
	    json_loadb((const char *)data, size,
	               JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);

	if (memchr(data, 0, size) != NULL) {
		if (ours != NULL)
			abort();
		json_decref(theirs);
		return 0;
	}
	if ((ours == NULL) != (theirs == NULL))
		abort();
	if (ours != NULL && !json_equal(ours, theirs))
		abort();
	if (ours == NULL && (err.line < 1 || err.column < 1))
		abort();
	json_decref(ours);
	json_decref(theirs);
	return 0;
}
