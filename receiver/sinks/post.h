/*
 * One HTTP request of a sink (slack, http), run by the dispatcher's curl
 * driver, and its answer turned into a sink result: 2xx delivered, 410
 * gone, 408/425/429/5xx and transport errors retried (Retry-After
 * honoured), anything else failed. Redirects are not followed: a 3xx is a
 * failure, as Standard Webhooks asks.
 */
#ifndef HERALD_SINKS_POST_H
#define HERALD_SINKS_POST_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "sinks/sink.h"

struct post_request {
	const char *url;
	const char *method;
	struct curl_slist *headers; /* taken */
	char *body;                 /* taken */
	size_t len;
	long timeout_ms;
	const char *ca_file;   /* NULL: the system's store */
	const char *expect_ok; /* a 2xx body must be this (Slack: "ok") */
};

/* Send req; done is called once with the result. Strings other than the
 * taken ones are borrowed until done. */
void post_send(struct curl_driver *curl, struct post_request *req,
               sink_done_fn done, void *arg);

/* Append "Name: value" to a header list; the list is NULL on failure. */
struct curl_slist *post_header(struct curl_slist *list, const char *name,
                               const char *value);

#endif
