/*
 * The command sink: runs a program (argv, no shell) with the event as JSON
 * on its standard input and the event's fields in its environment, for
 * downstream automation. Exit status 0 is delivered, 75 (EX_TEMPFAIL) is
 * "try again later", anything else failed; a program that outlives the
 * timeout is killed, with its process group, and tried again later. What
 * it prints (standard output and error together) is kept, up to a KiB.
 *
 * The program does not inherit Herald's environment, which holds what
 * ${VAR} expansion reads (database and SMTP passwords, tokens): it gets a
 * few variables that locate things and set the language, the event's
 * HERALD_* fields and the sink's own env.
 *
 * Child processes are watched through pidfds on the dispatcher's loop, so
 * no SIGCHLD handler is involved.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "sinks/kinds.h"

#define EX_TEMPFAIL_STATUS 75

/* Where programs are looked for when Herald has no PATH. */
#define DEFAULT_PATH "/usr/bin:/bin"

struct run;

struct command_sink {
	const struct config_sink *cfg;
	const struct sink_env *env;
	char *path; /* argv[0] resolved against PATH */
	struct run *runs;
};

struct run {
	struct run *prev, *next;
	struct command_sink *sink;
	pid_t pid;
	int pidfd;
	int in_fd;  /* the program's standard input, ours to write */
	int out_fd; /* its output, ours to read */
	struct event *exit_ev, *in_ev, *out_ev, *timer;
	char *input;
	size_t input_len, written;
	char output[SINK_RESPONSE_MAX];
	size_t output_len;
	bool timed_out;
	sink_done_fn done;
	void *arg;
};

static char *resolve(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(prog, '/') != NULL)
		return access(prog, X_OK) == 0 ? strdup(prog) : NULL;
	for (const char *p = path ? path : DEFAULT_PATH; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, prog);
		if (n > 0 && access(buf, X_OK) == 0)
			return strdup(buf);
		p += n + (p[n] == ':');
	}
	return NULL;
}

static void *command_open(const struct config_sink *cfg,
                          const struct sink_env *env, char *err, size_t size)
{
	struct command_sink *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->env = env;
	s->path = resolve(cfg->argv.items[0]);
	if (s->path == NULL) {
		snprintf(err, size, "cannot find program \"%s\"",
		         cfg->argv.items[0]);
		free(s);
		return NULL;
	}
	return s;
}

/* What the program may see of Herald's environment: where to find
 * programs, files and temporary space, and the language and time zone
 * of its output. Nothing else, credentials least of all. */
static const char *const inherited[] = { "PATH",     "HOME", "LANG",  "LC_ALL",
	                                 "LC_CTYPE", "TZ",   "TMPDIR" };

#define N_INHERITED (sizeof(inherited) / sizeof(*inherited))

/* Append "name=value" to env at *k when value is set. */
static void env_add(char **env, size_t *k, const char *name, const char *value)
{
	if (value != NULL && asprintf(&env[*k], "%s=%s", name, value) > 0)
		(*k)++;
}

/* Environment: the inherited few, then the event's fields, then the
 * configured ones, later entries winning. Built before fork, since
 * after it only async-signal-safe calls are allowed. */
static char **make_env(const struct command_sink *s,
                       const struct sink_message *msg)
{
	const struct config_sink *c = s->cfg;
	json_t *ev = msg->event;
	const char *fields[][2] = {
		{ "HERALD_EVENT_ID", msg->event_id },
		{ "HERALD_EVENT_TYPE", msg->event_type },
		{ "HERALD_DELIVERY_ID", msg->delivery_id },
		{ "HERALD_SOURCE",
		  json_string_value(json_object_get(ev, "source")) },
		{ "HERALD_DEPLOYMENT_ID",
		  json_string_value(json_object_get(ev, "deployment_id")) },
		{ "HERALD_SEVERITY",
		  json_string_value(json_object_get(ev, "severity")) },
	};
	size_t nf = sizeof(fields) / sizeof(*fields), k = 0;
	char **env =
	    calloc(N_INHERITED + nf + c->env.count + 2, sizeof(char *));

	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < N_INHERITED; i++)
		env_add(env, &k, inherited[i], getenv(inherited[i]));
	if (getenv("PATH") == NULL)
		env_add(env, &k, "PATH", DEFAULT_PATH);
	for (size_t i = 0; i < nf; i++)
		env_add(env, &k, fields[i][0], fields[i][1]);
	if (asprintf(&env[k], "HERALD_ATTEMPT=%d", msg->attempt) > 0)
		k++;
	for (size_t i = 0; i < c->env.count; i++)
		env_add(env, &k, c->env.keys[i], c->env.values[i]);
	return env;
}

