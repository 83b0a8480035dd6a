/*
 * Per-sink limits: concurrency and rate bound what a claim may take, the
 * soonest token says when to come back, and a sink's limiter is the same
 * one across a reload, with what it counted.
 */
#include <criterion/criterion.h>

#include "config/config.h"
#include "dispatch/limiter.h"

static struct config_sink sink(const char *name, int64_t concurrency,
                               double rate)
{
	return (struct config_sink){ .name = name,
		                     .concurrency = concurrency,
		                     .rate = rate };
}

Test(limiter, room_is_bounded_by_concurrency_and_tokens)
{
	struct limiter *list = NULL;
	struct config_sink a = sink("a", 3, 0), b = sink("b", 8, 2.0);
	struct limiter *la = limiter_get(&list, &a, 100.0);
	struct limiter *lb = limiter_get(&list, &b, 100.0);

	cr_assert_not_null(la);
	cr_assert_not_null(lb);
	cr_expect_eq(limiter_room(la, 100.0), 3);
	limiter_started(la);
	limiter_started(la);
	cr_expect_eq(limiter_room(la, 100.0), 1);
	limiter_ended(la);
	cr_expect_eq(limiter_room(la, 100.0), 2);

	/* Two a second: a full bucket holds two, then one per half
	 * second. */
	cr_expect_eq(limiter_room(lb, 100.0), 2);
	limiter_started(lb);
	limiter_started(lb);
	cr_expect_eq(limiter_room(lb, 100.0), 0);
	cr_expect_float_eq(limiter_wait_s(lb), 0.5, 1e-9);
	cr_expect_eq(limiter_room(lb, 100.5), 1);
	lb->disabled = true;
	cr_expect_eq(limiter_room(lb, 200.0), 0);

	limiter_put(&list, la);
	limiter_put(&list, lb);
	cr_expect_null(list);
}

/* Two sinks held back by their rate with work waiting: the claim comes
 * back for the sooner one, whichever order they are in. */
Test(limiter, plan_waits_for_the_soonest_token)
{
	struct limiter *list = NULL;
	struct config_sink fast = sink("fast", 4, 1.0);
	struct config_sink slow = sink("slow", 4, 0.1);
	struct limiter *ls[2], *reversed[2];
	int caps[2];
	double wait;

	ls[0] = reversed[1] = limiter_get(&list, &fast, 0.0);
	ls[1] = reversed[0] = limiter_get(&list, &slow, 0.0);
	for (int i = 0; i < 2; i++) {
		limiter_started(ls[i]);
		ls[i]->maybe_more = true;
	}
	cr_expect_eq(limiter_plan(ls, 2, 100, 50, 0.0, caps, &wait), 0);
	cr_expect_eq(caps[0], 0);
	cr_expect_eq(caps[1], 0);
	cr_expect_float_eq(wait, 1.0, 1e-9);
	cr_expect_eq(limiter_plan(reversed, 2, 100, 50, 0.0, caps, &wait), 0);
	cr_expect_float_eq(wait, 1.0, 1e-9);

	/* Without work waiting there is nothing to come back for. */
	ls[0]->maybe_more = ls[1]->maybe_more = false;
	limiter_plan(ls, 2, 100, 50, 0.0, caps, &wait);
	cr_expect_float_eq(wait, 0.0, 1e-9);
	limiter_put(&list, ls[0]);
	limiter_put(&list, ls[1]);
	cr_expect_null(list);
}

Test(limiter, plan_shares_room_and_caps_each_claim)
{
	struct limiter *list = NULL;
	struct config_sink a = sink("a", 100, 0), b = sink("b", 100, 0);
	struct config_sink c = sink("c", 100, 0);
	struct limiter *ls[3] = { limiter_get(&list, &a, 0.0),
		                  limiter_get(&list, &b, 0.0),
		                  limiter_get(&list, &c, 0.0) };
	int caps[3];
	double wait;

	cr_expect_eq(limiter_plan(ls, 3, 70, 40, 0.0, caps, &wait), 70);
	cr_expect_eq(caps[0], 40);
	cr_expect_eq(caps[1], 30);
	cr_expect_eq(caps[2], 0);
	cr_expect_float_eq(wait, 0.0, 1e-9);
	for (int i = 0; i < 3; i++)
		limiter_put(&list, ls[i]);
	cr_expect_null(list);
}

/* A reload gets the same limiter for the same name: the attempts the old
 * sink runs and the tokens it spent still count, under the new limits. */
Test(limiter, a_reload_keeps_counting)
{
	struct limiter *list = NULL;
	struct config_sink old = sink("chat", 2, 1.0);
	struct config_sink renewed = sink("chat", 3, 1.0);
	struct limiter *before = limiter_get(&list, &old, 10.0);
	struct limiter *after;

	limiter_started(before);
	cr_expect_eq(limiter_room(before, 10.0), 0);
	after = limiter_get(&list, &renewed, 10.0);
	cr_expect_eq(after, before);
	cr_expect_eq(after->concurrency, 3);
	cr_expect_eq(limiter_room(after, 10.0), 0, "the bucket was refilled");
	cr_expect_eq(limiter_room(after, 11.0), 1);
	limiter_put(&list, before);
	cr_expect_not_null(list);
	limiter_ended(after);
	limiter_put(&list, after);
	cr_expect_null(list);
}
