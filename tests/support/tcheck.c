#include "support/tcheck.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tenv(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v != NULL && *v != '\0',
	          "%s is not set: run the tests with tests/run", name);
	return v;
}

char *tmkdtemp(void)
{
	const char *base = getenv("TMPDIR");
	char *path = tfmt("%s/herald-test-XXXXXX", base ? base : "/tmp");

	cr_assert(mkdtemp(path) != NULL, "mkdtemp: %s", strerror(errno));
	chmod(path, 0755);
	return path;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void trmdir(const char *path)
{
	if (path != NULL)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tread(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	mem = open_memstream(&buf, &len);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, mem);
	fclose(mem);
	fclose(f);
	return buf;
}

void twrite(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	cr_assert(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

char *tfmt(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	cr_assert(vasprintf(&s, fmt, ap) >= 0);
	va_end(ap);
	return s;
}

char *tsubst(const char *text, const char *key, const char *value)
{
	char *pattern = tfmt("{{%s}}", key);
	size_t plen = strlen(pattern);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (const char *p = text; *p;) {
		const char *hit = strstr(p, pattern);

		if (hit == NULL) {
			fputs(p, f);
			break;
		}
		fwrite(p, 1, (size_t)(hit - p), f);
		fputs(value, f);
		p = hit + plen;
	}
	fclose(f);
	free(pattern);
	return out;
}

void tdb_user(uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	*uid = getuid();
	*gid = getgid();
	if (geteuid() != 0)
		return;
	pw = getpwnam("postgres");
	cr_assert(pw != NULL, "running as root needs a postgres user");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
}

static void child(const char *const argv[], int in, int out, int err,
                  bool as_db_user)
{
	uid_t uid;
	gid_t gid;

	dup2(in, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	if (as_db_user && geteuid() == 0) {
		tdb_user(&uid, &gid);
		if (setgroups(0, NULL) || setgid(gid) || setuid(uid))
			_exit(126);
	}
	char *args[64];
	size_t n = 0;

	for (; argv[n] != NULL && n < 63; n++)
		args[n] = (char *)(uintptr_t)argv[n];
	args[n] = NULL;
	execvp(args[0], args);
	_exit(127);
}

/* Read both pipes until they close, feeding in meanwhile. */
static void pump(int out, int err, char **o, char **e)
{
	size_t olen = 0, elen = 0;
	FILE *fo = open_memstream(o, &olen);
	FILE *fe = open_memstream(e, &elen);
	struct pollfd p[2] = { { out, POLLIN, 0 }, { err, POLLIN, 0 } };
	int open_fds = 2;
	char buf[8192];

	while (open_fds > 0 && poll(p, 2, -1) > 0) {
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open_fds--;
				continue;
			}
			fwrite(buf, 1, (size_t)n, i == 0 ? fo : fe);
		}
	}
	fclose(fo);
	fclose(fe);
}

int trun(const char *const argv[], const char *in, char **out, char **err,
         bool as_db_user)
{
	int pin[2], pout[2], perr[2], status;
	char *o = NULL, *e = NULL;
	pid_t pid;

	cr_assert(pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 &&
	          pipe2(perr, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		child(argv, pin[0], pout[1], perr[1], as_db_user);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (in != NULL && write(pin[1], in, strlen(in)) < 0)
		cr_log_warn("could not write the child's stdin");
	close(pin[1]);
	pump(pout[0], perr[0], &o, &e);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (out != NULL)
		*out = o;
	else
		free(o);
	if (err != NULL)
		*err = e;
	else
		free(e);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tfree_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

void tsleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
