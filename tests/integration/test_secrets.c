/*
 * Secrets never reach the log, the configuration Herald prints, or the
 * database: a whole server session runs with a known secret in every
 * place the configuration takes one, receives requests with right and
 * wrong credentials, fails deliveries to every sink that uses one, is
 * reloaded and stopped; then none of the secrets may appear anywhere.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/tpg.h"

/* Base64 of "source-signing-secret-A1" and "sink-signing-secret-J10". */
#define SOURCE_SECRET "whsec_c291cmNlLXNpZ25pbmctc2VjcmV0LUEx"
#define SINK_SECRET   "whsec_c2luay1zaWduaW5nLXNlY3JldC1KMTA="

static const char *const secrets[] = {
	"db-password-Q7Z1", "db-url-password-R2", SOURCE_SECRET,
	"bearer-token-F6",  "am-token-G7",        "am-password-H8",
	"abacus-key-I9",    SINK_SECRET,          "sink-url-path-A1",
	"sink-header-B2",   "slack-url-C3",       "smtp-password-D4",
	"command-env-E5",   "plugin-setting-M13", "abacus-url-token-K11",
};

static const char config_template[] =
    "{" THERALD_STATE_TLS "," THERALD_LISTEN ","
    " \"log\": {\"level\": \"debug\"},"
    " \"database\": {\"url\": \"{{db}} password=db-url-password-R2\","
    "  \"password_file\": \"%s\"},"
    " \"sources\": {"
    "  \"generic\": {"
    "   \"ci\": {\"secrets\": [\"" SOURCE_SECRET "\"],"
    "    \"event_type\": {\"pointer\": \"/type\"}},"
    "   \"tok\": {\"auth\": \"bearer\", \"tokens\": [\"${HERALD_T_TOKEN}\"],"
    "    \"event_type\": {\"pointer\": \"/type\"}}},"
    "  \"alertmanager\": {\"tokens\": [\"am-token-G7\"],"
    "   \"username\": \"am\", \"password\": \"am-password-H8\"}},"
    " \"abacus\": {\"api_url\": \"https://127.0.0.1:9\","
    "  \"api_key\": \"abacus-key-I9\"},"
    " \"routes\": [{\"sinks\": [\"hook\", \"chat\", \"mail\", \"run\","
    "  \"jsonl\"]}],"
    " \"sinks\": {"
    "  \"hook\": {\"kind\": \"http\","
    "   \"url\": \"https://127.0.0.1:9/h/sink-url-path-A1\","
    "   \"headers\": {\"X-Token\": \"sink-header-B2\"},"
    "   \"secret\": \"" SINK_SECRET "\","
    "   \"retry_base\": \"200ms\", \"max_attempts\": 2},"
    "  \"chat\": {\"kind\": \"slack\","
    "   \"url\": \"https://127.0.0.1:9/services/slack-url-C3\","
    "   \"retry_base\": \"200ms\", \"max_attempts\": 2},"
    "  \"mail\": {\"kind\": \"email\","
    "   \"smtp_url\": \"smtp://127.0.0.1:9\","
    "   \"username\": \"u\", \"password\": \"smtp-password-D4\","
    "   \"from\": \"herald@example.com\", \"to\": [\"ops@example.com\"],"
    "   \"retry_base\": \"200ms\", \"max_attempts\": 2},"
    "  \"run\": {\"kind\": \"command\","
    "   \"argv\": [\"/bin/sh\", \"-c\", \"exit 75\"],"
    "   \"env\": {\"API_TOKEN\": \"command-env-E5\"},"
    "   \"retry_base\": \"200ms\", \"max_attempts\": 2},"
    "  \"jsonl\": {\"kind\": \"plugin\", \"path\": \"%s\","
    "   \"settings\": {\"path\": \"{{dir}}/out.jsonl\","
    "    \"token\": \"plugin-setting-M13\"},"
    "   \"retry_base\": \"200ms\", \"max_attempts\": 2}}}";

static void post(struct therald *h, const char *path,
                 const char *const headers[], const char *body, long want)
{
	char *url = tfmt("%s%s", h->url, path);
	struct thttp_resp r;

	thttp("POST", url, h->ca, headers, body, strlen(body), &r);
	cr_expect_eq(r.status, want, "%s: %ld %s", path, r.status,
	             r.body ? r.body : r.error);
	thttp_free(&r);
	free(url);
}

static void post_signed(struct therald *h, const char *secret, long want)
{
	char *url = tfmt("%s/hooks/generic/ci", h->url);
	struct thttp_resp r;

	thttp_post_signed(url, h->ca, secret, "msg_secrets",
	                  (long long)time(NULL),
	                  "{\"type\": \"DEPLOYMENT_SUCCESS\"}", &r);
	cr_expect_eq(r.status, want, "%ld %s", r.status,
	             r.body ? r.body : r.error);
	thttp_free(&r);
	free(url);
}

