#include "http/parse.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_EXTRA_MAX 8192

static const struct {
	const char *name;
	enum http_method method;
} http_methods[] = {
	{ "GET", HTTP_GET },         { "HEAD", HTTP_HEAD },
	{ "POST", HTTP_POST },       { "PUT", HTTP_PUT },
	{ "PATCH", HTTP_PATCH },     { "DELETE", HTTP_DELETE },
	{ "OPTIONS", HTTP_OPTIONS },
};

static const struct {
	int status;
	const char *message;
} parse_errors[] = {
	[HTTP_PARSE_OK] = { 200, "ok" },
	[HTTP_PARSE_BAD_REQUEST_LINE] = { 400, "malformed request line" },
	[HTTP_PARSE_BAD_TARGET] = { 400, "request target must be a path" },
	[HTTP_PARSE_BAD_VERSION] = { 505, "only HTTP/1.0 and HTTP/1.1 are "
	                                  "supported" },
	[HTTP_PARSE_BAD_HEADER] = { 400, "malformed header field" },
	[HTTP_PARSE_TOO_MANY_HEADERS] = { 431, "too many header fields" },
	[HTTP_PARSE_BAD_LENGTH] = { 400, "invalid Content-Length" },
	[HTTP_PARSE_BAD_ENCODING] = { 501, "unsupported Transfer-Encoding" },
	[HTTP_PARSE_BAD_EXPECT] = { 417, "unsupported Expect" },
};

int http_parse_status(enum http_parse_error e)
{
	return parse_errors[e].status;
}

const char *http_parse_message(enum http_parse_error e)
{
	return parse_errors[e].message;
}

/* RFC 9110 token characters. */
static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Field value characters: visible, obs-text, space and tab. */
static bool is_vchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* The line starting at *p, NUL-terminated in place; NULL without CRLF. */
static char *next_line(char **p, char *end)
{
	char *line = *p;
	char *cr = memchr(line, '\r', (size_t)(end - line));

	if (cr == NULL || cr + 1 >= end || cr[1] != '\n')
		return NULL;
	if (memchr(line, '\n', (size_t)(cr - line)) != NULL)
		return NULL;
	*cr = '\0';
	*p = cr + 2;
	return line;
}

static enum http_method method_of(const char *name)
{
	for (size_t i = 0; i < sizeof(http_methods) / sizeof(*http_methods);
	     i++) {
		if (strcmp(name, http_methods[i].name) == 0)
			return http_methods[i].method;
	}
	return HTTP_OTHER;
}

static enum http_parse_error parse_request_line(char *line, struct http_head *h)
{
	char *sp1, *sp2, *q;

	for (sp1 = line; is_tchar((unsigned char)*sp1); sp1++)
		;
	if (sp1 == line || *sp1 != ' ')
		return HTTP_PARSE_BAD_REQUEST_LINE;
	*sp1 = '\0';
	h->method_name = line;
	h->method = method_of(line);

	for (sp2 = sp1 + 1; (unsigned char)*sp2 > 0x20 && *sp2 != 0x7f; sp2++)
		;
	if (sp2 == sp1 + 1 || *sp2 != ' ')
		return HTTP_PARSE_BAD_REQUEST_LINE;
	*sp2 = '\0';
	if (sp1[1] != '/')
		return HTTP_PARSE_BAD_TARGET;
	h->path = sp1 + 1;
	q = strchr(h->path, '?');
	if (q != NULL) {
		*q = '\0';
		h->query = q + 1;
	}