static void free_strings(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* In the child: no allocation, no locks. */
static void child(const struct command_sink *s, char *const argv[],
                  char *const envp[], int in, int out)
{
	dup2(in, STDIN_FILENO);
	dup2(out, STDOUT_FILENO);
	dup2(out, STDERR_FILENO);
	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	closefrom(STDERR_FILENO + 1);
	execve(s->path, argv, envp);
	_exit(127);
}

static pid_t spawn(struct command_sink *s, const struct sink_message *msg,
                   int *in_fd, int *out_fd)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 };
	char **argv = calloc(s->cfg->argv.count + 1, sizeof(char *));
	char **envp = make_env(s, msg);
	pid_t pid = -1;

	for (size_t i = 0; argv && i < s->cfg->argv.count; i++)
		argv[i] = (char *)(uintptr_t)s->cfg->argv.items[i];
	if (argv != NULL && envp != NULL && pipe2(in, O_CLOEXEC) == 0 &&
	    pipe2(out, O_CLOEXEC) == 0)
		pid = fork();
	if (pid == 0)
		child(s, argv, envp, in[0], out[1]);
	if (pid > 0)
		setpgid(pid, pid); /* either side may win the race */
	free(argv);
	free_strings(envp);
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	*in_fd = in[1];
	*out_fd = out[0];
	fcntl(*in_fd, F_SETFL, O_NONBLOCK);
	fcntl(*out_fd, F_SETFL, O_NONBLOCK);
	return pid;
}

/* A run */

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void free_event(struct event **ev)
{
	if (*ev != NULL)
		event_free(*ev);
	*ev = NULL;
}

static void run_free(struct run *r)
{
	struct command_sink *s = r->sink;

	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		s->runs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	free_event(&r->exit_ev);
	free_event(&r->in_ev);
	free_event(&r->out_ev);
	free_event(&r->timer);
	close_fd(&r->in_fd);
	close_fd(&r->out_fd);
	close_fd(&r->pidfd);
	free(r->input);
	free(r);
}

static void read_output(struct run *r)
{
	char buf[4096];
	ssize_t n;

	while (r->out_fd >= 0 && (n = read(r->out_fd, buf, sizeof(buf))) != 0) {
		size_t room = sizeof(r->output) - r->output_len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				close_fd(&r->out_fd);
			return;
		}
		memcpy(r->output + r->output_len, buf,
		       (size_t)n < room ? (size_t)n : room);
		r->output_len += (size_t)n < room ? (size_t)n : room;
	}
	close_fd(&r->out_fd);
}

static void judge(struct run *r, int status, struct sink_result *res)
{
	sink_result_response(res, r->output, r->output_len);
	if (r->timed_out)
		sink_result_set(res, SINK_RETRY, "timed out after %lld ms",
		                (long long)r->sink->cfg->timeout_ms);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		res->outcome = SINK_DELIVERED;
	else if (WIFEXITED(status) && WEXITSTATUS(status) == EX_TEMPFAIL_STATUS)
		sink_result_set(res, SINK_RETRY, "exit status 75 (try again)");
	else if (WIFEXITED(status))
		sink_result_set(res, SINK_FAILED, "exit status %d",
		                WEXITSTATUS(status));
	else
		sink_result_set(res, SINK_FAILED, "killed by signal %d",
		                WTERMSIG(status));
}

