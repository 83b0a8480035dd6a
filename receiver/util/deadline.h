/*
 * Points in time a given number of milliseconds ahead, for timed waits
 * and for deadlines checked now and then.
 */
#ifndef HERALD_UTIL_DEADLINE_H
#define HERALD_UTIL_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The time ms milliseconds from now on clock. */
struct timespec deadline_after(clockid_t clock, int64_t ms);

/* True once clock has reached t. */
bool deadline_passed(clockid_t clock, const struct timespec *t);

#endif
