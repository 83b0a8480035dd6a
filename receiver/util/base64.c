#include "util/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode(const uint8_t *in, size_t n, char *out, const char *digits,
                   bool pad)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = digits[(v >> 18) & 63];
		out[o++] = digits[(v >> 12) & 63];
		if (i + 1 < n || pad)
			out[o++] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
		if (i + 2 < n || pad)
			out[o++] = i + 2 < n ? digits[v & 63] : '=';
	}
	out[o] = '\0';
}

void base64_encode(const uint8_t *in, size_t n, char *out)
{
	encode(in, n, out, alphabet, true);
}

void base64url_encode(const uint8_t *in, size_t n, char *out)
{
	encode(in, n, out, url_alphabet, false);
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

bool base64_decode(const char *in, size_t len, uint8_t *out, size_t size,
                   size_t *outlen)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0;

	while (len > 0 && in[len - 1] == '=')
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = value_of(in[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == size)
				return false;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits must be zero and fewer than a byte. */
	if (bits >= 6 || (acc & ((1u << bits) - 1)) != 0)
		return false;
	*outlen = o;
	return true;
}
