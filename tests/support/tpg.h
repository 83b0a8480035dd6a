/*
 * PostgreSQL for tests. tests/run starts one throwaway cluster on
 * 127.0.0.1 and names it in HERALD_TEST_PG; each test takes a fresh
 * database in it. A test that must stop PostgreSQL under Herald starts a
 * private cluster of its own instead.
 */
#ifndef HERALD_TEST_TPG_H
#define HERALD_TEST_TPG_H

#include <libpq-fe.h>
#include <stdbool.h>

/* A new empty database on the shared cluster; its connection string
 * (malloc'd). */
char *tpg_create_db(void);
void tpg_drop_db(const char *conninfo);

PGconn *tpg_connect(const char *conninfo);

/* The first column of the first row of sql as a number; fails the test
 * if the query fails. */
long long tpg_value(PGconn *conn, const char *sql);

/* Run sql; fails the test if it fails. */
void tpg_exec(PGconn *conn, const char *sql);

/* tpg_value of a query written with printf's format. */
long long tpg_count(PGconn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ask sql (one number) every 100 ms until it reaches want, up to ms;
 * returns the last answer. */
long long tpg_wait(PGconn *conn, const char *sql, long long want, int ms);

struct tpg_cluster {
	char *dir;
	int port;
	char conninfo[256];
};

/* initdb, then start on a free port of 127.0.0.1. */
void tpg_cluster_start(struct tpg_cluster *c);
/* Stop (mode "fast" or "immediate") and start again on the same port. */
void tpg_cluster_stop(struct tpg_cluster *c, const char *mode);
void tpg_cluster_restart(struct tpg_cluster *c);
/* Stop and remove everything. */
void tpg_cluster_destroy(struct tpg_cluster *c);

#endif