static void on_exit_ready(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct sink_result res = { .retry_after_ms = -1 };
	sink_done_fn done = r->done;
	void *done_arg = r->arg;
	int status = 0;

	(void)fd, (void)what;
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	read_output(r);
	judge(r, status, &res);
	run_free(r);
	done(done_arg, &res);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd, (void)what;
	read_output(r);
	if (r->out_fd < 0)
		free_event(&r->out_ev);
}

static void on_input(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd, (void)what;
	while (r->written < r->input_len) {
		ssize_t n = write(r->in_fd, r->input + r->written,
		                  r->input_len - r->written);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break; /* the program closed its input: fine */
		r->written += (size_t)n;
	}
	free_event(&r->in_ev);
	close_fd(&r->in_fd);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd, (void)what;
	r->timed_out = true;
	if (kill(-r->pid, SIGKILL) != 0)
		kill(r->pid, SIGKILL);
}

static bool watch(struct run *r, struct event_base *base)
{
	struct timeval tv = {
		.tv_sec = (time_t)(r->sink->cfg->timeout_ms / 1000),
		.tv_usec =
		    (suseconds_t)(r->sink->cfg->timeout_ms % 1000) * 1000,
	};

	r->exit_ev = event_new(base, r->pidfd, EV_READ, on_exit_ready, r);
	r->in_ev =
	    event_new(base, r->in_fd, EV_WRITE | EV_PERSIST, on_input, r);
	r->out_ev =
	    event_new(base, r->out_fd, EV_READ | EV_PERSIST, on_output, r);
	r->timer = evtimer_new(base, on_timeout, r);
	return r->exit_ev && r->in_ev && r->out_ev && r->timer &&
	       event_add(r->exit_ev, NULL) == 0 &&
	       event_add(r->in_ev, NULL) == 0 &&
	       event_add(r->out_ev, NULL) == 0 && event_add(r->timer, &tv) == 0;
}

static bool start(struct command_sink *s, struct run *r,
                  const struct sink_message *msg, struct sink_result *res)
{
	r->pid = spawn(s, msg, &r->in_fd, &r->out_fd);
	if (r->pid < 0) {
		sink_result_set(res, SINK_RETRY, "cannot start: %s",
		                strerror(errno));
		return false;
	}
	r->pidfd = pidfd_open(r->pid, 0);
	if (r->pidfd < 0 || !watch(r, s->env->base)) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		sink_result_set(res, SINK_RETRY, "cannot watch the program");
		return false;
	}
	return true;
}

static void command_deliver(void *state, const struct sink_message *msg,
                            sink_done_fn done, void *arg)
{
	struct command_sink *s = state;
	struct sink_result res = { .retry_after_ms = -1 };
	struct run *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		sink_result_set(&res, SINK_RETRY, "out of memory");
		done(arg, &res);
		return;
	}
	*r = (struct run){ .sink = s,
		           .pidfd = -1,
		           .in_fd = -1,
		           .out_fd = -1,
		           .done = done,
		           .arg = arg };
	r->next = s->runs;
	if (s->runs != NULL)
		s->runs->prev = r;
	s->runs = r;
	if (!sink_render(s->env, s->cfg->template, "command", msg, "json",
	                 false, &r->input, &r->input_len, &res) ||
	    !start(s, r, msg, &res)) {
		run_free(r);
		done(arg, &res);
	}
}

/* Programs still running at a stop are killed and reaped; their
 * attempts are dropped (see sink.h). */
static void command_close(void *state)
{
	struct command_sink *s = state;

	while (s->runs != NULL) {
		struct run *r = s->runs;

		if (kill(-r->pid, SIGKILL) != 0)
			kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		run_free(r);
	}
	free(s->path);
	free(s);
}

const struct sink_ops sink_command_ops = {
	.kind = "command",
	.open = command_open,
	.deliver = command_deliver,
	.close = command_close,
};
