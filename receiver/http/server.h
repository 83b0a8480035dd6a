/*
 * The HTTPS listener: libevent bufferevents over OpenSSL
 * (bufferevent_openssl), HTTP/1.1 framing by http/parse, a route table,
 * and one place that answers and logs every request.
 *
 * Limits are explicit: a connection limit (the listener pauses at it),
 * a header size limit, a body size limit, one deadline for the whole of a
 * request (TLS handshake, head and body), an idle timeout between
 * keep-alive requests. A client that sends a byte a second holds one
 * connection until its deadline and slows nobody else.
 *
 * Everything here runs on one event loop (the ingest thread). A handler
 * gets a struct http_req and owns it until it answers with one of the
 * http_reply functions, possibly later (after a group commit). Answering
 * frees the request. If the client went away meanwhile, the answer is
 * dropped and logged; the request stays valid until then.
 */
#ifndef HERALD_HTTP_SERVER_H
#define HERALD_HTTP_SERVER_H

#include <event2/event.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http/parse.h"

struct config;
struct evbuffer;
struct http_server;
struct http_req;
struct http_conn;

typedef void (*http_handler)(struct http_req *r, void *arg);

struct http_route {
	const char *name; /* for metrics: "/hooks/abacus/{token}" */
	const char *path; /* exact, or a prefix when prefix is true */
	bool prefix;
	unsigned methods; /* enum http_method bits; GET implies HEAD */
	http_handler fn;
	void *arg;
	bool quiet;        /* log at debug only (probes, scrapes) */
	bool secret_param; /* what follows the prefix is a credential */
};

/* Called once per answered request, for metrics; route is NULL when no
 * route matched or the request could not be parsed. */
typedef void (*http_observer)(const struct http_route *route, int status,
                              double seconds, void *arg);

struct http_req {
	struct http_server *srv;
	const struct http_route *route;
	struct config *cfg; /* a reference held until the answer */
	uint64_t id;
	char rid[24];
	char peer[64];           /* client address without port */
	struct http_head head;   /* method, path, headers */
	const char *param;       /* what follows a prefix route's path */
	struct timespec started; /* CLOCK_MONOTONIC */
	char event_id[40];       /* logged with the answer when set */

	/* The server's own part. */
	struct http_conn *conn; /* NULL once the client has gone */
	char *head_buf;
	struct evbuffer *body;
	struct evbuffer *out_headers;
	bool close;
};

/*
 * Bind cfg's listen address and serve routes (ended by a NULL path) with
 * TLS context tls (the server takes it). NULL with err on failure.
 */
struct http_server *
http_server_new(struct event_base *base, struct config *cfg, SSL_CTX *tls,
                const struct http_route *routes, char *err, size_t size)
    __attribute__((warn_unused_result));

void http_server_set_observer(struct http_server *srv, http_observer fn,
                              void *arg);

/* Use cfg (a new reference is taken) and tls (taken) for new connections
 * and requests; connections already open keep their TLS session. */
void http_server_reload(struct http_server *srv, struct config *cfg,
                        SSL_CTX *tls);

/* Close the listening socket, so new connections are refused, and close
 * idle connections; requests in flight still get their answers, with
 * Connection: close. */
void http_server_stop_accepting(struct http_server *srv);

/* Requests whose head has arrived and that have no answer yet. */
int64_t http_server_in_flight(const struct http_server *srv);

/* Requests in flight plus answers not yet written out: what a stop
 * waits for. */
int64_t http_server_unfinished(const struct http_server *srv);

/* Open connections. */
int64_t http_server_connections(const struct http_server *srv);

/* The port actually bound (the configured one, or the kernel's choice
 * for port 0). */
int http_server_port(const struct http_server *srv);

void http_server_free(struct http_server *srv);

/* Answers. Each sends, logs one line and frees r. */
void http_reply_error(struct http_req *r, int status, const char *code,
                      const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void http_reply_text(struct http_req *r, int status, const char *type,
                     const char *text, size_t len);

/* Add a header to the answer (before replying). */
void http_req_set_header(struct http_req *r, const char *name,
                         const char *value);

/* The request body made contiguous, borrowed from r. Headers are in
 * r->head (http_head_get). */
const char *http_req_body_text(struct http_req *r, size_t *len);

#endif
