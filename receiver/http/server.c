/*
 * Connections and requests. A connection moves through these states:
 *
 *   HEAD     reading a request head (or idle between requests)
 *   BODY     reading its body (Content-Length or chunked)
 *   HANDLER  a handler owns the request
 *   WRITING  the answer is being flushed
 *
 * and back to HEAD when the connection is kept alive. One timer per
 * connection holds the deadline of whatever it is waiting for.
 *
 * libevent's evhttp is not used: in the 2.1 series it answers its own
 * errors (413, 400) with fixed HTML pages, has no deadline for a whole
 * request and no connection limit, all of which Herald needs.
 */
#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "log.h"

enum conn_state {
	CONN_HEAD,
	CONN_BODY,
	CONN_HANDLER,
	CONN_WRITING,
};

struct http_conn {
	struct http_server *srv;
	struct http_conn *prev, *next;
	struct bufferevent *bev;
	struct event *timer;
	uint64_t id;
	char peer[64];
	enum conn_state state;
	bool idle; /* between requests, nothing received yet */
	bool keep_alive;
	struct http_req *req;
	struct http_chunked chunked;
	uint64_t body_left;
};

struct http_server {
	struct event_base *base;
	struct evconnlistener *listener;
	SSL_CTX *tls;
	struct config *cfg;
	const struct http_route *routes;
	http_observer observer;
	void *observer_arg;
	struct http_conn *conns_head;
	int64_t conns;
	int64_t in_flight;
	uint64_t next_conn;
	uint64_t next_req;
	bool accepting;
	bool paused;
	int port;
	time_t date_at;
	char date[40];
};

static void conn_advance(struct http_conn *c);
static void conn_close(struct http_conn *c);

static void arm(struct http_conn *c, int64_t ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
		              .tv_usec = (ms % 1000) * 1000 };

	evtimer_add(c->timer, &tv);
}

/* Requests */

static const char *status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 300 ? "OK" : "Error";
	}
}

static struct http_req *req_new(struct http_conn *c)
{
	struct http_server *srv = c->srv;
	struct http_req *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->body = evbuffer_new();
	r->out_headers = evbuffer_new();
	if (r->body == NULL || r->out_headers == NULL) {
		evbuffer_free(r->body);
		evbuffer_free(r->out_headers);
		free(r);
		return NULL;
	}
	r->srv = srv;
	r->conn = c;
	r->cfg = config_ref(srv->cfg);
	r->id = ++srv->next_req;
	snprintf(r->rid, sizeof(r->rid), "%llu", (unsigned long long)r->id);
	memcpy(r->peer, c->peer, sizeof(r->peer));
	clock_gettime(CLOCK_MONOTONIC, &r->started);
	r->head.path = "-";
	r->head.method_name = "-";
	srv->in_flight++;
	return r;
}

static void req_free(struct http_req *r)
{
	r->srv->in_flight--;
	evbuffer_free(r->body);
	evbuffer_free(r->out_headers);
	free(r->head_buf);
	config_unref(r->cfg);
	free(r);
}

void http_req_set_header(struct http_req *r, const char *name,
                         const char *value)
{
	evbuffer_add_printf(r->out_headers, "%s: %s\r\n", name, value);
}

const char *http_req_body_text(struct http_req *r, size_t *len)
{
	*len = evbuffer_get_length(r->body);
	return (const char *)evbuffer_pullup(r->body, -1);
}

static const char *date_header(struct http_server *srv)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now != srv->date_at) {
		gmtime_r(&now, &tm);
		strftime(srv->date, sizeof(srv->date),
		         "%a, %d %b %Y %H:%M:%S GMT", &tm);
		srv->date_at = now;
	}
	return srv->date;
}

