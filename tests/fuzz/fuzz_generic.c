/* The generic adapter on arbitrary headers and bodies, each body signed
 * correctly so that parsing and field extraction are reached. */
#include <stdio.h>
#include <time.h>

#include "config/config.h"
#include "fuzz_support.h"
#include "sources/generic.h"
#include "sources/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct config_generic *src =
	    config_generic_source(fuzz_config(), "ci");
	struct source_result res = { 0 };
	struct fuzz_request f;
	char sig[SIG_HEADER_MAX], extra[256];
	int64_t now = (int64_t)time(NULL);

	/* Once to find the body, once more with its signature. */
	fuzz_request(&f, "", data, size);
	sig_sign(&src->keys[0], "msg_f", now, f.rq.body, f.rq.len, sig);
	snprintf(extra, sizeof(extra),
	         "webhook-id: msg_f\r\nwebhook-timestamp: %lld\r\n"
	         "webhook-signature: %s\r\n",
	         (long long)now, sig);
	fuzz_request(&f, extra, data, size);
	generic_events(src, &f.rq, &res);
	source_result_clear(&res);
	return 0;
}
