#include "store/migrate.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"

#define MIGRATE_FILE_MAX (4 * 1024 * 1024)

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS herald_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

static const char applied_sql[] = "SELECT version, checksum,"
                                  " to_char(applied_at AT TIME ZONE 'UTC',"
                                  "         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                  " FROM herald_migrations ORDER BY version";

void migrate_checksum(const struct migration *m, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_Digest(m->sql, m->len, md, &n, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < n && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[64] = '\0';
}

/* Reading a folder of migrations */

static bool migration_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n < 10 || strcmp(name + n - 4, ".sql") != 0 || name[4] != '_')
		return false;
	for (size_t i = 0; i < 4; i++) {
		if (!isdigit((unsigned char)name[i]))
			return false;
	}
	for (size_t i = 5; i < n - 4; i++) {
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && name[i] != '_')
			return false;
	}
	return true;
}

static bool read_whole(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return false;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    n <= MIGRATE_FILE_MAX && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	*out = buf;
	return buf != NULL;
}

static int by_version(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

static bool add_file(struct migration_set *set, const char *dir,
                     const char *name, char *err, size_t size)
{
	struct migration *m = &set->items[set->count];
	char **owned = &set->buffers[2 * set->count];
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	errno = 0;
	if (!read_whole(path, &owned[0], &m->len)) {
		snprintf(err, size, "cannot read %s: %s", path,
		         errno ? strerror(errno) : "too large");
		return false;
	}
	owned[1] = strdup(name);
	m->sql = owned[0];
	m->name = owned[1];
	m->version = (int)strtol(name, NULL, 10);
	set->count++;
	return m->name != NULL;
}

static bool set_grow(struct migration_set *set, size_t cap)
{
	void *items = reallocarray(set->items, cap, sizeof(*set->items));
	void *buffers;

	if (items == NULL)
		return false;
	set->items = items;
	buffers = reallocarray(set->buffers, cap * 2, sizeof(char *));
	if (buffers == NULL)
		return false;
	set->buffers = buffers;
	return true;
}

bool migrate_load_dir(const char *dir, struct migration_set *set, char *err,
                      size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;
	bool ok = true;

	memset(set, 0, sizeof(*set));
	if (d == NULL) {
		snprintf(err, size, "cannot open %s: %s", dir, strerror(errno));
		return false;
	}
	while (ok && (de = readdir(d)) != NULL) {
		if (!migration_name_ok(de->d_name))
			continue;
		if (set->count == cap) {
			cap = cap * 2 + 8;
			if (!set_grow(set, cap)) {
				snprintf(err, size, "out of memory");
				ok = false;
				break;
			}
		}
		ok = add_file(set, dir, de->d_name, err, size);
	}
	closedir(d);
	if (ok)
		qsort(set->items, set->count, sizeof(*set->items), by_version);
	for (size_t i = 1; ok && i < set->count; i++) {
		if (set->items[i].version == set->items[i - 1].version) {
			snprintf(err, size, "%s and %s have the same number",
			         set->items[i - 1].name, set->items[i].name);
			ok = false;
		}
	}
	if (!ok)
		migrate_set_free(set);
	return ok;
}

void migrate_set_free(struct migration_set *set)
{
	for (size_t i = 0; i < 2 * set->count; i++)
		free(set->buffers[i]);
	free(set->buffers);
	free(set->items);
	memset(set, 0, sizeof(*set));
}

/* Comparing the database with the list */

static const struct migration *find_version(const struct migration *list,
                                            size_t n, int version)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i].version == version)
			return &list[i];
	}
	return NULL;
}

/* NULL result: the table does not exist yet, so nothing is applied. */
static bool read_applied(PGconn *conn, PGresult **out, char *err, size_t size)
{
	PGresult *res = PQexec(conn, "SELECT to_regclass('herald_migrations')"
	                             " IS NOT NULL");
	bool exists;

	*out = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_result_error(res, err, size);
		PQclear(res);
		return false;
	}
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!exists)
		return true;
	res = PQexec(conn, applied_sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		db_result_error(res, err, size);
		PQclear(res);
		return false;
	}
	*out = res;
	return true;
}

static bool row_matches(const struct migration *m, const char *checksum)
{
	char sum[65];

	migrate_checksum(m, sum);
	return strcmp(sum, checksum) == 0;
}

