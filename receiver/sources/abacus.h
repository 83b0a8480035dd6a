/*
 * POST /hooks/abacus/{token}: Abacus deployment webhooks. The token in the
 * URL both authenticates the call and names the registration (deployment
 * and event type), so nothing is taken from the body, which is kept as
 * received. Only the token's SHA-256 travels on: the writer resolves it
 * against registrations, and an unknown token is refused there, on the
 * same path and in the same time as any other wrong one.
 */
#ifndef HERALD_SOURCES_ABACUS_H
#define HERALD_SOURCES_ABACUS_H

#include "sources/source.h"

#define ABACUS_SOURCE    "abacus"
#define ABACUS_TOKEN_MAX 256

bool abacus_events(const struct source_request *rq, struct source_result *res);

#endif
