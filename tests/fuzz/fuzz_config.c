/* The configuration reader on arbitrary bytes: JSON, positions,
 * expansion and every option table. */
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errors errs;
	struct config *cfg;

	cfg = config_load_text("fuzz.json", (const char *)data, size, &errs);
	if (cfg != NULL) {
		json_decref(config_show(cfg));
		config_unref(cfg);
	}
	config_errors_free(&errs);
	return 0;
}
