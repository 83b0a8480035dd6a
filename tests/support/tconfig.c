#include "support/tconfig.h"

#include <criterion/criterion.h>
#include <string.h>

#include "config/config.h"

struct config *tconfig_load(const char *name, const char *text)
{
	struct config_errors errs;
	struct config *cfg;

	cfg = config_load_text(name, text, strlen(text), &errs);
	cr_assert_not_null(cfg, "%s", errs.count ? errs.lines[0] : "");
	config_errors_free(&errs);
	return cfg;
}