/* Check every applied row against list; fill rows if given. */
static bool check_applied(PGresult *res, const struct migration *list, size_t n,
                          struct migrate_status_row *rows, bool *changed_any,
                          char *err, size_t size)
{
	*changed_any = false;
	for (int r = 0; res != NULL && r < PQntuples(res); r++) {
		int version = (int)strtol(PQgetvalue(res, r, 0), NULL, 10);
		const struct migration *m = find_version(list, n, version);
		bool same;

		if (m == NULL) {
			snprintf(err, size,
			         "the database has migration %04d, which this "
			         "herald does not know; is herald older than "
			         "the database?",
			         version);
			return false;
		}
		if (m != &list[r]) {
			snprintf(err, size,
			         "migration %s is applied but %s before it is "
			         "not; migrations must be added in order",
			         m->name, list[r].name);
			return false;
		}
		same = row_matches(m, PQgetvalue(res, r, 1));
		if (!same && rows == NULL) {
			snprintf(err, size,
			         "migration %s was changed after it was "
			         "applied",
			         m->name);
			return false;
		}
		*changed_any |= !same;
		if (rows != NULL) {
			struct migrate_status_row *row = &rows[m - list];

			row->state = same ? MIGRATE_APPLIED : MIGRATE_CHANGED;
			snprintf(row->applied_at, sizeof(row->applied_at), "%s",
			         PQgetvalue(res, r, 2));
		}
	}
	return true;
}

bool migrate_status(PGconn *conn, const struct migration *list, size_t n,
                    struct migrate_status_row *rows, char *err, size_t size)
{
	PGresult *res;
	bool ok, changed;

	for (size_t i = 0; i < n; i++) {
		rows[i].m = &list[i];
		rows[i].state = MIGRATE_PENDING;
		rows[i].applied_at[0] = '\0';
	}
	if (!read_applied(conn, &res, err, size))
		return false;
	ok = check_applied(res, list, n, rows, &changed, err, size);
	PQclear(res);
	return ok;
}

bool migrate_is_current(PGconn *conn, const struct migration *list, size_t n,
                        char *err, size_t size)
{
	PGresult *res;
	bool ok, changed;
	int applied;

	if (!read_applied(conn, &res, err, size))
		return false;
	ok = check_applied(res, list, n, NULL, &changed, err, size);
	applied = res ? PQntuples(res) : 0;
	PQclear(res);
	if (ok && (size_t)applied < n) {
		snprintf(err, size,
		         "%zu of %zu migrations not applied, first %s",
		         n - (size_t)applied, n, list[applied].name);
		return false;
	}
	return ok;
}

/* Applying */

static bool apply_one(PGconn *conn, const struct migration *m, char *err,
                      size_t size)
{
	char sum[65], version[16], e[512];
	const char *params[3] = { version, m->name, sum };
	PGresult *res;
	bool ok;

	migrate_checksum(m, sum);
	snprintf(version, sizeof(version), "%d", m->version);
	if (!db_exec(conn, "BEGIN", e, sizeof(e)))
		goto fail;
	if (!db_exec(conn, m->sql, e, sizeof(e)))
		goto rollback;
	res = PQexecParams(conn,
	                   "INSERT INTO herald_migrations"
	                   " (version, name, checksum) VALUES ($1, $2, $3)",
	                   3, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		db_result_error(res, e, sizeof(e));
	PQclear(res);
	if (ok && db_exec(conn, "COMMIT", e, sizeof(e)))
		return true;

rollback:
	db_exec_quiet(conn, "ROLLBACK");
fail:
	snprintf(err, size, "%s: %s", m->name, e);
	return false;
}

static bool apply_locked(PGconn *conn, const struct migration *list, size_t n,
                         migrate_report report, void *arg, char *err,
                         size_t size)
{
	PGresult *res;
	bool changed;
	size_t applied;

	if (!db_exec(conn, create_table_sql, err, size) ||
	    !read_applied(conn, &res, err, size))
		return false;
	if (!check_applied(res, list, n, NULL, &changed, err, size)) {
		PQclear(res);
		return false;
	}
	applied = res ? (size_t)PQntuples(res) : 0;
	PQclear(res);
	for (size_t i = applied; i < n; i++) {
		if (!apply_one(conn, &list[i], err, size))
			return false;
		if (report != NULL)
			report(&list[i], arg);
	}
	return true;
}

bool migrate_apply(PGconn *conn, const struct migration *list, size_t n,
                   migrate_report report, void *arg, char *err, size_t size)
{
	bool ok;

	if (!db_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err,
	             size))
		return false;
	ok = apply_locked(conn, list, n, report, arg, err, size);
	db_exec_quiet(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")");
	return ok;
}
