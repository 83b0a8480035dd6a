/*
 * POST /hooks/generic/{source}: any JSON from a source declared in the
 * configuration, authenticated by Standard Webhooks signatures (several
 * secrets, so one can be rotated) or by a bearer token. The event type,
 * deployment id and severity come from JSON pointers into the body, from
 * headers or from constants, as the source says. The body is kept as
 * received; a top-level "labels" object, if any, is what routes match on.
 */
#ifndef HERALD_SOURCES_GENERIC_H
#define HERALD_SOURCES_GENERIC_H

#include "sources/source.h"

struct config_generic;

bool generic_events(const struct config_generic *src,
                    const struct source_request *rq, struct source_result *res);

#endif
