/*
 * Schema migrations: numbered SQL files applied in order, each in its own
 * transaction, under a PostgreSQL advisory lock so that processes starting
 * together apply each one exactly once. The checksum of every applied file
 * is recorded; a file changed after it was applied is refused by name.
 */
#ifndef HERALD_STORE_MIGRATE_H
#define HERALD_STORE_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

struct migration {
	int version;
	const char *name; /* file name, "0001_init.sql" */
	const char *sql;
	size_t len;
};

/* The migrations built into the binary, in version order. */
extern const struct migration migrate_embedded[];
extern const size_t migrate_embedded_count;

struct migration_set {
	struct migration *items;
	char **buffers; /* the names and texts items point into */
	size_t count;
};

/* Read NNNN_name.sql files of dir, in version order, into set (free with
 * migrate_set_free). False with the reason in err. */
bool migrate_load_dir(const char *dir, struct migration_set *set, char *err,
                      size_t size) __attribute__((warn_unused_result));
void migrate_set_free(struct migration_set *set);

/* Called once per migration applied, for progress output. */
typedef void (*migrate_report)(const struct migration *m, void *arg);

/* The advisory lock migrate_apply holds: a number no other lock of
 * Herald's uses. */
#define MIGRATE_LOCK_KEY "114685405291620"

/*
 * Apply what is missing, holding MIGRATE_LOCK_KEY. Returns false with the
 * reason in err when a migration fails (its transaction is rolled back), when
 * an applied file has changed, or when the database has a migration this list
 * lacks.
 */
bool migrate_apply(PGconn *conn, const struct migration *list, size_t n,
                   migrate_report report, void *arg, char *err, size_t size)
    __attribute__((warn_unused_result));

enum migrate_state {
	MIGRATE_APPLIED,
	MIGRATE_PENDING,
	MIGRATE_CHANGED,
};

struct migrate_status_row {
	const struct migration *m;
	enum migrate_state state;
	char applied_at[40]; /* empty when pending */
};

/* One row per migration of list (rows must hold n). False with err if
 * the database could not be read or knows a migration list lacks. */
bool migrate_status(PGconn *conn, const struct migration *list, size_t n,
                    struct migrate_status_row *rows, char *err, size_t size)
    __attribute__((warn_unused_result));

/* True if every migration is applied unchanged; otherwise err says why. */
bool migrate_is_current(PGconn *conn, const struct migration *list, size_t n,
                        char *err, size_t size);

/* SHA-256 of a migration's text in hex (65 bytes with the NUL). */
void migrate_checksum(const struct migration *m, char out[65]);

#endif
