#include "util/pgarray.h"

#include <inttypes.h>
#include <string.h>

void pgarray_begin(struct buf *b)
{
	buf_reset(b);
	buf_putc(b, '{');
}

static void separate(struct buf *b)
{
	if (b->len > 1)
		buf_putc(b, ',');
}

void pgarray_add(struct buf *b, const char *s, size_t len)
{
	const char *end = s + len, *p = s;

	separate(b);
	if (s == NULL) {
		buf_puts(b, "NULL");
		return;
	}
	buf_putc(b, '"');
	/* Copy runs without quotes or backslashes in one go. */
	while (p < end) {
		size_t run = strcspn(p, "\"\\");

		if (run > (size_t)(end - p))
			run = (size_t)(end - p);
		buf_put(b, p, run);
		p += run;
		if (p < end && *p == '\0')
			break;
		if (p < end) {
			buf_putc(b, '\\');
			buf_putc(b, *p++);
		}
	}
	buf_putc(b, '"');
}

void pgarray_add_str(struct buf *b, const char *s)
{
	pgarray_add(b, s, s ? strlen(s) : 0);
}

void pgarray_add_int(struct buf *b, int64_t v)
{
	separate(b);
	buf_printf(b, "%" PRId64, v);
}

void pgarray_end(struct buf *b)
{
	buf_putc(b, '}');
}