static double seconds_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) +
	       (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

/*
 * The path as logged. A route's credential part is left out, and so is
 * everything past the second segment of a path no route knows: a client
 * that mistyped a route may have put its token in there.
 */
static const char *logged_path(const struct http_req *r, char *buf, size_t size)
{
	const struct http_route *rt = r->route;
	const char *p = r->head.path;
	const char *third;

	if (rt != NULL)
		return rt->secret_param ? rt->path : p;
	third = p[0] == '/' ? strchr(p + 1, '/') : NULL;
	third = third ? strchr(third + 1, '/') : NULL;
	if (third == NULL)
		return p;
	snprintf(buf, size, "%.*s/...", (int)(third - p), p);
	return buf;
}

static void log_answer(const struct http_req *r, int status, double secs,
                       const char *why)
{
	const struct http_route *rt = r->route;
	enum log_level level = rt && rt->quiet ? LOG_DEBUG : LOG_INFO;
	char buf[256];
	const char *path;

	if (!log_enabled(level))
		return;
	path = logged_path(r, buf, sizeof(buf));
	log_emit(level, why ? "request refused" : "request",
	         LOG_S("rid", r->rid), LOG_S("peer", r->peer),
	         LOG_S("method", r->head.method_name), LOG_S("path", path),
	         LOG_I("status", status), LOG_D("ms", secs * 1000.0),
	         LOG_S("event", r->event_id[0] ? r->event_id : NULL),
	         LOG_S("reason", why), LOG_END);
}

/* The one place every request ends: log, count, send, free. */
static void req_finish(struct http_req *r, int status, const char *type,
                       const void *body, size_t len, const char *why)
{
	struct http_server *srv = r->srv;
	struct http_conn *c = r->conn;
	double secs = seconds_since(&r->started);

	log_answer(r, status, secs, why);
	if (srv->observer != NULL)
		srv->observer(r->route, status, secs, srv->observer_arg);
	if (c == NULL) {
		log_debug("answer dropped: client gone", LOG_S("rid", r->rid));
		req_free(r);
		return;
	}

	struct evbuffer *out = bufferevent_get_output(c->bev);
	bool head_only = r->head.method == HTTP_HEAD;

	c->keep_alive = r->head.keep_alive && !r->close && srv->accepting;
	c->req = NULL;
	c->state = CONN_WRITING;
	arm(c, r->cfg->listen.request_timeout_ms);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	                    "Content-Type: %s\r\nContent-Length: %zu\r\n%s",
	                    status, status_text(status), date_header(srv), type,
	                    len, c->keep_alive ? "" : "Connection: close\r\n");
	evbuffer_add_buffer(out, r->out_headers);
	evbuffer_add(out, "\r\n", 2);
	if (!head_only && len > 0)
		evbuffer_add(out, body, len);
	req_free(r);
}

void http_reply_text(struct http_req *r, int status, const char *type,
                     const char *text, size_t len)
{
	req_finish(r, status, type, text, len, NULL);
}

void http_reply_error(struct http_req *r, int status, const char *code,
                      const char *fmt, ...)
{
	char message[512];
	json_t *body;
	char *text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	body = json_pack("{s:s, s:s}", "error", code, "message", message);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		req_finish(r, status, "application/json", "{}", 2, message);
	else
		req_finish(r, status, "application/json", text, strlen(text),
		           message);
	free(text);
}

/* Routing */

static const struct {
	unsigned bit;
	const char *name;
} method_names[] = {
	{ HTTP_GET, "GET" },         { HTTP_HEAD, "HEAD" },
	{ HTTP_POST, "POST" },       { HTTP_PUT, "PUT" },
	{ HTTP_PATCH, "PATCH" },     { HTTP_DELETE, "DELETE" },
	{ HTTP_OPTIONS, "OPTIONS" },
};

static const struct http_route *route_find(const struct http_route *routes,
                                           const char *path)
{
	for (const struct http_route *rt = routes; rt->path; rt++) {
		size_t n = strlen(rt->path);

		if (rt->prefix ? strncmp(path, rt->path, n) == 0
		               : strcmp(path, rt->path) == 0)
			return rt;
	}
	return NULL;
}

static void allow_header(struct http_req *r, unsigned methods)
{
	char allow[96] = "";
	size_t n = 0;

	for (size_t i = 0; i < sizeof(method_names) / sizeof(*method_names);
	     i++) {
		if ((methods & method_names[i].bit) && n < sizeof(allow))
			n += (size_t)snprintf(allow + n, sizeof(allow) - n,
			                      "%s%s", n ? ", " : "",
			                      method_names[i].name);
	}
	http_req_set_header(r, "Allow", allow);
}

static void dispatch(struct http_req *r)
{
	const struct http_route *rt = route_find(r->srv->routes, r->head.path);
	unsigned methods;

	if (rt == NULL) {
		http_reply_error(r, 404, "not_found", "no such route");
		return;
	}
	r->route = rt;
	r->param = rt->prefix ? r->head.path + strlen(rt->path) : "";
	methods = rt->methods;
	if (methods & HTTP_GET)
		methods |= HTTP_HEAD;
	if (!(methods & r->head.method)) {
		allow_header(r, methods);
		http_reply_error(r, 405, "method_not_allowed",
		                 "%s is not allowed here; see Allow",
		                 r->head.method_name);
		return;
	}
	rt->fn(r, rt->arg);
}

