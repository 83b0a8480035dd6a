/*
 * HTTP/1.1 request heads (RFC 9112), parsed strictly and in place.
 *
 * The parser reads one complete head, from the request line to the empty
 * line, and never allocates: names and values point into the caller's
 * buffer, which it modifies (NUL-terminating each piece). It refuses what
 * request smuggling needs: both Content-Length and Transfer-Encoding,
 * conflicting lengths, transfer codings other than chunked, line folding,
 * whitespace before a colon, bare LF.
 *
 * Chunked bodies are decoded by struct http_chunked, fed bytes as they
 * arrive.
 */
#ifndef HERALD_HTTP_PARSE_H
#define HERALD_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7,
};

struct http_header {
	const char *name;
	const char *value;
};

struct http_head {
	enum http_method method;
	const char *method_name;
	const char *path;  /* the request target up to '?' */
	const char *query; /* after '?', or NULL */
	int minor;         /* HTTP/1.minor */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t nheaders;
	bool has_length;
	uint64_t content_length;
	bool chunked;
	bool keep_alive;
	bool expect_continue;
};

/* Why a head was refused; each maps to one status and message. */
enum http_parse_error {
	HTTP_PARSE_OK,
	HTTP_PARSE_BAD_REQUEST_LINE,
	HTTP_PARSE_BAD_TARGET,
	HTTP_PARSE_BAD_VERSION,
	HTTP_PARSE_BAD_HEADER,
	HTTP_PARSE_TOO_MANY_HEADERS,
	HTTP_PARSE_BAD_LENGTH,
	HTTP_PARSE_BAD_ENCODING,
	HTTP_PARSE_BAD_EXPECT,
};

/*
 * Parse buf[0..len), which must end with the CRLF CRLF that closes the
 * head; the path is written into buf as well, so buf must stay alive as
 * long as head is used.
 */
enum http_parse_error http_parse_head(char *buf, size_t len,
                                      struct http_head *head)
    __attribute__((warn_unused_result));

/* The HTTP status and the sentence for a parse error. */
int http_parse_status(enum http_parse_error e);
const char *http_parse_message(enum http_parse_error e);

/* Value of a header (case-insensitive name), or NULL. */
const char *http_head_get(const struct http_head *head, const char *name);

/* Chunked transfer coding */

enum http_chunked_state {
	CHUNK_SIZE,
	CHUNK_EXT,
	CHUNK_SIZE_LF,
	CHUNK_DATA,
	CHUNK_DATA_CR,
	CHUNK_DATA_LF,
	CHUNK_TRAILER,
	CHUNK_TRAILER_LF,
	CHUNK_TRAILER_LINE,
	CHUNK_END_LF,
	CHUNK_DONE,
	CHUNK_ERROR,
};

struct http_chunked {
	enum http_chunked_state state;
	uint64_t remaining;   /* of the current chunk */
	uint64_t total;       /* body bytes so far */
	uint64_t limit;       /* most body bytes accepted */
	size_t trailer_bytes; /* trailer bytes seen; bounded */
	int size_digits;
	bool too_large;
};

void http_chunked_init(struct http_chunked *c, uint64_t limit);

/*
 * Feed in[0..len). Body bytes are copied to out (room for len bytes) and
 * counted in *out_len. Returns how many input bytes were consumed; stops
 * at the end of the body (state CHUNK_DONE) or an error (CHUNK_ERROR, with
 * too_large set if the body passed the limit).
 */
size_t http_chunked_feed(struct http_chunked *c, const char *in, size_t len,
                         char *out, size_t *out_len);

#endif
