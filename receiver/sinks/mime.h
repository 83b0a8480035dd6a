/*
 * One e-mail message as RFC 5322 text, for the email sink: headers, a
 * text/plain part and a text/html part (multipart/alternative, the plain
 * part first so that it is the fallback), both UTF-8 in quoted-printable.
 *
 * Pure functions: no I/O, no clock, no randomness, so the same input
 * always gives the same bytes and tests can check them. Every line of the
 * output ends in CRLF. Lines starting with "." are left alone: libcurl
 * dot-stuffs the DATA of an SMTP upload itself (lib/smtp.c, checked by
 * curl's own test 901 and by tests/integration/test_email_sink.c).
 *
 * No header value taken from data can add a header: CR, LF and other
 * control characters become spaces before a value is written.
 */
#ifndef HERALD_SINKS_MIME_H
#define HERALD_SINKS_MIME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct buf;

/* Room for the longest mime_date text and its NUL. */
#define MIME_DATE_MAX 40

/* Everything the message is made of; all borrowed. */
struct mime_message {
	const char *from;      /* "Name <addr>" or "addr" */
	const char *const *to; /* nto mailboxes, same forms as from */
	size_t nto;
	const char *subject;    /* UTF-8; runs of white space become one */
	const char *message_id; /* "<id@host>", see mime_message_id */
	time_t date;
	const char *text; /* UTF-8, LF or CRLF line ends */
	size_t text_len;
	const char *html; /* NULL: a single text/plain message */
	size_t html_len;
};

/* Append the whole message to out. False if memory ran out (out is then
 * incomplete) or from is not a mailbox. */
bool mime_compose(const struct mime_message *m, struct buf *out)
    __attribute__((warn_unused_result));

/*
 * Append len bytes of text to out as quoted-printable (RFC 2045 6.7):
 * lines of at most 76 characters with "=" soft breaks, "=XX" for "=",
 * bytes outside printable ASCII and white space at the end of a line.
 * LF and CRLF in the text become hard CRLF breaks; a lone CR is encoded.
 */
void mime_qp_encode(struct buf *out, const char *data, size_t len);

/*
 * Append the header field "Subject: ..." with its CRLF. A subject of
 * printable ASCII words is written as is, folded at 78 columns; any other
 * is written as RFC 2047 encoded-words (UTF-8, B or Q, whichever is
 * shorter), each at most 75 characters and on lines of at most 78.
 */
void mime_subject(struct buf *out, const char *subject);

/* t as an RFC 5322 date in UTC: "Thu, 03 Dec 2026 18:48:48 +0000".
 * False if t cannot be converted. */
bool mime_date(time_t t, char *out, size_t size)
    __attribute__((warn_unused_result));

/* The address of a mailbox ("Name <a@b>" or "a@b") into out: "a@b".
 * False if there is none, it has no "@", or it does not fit. */
bool mime_addr_spec(const char *mailbox, char *out, size_t size)
    __attribute__((warn_unused_result));

/* "<ID@DOMAIN>" into out: ID is id with characters a message id cannot
 * hold replaced by "-", DOMAIN the domain of from's address, or "herald"
 * when it has none. The same inputs give the same id, so every retry of
 * a delivery carries one Message-ID and receivers can drop repeats. */
void mime_message_id(const char *id, const char *from, char *out, size_t size);

#endif