/* Reading requests */

/* Refuse what was received so far and close after the answer. */
static void conn_refuse(struct http_conn *c, int status, const char *code,
                        const char *message)
{
	struct http_req *r = c->req;

	if (r == NULL) {
		r = c->req = req_new(c);
		if (r == NULL) {
			conn_close(c);
			return;
		}
	}
	c->state = CONN_HANDLER;
	bufferevent_disable(c->bev, EV_READ);
	r->close = true;
	http_reply_error(r, status, code, "%s", message);
}

/* Reading goes on while a handler works, so that a client that goes
 * away is noticed and the socket's events are not re-registered on every
 * request; what a pipelining client sends meanwhile waits in the input
 * buffer, which the read watermark bounds. */
static void conn_handle(struct http_conn *c)
{
	c->state = CONN_HANDLER;
	evtimer_del(c->timer);
	dispatch(c->req);
}

static void start_body(struct http_conn *c)
{
	struct http_req *r = c->req;
	struct evbuffer *in = bufferevent_get_input(c->bev);
	uint64_t limit = (uint64_t)r->cfg->listen.max_body_size;

	if (r->head.has_length && r->head.content_length > limit) {
		conn_refuse(c, 413, "too_large", "request body over the limit");
		return;
	}
	if (!r->head.chunked && r->head.content_length == 0) {
		conn_handle(c);
		return;
	}
	if (r->head.chunked)
		http_chunked_init(&c->chunked, limit);
	c->body_left = r->head.content_length;
	c->state = CONN_BODY;
	if (r->head.expect_continue && evbuffer_get_length(in) == 0)
		evbuffer_add(bufferevent_get_output(c->bev),
		             "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static void read_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t max = (size_t)c->srv->cfg->listen.max_header_size;
	struct evbuffer_ptr end;
	enum http_parse_error e;
	struct http_req *r;
	size_t len;

	if (c->idle) {
		c->idle = false;
		arm(c, c->srv->cfg->listen.request_timeout_ms);
	}
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > max)
			conn_refuse(c, 431, "header_too_large",
			            "request head over the limit");
		return;
	}
	len = (size_t)end.pos + 4;
	if (len > max) {
		conn_refuse(c, 431, "header_too_large",
		            "request head over the limit");
		return;
	}
	r = c->req = req_new(c);
	if (r != NULL)
		r->head_buf = malloc(len + 1);
	if (r == NULL || r->head_buf == NULL) {
		conn_refuse(c, 503, "unavailable", "out of memory");
		return;
	}
	evbuffer_remove(in, r->head_buf, len);
	r->head_buf[len] = '\0';
	e = http_parse_head(r->head_buf, len, &r->head);
	if (e != HTTP_PARSE_OK) {
		r->head.path = r->head.path ? r->head.path : "-";
		r->head.method_name =
		    r->head.method_name ? r->head.method_name : "-";
		conn_refuse(c, http_parse_status(e), "bad_request",
		            http_parse_message(e));
		return;
	}
	start_body(c);
}

static void read_chunked(struct http_conn *c, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in), used, got;
	struct evbuffer_iovec v;
	const char *data;

	if (evbuffer_reserve_space(c->req->body, (ev_ssize_t)avail, &v, 1) <
	    1) {
		conn_refuse(c, 503, "unavailable", "out of memory");
		return;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	used = http_chunked_feed(&c->chunked, data, avail, v.iov_base, &got);
	v.iov_len = got;
	evbuffer_commit_space(c->req->body, &v, 1);
	evbuffer_drain(in, used);
	if (c->chunked.state == CHUNK_DONE)
		conn_handle(c);
	else if (c->chunked.state == CHUNK_ERROR && c->chunked.too_large)
		conn_refuse(c, 413, "too_large", "request body over the limit");
	else if (c->chunked.state == CHUNK_ERROR)
		conn_refuse(c, 400, "bad_request", "malformed chunked body");
}

