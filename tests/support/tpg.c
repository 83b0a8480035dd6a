#include "support/tpg.h"

#include <criterion/criterion.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/tcheck.h"

static void quiet(void *arg, const char *message)
{
	(void)arg, (void)message;
}

PGconn *tpg_connect(const char *conninfo)
{
	PGconn *conn = PQconnectdb(conninfo);

	cr_assert(PQstatus(conn) == CONNECTION_OK, "connect %s: %s", conninfo,
	          PQerrorMessage(conn));
	PQsetNoticeProcessor(conn, quiet, NULL);
	return conn;
}

long long tpg_count(PGconn *conn, const char *fmt, ...)
{
	va_list ap;
	char *sql;
	long long n;

	va_start(ap, fmt);
	cr_assert(vasprintf(&sql, fmt, ap) >= 0);
	va_end(ap);
	n = tpg_value(conn, sql);
	free(sql);
	return n;
}

long long tpg_wait(PGconn *conn, const char *sql, long long want, int ms)
{
	long long v = -1;

	for (int waited = 0; waited <= ms; waited += 100) {
		v = tpg_value(conn, sql);
		if (v >= want)
			break;
		tsleep_ms(100);
	}
	return v;
}

void tpg_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s",
	          sql, PQresultErrorMessage(res));
	PQclear(res);
}

long long tpg_value(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	long long v;

	cr_assert(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0,
	          "%s: %s", sql, PQresultErrorMessage(res));
	v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return v;
}

char *tpg_create_db(void)
{
	const char *admin = tenv("HERALD_TEST_PG");
	static int serial;
	char *name = tfmt("herald_t%d_%d", (int)getpid(), ++serial);
	char *drop = tfmt("DROP DATABASE IF EXISTS %s", name);
	char *create = tfmt("CREATE DATABASE %s", name);
	char *admin_db = tfmt("%s dbname=postgres", admin);
	PGconn *conn = tpg_connect(admin_db);
	char *conninfo;

	tpg_exec(conn, drop);
	tpg_exec(conn, create);
	free(drop);
	PQfinish(conn);
	conninfo = tfmt("%s dbname=%s", admin, name);
	free(create);
	free(admin_db);
	free(name);
	return conninfo;
}

void tpg_drop_db(const char *conninfo)
{
	const char *admin = tenv("HERALD_TEST_PG");
	const char *name = strstr(conninfo, "dbname=");
	char *admin_db = tfmt("%s dbname=postgres", admin);
	char *drop;
	PGconn *conn;

	if (name == NULL) {
		free(admin_db);
		return;
	}
	drop = tfmt("DROP DATABASE IF EXISTS %s WITH (FORCE)", name + 7);
	conn = tpg_connect(admin_db);
	tpg_exec(conn, drop);
	PQfinish(conn);
	free(drop);
	free(admin_db);
}

/* Private clusters */

static char *bin(const char *prog)
{
	glob_t g;
	char *path = NULL;

	if (glob("/usr/lib/postgresql/*/bin", 0, NULL, &g) == 0) {
		path = tfmt("%s/%s", g.gl_pathv[g.gl_pathc - 1], prog);
		globfree(&g);
	}
	cr_assert(path != NULL && access(path, X_OK) == 0,
	          "PostgreSQL server programs not found");
	return path;
}

static void pg_ctl(struct tpg_cluster *c, const char *action, const char *mode)
{
	char *ctl = bin("pg_ctl");
	char *data = tfmt("%s/data", c->dir);
	char *log = tfmt("%s/postgres.log", c->dir);
	char *opts = tfmt("-c listen_addresses=127.0.0.1 -p %d -k %s "
	                  "-c fsync=off",
	                  c->port, c->dir);
	const char *start[] = { ctl,  "start", "-w", "-D", data,
		                "-l", log,     "-o", opts, NULL };
	const char *stop[] = {
		ctl, "stop", "-w", "-D", data, "-m", mode, NULL
	};
	char *err = NULL;
	int rc;

	rc = trun(strcmp(action, "start") == 0 ? start : stop, NULL, NULL, &err,
	          true);
	cr_assert(rc == 0, "pg_ctl %s: %s", action, err);
	free(err);
	free(ctl);
	free(data);
	free(log);
	free(opts);
}

void tpg_cluster_start(struct tpg_cluster *c)
{
	char *initdb = bin("initdb");
	char *data;
	uid_t uid;
	gid_t gid;
	char *err = NULL;

	c->dir = tmkdtemp();
	tdb_user(&uid, &gid);
	cr_assert(chown(c->dir, uid, gid) == 0);
	data = tfmt("%s/data", c->dir);
	const char *args[] = { initdb,
		               "-D",
		               data,
		               "-U",
		               "herald",
		               "--auth=trust",
		               "--no-instructions",
		               "--encoding=UTF8",
		               "--no-locale",
		               NULL };

	cr_assert(trun(args, NULL, NULL, &err, true) == 0, "initdb: %s", err);
	c->port = tfree_port();
	snprintf(c->conninfo, sizeof(c->conninfo),
	         "host=127.0.0.1 port=%d user=herald dbname=postgres", c->port);
	pg_ctl(c, "start", NULL);
	free(err);
	free(data);
	free(initdb);
}

void tpg_cluster_stop(struct tpg_cluster *c, const char *mode)
{
	pg_ctl(c, "stop", mode);
}

void tpg_cluster_restart(struct tpg_cluster *c)
{
	pg_ctl(c, "start", NULL);
}

void tpg_cluster_destroy(struct tpg_cluster *c)
{
	char *ctl, *data;

	if (c->dir == NULL)
		return;
	ctl = bin("pg_ctl");
	data = tfmt("%s/data", c->dir);
	const char *stop[] = { ctl,  "stop", "-w",        "-D",
		               data, "-m",   "immediate", NULL };

	trun(stop, NULL, NULL, NULL, true);
	trmdir(c->dir);
	free(c->dir);
	c->dir = NULL;
	free(ctl);
	free(data);
}
