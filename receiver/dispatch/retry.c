#include "dispatch/retry.h"

#include "config/config.h"

int64_t retry_backoff_ms(int64_t base_ms, int64_t max_ms, int attempt,
                         double jitter)
{
	int64_t delay = base_ms;
	double factor = 0.8 + 0.4 * jitter;

	for (int i = 1; i < attempt && delay < max_ms; i++)
		delay *= 2;
	if (delay > max_ms)
		delay = max_ms;
	return (int64_t)((double)delay * factor);
}

struct retry_decision retry_decide(const struct config_sink *sink,
                                   const struct sink_result *r, int attempt,
                                   int64_t age_ms, double jitter)
{
	struct retry_decision d = { RETRY_PENDING, 0 };

	switch (r->outcome) {
	case SINK_DELIVERED: d.status = RETRY_DELIVERED; return d;
	case SINK_FAILED: d.status = RETRY_FAILED; return d;
	case SINK_GONE:
		/* Parked until the sink is on again, unless it is too old
		 * to wait any longer. */
		if (age_ms >= sink->max_age_ms)
			d.status = RETRY_DEAD;
		return d;
	case SINK_RETRY: break;
	}
	d.delay_ms =
	    r->retry_after_ms >= 0
	        ? r->retry_after_ms
	        : retry_backoff_ms(sink->retry_base_ms, sink->retry_max_ms,
	                           attempt, jitter);
	if (attempt >= sink->max_attempts ||
	    age_ms + d.delay_ms > sink->max_age_ms)
		d.status = RETRY_DEAD;
	return d;
}

const char *retry_status_name(enum retry_status s)
{
	static const char *const names[] = {
		[RETRY_DELIVERED] = "delivered",
		[RETRY_PENDING] = "pending",
		[RETRY_FAILED] = "failed",
		[RETRY_DEAD] = "dead",
	};

	return names[s];
}
