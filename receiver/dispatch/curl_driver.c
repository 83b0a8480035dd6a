/*
 * The multi-socket API: curl calls on_socket to say which events it wants
 * on a socket and on_timer to set one timeout; when libevent reports a
 * socket ready or the timer due we call curl_multi_socket_action and then
 * collect finished transfers.
 */
#include "dispatch/curl_driver.h"

#include <stdlib.h>

/* What we keep per transfer (CURLOPT_PRIVATE), listed so that freeing
 * the driver can end them all. */
struct transfer {
	CURL *easy;
	curl_done_fn done;
	void *arg;
	struct transfer *prev, *next;
};

/* What we keep per socket (curl_multi_assign). */
struct watch {
	struct curl_driver *d;
	curl_socket_t fd;
	struct event *ev;
	struct watch *prev, *next;
};

struct curl_driver {
	CURLM *multi;
	struct event_base *base;
	struct event *timer;
	int running;
	struct transfer *transfers;
	struct watch *watches;
};

#define LIST_UNLINK(head, x)                                                   \
	do {                                                                   \
		if ((x)->prev != NULL)                                         \
			(x)->prev->next = (x)->next;                           \
		else                                                           \
			(head) = (x)->next;                                    \
		if ((x)->next != NULL)                                         \
			(x)->next->prev = (x)->prev;                           \
	} while (0)

#define LIST_PUSH(head, x)                                                     \
	do {                                                                   \
		(x)->prev = NULL;                                              \
		(x)->next = (head);                                            \
		if ((head) != NULL)                                            \
			(head)->prev = (x);                                    \
		(head) = (x);                                                  \
	} while (0)

static void finish(struct curl_driver *d, struct transfer *t, CURLcode result)
{
	LIST_UNLINK(d->transfers, t);
	curl_multi_remove_handle(d->multi, t->easy);
	curl_easy_setopt(t->easy, CURLOPT_PRIVATE, NULL);
	t->done(t->easy, result, t->arg);
	free(t);
}

static void collect(struct curl_driver *d)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		struct transfer *t = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		                  (char **)&t);
		if (t != NULL)
			finish(d, t, msg->data.result);
	}
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	struct curl_driver *d = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) |
	            (what & EV_WRITE ? CURL_CSELECT_OUT : 0);

	curl_multi_socket_action(d->multi, fd, flags, &d->running);
	collect(d);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct curl_driver *d = arg;

	(void)fd, (void)what;
	curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &d->running);
	collect(d);
}

static int on_timer(CURLM *multi, long ms, void *arg)
{
	struct curl_driver *d = arg;
	struct timeval tv = { .tv_sec = ms / 1000,
		              .tv_usec = (ms % 1000) * 1000 };

	(void)multi;
	if (ms < 0)
		evtimer_del(d->timer);
	else
		evtimer_add(d->timer, &tv);
	return 0;
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
                     void *socket_arg)
{
	struct curl_driver *d = arg;
	struct watch *w = socket_arg;
	short events = (what & CURL_POLL_IN ? EV_READ : 0) |
	               (what & CURL_POLL_OUT ? EV_WRITE : 0);

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			LIST_UNLINK(d->watches, w);
			event_free(w->ev);
			free(w);
			curl_multi_assign(d->multi, fd, NULL);
		}
		return 0;
	}
	if (w == NULL) {
		w = calloc(1, sizeof(*w));
		if (w == NULL)
			return -1;
		w->d = d;
		w->fd = fd;
		LIST_PUSH(d->watches, w);
		curl_multi_assign(d->multi, fd, w);
	} else {
		event_free(w->ev);
	}
	w->ev = event_new(d->base, fd, events | EV_PERSIST, on_ready, d);
	return w->ev != NULL && event_add(w->ev, NULL) == 0 ? 0 : -1;
}

struct curl_driver *curl_driver_new(struct event_base *base)
{
	struct curl_driver *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->base = base;
	d->multi = curl_multi_init();
	d->timer = evtimer_new(base, on_timeout, d);
	if (d->multi == NULL || d->timer == NULL) {
		curl_driver_free(d);
		return NULL;
	}
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	return d;
}

bool curl_driver_add(struct curl_driver *d, CURL *easy, curl_done_fn done,
                     void *arg)
{
	struct transfer *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return false;
	t->easy = easy;
	t->done = done;
	t->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	if (curl_multi_add_handle(d->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(t);
		return false;
	}
	LIST_PUSH(d->transfers, t);
	return true;
}

int curl_driver_running(const struct curl_driver *d)
{
	return d->running;
}

void curl_driver_free(struct curl_driver *d)
{
	if (d == NULL)
		return;
	while (d->transfers != NULL)
		finish(d, d->transfers, CURLE_ABORTED_BY_CALLBACK);
	while (d->watches != NULL) {
		struct watch *w = d->watches;

		LIST_UNLINK(d->watches, w);
		event_free(w->ev);
		free(w);
	}
	if (d->timer != NULL)
		event_free(d->timer);
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	free(d);
}