static void read_body(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t n = evbuffer_get_length(in);

	if (c->req->head.chunked) {
		read_chunked(c, in);
		return;
	}
	if (n > c->body_left)
		n = (size_t)c->body_left;
	evbuffer_remove_buffer(in, c->req->body, n);
	c->body_left -= n;
	if (c->body_left == 0)
		conn_handle(c);
}

/* Work through what has arrived until the connection must wait. */
static void conn_advance(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	enum conn_state before;

	do {
		before = c->state;
		if (evbuffer_get_length(in) == 0)
			return;
		if (c->state == CONN_HEAD)
			read_head(c);
		else if (c->state == CONN_BODY)
			read_body(c);
	} while (c->state != before &&
	         (c->state == CONN_HEAD || c->state == CONN_BODY));
}

/* Connection events */

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_advance(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	(void)bev;
	if (c->state != CONN_WRITING)
		return;
	if (!c->keep_alive) {
		conn_close(c);
		return;
	}
	c->state = CONN_HEAD;
	c->idle = true;
	arm(c, c->srv->cfg->listen.idle_timeout_ms);
	conn_advance(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_conn *c = arg;
	unsigned long tls_err = bufferevent_get_openssl_error(bev);

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (tls_err != 0) {
		char why[256];

		ERR_error_string_n(tls_err, why, sizeof(why));
		log_debug("connection failed", LOG_U("conn", c->id),
		          LOG_S("peer", c->peer), LOG_S("tls", why));
	}
	conn_close(c);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd, (void)what;
	/* Idle, or the TLS handshake never finished: nobody to answer. */
	if (c->state == CONN_HEAD &&
	    (c->idle ||
	     evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)) {
		conn_close(c);
		return;
	}
	if (c->state == CONN_HEAD || c->state == CONN_BODY) {
		conn_refuse(c, 408, "timeout", "request not received in time");
		return;
	}
	if (c->state == CONN_WRITING)
		conn_close(c);
}

/* Connections */

static void conn_close(struct http_conn *c)
{
	struct http_server *srv = c->srv;

	if (c->req != NULL && c->state == CONN_HANDLER)
		c->req->conn = NULL; /* the handler still owns it */
	else if (c->req != NULL)
		req_free(c->req);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	event_free(c->timer);
	bufferevent_free(c->bev);
	log_debug("connection closed", LOG_U("conn", c->id));
	free(c);

	srv->conns--;
	if (srv->paused && srv->accepting &&
	    srv->conns < srv->cfg->listen.max_connections) {
		evconnlistener_enable(srv->listener);
		srv->paused = false;
	}
}

static void peer_name(const struct sockaddr *sa, char *out, size_t size)
{
	const void *addr =
	    sa->sa_family == AF_INET6
	        ? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)
	              ->sin6_addr
	        : (const void *)&((const struct sockaddr_in *)(const void *)sa)
	              ->sin_addr;

	if (inet_ntop(sa->sa_family, addr, out, (socklen_t)size) == NULL)
		snprintf(out, size, "-");
}

static struct http_conn *conn_new(struct http_server *srv, evutil_socket_t fd)
{
	struct http_conn *c = calloc(1, sizeof(*c));
	SSL *ssl = c ? SSL_new(srv->tls) : NULL;

	if (ssl == NULL)
		goto fail;
	c->srv = srv;
	c->id = ++srv->next_conn;
	c->timer = evtimer_new(srv->base, on_deadline, c);
	c->bev = bufferevent_openssl_socket_new(
	    srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (c->bev == NULL) {
		SSL_free(ssl);
		goto fail;
	}
	if (c->timer == NULL)
		goto fail;
	return c;

fail:
	if (c != NULL && c->bev != NULL)
		bufferevent_free(c->bev);
	else
		evutil_closesocket(fd);
	if (c != NULL && c->timer != NULL)
		event_free(c->timer);
	free(c);
	return NULL;
}

/* Input buffered per connection, at most: a whole head and then some,
 * since a body moves on to its request as it arrives. */
static size_t read_watermark(const struct config *cfg)
{
	return (size_t)cfg->listen.max_header_size + 64 * 1024;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int socklen, void *arg)
{
	struct http_server *srv = arg;
	struct http_conn *c;
	int one = 1;

	(void)l, (void)socklen;
	/* Nagle's algorithm meeting delayed ACKs would hold each keep-alive
	 * answer for about 40 ms. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = conn_new(srv, fd);
	if (c == NULL) {
		log_warn("connection dropped: out of memory");
		return;
	}
	peer_name(sa, c->peer, sizeof(c->peer));
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, read_watermark(srv->cfg));
	bufferevent_enable(c->bev, EV_READ);
	c->state = CONN_HEAD;
	arm(c, srv->cfg->listen.request_timeout_ms);
	c->next = srv->conns_head;
	if (c->next != NULL)
		c->next->prev = c;
	srv->conns_head = c;
	log_debug("connection opened", LOG_U("conn", c->id),
	          LOG_S("peer", c->peer));

	if (++srv->conns >= srv->cfg->listen.max_connections && !srv->paused) {
		evconnlistener_disable(srv->listener);
		srv->paused = true;
		log_warn("connection limit reached; pausing accept",
		         LOG_I("connections", srv->conns));
	}
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();

	(void)l, (void)arg;
	/* Out of descriptors or memory: keep serving those connected. */
	log_error("accept failed", LOG_S("error", strerror(e)));
}

/* The listener */

static evutil_socket_t bind_listen(const struct config_listen *l, int *port,
                                   char *err, size_t size)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
		                  .ai_socktype = SOCK_STREAM,
		                  .ai_flags = AI_PASSIVE | AI_NUMERICHOST |
		                              AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	char portstr[16];
	evutil_socket_t fd = -1;
	int one = 1, rc;

