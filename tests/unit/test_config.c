/*
 * Configuration loading. The bad cases are data: each
 * tests/unit/config/bad/NAME.json comes with NAME.err, the exact lines
 * check-config prints for it, {{file}} standing for the file's path.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "support/tcheck.h"

static char *errors_text(const struct config_errors *errs)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	config_errors_print(errs, f);
	fclose(f);
	return out;
}

static int check_case(const char *dir, const char *name)
{
	char *json = tfmt("%s/%s", dir, name);
	char *expect_path = tfmt("%.*s.err", (int)(strlen(json) - 5), json);
	char *expect_raw = tread(expect_path);
	char *expect, *got;
	struct config_errors errs;
	struct config *cfg;
	int failed = 0;

	cr_assert(expect_raw != NULL, "missing %s", expect_path);
	expect = tsubst(expect_raw, "file", json);
	cfg = config_load(json, &errs);
	got = errors_text(&errs);
	if (cfg != NULL || strcmp(got, expect) != 0) {
		cr_log_error("%s\nexpected:\n%sgot:\n%s", name, expect, got);
		failed = 1;
	}
	config_unref(cfg);
	config_errors_free(&errs);
	free(got);
	free(expect);
	free(expect_raw);
	free(expect_path);
	free(json);
	return failed;
}

Test(config, bad_files_give_exact_errors)
{
	char *dir = tfmt("%s/tests/unit/config/bad", tenv("HERALD_SOURCE_DIR"));
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), cases = 0, failed = 0;

	unsetenv("HERALD_TEST_UNSET_VAR");
	cr_assert(n > 0, "cannot list %s", dir);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);

		if (len > 5 && strcmp(name + len - 5, ".json") == 0) {
			failed += check_case(dir, name);
			cases++;
		}
		free(names[i]);
	}
	free(names);
	free(dir);
	cr_expect(cases >= 20, "only %d bad configurations", cases);
	cr_expect(failed == 0, "%d of %d bad configurations differ", failed,
	          cases);
}

/* Load text from a temporary file; NULL and the errors on failure. */
static struct config *load_text(const char *text, char **errors)
{
	char *dir = tmkdtemp();
	char *path = tfmt("%s/herald.json", dir);
	struct config_errors errs;
	struct config *cfg;

	twrite(path, text);
	cfg = config_load(path, &errs);
	*errors = errors_text(&errs);
	config_errors_free(&errs);
	trmdir(dir);
	free(path);
	free(dir);
	return cfg;
}

Test(config, defaults_fill_what_is_absent)
{
	char *errors;
	struct config *cfg =
	    load_text("{\"tls\": {\"self_signed\": true}}", &errors);

	cr_assert(cfg != NULL, "%s", errors);
	cr_expect_str_eq(cfg->listen.address, "127.0.0.1");
	cr_expect_eq(cfg->listen.port, 8443);
	cr_expect_eq(cfg->listen.request_timeout_ms, 10000);
	cr_expect_eq(cfg->listen.max_body_size, 1024 * 1024);
	cr_expect_str_eq(cfg->state_dir, ".herald");
	cr_expect_str_eq(cfg->tls.cert_file, ".herald/tls/cert.pem");
	cr_expect_null(cfg->database.url);
	cr_expect(cfg->database.migrate_on_start);
	config_unref(cfg);
	free(errors);
}

/* Deliveries of a sink no longer configured die at the default max_age,
 * which the dispatcher knows as a number. */
Test(config, default_max_age_is_the_constant)
{
	char *errors;
	struct config *cfg =
	    load_text("{\"tls\": {\"self_signed\": true}, \"sinks\": {\"a\":"
	              " {\"kind\": \"command\", \"argv\": [\"true\"]}}}",
	              &errors);

	cr_assert(cfg != NULL, "%s", errors);
	cr_expect_eq(config_sink(cfg, "a")->max_age_ms,
	             CONFIG_SINK_MAX_AGE_DEFAULT_MS);
	config_unref(cfg);
	free(errors);
}

/* The margin is exact: a lease of the longest timeout plus the margin
 * loads, a millisecond less does not. */
Test(config, lease_outlasts_every_sink_timeout)
{
	static const char text[] =
	    "{\"tls\": {\"self_signed\": true},"
	    " \"sinks\": {\"a\": {\"kind\": \"command\", \"argv\": [\"true\"],"
	    "  \"timeout\": \"20s\"}, \"b\": {\"kind\": \"command\","
	    "  \"argv\": [\"true\"], \"timeout\": \"50s\"}},"
	    " \"dispatch\": {\"lease\": \"%s\"}}";
	char *ok_text = tfmt(text, "60000ms"),
	     *short_text = tfmt(text, "59999ms");
	char *errors;
	struct config *cfg = load_text(ok_text, &errors);

	cr_expect(cfg != NULL, "%s", errors);
	config_unref(cfg);
	free(errors);
	cfg = load_text(short_text, &errors);
	cr_expect_null(cfg);
	cr_expect_not_null(strstr(errors, "sink \"b\""), "%s", errors);
	config_unref(cfg);
	free(errors);
	free(ok_text);
	free(short_text);
}

