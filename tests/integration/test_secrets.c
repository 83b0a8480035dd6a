/*
 * Secrets never reach the log: a whole server session runs with known
 * secrets in every place the configuration takes one, and the captured
 * log and outputs must not contain any of them.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"

static const char *const secrets[] = {
	"db-password-Q7Z1",
	"admin-token-K3X9",
};

Test(secrets, never_in_log, .timeout = 120)
{
	struct therald h;
	char *pwfile, *config, *log, *out, *err, *u;
	struct thttp_resp r;

	therald_init(&h);
	pwfile = tfmt("%s/db-password", h.dir);
	twrite(pwfile, "db-password-Q7Z1\n");
	setenv("HERALD_T_ADMIN", secrets[1], 1);
	config = tfmt("{" THERALD_STATE_TLS "," THERALD_LISTEN ","
	              " \"log\": {\"level\": \"debug\"},"
	              " \"admin\": {\"token\": \"${HERALD_T_ADMIN}\"},"
	              " \"database\": {\"url\": \"{{db}}\","
	              " \"password_file\": \"%s\"}}",
	              pwfile);
	therald_start(&h, config,
	              (const char *[]){ "--log-format", "json", NULL });
	u = tfmt("%s/readyz", h.url);
	thttp("GET", u, h.ca,
	      (const char *[]){ "Authorization: Bearer "
	                        "admin-token-K3X9",
	                        NULL },
	      NULL, 0, &r);
	thttp_free(&r);
	free(u);
	u = tfmt("%s/hooks/x/admin-token-K3X9", h.url);
	thttp("POST", u, h.ca, NULL, "{}", 2, &r);
	thttp_free(&r);
	free(u);
	kill(h.pid, SIGHUP);
	cr_expect(therald_wait_log(&h, "configuration reloaded", 5000));
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	cr_expect_eq(therald_cli((const char *[]){ "check-config", "--print",
	                                           h.config, NULL },
	                         &out, &err),
	             0);

	log = therald_log(&h);
	for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++) {
		cr_expect_null(strstr(log, secrets[i]), "%s in log:\n%s",
		               secrets[i], log);
		cr_expect_null(strstr(out, secrets[i]), "%s in --print",
		               secrets[i]);
	}
	cr_expect_not_null(strstr(log, "\"msg\":\"listening\""), "%s", log);
	free(log);
	free(out);
	free(err);
	free(config);
	free(pwfile);
	therald_cleanup(&h);
}
