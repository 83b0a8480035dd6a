/*
 * What the source adapter fuzz targets share: a configuration with every
 * source, and a request around fuzzer bytes.
 */
#ifndef HERALD_FUZZ_SUPPORT_H
#define HERALD_FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "sources/source.h"

#define FUZZ_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* The configuration, loaded once. */
const struct config *fuzz_config(void);

struct fuzz_request {
	char head_text[2048];
	struct http_head head;
	struct source_request rq;
};

/*
 * Build a request from fuzzer bytes and fixed extra header lines (each
 * ending in \r\n). When the bytes start with lines ending in a blank
 * line (within the first 512 bytes), those lines are more headers
 * (webhook-id, Idempotency-Key, X-Sev ...) and the rest is the body;
 * otherwise, or if such headers do not parse, all of it is the body.
 */
void fuzz_request(struct fuzz_request *f, const char *extra,
                  const uint8_t *data, size_t size);

#endif
