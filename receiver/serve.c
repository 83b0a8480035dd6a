/*
 * herald serve: start every part in order, run the ingest loop, and stop
 * them in reverse. Signals arrive as libevent events on the loop:
 * SIGTERM and SIGINT drain and stop, SIGHUP reloads.
 */
#include "serve.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "abacus/abacus.h"
#include "config/config.h"
#include "dispatch/dispatcher.h"
#include "health.h"
#include "http/server.h"
#include "http/tls.h"
#include "log.h"
#include "metrics.h"
#include "sources/hooks.h"
#include "store/migrate.h"
#include "store/place.h"
#include "store/writer.h"
#include "util/deadline.h"

#define DRAIN_POLL_MS    20
#define FLUSH_MS         1000
#define SELF_SIGNED_DAYS 825

struct serve {
	struct event_base *base;
	struct config *cfg;
	struct db_place db;
	struct writer *writer;
	struct dispatcher *dispatcher;
	struct abacus_service *abacus;
	struct metrics *metrics;
	struct hooks hooks;
	struct http_server *http;
	struct http_route routes[8];
	struct event *signals[3];
	struct event *drain_timer;
	struct timespec drain_deadline;
	bool draining;
};

/* TLS */

static SSL_CTX *load_tls(const struct config *cfg, char *err, size_t size)
{
	const struct config_tls *tls = &cfg->tls;

	if (tls->self_signed &&
	    !tls_self_signed_ensure(tls->cert_file, tls->key_file,
	                            SELF_SIGNED_DAYS, err, size))
		return NULL;
	return tls_server_context(tls, err, size);
}

/* Reload */

static void log_config_errors(const struct config_errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		log_error("configuration error",
		          LOG_S("error", errs->lines[i]));
}

static void reload(struct serve *s)
{
	struct config_errors errs;
	struct config *cfg = config_load(s->cfg->path, &errs);
	char err[512], name[256];
	SSL_CTX *tls;

	if (cfg == NULL) {
		log_config_errors(&errs);
		config_errors_free(&errs);
		log_error("reload refused; keeping the running configuration",
		          LOG_S("reason", "configuration not valid"));
		return;
	}
	if (config_needs_restart(s->cfg, cfg, name, sizeof(name))) {
		log_error(
		    "reload refused; keeping the running configuration",
		    LOG_S("reason", "option changed that needs a restart"),
		    LOG_S("option", name));
		config_unref(cfg);
		return;
	}
	tls = load_tls(cfg, err, sizeof(err));
	if (tls == NULL) {
		log_error("reload refused; keeping the running configuration",
		          LOG_S("reason", err));
		config_unref(cfg);
		return;
	}
	http_server_reload(s->http, cfg, tls);
	writer_set_config(s->writer, cfg);
	dispatcher_reload(s->dispatcher, cfg);
	abacus_reload(s->abacus, cfg);
	log_configure((enum log_level)cfg->log.level,
	              (enum log_format)cfg->log.format);
	config_unref(s->cfg);
	s->cfg = cfg;
	log_info("configuration reloaded", LOG_S("path", cfg->path));
}

/* Stopping */

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	int64_t left = http_server_unfinished(s->http);
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };

	(void)fd, (void)what;
	if (left == 0 || deadline_passed(CLOCK_MONOTONIC, &s->drain_deadline)) {
		if (left > 0)
			log_warn("stopping with requests unanswered",
			         LOG_I("in_flight", left));
		event_base_loopexit(s->base, NULL);
		return;
	}
	evtimer_add(s->drain_timer, &tv);
}

/* Answers the writer gave its last jobs after the loop ended are written
 * out before the connections close, for a short while at most. */
static void flush_answers(struct serve *s)
{
	if (s->http == NULL || s->drain_timer == NULL ||
	    http_server_unfinished(s->http) == 0)
		return;
	s->drain_deadline = deadline_after(CLOCK_MONOTONIC, FLUSH_MS);
	on_drain_tick(-1, 0, s);
	event_base_dispatch(s->base);
}

