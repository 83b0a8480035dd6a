#include "dispatch/limiter.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"

/* A sink may send as many at once as it may per second, and one at
 * least. */
static double burst(const struct limiter *l)
{
	return l->rate > 1.0 ? l->rate : 1.0;
}

struct limiter *limiter_get(struct limiter **list,
                            const struct config_sink *cfg, double now)
{
	struct limiter *l = *list;

	while (l != NULL && strcmp(l->name, cfg->name) != 0)
		l = l->next;
	if (l == NULL) {
		l = calloc(1, sizeof(*l));
		if (l == NULL || (l->name = strdup(cfg->name)) == NULL) {
			free(l);
			return NULL;
		}
		l->next = *list;
		*list = l;
		l->refilled = now;
		l->rate = cfg->rate;
		l->tokens = burst(l);
	}
	l->refs++;
	l->concurrency = cfg->concurrency;
	l->rate = cfg->rate;
	return l;
}

void limiter_put(struct limiter **list, struct limiter *l)
{
	struct limiter **p = list;

	if (l == NULL || --l->refs > 0)
		return;
	while (*p != l)
		p = &(*p)->next;
	*p = l->next;
	free(l->name);
	free(l);
}

static void refill(struct limiter *l, double now)
{
	if (l->rate <= 0)
		return;
	l->tokens += (now - l->refilled) * l->rate;
	if (l->tokens > burst(l))
		l->tokens = burst(l);
	l->refilled = now;
}

int limiter_room(struct limiter *l, double now)
{
	int room = (int)(l->concurrency - l->in_flight);

	if (l->disabled || room <= 0)
		return 0;
	refill(l, now);
	if (l->rate > 0 && room > (int)l->tokens)
		room = (int)l->tokens;
	return room;
}

double limiter_wait_s(const struct limiter *l)
{
	if (l->rate <= 0 || l->tokens >= 1.0)
		return 0;
	return (1.0 - l->tokens) / l->rate;
}

void limiter_started(struct limiter *l)
{
	l->in_flight++;
	if (l->rate > 0)
		l->tokens -= 1;
}

void limiter_ended(struct limiter *l)
{
	l->in_flight--;
}

int limiter_plan(struct limiter *const *ls, size_t n, int room, int claim_max,
                 double now, int *caps, double *wait_s)
{
	int total = 0;

	*wait_s = 0;
	for (size_t i = 0; i < n; i++) {
		struct limiter *l = ls[i];
		int cap = limiter_room(l, now);
		double wait;

		if (cap > claim_max)
			cap = claim_max;
		if (cap > room - total)
			cap = room - total;
		caps[i] = cap > 0 ? cap : 0;
		total += caps[i];
		if (cap > 0 || !l->maybe_more || l->disabled ||
		    l->in_flight >= l->concurrency)
			continue;
		/* Held back by its rate with work waiting: the soonest
		 * such sink says when to come back. */
		wait = limiter_wait_s(l);
		if (wait > 0 && (*wait_s == 0 || wait < *wait_s))
			*wait_s = wait;
	}
	return total;
}
