#include "sources/hooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "metrics.h"
#include "sources/abacus.h"
#include "sources/alertmanager.h"
#include "sources/generic.h"
#include "store/writer.h"
#include "util/buf.h"

/* A request between its submission to the writer and its answer. */
struct pending {
	struct writer_job job;
	struct source_result res;
	struct http_req *r;
	struct hooks *hooks;
};

typedef bool (*adapter_fn)(const void *src, const struct source_request *rq,
                           struct source_result *res);

static void finish(struct pending *p)
{
	source_result_clear(&p->res);
	free(p);
}

static void refuse(struct http_req *r, const struct source_result *res)
{
	char retry[24];

	if (res->status == 503) {
		snprintf(retry, sizeof(retry), "%lld",
		         (long long)(r->cfg->ingest.retry_after_ms + 999) /
		             1000);
		http_req_set_header(r, "Retry-After", retry);
	}
	http_reply_error(r, res->status, res->code, "%s", res->message);
}

static void count(struct pending *p)
{
	static const char *const names[] = {
		[EVENT_PENDING] = "pending",
		[EVENT_STORED] = "stored",
		[EVENT_DUPLICATE] = "duplicate",
		[EVENT_UNKNOWN_TOKEN] = "unauthorized",
		[EVENT_REJECTED] = "rejected",
		[EVENT_UNAVAILABLE] = "unavailable",
	};

	for (size_t i = 0; i < p->res.count; i++) {
		const struct event *ev = &p->res.events[i];

		metrics_event(p->hooks->metrics, ev->source, ev->event_type,
		              names[ev->outcome]);
	}
}

/* The refusal, if the events' outcomes call for one. They share one
 * transaction, so they share one fate except for duplicates. */
static bool refused(struct pending *p)
{
	for (size_t i = 0; i < p->res.count; i++) {
		const struct event *ev = &p->res.events[i];

		if (ev->outcome == EVENT_UNAVAILABLE)
			return !source_refuse(&p->res, 503, "unavailable",
			                      "not stored: the database is "
			                      "unavailable");
		if (ev->outcome == EVENT_UNKNOWN_TOKEN)
			return !source_refuse(&p->res, 401, "unauthorized",
			                      "unknown or wrong token");
		if (ev->outcome == EVENT_REJECTED)
			return !source_refuse(&p->res, 422, "rejected",
			                      "refused by the database: %s",
			                      ev->error);
	}
	return false;
}

static const char *answer_id(const struct event *ev)
{
	return ev->outcome == EVENT_DUPLICATE ? ev->first_id : ev->id;
}

/* Ids are UUIDs, so the answer is written without a JSON library. */
static void answer(struct pending *p)
{
	const struct event *ev = p->res.events;
	size_t n = p->res.count, dups = 0;
	struct buf b = { 0 };

	if (refused(p)) {
		refuse(p->r, &p->res);
		return;
	}
	for (size_t i = 0; i < n; i++)
		dups += ev[i].outcome == EVENT_DUPLICATE;
	snprintf(p->r->event_id, sizeof(p->r->event_id), "%s",
	         answer_id(&ev[0]));
	if (n == 1) {
		buf_printf(&b, "{\"id\":\"%s\",", answer_id(&ev[0]));
	} else {
		buf_puts(&b, "{\"ids\":[");
		for (size_t i = 0; i < n; i++)
			buf_printf(&b, "%s\"%s\"", i ? "," : "",
			           answer_id(&ev[i]));
		buf_printf(&b, "],\"duplicates\":%zu,", dups);
	}
	buf_printf(&b, "\"status\":\"%s\"}",
	           dups == n ? "duplicate" : "accepted");
	if (buf_failed(&b))
		http_reply_error(p->r, 503, "unavailable", "out of memory");
	else
		http_reply_text(p->r, dups == n ? 200 : 202, "application/json",
		                buf_str(&b), b.len);
	buf_free(&b);
}

static void on_stored(struct writer_job *job)
{
	struct pending *p = job->arg;

	count(p);
	answer(p);
	finish(p);
}

static void submit(struct pending *p)
{
	struct http_req *r = p->r;

	p->job.events = p->res.events;
	p->job.count = p->res.count;
	p->job.done = on_stored;
	p->job.arg = p;
	p->job.rid = r->rid;
	switch (writer_submit(p->hooks->writer, &p->job)) {
	case WRITER_QUEUED: return;
	case WRITER_FULL:
		source_refuse(&p->res, 503, "busy",
		              "too many events waiting to be stored; retry "
		              "later");
		break;
	case WRITER_DOWN:
		/* The reason names database hosts: /readyz and the log
		 * carry it, a webhook caller needs only the verdict. */
		source_refuse(&p->res, 503, "unavailable",
		              "not stored: the database is not ready; retry "
		              "later");
		break;
	}
	refuse(r, &p->res);
	finish(p);
}

static void receive(struct http_req *r, struct hooks *h, adapter_fn fn,
                    const void *src)
{
	struct pending *p = calloc(1, sizeof(*p));
	struct source_request rq = {
		.cfg = r->cfg,
		.head = &r->head,
		.peer = r->peer,
		.param = r->param,
		.now = (int64_t)time(NULL),
	};

	if (p == NULL) {
		http_reply_error(r, 503, "unavailable", "out of memory");
		return;
	}
	p->r = r;
	p->hooks = h;
	rq.body = http_req_body_text(r, &rq.len);
	if (rq.body == NULL)
		rq.body = "";
	if (!fn(src, &rq, &p->res)) {
		refuse(r, &p->res);
		finish(p);
		return;
	}
	submit(p);
}

static bool abacus_adapter(const void *src, const struct source_request *rq,
                           struct source_result *res)
{
	(void)src;
	return abacus_events(rq, res);
}

static bool alertmanager_adapter(const void *src,
                                 const struct source_request *rq,
                                 struct source_result *res)
{
	(void)src;
	return alertmanager_events(rq, res);
}

static bool generic_adapter(const void *src, const struct source_request *rq,
                            struct source_result *res)
{
	return generic_events(src, rq, res);
}

void hooks_abacus(struct http_req *r, void *arg)
{
	receive(r, arg, abacus_adapter, NULL);
}

void hooks_alertmanager(struct http_req *r, void *arg)
{
	receive(r, arg, alertmanager_adapter, NULL);
}

void hooks_generic(struct http_req *r, void *arg)
{
	receive(r, arg, generic_adapter,
	        config_generic_source(r->cfg, r->param));
}
