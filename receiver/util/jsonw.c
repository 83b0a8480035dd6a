#include "util/jsonw.h"

#include <string.h>

#include "util/utf8.h"

bool jsonw_string(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (const unsigned char *q = p; *q;) {
		size_t n = utf8_valid_prefix(q);

		if (n == 0)
			return false;
		q += n;
	}
	buf_putc(b, '"');
	while (*p) {
		size_t run = strcspn((const char *)p, "\"\\\x01\x02\x03\x04\x05"
		                                      "\x06\x07\x08\t\n\x0b\x0c"
		                                      "\r\x0e\x0f\x10\x11\x12"
		                                      "\x13\x14\x15\x16\x17\x18"
		                                      "\x19\x1a\x1b\x1c\x1d\x1e"
		                                      "\x1f");

		buf_put(b, p, run);
		p += run;
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else
			buf_printf(b, "\\u%04x", *p);
		p++;
	}
	buf_putc(b, '"');
	return true;
}
