#include "util/uuid.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* Per-thread so that no lock is taken on the ingest path. */
static _Thread_local uint64_t uuid_last_ms;
static _Thread_local uint16_t uuid_counter;

/*
 * Random bytes are drawn for 64 ids at once: each draw from OpenSSL's
 * generator costs a system call (its fork check) and a cipher setup. A
 * forked child starts with an empty pool, so it never repeats its
 * parent's ids.
 */
#define UUID_RANDOM_BYTES 10
#define UUID_POOL_IDS     64

static _Thread_local uint8_t uuid_pool[UUID_RANDOM_BYTES * UUID_POOL_IDS];
static _Thread_local size_t uuid_pool_left;
static pthread_once_t uuid_atfork_once = PTHREAD_ONCE_INIT;

static void uuid_forget_pool(void)
{
	uuid_pool_left = 0;
}

static void uuid_register_atfork(void)
{
	pthread_atfork(NULL, NULL, uuid_forget_pool);
}

static bool uuid_random(uint8_t out[UUID_RANDOM_BYTES])
{
	pthread_once(&uuid_atfork_once, uuid_register_atfork);
	if (uuid_pool_left == 0) {
		if (RAND_bytes(uuid_pool, sizeof(uuid_pool)) != 1)
			return false;
		uuid_pool_left = UUID_POOL_IDS;
	}
	uuid_pool_left--;
	memcpy(out, uuid_pool + uuid_pool_left * UUID_RANDOM_BYTES,
	       UUID_RANDOM_BYTES);
	return true;
}

static uint64_t now_millis(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Within one millisecond the counter increases, so ids stay ordered; a new
 * millisecond starts it at a random value below half its range, leaving room
 * for 2048 more ids before the clock is pushed ahead by one.
 */
static void uuid_next_stamp(uint8_t rnd0, uint8_t rnd1)
{
	uint64_t ms = now_millis();

	if (ms > uuid_last_ms) {
		uuid_last_ms = ms;
		uuid_counter = (uint16_t)(((rnd0 << 8) | rnd1) & 0x7ff);
		return;
	}
	if (++uuid_counter > 0xfff) {
		uuid_last_ms++;
		uuid_counter = 0;
	}
}

bool uuid_v7(struct uuid *out)
{
	uint8_t rnd[UUID_RANDOM_BYTES];

	if (!uuid_random(rnd))
		return false;
	uuid_next_stamp(rnd[8], rnd[9]);

	for (int i = 0; i < 6; i++)
		out->b[i] = (uint8_t)(uuid_last_ms >> (40 - 8 * i));
	out->b[6] = (uint8_t)(0x70 | (uuid_counter >> 8));
	out->b[7] = (uint8_t)uuid_counter;
	memcpy(out->b + 8, rnd, 8);
	out->b[8] = (uint8_t)(0x80 | (out->b[8] & 0x3f));
	return true;
}

void uuid_format(const struct uuid *u, char out[UUID_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[u->b[i] >> 4];
		out[o++] = hex[u->b[i] & 0xf];
	}
	out[o] = '\0';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool uuid_parse(const char *s, struct uuid *out)
{
	size_t o = 0;

	for (size_t i = 0; i < UUID_STR_LEN; i += 2) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			i++;
		}
		hi = hex_value(s[i]);
		lo = hi < 0 ? -1 : hex_value(s[i + 1]);
		if (lo < 0)
			return false;
		out->b[o++] = (uint8_t)(hi << 4 | lo);
	}
	return s[UUID_STR_LEN] == '\0' && o == 16;
}

uint64_t uuid_v7_millis(const struct uuid *u)
{
	uint64_t ms = 0;

	for (int i = 0; i < 6; i++)
		ms = ms << 8 | u->b[i];
	return ms;
}