Test(config, environment_expands)
{
	char *errors;
	struct config *cfg;

	setenv("HERALD_T_PORT", "9443", 1);
	setenv("HERALD_T_EMPTY", "", 1);
	unsetenv("HERALD_T_UNSET");
	cfg = load_text("{\"tls\": {\"self_signed\": true},"
	                " \"listen\": {\"port\": \"${HERALD_T_PORT}\"},"
	                " \"state_dir\": \"${HERALD_T_EMPTY:-/var/lib/h}\","
	                " \"public_url\": \"https://${HERALD_T_UNSET:-h}$$x\"}",
	                &errors);
	cr_assert(cfg != NULL, "%s", errors);
	cr_expect_eq(cfg->listen.port, 9443);
	cr_expect_str_eq(cfg->state_dir, "/var/lib/h");
	cr_expect_str_eq(cfg->public_url, "https://h$x");
	config_unref(cfg);
	free(errors);
}

Test(config, secrets_come_from_files_and_never_show)
{
	char *dir = tmkdtemp();
	char *secret = tfmt("%s/token", dir);
	char *text, *errors, *shown;
	struct config *cfg;
	json_t *j;

	twrite(secret, "s3cr3t-api-key\n");
	text = tfmt("{\"tls\": {\"self_signed\": true},"
	            " \"abacus\": {\"api_key_file\": \"%s\"},"
	            " \"database\": {\"url\": \"postgresql://u:pw-in-url@h/d\","
	            " \"password\": \"pw-in-option\"}}",
	            secret);
	cfg = load_text(text, &errors);
	cr_assert(cfg != NULL, "%s", errors);
	cr_expect_str_eq(cfg->abacus.api_key, "s3cr3t-api-key");
	j = config_show(cfg);
	shown = json_dumps(j, 0);
	cr_expect_null(strstr(shown, "s3cr3t"), "%s", shown);
	cr_expect_null(strstr(shown, "pw-in-url"), "%s", shown);
	cr_expect_null(strstr(shown, "pw-in-option"), "%s", shown);
	cr_expect_not_null(strstr(shown, "<redacted>"));
	free(shown);
	json_decref(j);
	config_unref(cfg);
	trmdir(dir);
	free(dir);
	free(secret);
	free(text);
	free(errors);
}

/* The API key may travel without TLS only to this machine; the refusals
 * are bad/30 and bad/31. */
Test(config, abacus_http_only_to_loopback)
{
	static const char *const urls[] = {
		"http://127.0.0.1:8080",  "http://127.9.9.9/",
		"http://[::1]:80",        "http://LOCALHOST",
		"http://u@localhost:1/x", "https://h.example",
	};

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		char *text = tfmt("{\"tls\": {\"self_signed\": true},"
		                  " \"abacus\": {\"api_url\": \"%s\"}}",
		                  urls[i]);
		char *errors;
		struct config *cfg = load_text(text, &errors);

		cr_expect(cfg != NULL, "%s: %s", urls[i], errors);
		config_unref(cfg);
		free(errors);
		free(text);
	}
}

Test(config, urls_show_without_what_may_be_secret)
{
	static const char *const cases[][2] = {
		{ "https://h.example.com:8443/x",
		  "https://h.example.com:8443/x" },
		{ "smtp://u:p@mail:587", "smtp://<redacted>@mail:587" },
		{ "smtps://u@mail", "smtps://<redacted>@mail" },
		{ "https://h/p?token=t#f", "https://h/p?<redacted>" },
		{ "https://h#frag", "https://h#<redacted>" },
		{ "https://a@b@h/p@q", "https://<redacted>@h/p@q" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		json_t *shown = cfg_show_url(&cases[i][0]);

		cr_expect_str_eq(json_string_value(shown), cases[i][1]);
		json_decref(shown);
	}
}

Test(config, suggests_the_file_twin_of_a_secret)
{
	char *errors;
	struct config *cfg = load_text("{\"tls\": {\"self_signed\": true},"
	                               " \"abacus\": {\"api_key_fil\": \"x\"}}",
	                               &errors);

	cr_assert_null(cfg);
	cr_expect_not_null(strstr(errors, "did you mean \"api_key_file\"?"),
	                   "%s", errors);
	free(errors);
}

Test(config, restart_options_are_detected)
{
	char *errors;
	struct config *a = load_text("{\"tls\": {\"self_signed\": true},"
	                             " \"listen\": {\"port\": 1000}}",
	                             &errors);
	struct config *b, *c;
	char name[128];

	free(errors);
	b = load_text("{\"tls\": {\"self_signed\": true},"
	              " \"listen\": {\"port\": 1001}}",
	              &errors);
	free(errors);
	c = load_text("{\"tls\": {\"self_signed\": true},"
	              " \"listen\": {\"port\": 1000},"
	              " \"log\": {\"level\": \"debug\"}}",
	              &errors);
	free(errors);
	cr_assert(a && b && c);
	cr_expect(config_needs_restart(a, b, name, sizeof(name)));
	cr_expect_str_eq(name, "listen.port");
	cr_expect_not(config_needs_restart(a, c, name, sizeof(name)));
	config_unref(a);
	config_unref(b);
	config_unref(c);
}
