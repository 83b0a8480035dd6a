/*
 * The embedded cluster is driven with PostgreSQL's own programs (initdb,
 * pg_ctl), run as child processes without a shell. Their output goes to a
 * log file in the state folder; an error quotes its last line.
 */
#include "store/embedded.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "log.h"
#include "store/db.h"

#define EMBEDDED_DB   "herald"
#define EMBEDDED_USER "herald"

/* The settings Herald needs, rewritten at every start so that a state
 * folder that moved still works. */
static const char embedded_conf_name[] = "herald.conf";

static bool mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return false;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return false;
		*p = '/';
	}
	return mkdir(tmp, mode) == 0 || errno == EEXIST;
}

static bool is_executable(const char *dir, const char *prog)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, prog);
	return access(path, X_OK) == 0;
}

/* Debian and Ubuntu keep each major version apart; take the newest. */
static bool find_bin_dir(struct embedded *e, const struct config *cfg)
{
	static const char *const patterns[] = {
		"/usr/lib/postgresql/*/bin",
		"/usr/pgsql-*/bin",
		"/usr/local/pgsql/bin",
		"/usr/bin",
	};
	glob_t g;

	if (cfg->database.embedded.bin_dir != NULL) {
		snprintf(e->bin_dir, sizeof(e->bin_dir), "%s",
		         cfg->database.embedded.bin_dir);
		return is_executable(e->bin_dir, "initdb");
	}
	for (size_t i = 0; i < sizeof(patterns) / sizeof(*patterns); i++) {
		if (glob(patterns[i], 0, NULL, &g) != 0)
			continue;
		for (size_t k = g.gl_pathc; k-- > 0;) {
			if (is_executable(g.gl_pathv[k], "initdb")) {
				snprintf(e->bin_dir, sizeof(e->bin_dir), "%s",
				         g.gl_pathv[k]);
				globfree(&g);
				return true;
			}
		}
		globfree(&g);
	}
	return false;
}

static void last_log_line(const char *file, char *out, size_t size)
{
	char line[512] = "";
	FILE *f = fopen(file, "re");

	out[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] != '\0')
			snprintf(out, size, "%s", line);
	}
	fclose(f);
}

/* The user is switched before the log is opened, so that the log file
 * belongs to the user PostgreSQL runs as and pg_ctl can append to it. */
