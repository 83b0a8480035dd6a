/*
 * Connection helpers over libpq. Every caller owns the PGconn it gets and
 * frees it with PQfinish. Nothing here keeps a connection of its own.
 */
#ifndef HERALD_STORE_DB_H
#define HERALD_STORE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where the database is: a libpq connection string and the settings that
 * go with it. Strings are borrowed from the configuration or from the
 * embedded cluster. */
struct db_target {
	const char *conninfo;
	const char *password; /* NULL if none or given in conninfo */
	int64_t connect_timeout_ms;
	const char *application_name;
};

/*
 * Connect, blocking for at most the connect timeout. On failure returns
 * NULL with libpq's reason (first line, never a password) in err.
 */
PGconn *db_connect(const struct db_target *t, char *err, size_t size)
    __attribute__((warn_unused_result));

/*
 * Run a command that returns no rows or one we do not need. False with the
 * server's message in err (size bytes) if it failed.
 */
bool db_exec(PGconn *conn, const char *sql, char *err, size_t size)
    __attribute__((warn_unused_result));

/* db_exec with n text parameters ($1, $2, ...). */
bool db_exec_params(PGconn *conn, const char *sql, int n,
                    const char *const *params, char *err, size_t size)
    __attribute__((warn_unused_result));

/* Run a clean-up command (ROLLBACK, an unlock) whose failure only means
 * the connection broke, which the next command will report. */
void db_exec_quiet(PGconn *conn, const char *sql);

/* Copy the first line of conn's current error into err. */
void db_error(PGconn *conn, char *err, size_t size);

/* Copy the first line of a result's error into err. */
void db_result_error(const PGresult *res, char *err, size_t size);

#endif
