/*
 * libcurl's multi interface driven by a libevent loop: curl tells us which
 * sockets to watch and when to time out, libevent tells curl when they are
 * ready. Sinks hand in easy handles and get a callback when each is done.
 *
 * One driver per event loop; everything runs on that loop's thread.
 */
#ifndef HERALD_DISPATCH_CURL_DRIVER_H
#define HERALD_DISPATCH_CURL_DRIVER_H

#include <curl/curl.h>
#include <event2/event.h>
#include <stdbool.h>

struct curl_driver;

/* Called once per transfer with curl's result; the callee owns easy from
 * then on (curl_easy_cleanup it, or reuse it). */
typedef void (*curl_done_fn)(CURL *easy, CURLcode result, void *arg);

struct curl_driver *curl_driver_new(struct event_base *base);

/* Start easy. False if curl refused it (done is not called then). */
bool curl_driver_add(struct curl_driver *d, CURL *easy, curl_done_fn done,
                     void *arg) __attribute__((warn_unused_result));

/* Transfers in progress. */
int curl_driver_running(const struct curl_driver *d);

/* Abort every transfer (done is called with CURLE_ABORTED_BY_CALLBACK)
 * and free the driver. */
void curl_driver_free(struct curl_driver *d);

#endif