static void child_exec(const struct embedded *e, char *const argv[])
{
	int fd;

	if (e->as_other_user && (setgroups(0, NULL) != 0 ||
	                         setgid(e->gid) != 0 || setuid(e->uid) != 0)) {
		perror("herald: cannot switch user for PostgreSQL");
		_exit(126);
	}
	fd = open(e->log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	execv(argv[0], argv);
	perror(argv[0]);
	_exit(127);
}

/* Run a PostgreSQL program from bin_dir; returns its exit status. */
static int run_tool(const struct embedded *e, const char *prog,
                    const char *const args[])
{
	char path[PATH_MAX];
	char *argv[16];
	size_t n = 0;
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "%.4000s/%.60s", e->bin_dir, prog);
	argv[n++] = path;
	for (; args[n - 1] != NULL && n < 15; n++)
		argv[n] = (char *)(uintptr_t)args[n - 1];
	argv[n] = NULL;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		child_exec(e, argv);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static bool set_paths(struct embedded *e, const struct config *cfg, char *err,
                      size_t size)
{
	char state[PATH_MAX];
	struct sockaddr_un sun;

	if (!mkdir_p(cfg->state_dir, 0755) ||
	    realpath(cfg->state_dir, state) == NULL) {
		snprintf(err, size, "cannot create state folder %s: %s",
		         cfg->state_dir, strerror(errno));
		return false;
	}
	/* The socket is STATE/pg/run/.s.PGSQL.5432 and must fit sun_path. */
	if (strlen(state) + sizeof("/pg/run/.s.PGSQL.5432") >
	    sizeof(sun.sun_path)) {
		snprintf(err, size,
		         "state folder %s is too deep for a Unix socket "
		         "path; choose a shorter state_dir",
		         state);
		return false;
	}
	snprintf(e->data_dir, sizeof(e->data_dir), "%.100s/pg/data", state);
	snprintf(e->socket_dir, sizeof(e->socket_dir), "%.100s/pg/run", state);
	snprintf(e->log_file, sizeof(e->log_file), "%.100s/pg/postgres.log",
	         state);
	snprintf(e->conninfo, sizeof(e->conninfo),
	         "host=%s dbname=" EMBEDDED_DB " user=" EMBEDDED_USER,
	         e->socket_dir);
	return true;
}

static bool choose_user(struct embedded *e, const struct config *cfg, char *err,
                        size_t size)
{
	const char *name = cfg->database.embedded.user;
	struct passwd *pw;

	e->as_other_user = geteuid() == 0;
	if (!e->as_other_user)
		return true;
	pw = getpwnam(name);
	if (pw == NULL || pw->pw_uid == 0) {
		snprintf(err, size,
		         "herald runs as root and PostgreSQL may not; user "
		         "\"%s\" (database.embedded.user) %s",
		         name, pw ? "is root too" : "does not exist");
		return false;
	}
	e->uid = pw->pw_uid;
	e->gid = pw->pw_gid;
	return true;
}

static void embedded_release(struct embedded *e)
{
	if (e->lock_fd >= 0)
		close(e->lock_fd);
	e->lock_fd = -1;
}

/*
 * Whether the PostgreSQL user can reach the cluster's folder: a state
 * folder inside a home folder closed to others (/root) is the usual
 * trap, and initdb's own message would not say which folder is closed.
 */
static bool reachable(struct embedded *e, const struct config *cfg, char *err,
                      size_t size)
{
	int status = 0;
	pid_t pid;

	if (!e->as_other_user)
		return true;
	pid = fork();
	if (pid < 0)
		return true; /* initdb will say */
	if (pid == 0) {
		bool ok = setgroups(0, NULL) == 0 && setgid(e->gid) == 0 &&
		          setuid(e->uid) == 0 &&
		          access(e->socket_dir, X_OK) == 0;

		_exit(ok ? 0 : 1);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return true; /* initdb will say */
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	snprintf(err, size,
	         "PostgreSQL runs as \"%s\" (database.embedded.user), who "
	         "cannot reach %s: a folder above it is closed to that user; "
	         "choose a state_dir it can reach (for example "
	         "/var/lib/herald) or set database.url",
	         cfg->database.embedded.user, cfg->state_dir);
	return false;
}

static bool make_dirs(struct embedded *e, char *err, size_t size)
{
	char pg[PATH_MAX];

	snprintf(pg, sizeof(pg), "%.*s", (int)(strlen(e->data_dir) - 5),
	         e->data_dir);
	if (!mkdir_p(pg, 0700) || !mkdir_p(e->socket_dir, 0700)) {
		snprintf(err, size, "cannot create %s: %s", pg,
		         strerror(errno));
		return false;
	}
	if (e->as_other_user && (chown(pg, e->uid, e->gid) != 0 ||
	                         chown(e->socket_dir, e->uid, e->gid) != 0)) {
		snprintf(err, size, "cannot hand %s to the PostgreSQL user: %s",
		         pg, strerror(errno));
		return false;
	}
	return true;
}

static bool write_conf(struct embedded *e, char *err, size_t size)
{
	char path[PATH_MAX + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", e->data_dir, embedded_conf_name);
	f = fopen(path, "we");
	if (f == NULL) {
		snprintf(err, size, "cannot write %s: %s", path,
		         strerror(errno));
		return false;
	}
	fprintf(f,
	        "# Written by herald at every start of the embedded cluster.\n"
	        "listen_addresses = ''\n"
	        "unix_socket_directories = '%s'\n"
	        "unix_socket_permissions = 0700\n",
	        e->socket_dir);
	fclose(f);
	if (e->as_other_user && chown(path, e->uid, e->gid) != 0) {
		snprintf(err, size, "cannot hand %s to the PostgreSQL user: %s",
		         path, strerror(errno));
		return false;
	}
	return true;
}

static bool include_conf(struct embedded *e, char *err, size_t size)
{
	char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/postgresql.conf", e->data_dir);
	f = fopen(path, "ae");
	if (f == NULL) {
		snprintf(err, size, "cannot extend %s: %s", path,
		         strerror(errno));
		return false;
	}
	fprintf(f, "\ninclude_if_exists = '%s'\n", embedded_conf_name);
	fclose(f);
	return true;
}

static bool tool_failed(const struct embedded *e, const char *what, char *err,
                        size_t size)
{
	char last[512];

	last_log_line(e->log_file, last, sizeof(last));
	snprintf(err, size, "%s failed: %s (see %s)", what,
	         last[0] ? last : "no output", e->log_file);
	return false;
}

static bool init_cluster(struct embedded *e, char *err, size_t size)
{
	char version[PATH_MAX + 16];
	const char *const args[] = {
		"-D",          e->data_dir,         "-U",
		EMBEDDED_USER, "--auth=trust",      "--encoding=UTF8",
		"--no-locale", "--no-instructions", NULL
	};

	snprintf(version, sizeof(version), "%s/PG_VERSION", e->data_dir);
	if (access(version, F_OK) == 0)
		return true;
	log_info("creating embedded PostgreSQL cluster",
	         LOG_S("data_dir", e->data_dir));
	if (run_tool(e, "initdb", args) != 0)
		return tool_failed(e, "initdb", err, size);
	return include_conf(e, err, size);
}

/* Take the owner's lock if no live process holds it. */
static bool take_ownership(struct embedded *e, char *err, size_t size)
{
	char path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%.*s/owner.lock",
	         (int)(strlen(e->data_dir) - 5), e->data_dir);
	e->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (e->lock_fd < 0) {
		snprintf(err, size, "cannot open %s: %s", path,
		         strerror(errno));
		return false;
	}
	if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
		return true;
	close(e->lock_fd);
	e->lock_fd = -1;
	return true;
}

static bool start_cluster(struct embedded *e, char *err, size_t size)
{
	const char *const status[] = { "status", "-D", e->data_dir, NULL };
	const char *const start[] = { "start",     "-D", e->data_dir, "-l",
		                      e->log_file, "-w", "-t",        "60",
		                      "-s",        NULL };

	if (!take_ownership(e, err, size))
		return false;
	if (run_tool(e, "pg_ctl", status) == 0) {
		/* Running with the lock free: its starter is gone. */
		e->started = e->lock_fd >= 0;
		log_info("embedded PostgreSQL already running",
		         LOG_S("data_dir", e->data_dir),
		         LOG_B("ours_to_stop", e->started));
		return true;
	}
	if (e->lock_fd < 0) {
		snprintf(err, size,
		         "another herald holds %s but its PostgreSQL is not "
		         "running; stop that herald first",
		         e->data_dir);
		return false;
	}
	if (!write_conf(e, err, size))
		return false;
	if (run_tool(e, "pg_ctl", start) != 0)
		return tool_failed(e, "starting PostgreSQL", err, size);
	e->started = true;
	log_info("embedded PostgreSQL started", LOG_S("data_dir", e->data_dir),
	         LOG_S("socket_dir", e->socket_dir));
	return true;
}

static bool create_database(struct embedded *e, char *err, size_t size)
{
	char conninfo[PATH_MAX + 64];
	struct db_target t = { .conninfo = conninfo,
		               .connect_timeout_ms = 10000 };
	PGconn *conn;
	PGresult *res;
	bool exists, ok = true;

	snprintf(conninfo, sizeof(conninfo),
	         "host=%s dbname=postgres user=" EMBEDDED_USER, e->socket_dir);
	conn = db_connect(&t, err, size);
	if (conn == NULL)
		return false;
	res = PQexec(conn,
	             "SELECT 1 FROM pg_database WHERE datname = '" EMBEDDED_DB
	             "'");
	exists = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	PQclear(res);
	if (!exists)
		ok = db_exec(conn, "CREATE DATABASE " EMBEDDED_DB, err, size);
	PQfinish(conn);
	return ok;
}

bool embedded_start(struct embedded *e, const struct config *cfg, char *err,
                    size_t size)
{
	memset(e, 0, sizeof(*e));
	e->lock_fd = -1;
	if (!find_bin_dir(e, cfg)) {
		snprintf(err, size,
		         "no PostgreSQL server programs found (initdb); "
		         "install postgresql or set database.url");
		return false;
	}
	if (!set_paths(e, cfg, err, size) || !choose_user(e, cfg, err, size) ||
	    !make_dirs(e, err, size) || !reachable(e, cfg, err, size) ||
	    !init_cluster(e, err, size) || !start_cluster(e, err, size)) {
		embedded_release(e);
		return false;
	}
	if (!create_database(e, err, size)) {
		embedded_stop(e);
		return false;
	}
	return true;
}

void embedded_stop(struct embedded *e)
{
	const char *const stop[] = { "stop", "-D", e->data_dir, "-m",
		                     "fast", "-w", "-s",        NULL };

	if (e->started && run_tool(e, "pg_ctl", stop) != 0)
		log_warn("embedded PostgreSQL did not stop cleanly",
		         LOG_S("log", e->log_file));
	else if (e->started)
		log_info("embedded PostgreSQL stopped");
	e->started = false;
	embedded_release(e);
}