static void start_drain(struct serve *s, const char *why)
{
	int64_t ms = s->cfg->listen.shutdown_timeout_ms;

	if (s->draining) {
		log_warn("second stop signal; exiting now");
		event_base_loopexit(s->base, NULL);
		return;
	}
	s->draining = true;
	log_info("stopping", LOG_S("signal", why),
	         LOG_I("in_flight", http_server_in_flight(s->http)));
	http_server_stop_accepting(s->http);
	s->drain_deadline = deadline_after(CLOCK_MONOTONIC, ms);
	on_drain_tick(-1, 0, s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct serve *s = arg;

	(void)what;
	if (sig == SIGHUP)
		reload(s);
	else
		start_drain(s, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* Starting */

static bool prepare_database(struct serve *s, char *err, size_t size)
{
	char why[512];
	PGconn *conn;
	bool ok;

	if (!db_place_open(&s->db, s->cfg, err, size))
		return false;
	if (!s->cfg->database.migrate_on_start)
		return true;
	conn = db_connect(&s->db.target, why, sizeof(why));
	if (conn == NULL) {
		snprintf(err, size, "database unreachable: %s", why);
		return false;
	}
	ok = migrate_apply(conn, migrate_embedded, migrate_embedded_count, NULL,
	                   NULL, why, sizeof(why));
	PQfinish(conn);
	if (!ok)
		snprintf(err, size, "migration failed: %s", why);
	return ok;
}

static void on_answer(const struct http_route *route, int status,
                      double seconds, void *arg)
{
	struct serve *s = arg;

	(void)seconds;
	metrics_request(s->metrics, route ? route->name : NULL, status);
}

static void serve_metrics(struct http_req *r, void *arg)
{
	struct serve *s = arg;
	char reason[256];
	struct metrics_gauges g = {
		.queue_events = (double)writer_queue_events(s->writer),
		.database_up = writer_ready(s->writer, reason, sizeof(reason)),
		.connections = (double)http_server_connections(s->http),
		.in_flight = (double)http_server_in_flight(s->http),
	};
	struct buf out = { 0 };

	metrics_render(s->metrics, &g, &out);
	if (buf_failed(&out))
		http_reply_error(r, 503, "unavailable", "out of memory");
	else
		http_reply_text(r, 200, "text/plain; version=0.0.4",
		                buf_str(&out), out.len);
	buf_free(&out);
}

static void build_routes(struct serve *s)
{
	const struct http_route routes[] = {
		{ .name = "/healthz",
		  .path = "/healthz",
		  .methods = HTTP_GET,
		  .fn = health_live,
		  .quiet = true },
		{ .name = "/readyz",
		  .path = "/readyz",
		  .methods = HTTP_GET,
		  .fn = health_ready,
		  .arg = s->writer,
		  .quiet = true },
		{ .name = "/metrics",
		  .path = "/metrics",
		  .methods = HTTP_GET,
		  .fn = serve_metrics,
		  .arg = s,
		  .quiet = true },
		{ .name = "/hooks/abacus/{token}",
		  .path = "/hooks/abacus/",
		  .prefix = true,
		  .methods = HTTP_POST,
		  .fn = hooks_abacus,
		  .arg = &s->hooks,
		  .secret_param = true },
		{ .name = "/hooks/alertmanager",
		  .path = "/hooks/alertmanager",
		  .methods = HTTP_POST,
		  .fn = hooks_alertmanager,
		  .arg = &s->hooks },
		{ .name = "/hooks/generic/{source}",
		  .path = "/hooks/generic/",
		  .prefix = true,
		  .methods = HTTP_POST,
		  .fn = hooks_generic,
		  .arg = &s->hooks },
		{ .path = NULL },
	};

	_Static_assert(sizeof(routes) <= sizeof(s->routes), "route table");
	memcpy(s->routes, routes, sizeof(routes));
}

static bool start_http(struct serve *s, char *err, size_t size)
{
	SSL_CTX *tls = load_tls(s->cfg, err, size);

	if (tls == NULL)
		return false;
	build_routes(s);
	s->http = http_server_new(s->base, s->cfg, tls, s->routes, err, size);
	if (s->http == NULL)
		return false;
	http_server_set_observer(s->http, on_answer, s);
	log_info("listening", LOG_S("address", s->cfg->listen.address),
	         LOG_I("port", http_server_port(s->http)),
	         LOG_S("cert", s->cfg->tls.cert_file));
	return true;
}

static bool watch_signals(struct serve *s)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };

	signal(SIGPIPE, SIG_IGN);
	for (size_t i = 0; i < 3; i++) {
		s->signals[i] = evsignal_new(s->base, sigs[i], on_signal, s);
		if (s->signals[i] == NULL || evsignal_add(s->signals[i], NULL))
			return false;
	}
	s->drain_timer = evtimer_new(s->base, on_drain_tick, s);
	return s->drain_timer != NULL;
}

/* Each connection takes a descriptor; keep room for the database, the
 * log and outbound connections. */
static void raise_open_files(const struct config *cfg)
{
	rlim_t want = (rlim_t)cfg->listen.max_connections + 512;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
		log_warn("open files limit below max_connections",
		         LOG_U("limit", rl.rlim_cur),
		         LOG_I("max_connections", cfg->listen.max_connections));
}

static bool start_writer(struct serve *s, char *err, size_t size)
{
	struct writer_options opt = {
		.target = &s->db.target,
		.cfg = s->cfg,
		.base = s->base,
		.queue_events = (size_t)s->cfg->ingest.queue_size,
		.batch_max = (size_t)s->cfg->ingest.batch_max,
		.query_timeout_ms = s->cfg->database.query_timeout_ms,
		.batch_size = metrics_batch_size(s->metrics),
		.commit_seconds = metrics_commit_seconds(s->metrics),
	};

	s->writer = writer_start(&opt, err, size);
	s->hooks.writer = s->writer;
	s->hooks.metrics = s->metrics;
	return s->writer != NULL;
}

/* With the changelist, the epoll registrations a callback changes are
 * applied once, before the loop waits again, instead of one system call
 * per change: an answer's write turned on and off and the next read are
 * then one call. Herald never hands the loop duplicated descriptors,
 * the case where the changelist misbehaves. */
static struct event_base *new_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	if (ec == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

static bool start(struct serve *s, char *err, size_t size)
{
	raise_open_files(s->cfg);
	/* The writer wakes the loop from its own thread. */
	evthread_use_pthreads();
	s->base = new_base();
	s->metrics = metrics_new();
	/* Signals are caught before the embedded cluster starts: a stop
	 * while it starts is then a graceful stop that also stops the
	 * cluster, not a death that leaves it running. */
	if (s->base == NULL || s->metrics == NULL || !watch_signals(s)) {
		snprintf(err, size, "cannot set up the event loop");
		return false;
	}
	if (!prepare_database(s, err, size) || !start_writer(s, err, size))
		return false;
	s->dispatcher =
	    dispatcher_start(s->cfg, &s->db.target, s->metrics, err, size);
	if (s->dispatcher == NULL || !start_http(s, err, size))
		return false;
	/* After the listener: webhooks registered at start can be called
	 * at once. */
	s->abacus = abacus_start(s->cfg, &s->db.target, s->writer, err, size);
	return s->abacus != NULL;
}

static void stop(struct serve *s)
{
	abacus_stop(s->abacus);
	dispatcher_stop(s->dispatcher);
	/* The writer answers its last jobs through the server. */
	writer_stop(s->writer);
	flush_answers(s);
	http_server_free(s->http);
	for (size_t i = 0; i < 3; i++) {
		if (s->signals[i] != NULL)
			event_free(s->signals[i]);
	}
	if (s->drain_timer != NULL)
		event_free(s->drain_timer);
	if (s->base != NULL)
		event_base_free(s->base);
	metrics_free(s->metrics);
	db_place_close(&s->db);
}

int serve_run(struct config *cfg)
{
	struct serve s = { .cfg = cfg };
	char err[1024];
	int status = 0;

	if (!log_async_start())
		log_warn("logging synchronously: no logger thread");
	if (start(&s, err, sizeof(err))) {
		event_base_dispatch(s.base);
		log_info("stopped");
	} else {
		log_error("cannot start", LOG_S("error", err));
		status = 1;
	}
	stop(&s);
	config_unref(s.cfg);
	log_async_stop();
	return status;
}