static const char notification[] =
    "{\"alerts\": [{\"status\": \"firing\", \"labels\": {\"a\": \"b\"},"
    " \"startsAt\": \"2026-12-01T10:00:00Z\", \"fingerprint\": \"f\"}]}";

/* Requests with wrong and right credentials of every kind. */
static void exercise(struct therald *h)
{
	post_signed(h, "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==", 401);
	post_signed(h, SOURCE_SECRET, 202);
	post(h, "/hooks/generic/tok",
	     (const char *[]){ "Content-Type: application/json",
	                       "Authorization: Bearer bearer-token-F7", NULL },
	     "{\"type\": \"X\"}", 401);
	post(h, "/hooks/generic/tok",
	     (const char *[]){ "Content-Type: application/json",
	                       "Authorization: Bearer bearer-token-F6", NULL },
	     "{\"type\": \"X\"}", 202);
	/* am:am-password-H9, then am-token-G7 */
	post(h, "/hooks/alertmanager",
	     (const char *[]){
	         "Content-Type: application/json",
	         "Authorization: Basic YW06YW0tcGFzc3dvcmQtSDk=", NULL },
	     notification, 401);
	post(h, "/hooks/alertmanager",
	     (const char *[]){ "Content-Type: application/json",
	                       "Authorization: Bearer am-token-G7", NULL },
	     notification, 202);
	post(h, "/hooks/abacus/abacus-url-token-K11",
	     (const char *[]){ "Content-Type: application/json", NULL }, "{}",
	     401);
}

/* Everything the database holds, as text. */
static char *database_text(const char *conninfo)
{
	static const char *const tables[] = { "events", "deliveries",
		                              "delivery_attempts",
		                              "registrations", "sink_state" };
	PGconn *db = tpg_connect(conninfo);
	char *all = strdup("");

	for (size_t i = 0; i < sizeof(tables) / sizeof(*tables); i++) {
		char *sql = tfmt("SELECT coalesce(string_agg(t::text, ' '), '')"
		                 " FROM %s t",
		                 tables[i]);
		PGresult *res = PQexec(db, sql);
		char *more;

		cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s",
		             PQerrorMessage(db));
		more = tfmt("%s\n%s", all, PQgetvalue(res, 0, 0));
		free(all);
		all = more;
		PQclear(res);
		free(sql);
	}
	PQfinish(db);
	return all;
}

/* Wait until n delivery attempts are recorded, up to ms. */
static bool attempts_reach(const char *conninfo, long long n, int ms)
{
	PGconn *db = tpg_connect(conninfo);
	long long got = 0;

	for (int waited = 0; waited <= ms && got < n; waited += 200) {
		got = tpg_value(db, "SELECT count(*) FROM delivery_attempts");
		if (got < n)
			tsleep_ms(200);
	}
	PQfinish(db);
	return got >= n;
}

static void expect_none(const char *where, const char *text)
{
	for (size_t i = 0; i < sizeof(secrets) / sizeof(*secrets); i++)
		cr_expect_null(strstr(text, secrets[i]), "%s in %s:\n%s",
		               secrets[i], where, text);
}

Test(secrets, never_in_log_output_or_database, .timeout = 120)
{
	struct therald h;
	char *pwfile, *plugin, *config, *log, *out, *err, *db;

	therald_init(&h);
	pwfile = tfmt("%s/db-password", h.dir);
	twrite(pwfile, "db-password-Q7Z1\n");
	plugin = tfmt("%s/plugins/herald-jsonl.so", tenv("HERALD_BUILD_DIR"));
	setenv("HERALD_T_TOKEN", "bearer-token-F6", 1);
	config = tfmt(config_template, pwfile, plugin);
	therald_start(&h, config,
	              (const char *[]){ "--log-format", "json", NULL });
	exercise(&h);
	/* Three events: four sinks fail twice, the plugin delivers. */
	cr_expect(attempts_reach(h.db, 3 * (4 * 2 + 1), 30000),
	          "not every delivery was tried");
	kill(h.pid, SIGHUP);
	cr_expect(therald_wait_log(&h, "configuration reloaded", 5000));
	cr_expect_eq(therald_stop(&h, SIGTERM), 0);
	cr_expect_eq(therald_cli((const char *[]){ "check-config", "--print",
	                                           h.config, NULL },
	                         &out, &err),
	             0, "%s", err);

	log = therald_log(&h);
	db = database_text(h.db);
	expect_none("the log", log);
	expect_none("check-config --print", out);
	expect_none("check-config's errors", err);
	expect_none("the database", db);
	cr_expect_not_null(strstr(log, "\"msg\":\"listening\""), "%s", log);
	free(db);
	free(log);
	free(out);
	free(err);
	free(config);
	free(plugin);
	free(pwfile);
	therald_cleanup(&h);
}
