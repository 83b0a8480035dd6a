/*
 * Request heads and chunked bodies, including the framing tricks that
 * request smuggling relies on.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parse.h"

static enum http_parse_error parse(const char *text, struct http_head *h,
                                   char **keep)
{
	*keep = strdup(text);
	return http_parse_head(*keep, strlen(text), h);
}

Test(http_parse, simple_post)
{
	struct http_head h;
	char *buf;

	cr_assert_eq(parse("POST /hooks/generic/ci?x=1 HTTP/1.1\r\n"
	                   "Host: a\r\nContent-Type: application/json\r\n"
	                   "Content-Length: 12\r\nX-Empty:\r\n\r\n",
	                   &h, &buf),
	             HTTP_PARSE_OK);
	cr_expect_eq(h.method, HTTP_POST);
	cr_expect_str_eq(h.path, "/hooks/generic/ci");
	cr_expect_str_eq(h.query, "x=1");
	cr_expect_eq(h.minor, 1);
	cr_expect(h.has_length);
	cr_expect_eq(h.content_length, 12);
	cr_expect(h.keep_alive);
	cr_expect_str_eq(http_head_get(&h, "content-type"), "application/json");
	cr_expect_str_eq(http_head_get(&h, "x-empty"), "");
	free(buf);
}

Test(http_parse, connection_semantics)
{
	struct http_head h;
	char *buf;

	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: a\r\n"
	                   "Connection: keep-alive, close\r\n\r\n",
	                   &h, &buf),
	             HTTP_PARSE_OK);
	cr_expect_not(h.keep_alive);
	free(buf);
	cr_assert_eq(parse("GET / HTTP/1.0\r\n\r\n", &h, &buf), HTTP_PARSE_OK);
	cr_expect_not(h.keep_alive);
	free(buf);
	cr_assert_eq(
	    parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h, &buf),
	    HTTP_PARSE_OK);
	cr_expect(h.keep_alive);
	free(buf);
}

struct bad_case {
	const char *text;
	enum http_parse_error error;
};

static const struct bad_case bad[] = {
	{ "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE },
	{ "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_VERSION },
	{ "GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_TARGET },
	{ "GET / HTTP/2.0\r\nHost: a\r\n\r\n", HTTP_PARSE_BAD_VERSION },
	{ "GET / HTTP/1.1\nHost: a\r\n\r\n", HTTP_PARSE_BAD_REQUEST_LINE },
	{ "GET / HTTP/1.1\r\nHost : a\r\n\r\n", HTTP_PARSE_BAD_HEADER },
	{ "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
	  HTTP_PARSE_BAD_HEADER },
	{ "GET / HTTP/1.1\r\nX: a\x01\r\nHost: a\r\n\r\n",
	  HTTP_PARSE_BAD_HEADER },
	{ "GET / HTTP/1.1\r\n\r\n", HTTP_PARSE_BAD_HEADER },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\n",
	  HTTP_PARSE_BAD_LENGTH },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
	  HTTP_PARSE_BAD_LENGTH },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
	  HTTP_PARSE_BAD_LENGTH },
	{ "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  HTTP_PARSE_BAD_ENCODING },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked"
	  "\r\n\r\n",
	  HTTP_PARSE_BAD_ENCODING },
	{ "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  HTTP_PARSE_BAD_ENCODING },
	{ "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	  HTTP_PARSE_BAD_ENCODING },
	{ "POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n",
	  HTTP_PARSE_BAD_EXPECT },
};

Test(http_parse, refuses_bad_heads)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct http_head h;
		char *buf;

		cr_expect_eq(parse(bad[i].text, &h, &buf), bad[i].error,
		             "case %zu: %s", i, bad[i].text);
		free(buf);
	}
}

Test(http_parse, too_many_headers)
{
	char text[8192];
	struct http_head h;
	size_t n = (size_t)snprintf(text, sizeof(text),
	                            "GET / HTTP/1.1\r\nHost: a\r\n");
	char *buf;

	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "X: y\r\n");
	snprintf(text + n, sizeof(text) - n, "\r\n");
	cr_expect_eq(parse(text, &h, &buf), HTTP_PARSE_TOO_MANY_HEADERS);
	cr_expect_eq(http_parse_status(HTTP_PARSE_TOO_MANY_HEADERS), 431);
	free(buf);
}

static enum http_chunked_state feed_all(const char *in, size_t step,
                                        uint64_t limit, char *out,
                                        size_t *outlen, size_t *used)
{
	struct http_chunked c;
	size_t len = strlen(in), i = 0;

	http_chunked_init(&c, limit);
	*outlen = 0;
	while (i < len && c.state != CHUNK_DONE && c.state != CHUNK_ERROR) {
		size_t n = len - i < step ? len - i : step, got;

		i += http_chunked_feed(&c, in + i, n, out + *outlen, &got);
		*outlen += got;
	}
	*used = i;
	return c.state;
}

Test(http_parse, chunked_in_any_pieces)
{
	const char *body = "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
	                   "Trailer: x\r\n\r\nNEXT";
	char out[64];

	for (size_t step = 1; step < 16; step++) {
		size_t n, used;

		cr_assert_eq(feed_all(body, step, 100, out, &n, &used),
		             CHUNK_DONE, "step %zu", step);
		cr_expect_eq(n, 11);
		cr_expect_eq(memcmp(out, "hello world", 11), 0);
		cr_expect_eq(used, strlen(body) - 4, "step %zu", step);
	}
}

Test(http_parse, chunked_refusals)
{
	char out[64];
	size_t n, used;

	cr_expect_eq(feed_all("g\r\n", 4, 100, out, &n, &used), CHUNK_ERROR);
	cr_expect_eq(feed_all("5\r\nhelloX\r\n", 4, 100, out, &n, &used),
	             CHUNK_ERROR);
	cr_expect_eq(feed_all("\r\n", 4, 100, out, &n, &used), CHUNK_ERROR);
	cr_expect_eq(feed_all("fffffffffffffffff\r\n", 4, 100, out, &n, &used),
	             CHUNK_ERROR);
	cr_expect_eq(feed_all("40\r\n", 4, 10, out, &n, &used), CHUNK_ERROR);
}
