/*
 * The retry policy: backoff doubles with ±20% jitter up to its cap,
 * Retry-After wins, attempts and age end in dead, 410 parks the delivery.
 */
#include <criterion/criterion.h>

#include "config/config.h"
#include "dispatch/retry.h"

static struct config_sink sink(void)
{
	return (struct config_sink){ .retry_base_ms = 1000,
		                     .retry_max_ms = 60000,
		                     .max_attempts = 5,
		                     .max_age_ms = 3600000 };
}

static struct sink_result result(enum sink_outcome o, int64_t retry_after)
{
	return (struct sink_result){ .outcome = o,
		                     .retry_after_ms = retry_after };
}

Test(retry, backoff_doubles_within_jitter_and_caps)
{
	cr_expect_eq(retry_backoff_ms(1000, 60000, 1, 0.5), 1000);
	cr_expect_eq(retry_backoff_ms(1000, 60000, 2, 0.5), 2000);
	cr_expect_eq(retry_backoff_ms(1000, 60000, 4, 0.5), 8000);
	cr_expect_eq(retry_backoff_ms(1000, 60000, 1, 0.0), 800);
	cr_expect_eq(retry_backoff_ms(1000, 60000, 1, 0.999999), 1199);
	cr_expect_eq(retry_backoff_ms(1000, 60000, 30, 0.5), 60000);
}

Test(retry, outcomes_map_to_statuses)
{
	struct config_sink s = sink();
	struct sink_result r;
	struct retry_decision d;

	r = result(SINK_DELIVERED, -1);
	cr_expect_eq(retry_decide(&s, &r, 1, 0, 0.5).status, RETRY_DELIVERED);
	r = result(SINK_FAILED, -1);
	cr_expect_eq(retry_decide(&s, &r, 1, 0, 0.5).status, RETRY_FAILED);
	r = result(SINK_GONE, -1);
	d = retry_decide(&s, &r, 1, 0, 0.5);
	cr_expect_eq(d.status, RETRY_PENDING);
	cr_expect_eq(d.delay_ms, 0);
	r = result(SINK_RETRY, -1);
	d = retry_decide(&s, &r, 3, 0, 0.5);
	cr_expect_eq(d.status, RETRY_PENDING);
	cr_expect_eq(d.delay_ms, 4000);
	cr_expect_str_eq(retry_status_name(RETRY_DEAD), "dead");
}

Test(retry, retry_after_wins_over_backoff)
{
	struct config_sink s = sink();
	struct sink_result r = result(SINK_RETRY, 2000);

	cr_expect_eq(retry_decide(&s, &r, 4, 0, 0.5).delay_ms, 2000);
}

Test(retry, attempts_and_age_end_in_dead)
{
	struct config_sink s = sink();
	struct sink_result r = result(SINK_RETRY, -1);

	cr_expect_eq(retry_decide(&s, &r, 5, 0, 0.5).status, RETRY_DEAD);
	cr_expect_eq(retry_decide(&s, &r, 4, 0, 0.5).status, RETRY_PENDING);
	cr_expect_eq(retry_decide(&s, &r, 1, 3599500, 0.5).status, RETRY_DEAD);
}

/* A 410 parks a delivery, but not one that is too old to wait. */
Test(retry, gone_parks_only_within_max_age)
{
	struct config_sink s = sink();
	struct sink_result r = result(SINK_GONE, -1);

	cr_expect_eq(retry_decide(&s, &r, 1, 3599999, 0.5).status,
	             RETRY_PENDING);
	cr_expect_eq(retry_decide(&s, &r, 1, 3600000, 0.5).status, RETRY_DEAD);
}
