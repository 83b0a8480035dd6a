/*
 * The logger: one record is one line whatever the values hold, fields are
 * escaped for both formats, the level filters before formatting, errno
 * survives.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static FILE *capture;

static void setup(void)
{
	capture = tmpfile();
	cr_assert_not_null(capture);
	log_set_fd(fileno(capture));
}

static void teardown(void)
{
	log_set_fd(STDERR_FILENO);
	fclose(capture);
}

static char *captured(void)
{
	long n = ftell(capture);
	char *buf = calloc(1, (size_t)n + 1);

	rewind(capture);
	cr_assert_eq(fread(buf, 1, (size_t)n, capture), (size_t)n);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

TestSuite(log, .init = setup, .fini = teardown);

Test(log, key_value_escapes_hostile_values)
{
	char *out;

	log_setup(LOG_INFO, LOG_FORMAT_KV);
	log_info("request", LOG_S("path", "/a b\"c\nlevel=error msg=forged"),
	         LOG_S("peer", "\x01\xff"), LOG_I("status", 401));
	out = captured();
	cr_expect_eq(count_lines(out), 1, "%s", out);
	cr_expect_not_null(strstr(out, "path=\"/a b\\\"c\\nlevel=error "
	                               "msg=forged\""),
	                   "%s", out);
	cr_expect_not_null(strstr(out, "peer=\"\\x01\\xff\""), "%s", out);
	cr_expect_not_null(strstr(out, " status=401\n"), "%s", out);
	cr_expect_eq(strncmp(out, "ts=", 3), 0);
	cr_expect_not_null(strstr(out, "Z level=info msg=request "), "%s", out);
	free(out);
}

Test(log, json_records_parse_and_keep_utf8)
{
	json_error_t e;
	json_t *j;
	char *out;

	log_setup(LOG_DEBUG, LOG_FORMAT_JSON);
	log_warn("caf\xc3\xa9 \"quoted\"", LOG_S("bad", "x\xc3"),
	         LOG_S("ctl", "a\tb\x7f"), LOG_D("ms", 1.5), LOG_B("ok", true));
	out = captured();
	cr_expect_eq(count_lines(out), 1, "%s", out);
	j = json_loads(out, 0, &e);
	cr_assert_not_null(j, "%s: %s", e.text, out);
	cr_expect_str_eq(json_string_value(json_object_get(j, "msg")),
	                 "caf\xc3\xa9 \"quoted\"");
	cr_expect_str_eq(json_string_value(json_object_get(j, "level")),
	                 "warn");
	cr_expect_str_eq(json_string_value(json_object_get(j, "bad")),
	                 "x\xef\xbf\xbd");
	cr_expect_str_eq(json_string_value(json_object_get(j, "ctl")),
	                 "a\tb\x7f");
	cr_expect(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	free(out);
}

Test(log, level_filters_records)
{
	char *out;

	log_setup(LOG_WARN, LOG_FORMAT_KV);
	log_info("hidden");
	log_error("shown");
	out = captured();
	cr_expect_null(strstr(out, "hidden"));
	cr_expect_not_null(strstr(out, "shown"));
	free(out);
}

Test(log, command_line_choices_outlast_a_reload)
{
	char *out;

	log_setup(LOG_WARN, LOG_FORMAT_KV);
	log_pin(true, false);
	log_configure(LOG_DEBUG, LOG_FORMAT_JSON);
	log_info("hidden");
	log_error("shown");
	out = captured();
	cr_expect_null(strstr(out, "hidden"), "%s", out);
	cr_expect_not_null(strstr(out, "\"msg\":\"shown\""), "%s", out);
	free(out);
	log_pin(false, false);
}

Test(log, errno_survives)
{
	log_setup(LOG_INFO, LOG_FORMAT_KV);
	errno = ENOSPC;
	log_info("x", LOG_S("k", "v"));
	cr_expect_eq(errno, ENOSPC);
}

Test(log, long_records_are_cut_not_split)
{
	size_t n = 20000;
	char *big = malloc(n + 1);
	json_t *j;
	char *out;

	memset(big, 'a', n);
	big[n] = '\0';
	log_setup(LOG_INFO, LOG_FORMAT_JSON);
	log_info("big", LOG_S("value", big), LOG_I("after", 1));
	out = captured();
	cr_expect_eq(count_lines(out), 1);
	j = json_loads(out, 0, NULL);
	cr_assert_not_null(j, "cut record is not JSON: %.200s", out);
	cr_expect(json_is_true(json_object_get(j, "cut")));
	json_decref(j);
	free(out);
	free(big);
}

Test(log, names_parse)
{
	enum log_level l;
	enum log_format f;

	cr_expect(log_level_parse("debug", &l) && l == LOG_DEBUG);
	cr_expect(log_level_parse("error", &l) && l == LOG_ERROR);
	cr_expect_not(log_level_parse("verbose", &l));
	cr_expect(log_format_parse("json", &f) && f == LOG_FORMAT_JSON);
	cr_expect_not(log_format_parse("xml", &f));
}
