/* The Mustache compiler and renderer on arbitrary bytes: each input is
 * compiled as a template and, if it compiles, rendered in every escape
 * mode over a small fixed object whose partials can recurse. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "template/mustache.h"

/* "child" ends in null, so a partial that follows it stops after three
 * levels; inside {{#loop}} it never does and meets the depth limit. */
static const char fuzz_data[] =
    "{\"name\": \"Ada <b>&\\\"'\\r\\n\\t\\u0001\\u00e9\\u2028\","
    " \"list\": [1, 2.5, \"x\", null, true, {\"name\": \"in\"}, []],"
    " \"child\": {\"name\": \"b\", \"child\": {\"name\": \"c\","
    " \"child\": null}},"
    " \"loop\": {\"child\": true}, \"empty\": \"\", \"zero\": 0,"
    " \"obj\": {\"a\": [1, {\"b\": false}], \"c.d\": 1e300}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fuzz_partial(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return "<{{name}}\n  {{#child}}\n  {{>node}}\n  {{/child}}\n>";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct tmpl *t =
	    tmpl_compile((const char *)data, size, err, sizeof(err));
	json_t *root;

	if (t == NULL)
		return 0;
	root = json_loads(fuzz_data, 0, NULL);
	if (root == NULL)
		abort();
	for (int mode = TMPL_ESCAPE_HTML; mode <= TMPL_ESCAPE_HEADER; mode++) {
		char *out;
		size_t len;

		if (!tmpl_render(t, root, (enum tmpl_escape)mode, fuzz_partial,
		                 NULL, &out, &len, err, sizeof(err)))
			continue;
		if (out[len] != '\0' || len > TMPL_OUTPUT_MAX)
			abort();
		free(out);
	}
	json_decref(root);
	tmpl_free(t);
	return 0;
}
