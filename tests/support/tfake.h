/*
 * A fake server (tests/fakes/...) run as a child process for one test:
 * started with its stdout on a pipe, found ready by the "listening
 * port=N" line it prints (and "control port=N" when it is given
 * --control-port), stopped with SIGTERM at the end. Its stderr goes to a
 * log file in a folder of its own, quoted when it fails to start. The
 * child gets SIGTERM if the test process dies, so a failed test leaves
 * nothing running.
 */
#ifndef HERALD_TEST_TFAKE_H
#define HERALD_TEST_TFAKE_H

#include <sys/types.h>

struct tfake {
	pid_t pid;
	int port;
	int control_port; /* 0 when the fake has none */
	int out;          /* read end of its stdout, kept open */
	char *dir;        /* holds log */
	char *log;        /* its stderr */
};

/* Start argv[0] with argv (NULL-terminated) and wait up to 10 s for its
 * port lines; fails the test if they do not come. */
void tfake_start(struct tfake *f, const char *const argv[]);

/* Stop it (SIGTERM, then SIGKILL after 5 s), remove its folder. Safe on
 * a fake that never started, and twice. */
void tfake_stop(struct tfake *f);

/* A self-signed certificate and key for a fake, made in dir as
 * fake-cert.pem and fake-key.pem; their paths (malloc'd) in cert and
 * key. */
void tfake_certificate(const char *dir, char **cert, char **key);

/* Start tests/fakes/capture over HTTPS with that certificate. */
void tfake_start_capture(struct tfake *f, const char *cert, const char *key);

#endif
