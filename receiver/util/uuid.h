/*
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit
 * counter, then 62 random bits. Ids made by one thread sort in the order
 * they were made, which keeps the events index append-only and gives
 * listings of events a stable order.
 */
#ifndef HERALD_UTIL_UUID_H
#define HERALD_UTIL_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define UUID_STR_LEN 36

struct uuid {
	uint8_t b[16];
};

/* Fill *out with a new UUIDv7; false only if the system has no
 * randomness to give. */
bool uuid_v7(struct uuid *out) __attribute__((warn_unused_result));

/* Write the canonical lower-case form and a NUL into out. */
void uuid_format(const struct uuid *u, char out[UUID_STR_LEN + 1]);

/* Parse the canonical form (either case); false if s is not one. */
bool uuid_parse(const char *s, struct uuid *out);

/* Milliseconds since the epoch held in a version 7 id. */
uint64_t uuid_v7_millis(const struct uuid *u);

#endif
