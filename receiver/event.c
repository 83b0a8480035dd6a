#include "event.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

bool event_init(struct event *ev, const char *source)
{
	struct uuid id;
	struct timespec now;

	memset(ev, 0, sizeof(*ev));
	if (!uuid_v7(&id))
		return false;
	uuid_format(&id, ev->id);
	clock_gettime(CLOCK_REALTIME, &now);
	ev->received_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	ev->source = source;
	return true;
}

void event_clear(struct event *ev)
{
	free(ev->event_type);
	free(ev->deployment_id);
	free(ev->severity);
	free(ev->idempotency_key);
	free(ev->headers);
	free(ev->payload);
	json_decref(ev->labels);
	memset(ev, 0, sizeof(*ev));
}
