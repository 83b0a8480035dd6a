/*
 * The receiving end of the fan-out benchmark: an HTTP server on 127.0.0.1
 * that answers every POST with 200 after a fixed delay, like a slow
 * webhook receiver, and notes for each request how long after the event's
 * arrival at Herald it came (from "received_at" in Herald's default http
 * envelope). On SIGTERM it writes one line per request, "<unix ms of
 * arrival here> <latency ms>", to the file it was given, and exits.
 *
 *   bench-endpoint PORT DELAY_MS OUTPUT_FILE
 *
 * libevent's evhttp is enough here: this is a test tool, not Herald.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOTES_MAX 1000000

struct note {
	double at_ms;
	double latency_ms;
};

struct endpoint {
	struct event_base *base;
	struct timeval delay;
	struct note *notes;
	size_t count;
	const char *output;
};

struct pending {
	struct evhttp_request *req;
	struct event *timer;
};

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec * 1000.0 + (double)t.tv_nsec / 1e6;
}

/* "2026-12-03T18:48:48.123Z" as Unix milliseconds, or -1. */
static double parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	double ms = 0;

	if (rest == NULL)
		return -1;
	if (*rest == '.')
		ms = strtod(rest, NULL) * 1000.0;
	return (double)timegm(&tm) * 1000.0 + ms;
}

static void note(struct endpoint *e, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	json_t *body =
	    json_loadb((const char *)evbuffer_pullup(in, -1), len, 0, NULL);
	json_t *event = json_object_get(body, "event");
	double sent = parse_time(
	    json_string_value(json_object_get(event, "received_at")));
	double now = now_ms();

	if (e->count < NOTES_MAX && sent > 0)
		e->notes[e->count++] = (struct note){ now, now - sent };
	json_decref(body);
}

static void answer(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	struct evbuffer *out = evbuffer_new();

	(void)fd, (void)what;
	evbuffer_add(out, "ok", 2);
	evhttp_send_reply(p->req, 200, "OK", out);
	evbuffer_free(out);
	event_free(p->timer);
	free(p);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct endpoint *e = arg;
	struct pending *p = calloc(1, sizeof(*p));

	note(e, req);
	p->req = req;
	p->timer = evtimer_new(e->base, answer, p);
	evtimer_add(p->timer, &e->delay);
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	struct endpoint *e = arg;
	FILE *f = fopen(e->output, "we");

	(void)fd, (void)what;
	for (size_t i = 0; f != NULL && i < e->count; i++)
		fprintf(f, "%.0f %.3f\n", e->notes[i].at_ms,
		        e->notes[i].latency_ms);
	if (f != NULL)
		fclose(f);
	event_base_loopexit(e->base, NULL);
}

int main(int argc, char **argv)
{
	struct endpoint e = { 0 };
	struct evhttp *http;
	struct event *term;
	long delay;

	if (argc != 4) {
		fputs("usage: bench-endpoint PORT DELAY_MS OUTPUT_FILE\n",
		      stderr);
		return 2;
	}
	delay = strtol(argv[2], NULL, 10);
	e.delay = (struct timeval){ delay / 1000, (delay % 1000) * 1000 };
	e.output = argv[3];
	e.notes = calloc(NOTES_MAX, sizeof(*e.notes));
	e.base = event_base_new();
	http = evhttp_new(e.base);
	signal(SIGPIPE, SIG_IGN);
	if (e.notes == NULL || http == NULL ||
	    evhttp_bind_socket(http, "127.0.0.1",
	                       (ev_uint16_t)strtol(argv[1], NULL, 10)) != 0) {
		fputs("bench-endpoint: cannot listen\n", stderr);
		return 1;
	}
	evhttp_set_gencb(http, on_request, &e);
	term = evsignal_new(e.base, SIGTERM, on_term, &e);
	evsignal_add(term, NULL);
	event_base_dispatch(e.base);
	event_free(term);
	evhttp_free(http);
	event_base_free(e.base);
	free(e.notes);
	return 0;
}
