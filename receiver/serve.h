/*
 * The herald serve process: database (embedded or configured), writer
 * thread, HTTPS listener, signal handling.
 */
#ifndef HERALD_SERVE_H
#define HERALD_SERVE_H

struct config;

/* Run until stopped by SIGTERM or SIGINT; takes the reference to cfg.
 * Returns the exit status: 0 after a clean stop, 1 if start-up failed. */
int serve_run(struct config *cfg);

#endif
