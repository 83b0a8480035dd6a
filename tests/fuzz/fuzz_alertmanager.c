/* The Alertmanager adapter on arbitrary headers and bodies. */
#include "fuzz_support.h"
#include "sources/alertmanager.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_request f;
	struct source_result res = { 0 };

	fuzz_request(&f, "Authorization: Bearer am\r\n", data, size);
	alertmanager_events(&f.rq, &res);
	source_result_clear(&res);
	return 0;
}
