/*
 * herald serve: start every part in order, run the ingest loop, and stop
 * them in reverse. Signals arrive as libevent events on the loop:
 * SIGTERM and SIGINT drain and stop, SIGHUP reloads.
 */
#include "serve.h"

#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "health.h"
#include "http/server.h"
#include "http/tls.h"
#include "log.h"
#include "store/migrate.h"
#include "store/place.h"
#include "store/writer.h"

#define DRAIN_POLL_MS    20
#define SELF_SIGNED_DAYS 825

struct serve {
	struct event_base *base;
	struct config *cfg;
	struct db_place db;
	struct writer *writer;
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
	log_set_level((enum log_level)cfg->log.level);
	config_unref(s->cfg);
	s->cfg = cfg;
	log_info("configuration reloaded", LOG_S("path", cfg->path));
}

/* Stopping */

static bool past(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
	        now.tv_nsec >= deadline->tv_nsec);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	struct serve *s = arg;
	int64_t left = http_server_in_flight(s->http);
	struct timeval tv = { 0, DRAIN_POLL_MS * 1000 };

	(void)fd, (void)what;
	if (left == 0 || past(&s->drain_deadline)) {
		if (left > 0)
			log_warn("stopping with requests unanswered",
			         LOG_I("in_flight", left));
		event_base_loopexit(s->base, NULL);
		return;
	}
	evtimer_add(s->drain_timer, &tv);
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
	clock_gettime(CLOCK_MONOTONIC, &s->drain_deadline);
	s->drain_deadline.tv_sec += ms / 1000;
	s->drain_deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (s->drain_deadline.tv_nsec >= 1000000000L) {
		s->drain_deadline.tv_sec++;
		s->drain_deadline.tv_nsec -= 1000000000L;
	}
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

static void build_routes(struct serve *s)
{
	const struct http_route routes[] = {
		{ "/healthz", false, HTTP_GET, health_live, NULL, true, false },
		{ "/readyz", false, HTTP_GET, health_ready, s->writer, true,
		  false },
		{ NULL, false, 0, NULL, NULL, false, false },
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

static bool start(struct serve *s, char *err, size_t size)
{
	if (!prepare_database(s, err, size))
		return false;
	s->writer = writer_start(&s->db.target, err, size);
	if (s->writer == NULL)
		return false;
	s->base = event_base_new();
	if (s->base == NULL || !watch_signals(s)) {
		snprintf(err, size, "cannot set up the event loop");
		return false;
	}
	return start_http(s, err, size);
}

static void stop(struct serve *s)
{
	http_server_free(s->http);
	writer_stop(s->writer);
	for (size_t i = 0; i < 3; i++) {
		if (s->signals[i] != NULL)
			event_free(s->signals[i]);
	}
	if (s->drain_timer != NULL)
		event_free(s->drain_timer);
	if (s->base != NULL)
		event_base_free(s->base);
	db_place_close(&s->db);
}

int serve_run(struct config *cfg)
{
	struct serve s = { .cfg = cfg };
	char err[1024];
	int status = 0;

	if (start(&s, err, sizeof(err))) {
		event_base_dispatch(s.base);
		log_info("stopped");
	} else {
		log_error("cannot start", LOG_S("error", err));
		status = 1;
	}
	stop(&s);
	config_unref(s.cfg);
	return status;
}
