/*
 * Migrations against a real PostgreSQL (the cluster tests/run starts).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/db.h"
#include "store/migrate.h"
#include "support/tcheck.h"
#include "support/tpg.h"

static char *db;
static char *dir;

static void setup(void)
{
	db = tpg_create_db();
	dir = tmkdtemp();
}

static void teardown(void)
{
	tpg_drop_db(db);
	trmdir(dir);
	free(db);
	free(dir);
}

TestSuite(migrate, .init = setup, .fini = teardown, .timeout = 120);

static void count_applied(const struct migration *m, void *arg)
{
	(void)m;
	++*(int *)arg;
}

static bool apply_dir(PGconn *conn, char *err, size_t size, int *applied)
{
	struct migration_set set;
	bool ok;

	cr_assert(migrate_load_dir(dir, &set, err, size), "%s", err);
	ok = migrate_apply(conn, set.items, set.count, count_applied, applied,
	                   err, size);
	migrate_set_free(&set);
	return ok;
}

static void put(const char *name, const char *sql)
{
	char *path = tfmt("%s/%s", dir, name);

	twrite(path, sql);
	free(path);
}

Test(migrate, embedded_schema_applies_once)
{
	PGconn *conn = tpg_connect(db);
	char err[512];
	int applied = 0;

	cr_assert(migrate_apply(conn, migrate_embedded, migrate_embedded_count,
	                        count_applied, &applied, err, sizeof(err)),
	          "%s", err);
	cr_expect_eq(applied, (int)migrate_embedded_count);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM pg_tables WHERE "
	                             "tablename IN ('registrations', 'events',"
	                             " 'deliveries', 'delivery_attempts')"),
	             4);
	applied = 0;
	cr_assert(migrate_apply(conn, migrate_embedded, migrate_embedded_count,
	                        count_applied, &applied, err, sizeof(err)));
	cr_expect_eq(applied, 0);
	cr_expect(migrate_is_current(conn, migrate_embedded,
	                             migrate_embedded_count, err, sizeof(err)));
	PQfinish(conn);
}

/* In a child: apply the embedded schema and exit with the number of
 * migrations this run applied, or 100 on failure. */
_Noreturn static void migrate_child(void)
{
	PGconn *conn = PQconnectdb(db);
	char err[512];
	int applied = 0;
	bool done =
	    migrate_apply(conn, migrate_embedded, migrate_embedded_count,
	                  count_applied, &applied, err, sizeof(err));

	PQfinish(conn);
	_exit(done ? applied : 100);
}

/* The runs start while the parent holds the lock, so all of them contend
 * for it at once. */
Test(migrate, concurrent_runs_apply_each_exactly_once)
{
	enum { RUNNERS = 6 };
	PGconn *conn = tpg_connect(db);
	pid_t pids[RUNNERS];
	long long waiting = 0;
	int ok = 0, applied = 0;

	tpg_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")");
	for (int i = 0; i < RUNNERS; i++) {
		pids[i] = fork();
		cr_assert(pids[i] >= 0);
		if (pids[i] == 0)
			migrate_child();
	}
	for (int waited = 0; waited < 10000 && waiting < RUNNERS;
	     waited += 20) {
		waiting = tpg_value(
		    conn, "SELECT count(*) FROM pg_locks l JOIN pg_database d"
		          " ON d.oid = l.database WHERE d.datname ="
		          " current_database() AND locktype = 'advisory'"
		          " AND NOT granted AND ((classid::bigint << 32) |"
		          " objid::bigint) = " MIGRATE_LOCK_KEY);
		tsleep_ms(20);
	}
	cr_expect_eq(waiting, RUNNERS, "not every run waited for the lock");
	tpg_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");

	for (int i = 0; i < RUNNERS; i++) {
		int status;

		waitpid(pids[i], &status, 0);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) < 100);
		ok += WIFEXITED(status) && WEXITSTATUS(status) < 100;
		applied += WIFEXITED(status) ? WEXITSTATUS(status) % 100 : 0;
	}
	cr_expect_eq(ok, RUNNERS);
	cr_expect_eq(applied, (int)migrate_embedded_count);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM herald_migrations"),
	             (long long)migrate_embedded_count);
	PQfinish(conn);
}

Test(migrate, changed_file_is_refused_by_name)
{
	PGconn *conn = tpg_connect(db);
	char err[512];
	int applied = 0;

	put("0001_first.sql", "CREATE TABLE a (x int);");
	cr_assert(apply_dir(conn, err, sizeof(err), &applied), "%s", err);
	put("0001_first.sql", "CREATE TABLE a (x bigint);");
	cr_assert_not(apply_dir(conn, err, sizeof(err), &applied));
	cr_expect_str_eq(err, "migration 0001_first.sql was changed after it "
	                      "was applied");
	PQfinish(conn);
}

Test(migrate, failing_migration_rolls_back)
{
	PGconn *conn = tpg_connect(db);
	char err[512];
	int applied = 0;

	put("0001_first.sql", "CREATE TABLE a (x int);");
	put("0002_broken.sql", "CREATE TABLE b (x int);\nSELECT nonsense;");
	cr_assert_not(apply_dir(conn, err, sizeof(err), &applied));
	cr_expect_eq(applied, 1);
	cr_expect(strncmp(err, "0002_broken.sql: ", 17) == 0, "%s", err);
	cr_expect_not_null(strstr(err, "nonsense"), "%s", err);
	cr_expect_eq(tpg_value(conn, "SELECT count(*) FROM pg_tables WHERE "
	                             "tablename = 'b'"),
	             0);
	cr_expect_eq(tpg_value(conn, "SELECT max(version) FROM "
	                             "herald_migrations"),
	             1);
	PQfinish(conn);
}

Test(migrate, newer_database_is_refused)
{
	PGconn *conn = tpg_connect(db);
	char err[512];
	int applied = 0;

	put("0001_first.sql", "CREATE TABLE a (x int);");
	put("0002_second.sql", "CREATE TABLE b (x int);");
	cr_assert(apply_dir(conn, err, sizeof(err), &applied), "%s", err);
	char *second = tfmt("%s/0002_second.sql", dir);

	remove(second);
	free(second);
	cr_assert_not(apply_dir(conn, err, sizeof(err), &applied));
	cr_expect_not_null(strstr(err, "has migration 0002"), "%s", err);
	PQfinish(conn);
}

Test(migrate, status_lists_each)
{
	PGconn *conn = tpg_connect(db);
	struct migrate_status_row rows[2];
	struct migration_set set;
	char err[512];
	int applied = 0;

	put("0001_first.sql", "CREATE TABLE a (x int);");
	cr_assert(apply_dir(conn, err, sizeof(err), &applied), "%s", err);
	put("0002_second.sql", "CREATE TABLE b (x int);");
	cr_assert(migrate_load_dir(dir, &set, err, sizeof(err)));
	cr_assert(
	    migrate_status(conn, set.items, set.count, rows, err, sizeof(err)),
	    "%s", err);
	cr_expect_eq(rows[0].state, MIGRATE_APPLIED);
	cr_expect_neq(rows[0].applied_at[0], '\0');
	cr_expect_eq(rows[1].state, MIGRATE_PENDING);
	cr_expect_not(
	    migrate_is_current(conn, set.items, set.count, err, sizeof(err)));
	cr_expect_str_eq(err, "1 of 2 migrations not applied, first "
	                      "0002_second.sql");
	migrate_set_free(&set);
	PQfinish(conn);
}
