/*
 * What happens to a delivery after an attempt: done, tried again later
 * (exponential backoff with jitter, or what the endpoint asked for with
 * Retry-After), failed for good, or dead when its attempts or its age are
 * used up. Pure functions, so the policy can be tested on its own.
 */
#ifndef HERALD_DISPATCH_RETRY_H
#define HERALD_DISPATCH_RETRY_H

#include <stdint.h>

#include "sinks/sink.h"

struct config_sink;

enum retry_status {
	RETRY_DELIVERED,
	RETRY_PENDING, /* try again after delay_ms */
	RETRY_FAILED,
	RETRY_DEAD,
};

struct retry_decision {
	enum retry_status status;
	int64_t delay_ms;
};

/* The wait before the next attempt after attempt number attempt (1 for
 * the first) failed: base doubled per attempt, capped at max, then moved
 * by up to 20% either way; jitter is a number in [0, 1). */
int64_t retry_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt,
                         double jitter);

/*
 * Decide after attempt number attempt ended with r, the delivery being
 * age_ms old. A sink that is gone leaves the delivery pending, to be
 * sent once the sink is enabled again, unless it is max_age old already
 * (the sweep ends it at max_age otherwise).
 */
struct retry_decision retry_decide(const struct config_sink *sink,
                                   const struct sink_result *r, int attempt,
                                   int64_t age_ms, double jitter);

/* The database's name of a status: delivered, pending, failed, dead. */
const char *retry_status_name(enum retry_status s);

#endif
