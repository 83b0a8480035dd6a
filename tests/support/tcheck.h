/*
 * Small helpers shared by the test programs: environment, temporary
 * folders, files and child processes. Failures end the current test
 * through Criterion's assertions, so callers need not check results.
 */
#ifndef HERALD_TEST_TCHECK_H
#define HERALD_TEST_TCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The value of a variable ctest or tests/run sets; fails if unset. */
const char *tenv(const char *name);

/* A new empty folder under $TMPDIR (malloc'd path); removed by trmdir. */
char *tmkdtemp(void);
void trmdir(const char *path);

/* Whole file as a NUL-terminated string (malloc'd), or NULL. */
char *tread(const char *path);
void twrite(const char *path, const char *text);

/* printf into a new string. */
char *tfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Replace every "{{key}}" in text by value; returns a new string. */
char *tsubst(const char *text, const char *key, const char *value);

/*
 * Run argv[0] with argv, stdin from in (may be NULL), and collect stdout
 * and stderr (each may be NULL to discard). Returns the exit status, or
 * 128 + signal. When as_db_user is true and we are root, the child runs as
 * the PostgreSQL system user (initdb and pg_ctl refuse root).
 */
int trun(const char *const argv[], const char *in, char **out, char **err,
         bool as_db_user);

/* The uid and gid PostgreSQL programs run as (ourselves unless root). */
void tdb_user(uid_t *uid, gid_t *gid);

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
int tfree_port(void);

/* Sleep for ms milliseconds. */
void tsleep_ms(int ms);

/* Print "not run: why" for ctest and skip the current test. */
#define tnot_run(...)                                                          \
	do {                                                                   \
		printf("not run: " __VA_ARGS__);                               \
		printf("\n");                                                  \
		fflush(stdout);                                                \
		cr_skip_test(__VA_ARGS__);                                     \
	} while (0)

#endif
