/*
 * The embedded default: when the configuration names no database, Herald
 * keeps a private PostgreSQL cluster under its state folder. It is created
 * on first use (initdb), listens only on a Unix socket inside that folder,
 * and is stopped again by whoever started it.
 *
 * PostgreSQL refuses to run as root, so when Herald runs as root the
 * cluster runs as database.embedded.user ("postgres" by default), who
 * must be able to reach the state folder.
 *
 * The process that starts the cluster holds a lock on a file beside it
 * for as long as it runs. A later process that finds the cluster running
 * and the lock free knows its starter died without stopping it, takes
 * the lock and stops the cluster when it stops itself.
 */
#ifndef HERALD_STORE_EMBEDDED_H
#define HERALD_STORE_EMBEDDED_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;

struct embedded {
	char bin_dir[PATH_MAX];
	char data_dir[PATH_MAX];
	char socket_dir[PATH_MAX];
	char log_file[PATH_MAX];
	char conninfo[PATH_MAX + 64];
	bool started; /* by us, so ours to stop */
	int lock_fd;  /* held while the cluster is ours; -1 if not */
	bool as_other_user;
	uid_t uid;
	gid_t gid;
};

/*
 * Create the cluster if needed and make sure it runs. If it was already
 * running, it is used as it is, and becomes ours to stop when the process
 * that started it is gone. On failure err says what went wrong and what
 * to do.
 */
bool embedded_start(struct embedded *e, const struct config *cfg, char *err,
                    size_t size) __attribute__((warn_unused_result));

/* Stop the cluster if embedded_start started it. */
void embedded_stop(struct embedded *e);

#endif
