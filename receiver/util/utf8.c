#include "util/utf8.h"

#include <stdint.h>

size_t utf8_valid_prefix(const unsigned char *p)
{
	/* A NUL ends the string before any sequence could run past it. */
	return utf8_valid_at(p, SIZE_MAX);
}

size_t utf8_valid_at(const unsigned char *p, size_t avail)
{
	unsigned lead = p[0];
	size_t len;
	unsigned cp, min;

	if (lead < 0x80)
		return 1;
	if (lead >= 0xc2 && lead <= 0xdf) {
		len = 2, cp = lead & 0x1f, min = 0x80;
	} else if (lead >= 0xe0 && lead <= 0xef) {
		len = 3, cp = lead & 0x0f, min = 0x800;
	} else if (lead >= 0xf0 && lead <= 0xf4) {
		len = 4, cp = lead & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > avail)
		return 0;

	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

size_t utf8_encode(unsigned cp, char *out)
{
	unsigned char *o = (unsigned char *)out;

	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xc0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		return 0;
	o[0] = (unsigned char)(0xf0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}