	if (strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return HTTP_PARSE_BAD_REQUEST_LINE;
	if (strcmp(sp2 + 6, "1.1") == 0)
		h->minor = 1;
	else if (strcmp(sp2 + 6, "1.0") == 0)
		h->minor = 0;
	else
		return HTTP_PARSE_BAD_VERSION;
	return HTTP_PARSE_OK;
}

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static enum http_parse_error parse_field(char *line, struct http_head *h)
{
	char *colon;

	for (colon = line; is_tchar((unsigned char)*colon); colon++)
		;
	if (colon == line || *colon != ':')
		return HTTP_PARSE_BAD_HEADER;
	*colon = '\0';
	for (char *v = colon + 1; *v; v++) {
		if (!is_vchar((unsigned char)*v))
			return HTTP_PARSE_BAD_HEADER;
	}
	if (h->nheaders == HTTP_MAX_HEADERS)
		return HTTP_PARSE_TOO_MANY_HEADERS;
	h->headers[h->nheaders].name = line;
	h->headers[h->nheaders].value = trim(colon + 1);
	h->nheaders++;
	return HTTP_PARSE_OK;
}

static bool parse_length(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0' || strlen(v) > 18)
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return false;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	*out = n;
	return true;
}

static bool has_token(const char *list, const char *token)
{
	size_t n = strlen(token);

	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (strncasecmp(p, token, n) == 0 &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' ' ||
		     p[n] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

static enum http_parse_error check_length(struct http_head *h,
                                          const char *value)
{
	uint64_t n;

	if (!parse_length(value, &n))
		return HTTP_PARSE_BAD_LENGTH;
	if (h->has_length && n != h->content_length)
		return HTTP_PARSE_BAD_LENGTH;
	h->has_length = true;
	h->content_length = n;
	return HTTP_PARSE_OK;
}

/* What the framing headers mean, with the smuggling cases refused. */
static enum http_parse_error interpret(struct http_head *h)
{
	bool connection_close = false, connection_keep = false;
	enum http_parse_error e = HTTP_PARSE_OK;
	int encodings = 0;

	for (size_t i = 0; i < h->nheaders && e == HTTP_PARSE_OK; i++) {
		const char *n = h->headers[i].name, *v = h->headers[i].value;

		if (strcasecmp(n, "Content-Length") == 0) {
			e = check_length(h, v);
		} else if (strcasecmp(n, "Transfer-Encoding") == 0) {
			encodings++;
			h->chunked = strcasecmp(v, "chunked") == 0;
			if (!h->chunked || encodings > 1)
				e = HTTP_PARSE_BAD_ENCODING;
		} else if (strcasecmp(n, "Connection") == 0) {
			connection_close |= has_token(v, "close");
			connection_keep |= has_token(v, "keep-alive");
		} else if (strcasecmp(n, "Expect") == 0) {
			h->expect_continue = strcasecmp(v, "100-continue") == 0;
			if (!h->expect_continue)
				e = HTTP_PARSE_BAD_EXPECT;
		}
	}
	if (e != HTTP_PARSE_OK)
		return e;
	if (encodings > 0 && (h->has_length || h->minor == 0))
		return HTTP_PARSE_BAD_ENCODING;
	if (h->minor == 1 && http_head_get(h, "Host") == NULL)
		return HTTP_PARSE_BAD_HEADER;
	h->keep_alive = h->minor == 1 ? !connection_close : connection_keep;
	return HTTP_PARSE_OK;
}

enum http_parse_error http_parse_head(char *buf, size_t len,
                                      struct http_head *h)
{
	char *p = buf, *end = buf + len, *line;
	enum http_parse_error e;

	memset(h, 0, sizeof(*h));
	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	line = next_line(&p, end);
	if (line == NULL)
		return HTTP_PARSE_BAD_REQUEST_LINE;
	e = parse_request_line(line, h);
	while (e == HTTP_PARSE_OK) {
		line = next_line(&p, end);
		if (line == NULL)
			return HTTP_PARSE_BAD_HEADER;
		if (*line == '\0')
			break;
		e = parse_field(line, h);
	}
	if (e != HTTP_PARSE_OK)
		return e;
	if (p != end)
		return HTTP_PARSE_BAD_HEADER;
	return interpret(h);
}

const char *http_head_get(const struct http_head *h, const char *name)
{
	for (size_t i = 0; i < h->nheaders; i++) {
		if (strcasecmp(h->headers[i].name, name) == 0)
			return h->headers[i].value;
	}
	return NULL;
}

/* Chunked bodies */

void http_chunked_init(struct http_chunked *c, uint64_t limit)
{
	memset(c, 0, sizeof(*c));
	c->state = CHUNK_SIZE;
	c->limit = limit;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static enum http_chunked_state chunk_size_byte(struct http_chunked *c, char ch)
{
	int d = hex_digit(ch);

	if (d >= 0 && c->size_digits < 15) {
		c->remaining = c->remaining * 16 + (uint64_t)d;
		c->size_digits++;
		return CHUNK_SIZE;
	}
	if (c->size_digits == 0)
		return CHUNK_ERROR;
	if (ch == ';')
		return CHUNK_EXT;
	if (ch == '\r')
		return CHUNK_SIZE_LF;
	return CHUNK_ERROR;
}

static enum http_chunked_state chunk_size_end(struct http_chunked *c)
{
	c->size_digits = 0;
	if (c->remaining == 0)
		return CHUNK_TRAILER;
	if (c->remaining > c->limit - c->total) {
		c->too_large = true;
		return CHUNK_ERROR;
	}
	return CHUNK_DATA;
}

/* One byte of everything but chunk data. */
static enum http_chunked_state chunk_byte(struct http_chunked *c, char ch)
{
	bool extra = c->state == CHUNK_EXT || c->state == CHUNK_TRAILER ||
	             c->state == CHUNK_TRAILER_LINE;

	if (extra && ++c->trailer_bytes > CHUNK_EXTRA_MAX)
		return CHUNK_ERROR;
	switch (c->state) {
	case CHUNK_SIZE: return chunk_size_byte(c, ch);
	case CHUNK_EXT: return ch == '\r' ? CHUNK_SIZE_LF : CHUNK_EXT;
	case CHUNK_SIZE_LF: return ch == '\n' ? chunk_size_end(c) : CHUNK_ERROR;
	case CHUNK_DATA_CR: return ch == '\r' ? CHUNK_DATA_LF : CHUNK_ERROR;
	case CHUNK_DATA_LF: return ch == '\n' ? CHUNK_SIZE : CHUNK_ERROR;
	case CHUNK_TRAILER:
		return ch == '\r' ? CHUNK_END_LF : CHUNK_TRAILER_LINE;
	case CHUNK_TRAILER_LINE:
		return ch == '\r' ? CHUNK_TRAILER_LF : CHUNK_TRAILER_LINE;
	case CHUNK_TRAILER_LF: return ch == '\n' ? CHUNK_TRAILER : CHUNK_ERROR;
	case CHUNK_END_LF: return ch == '\n' ? CHUNK_DONE : CHUNK_ERROR;
	default: return CHUNK_ERROR;
	}
}

size_t http_chunked_feed(struct http_chunked *c, const char *in, size_t len,
                         char *out, size_t *out_len)
{
	size_t i = 0;

	*out_len = 0;
	while (i < len && c->state != CHUNK_DONE && c->state != CHUNK_ERROR) {
		if (c->state == CHUNK_DATA) {
			size_t n = len - i;

			if (n > c->remaining)
				n = (size_t)c->remaining;
			memcpy(out + *out_len, in + i, n);
			*out_len += n;
			i += n;
			c->remaining -= n;
			c->total += n;
			if (c->remaining == 0)
				c->state = CHUNK_DATA_CR;
			continue;
		}
		c->state = chunk_byte(c, in[i++]);
	}
	return i;
}
