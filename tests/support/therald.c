#include "support/therald.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/tcheck.h"
#include "support/thttp.h"
#include "support/tpg.h"

#define START_TIMEOUT_MS 30000
#define READY_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS  30000
#define CLEANUP_STOP_MS  3000

void therald_init(struct therald *h)
{
	memset(h, 0, sizeof(*h));
	h->dir = tmkdtemp();
	h->config = tfmt("%s/herald.json", h->dir);
	h->log = tfmt("%s/herald.log", h->dir);
	h->ca = tfmt("%s/tls/cert.pem", h->dir);
	h->db = tpg_create_db();
}

/* Runs in the child: no Criterion calls from here on. */
static void exec_herald(struct therald *h, const char *bin,
                        const char *const extra[])
{
	const char *argv[32] = { bin, "serve", "--config", h->config };
	size_t n = 4;
	int fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	for (size_t i = 0; extra != NULL && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	/* A test that fails half-way must not leave a server behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	execv(argv[0], (char **)(uintptr_t)argv);
	_exit(127);
}

/* The port from the "listening" line written after offset from (either
 * log format), or 0 while there is none. */
static int logged_port(struct therald *h, size_t from)
{
	char *log = tread(h->log);
	size_t len = log ? strlen(log) : 0;
	const char *line = len > from ? strstr(log + from, "listening") : NULL;
	const char *kv = line ? strstr(line, " port=") : NULL;
	const char *json = line ? strstr(line, "\"port\":") : NULL;
	int n = 0;

	if (kv != NULL)
		n = (int)strtol(kv + 6, NULL, 10);
	else if (json != NULL)
		n = (int)strtol(json + 7, NULL, 10);
	free(log);
	return n;
}

static size_t log_size(struct therald *h)
{
	char *log = tread(h->log);
	size_t n = log ? strlen(log) : 0;

	free(log);
	return n;
}

static bool exited(struct therald *h, int *status)
{
	pid_t r = waitpid(h->pid, status, WNOHANG);

	if (r == h->pid) {
		h->pid = 0;
		return true;
	}
	return false;
}

size_t therald_spawn(struct therald *h, const char *config_template,
                     const char *const extra[])
{
	char *a = tsubst(config_template, "dir", h->dir);
	char *config = tsubst(a, "db", h->db ? h->db : "");
	size_t from = log_size(h);
	const char *bin = tenv("HERALD_BIN");

	twrite(h->config, config);
	free(a);
	free(config);
	h->port = 0;
	h->pid = fork();
	cr_assert(h->pid >= 0);
	if (h->pid == 0)
		exec_herald(h, bin, extra);
	return from;
}

void therald_start_listening(struct therald *h, const char *config_template,
                             const char *const extra[])
{
	size_t from = therald_spawn(h, config_template, extra);
	int status;

	for (int waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
		h->port = logged_port(h, from);
		if (h->port > 0)
			break;
		if (exited(h, &status)) {
			char *log = tread(h->log);

			cr_assert_fail(
			    "herald exited at start (status %d):\n%s", status,
			    log ? log : "");
		}
		tsleep_ms(20);
	}
	cr_assert(h->port > 0, "herald did not start listening");
	free(h->url);
	h->url = tfmt("https://127.0.0.1:%d", h->port);
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Poll /readyz until it answers 200; the bound is a deadline, so slow
 * answers on a loaded machine count against it too. */
static void wait_ready(struct therald *h)
{
	char *url = tfmt("%s/readyz", h->url);
	int64_t deadline = now_ms() + READY_TIMEOUT_MS;
	struct thttp_resp r = { 0 };
	char last[256] = "no answer";
	int status;

	for (;;) {
		thttp("GET", url, h->ca, NULL, NULL, 0, &r);
		if (r.status == 200)
			break;
		snprintf(last, sizeof(last), "%ld %.200s", r.status,
		         r.status ? r.body : r.error);
		thttp_free(&r);
		if (exited(h, &status))
			cr_assert_fail("herald exited before it was ready "
			               "(status %d)",
			               status);
		cr_assert(now_ms() < deadline,
		          "herald not ready within %d ms; /readyz: %s",
		          READY_TIMEOUT_MS, last);
		tsleep_ms(50);
	}
	thttp_free(&r);
	free(url);
}

void therald_start(struct therald *h, const char *config_template,
                   const char *const extra[])
{
	therald_start_listening(h, config_template, extra);
	wait_ready(h);
}

int therald_stop(struct therald *h, int sig)
{
	int status = 0;

	if (h->pid <= 0)
		return -1;
	kill(h->pid, sig);
	for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 10) {
		if (exited(h, &status))
			return WIFEXITED(status) ? WEXITSTATUS(status)
			                         : 128 + WTERMSIG(status);
		tsleep_ms(10);
	}
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
	h->pid = 0;
	cr_expect_fail("herald did not stop within %d ms", STOP_TIMEOUT_MS);
	return -1;
}

bool therald_wait_log(struct therald *h, const char *needle, int ms)
{
	for (int waited = 0; waited <= ms; waited += 20) {
		char *log = tread(h->log);
		bool found = log != NULL && strstr(log, needle) != NULL;

		free(log);
		if (found)
			return true;
		tsleep_ms(20);
	}
	return false;
}

char *therald_log(struct therald *h)
{
	char *log = tread(h->log);

	return log ? log : tfmt("%s", "");
}

int therald_cli(const char *const args[], char **out, char **err)
{
	const char *argv[32] = { tenv("HERALD_BIN") };
	size_t n = 1;

	for (size_t i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	return trun(argv, NULL, out, err, false);
}

/* A sanitizer report in the log fails the test that started herald,
 * however the test itself ended. */
static void expect_no_sanitizer_report(struct therald *h)
{
	static const char *const marks[] = { "ERROR: AddressSanitizer",
		                             "ERROR: LeakSanitizer",
		                             "runtime error: " };
	char *log;

	if (h->log == NULL || (log = tread(h->log)) == NULL)
		return;
	for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		const char *at = strstr(log, marks[i]);

		cr_expect(at == NULL,
		          "herald's log has a sanitizer report:\n%.4000s", at);
	}
	free(log);
}

void therald_cleanup(struct therald *h)
{
	/* A graceful stop first, so that LeakSanitizer looks at the exit. */
	if (h->pid > 0) {
		kill(h->pid, SIGTERM);
		for (int waited = 0; waited < CLEANUP_STOP_MS; waited += 10) {
			if (waitpid(h->pid, NULL, WNOHANG) == h->pid) {
				h->pid = 0;
				break;
			}
			tsleep_ms(10);
		}
	}
	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, NULL, 0);
	}
	expect_no_sanitizer_report(h);
	if (h->db != NULL)
		tpg_drop_db(h->db);
	trmdir(h->dir);
	free(h->dir);
	free(h->config);
	free(h->log);
	free(h->ca);
	free(h->db);
	free(h->url);
	memset(h, 0, sizeof(*h));
}