	snprintf(portstr, sizeof(portstr), "%d", (int)l->port);
	rc = getaddrinfo(l->address, portstr, &hints, &ai);
	if (rc != 0) {
		snprintf(err, size, "listen address %s: %s", l->address,
		         gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	            0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, (int)l->backlog) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		snprintf(err, size, "cannot listen on %s:%s: %s", l->address,
		         portstr, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*port = ntohs(bound.ss_family == AF_INET6
	                  ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
	                  : ((struct sockaddr_in *)(void *)&bound)->sin_port);
	return fd;
}

struct http_server *http_server_new(struct event_base *base, struct config *cfg,
                                    SSL_CTX *tls,
                                    const struct http_route *routes, char *err,
                                    size_t size)
{
	struct http_server *srv = calloc(1, sizeof(*srv));
	evutil_socket_t fd;

	if (srv == NULL) {
		snprintf(err, size, "out of memory");
		SSL_CTX_free(tls);
		return NULL;
	}
	srv->base = base;
	srv->tls = tls;
	srv->cfg = config_ref(cfg);
	srv->routes = routes;
	fd = bind_listen(&cfg->listen, &srv->port, err, size);
	if (fd >= 0)
		srv->listener = evconnlistener_new(
		    base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (srv->listener == NULL) {
		if (fd >= 0) {
			snprintf(err, size, "cannot watch the listener");
			close(fd);
		}
		http_server_free(srv);
		return NULL;
	}
	evconnlistener_set_error_cb(srv->listener, on_accept_error);
	srv->accepting = true;
	return srv;
}

void http_server_set_observer(struct http_server *srv, http_observer fn,
                              void *arg)
{
	srv->observer = fn;
	srv->observer_arg = arg;
}

void http_server_reload(struct http_server *srv, struct config *cfg,
                        SSL_CTX *tls)
{
	config_unref(srv->cfg);
	srv->cfg = config_ref(cfg);
	SSL_CTX_free(srv->tls);
	srv->tls = tls;
}

void http_server_stop_accepting(struct http_server *srv)
{
	struct http_conn *c = srv->conns_head;

	srv->accepting = false;
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	srv->listener = NULL;
	while (c != NULL) {
		struct http_conn *next = c->next;

		if (c->state == CONN_HEAD && c->idle)
			conn_close(c);
		c = next;
	}
}

int64_t http_server_in_flight(const struct http_server *srv)
{
	return srv->in_flight;
}

int64_t http_server_unfinished(const struct http_server *srv)
{
	int64_t n = srv->in_flight;

	for (const struct http_conn *c = srv->conns_head; c; c = c->next)
		n += c->state == CONN_WRITING;
	return n;
}

int64_t http_server_connections(const struct http_server *srv)
{
	return srv->conns;
}

int http_server_port(const struct http_server *srv)
{
	return srv->port;
}

void http_server_free(struct http_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns_head != NULL)
		conn_close(srv->conns_head);
	if (srv->listener != NULL)
		evconnlistener_free(srv->listener);
	SSL_CTX_free(srv->tls);
	config_unref(srv->cfg);
	free(srv);
}
