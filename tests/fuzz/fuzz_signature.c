/* The webhook-signature header parser and the secret decoder on
 * arbitrary text. */
#include <stdlib.h>
#include <string.h>

#include "sources/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char body[] = "{\"test\": 2432232314}";
	char *text = malloc(size + 1);
	struct sig_secret s;

	memcpy(text, data, size);
	text[size] = '\0';
	if (sig_secret_parse(text, &s) && s.len > sizeof(s.key))
		abort();
	if (!sig_secret_parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &s))
		abort();
	sig_verify(&s, 1, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", text,
	           body, strlen(body), 1614265330);
	free(text);
	return 0;
}
