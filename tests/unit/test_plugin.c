/*
 * Sink plugins at configuration time: the example loads; a plugin with
 * another ABI version, or none at all, is a configuration error that
 * names the versions.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "support/tcheck.h"

static char *load(const char *plugin)
{
	char *path = tfmt("%s/plugins/%s", tenv("HERALD_BUILD_DIR"), plugin);
	char *text = tfmt("{\"tls\": {\"self_signed\": true}, \"sinks\": {"
	                  "\"p\": {\"kind\": \"plugin\", \"path\": \"%s\","
	                  " \"settings\": {\"path\": \"/dev/null\"}}}}",
	                  path);
	struct config_errors errs;
	struct config *cfg =
	    config_load_text("p.json", text, strlen(text), &errs);
	char *first = errs.count ? strdup(errs.lines[0]) : NULL;

	config_unref(cfg);
	config_errors_free(&errs);
	free(text);
	free(path);
	return first;
}

Test(plugin, example_loads)
{
	char *err = load("herald-jsonl.so");

	cr_expect_null(err, "%s", err);
	free(err);
}

Test(plugin, other_abi_is_refused_by_name)
{
	char *err = load("wrong-abi-plugin.so");

	cr_assert_not_null(err);
	cr_expect_not_null(strstr(err, "sinks.p.path: the plugin has ABI "
	                               "version 99; this herald needs 1"),
	                   "%s", err);
	free(err);
}

Test(plugin, one_without_its_functions_is_refused)
{
	char *err = load("hollow-plugin.so");

	cr_assert_not_null(err);
	cr_expect_not_null(strstr(err, "sinks.p.path: the plugin lacks open,"
	                               " deliver or close"),
	                   "%s", err);
	free(err);
}

Test(plugin, missing_file_is_refused)
{
	char *err = load("no-such-plugin.so");

	cr_assert_not_null(err);
	cr_expect_not_null(strstr(err, "cannot load plugin"), "%s", err);
	free(err);
}
