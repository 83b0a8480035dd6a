/*
 * /healthz and /readyz. Liveness says the process answers; readiness says
 * it can store what it accepts (database reachable, schema current).
 */
#ifndef HERALD_HEALTH_H
#define HERALD_HEALTH_H

#include "http/server.h"

/* arg: unused. */
void health_live(struct http_req *r, void *arg);

/* arg: the struct writer whose verdict is reported. */
void health_ready(struct http_req *r, void *arg);

#endif
