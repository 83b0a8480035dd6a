/*
 * Starting and stopping the fake servers of tests/fakes: fork, exec with
 * stdout on a pipe, read the port lines, SIGTERM at the end.
 */
#include "support/tfake.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http/tls.h"
#include "support/tcheck.h"

#define TFAKE_START_MS 10000
#define TFAKE_STOP_MS  5000
#define TFAKE_ARGS_MAX 64

static int64_t tfake_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void tfake_child(const char *const argv[], int out, int err,
                        pid_t parent)
{
	char *args[TFAKE_ARGS_MAX];
	size_t n = 0;
	int null = open("/dev/null", O_RDONLY);

	/* The fake ends with the test process, even one that crashed; if
	 * the parent is gone already, the signal would never come. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
		_exit(126);
	dup2(null, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	for (; argv[n] != NULL && n + 1 < TFAKE_ARGS_MAX; n++)
		args[n] = (char *)(uintptr_t)argv[n];
	args[n] = NULL;
	execvp(args[0], args);
	_exit(127);
}

static bool tfake_has_control(const char *const argv[])
{
	for (size_t i = 0; argv[i] != NULL; i++)
		if (strcmp(argv[i], "--control-port") == 0)
			return true;
	return false;
}

static void tfake_parse(struct tfake *f, const char *line)
{
	int port;

	if (sscanf(line, "listening port=%d", &port) == 1)
		f->port = port;
	else if (sscanf(line, "control port=%d", &port) == 1)
		f->control_port = port;
}

/* Read its stdout line by line until the ports are known, it closes
 * stdout (it died), or the time is up. */
static void tfake_wait_ports(struct tfake *f, bool control)
{
	int64_t deadline = tfake_now_ms() + TFAKE_START_MS;
	char line[256];
	size_t len = 0;

	while (f->port == 0 || (control && f->control_port == 0)) {
		struct pollfd p = { .fd = f->out, .events = POLLIN };
		int64_t left = deadline - tfake_now_ms();
		int ready = left > 0 ? poll(&p, 1, (int)left) : 0;
		char c;

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0 || read(f->out, &c, 1) != 1)
			return;
		if (c != '\n') {
			if (len + 1 < sizeof(line))
				line[len++] = c;
			continue;
		}
		line[len] = '\0';
		len = 0;
		tfake_parse(f, line);
	}
}

static void tfake_spawn(struct tfake *f, const char *const argv[])
{
	int pipefd[2], err;
	pid_t parent = getpid();

	cr_assert(pipe2(pipefd, O_CLOEXEC) == 0, "pipe: %s", strerror(errno));
	err = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(err >= 0, "%s: %s", f->log, strerror(errno));
	f->pid = fork();
	cr_assert(f->pid >= 0, "fork: %s", strerror(errno));
	if (f->pid == 0)
		tfake_child(argv, pipefd[1], err, parent);
	close(pipefd[1]);
	close(err);
	f->out = pipefd[0];
}

void tfake_start(struct tfake *f, const char *const argv[])
{
	bool control = tfake_has_control(argv);

	memset(f, 0, sizeof(*f));
	f->out = -1;
	f->dir = tmkdtemp();
	f->log = tfmt("%s/stderr.log", f->dir);

	tfake_spawn(f, argv);
	tfake_wait_ports(f, control);

	if (f->port == 0 || (control && f->control_port == 0)) {
		char *log = tread(f->log);

		tfake_stop(f);
		cr_assert_fail("%s did not report its ports within %d ms:\n%s",
		               argv[0], TFAKE_START_MS, log ? log : "");
	}
}

/* Wait for the child up to ms; true once it is reaped. */
static bool tfake_reap(pid_t pid, int ms)
{
	int64_t deadline = tfake_now_ms() + ms;
	int status;

	do {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return true;
		tsleep_ms(20);
	} while (tfake_now_ms() < deadline);
	return false;
}

void tfake_stop(struct tfake *f)
{
	/* A zeroed struct has out 0 (stdin): only a started fake's out is
	 * ours to close. */
	if (f->pid > 0) {
		kill(f->pid, SIGTERM);
		if (!tfake_reap(f->pid, TFAKE_STOP_MS)) {
			kill(f->pid, SIGKILL);
			tfake_reap(f->pid, TFAKE_STOP_MS);
		}
		close(f->out);
	}
	trmdir(f->dir);
	free(f->dir);
	free(f->log);
	memset(f, 0, sizeof(*f));
	f->out = -1;
}

void tfake_certificate(const char *dir, char **cert, char **key)
{
	char err[256];

	*cert = tfmt("%s/fake-cert.pem", dir);
	*key = tfmt("%s/fake-key.pem", dir);
	cr_assert(tls_self_signed_ensure(*cert, *key, 2, err, sizeof(err)),
	          "%s", err);
}

void tfake_start_capture(struct tfake *f, const char *cert, const char *key)
{
	char *bin = tfmt("%s/capture", tenv("HERALD_FAKES_DIR"));

	tfake_start(f, (const char *[]){ bin, "--port", "0", "--cert", cert,
	                                 "--key", key, NULL });
	free(bin);
}
