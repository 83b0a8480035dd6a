#include "store/db.h"

#include <stdio.h>
#include <string.h>

#include "log.h"

static void first_line(const char *msg, char *err, size_t size)
{
	size_t n;

	if (msg == NULL || *msg == '\0')
		msg = "unknown error";
	n = strcspn(msg, "\n");
	snprintf(err, size, "%.*s", (int)n, msg);
}

void db_error(PGconn *conn, char *err, size_t size)
{
	first_line(conn ? PQerrorMessage(conn) : "out of memory", err, size);
}

void db_result_error(const PGresult *res, char *err, size_t size)
{
	first_line(res ? PQresultErrorMessage(res) : "out of memory", err,
	           size);
}

/* Server notices (a table that already exists, say) are worth a debug
 * line, not a write to stderr behind the logger's back. */
static void on_notice(void *arg, const PGresult *res)
{
	char msg[512];

	(void)arg;
	db_result_error(res, msg, sizeof(msg));
	log_debug("database notice", LOG_S("notice", msg));
}

PGconn *db_connect(const struct db_target *t, char *err, size_t size)
{
	char timeout[24];
	/* Keepalives find a peer that vanished (a host down, a network
	 * cut) while a connection idles; libpq's default is the kernel's,
	 * two hours. They come first, so that a connection string that
	 * sets its own wins. */
	const char *keys[] = {
		"keepalives",       "keepalives_idle",  "keepalives_interval",
		"keepalives_count", "dbname",           "password",
		"connect_timeout",  "application_name", NULL
	};
	const char *values[] = {
		"1",
		"30",
		"10",
		"3",
		t->conninfo,
		t->password,
		timeout,
		t->application_name ? t->application_name : "herald",
		NULL
	};
	long secs = (long)((t->connect_timeout_ms + 999) / 1000);
	PGconn *conn;

	/* libpq takes whole seconds and treats 1 as 2. */
	snprintf(timeout, sizeof(timeout), "%ld", secs < 2 ? 2 : secs);
	conn = PQconnectdbParams(keys, values, 1);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		db_error(conn, err, size);
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeReceiver(conn, on_notice, NULL);
	return conn;
}

/* Whether a statement succeeded; the result is consumed. */
static bool db_done(PGresult *res, char *err, size_t size)
{
	ExecStatusType st = PQresultStatus(res);
	bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		db_result_error(res, err, size);
	PQclear(res);
	return ok;
}

bool db_exec(PGconn *conn, const char *sql, char *err, size_t size)
{
	return db_done(PQexec(conn, sql), err, size);
}

void db_exec_quiet(PGconn *conn, const char *sql)
{
	PQclear(PQexec(conn, sql));
}

bool db_exec_params(PGconn *conn, const char *sql, int n,
                    const char *const *params, char *err, size_t size)
{
	return db_done(PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0),
	               err, size);
}
