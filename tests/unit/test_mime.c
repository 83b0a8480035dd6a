/*
 * The e-mail composer (sinks/mime.c): quoted-printable, encoded-word
 * subjects, header injection, the multipart frame and dates. Encoded
 * output is decoded here by a decoder of the test's own and compared with
 * what went in.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/mime.h"
#include "util/base64.h"
#include "util/buf.h"
#include "util/utf8.h"

/* Decoders. */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Quoted-printable back to bytes (malloc'd, *len set); fails the test on
 * anything RFC 2045 does not allow an encoder to write. */
static char *qp_decode(const char *s, size_t *len)
{
	char *out = malloc(strlen(s) + 1);
	size_t o = 0;

	for (const char *p = s; *p != '\0'; p++) {
		if (*p != '=') {
			out[o++] = *p;
			continue;
		}
		if (p[1] == '\r' && p[2] == '\n') {
			p += 2;
			continue;
		}
		cr_assert(hexval(p[1]) >= 0 && hexval(p[2]) >= 0,
		          "bad escape at: %.10s", p);
		out[o++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
		p += 2;
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* Every line ends in CRLF (the last may end the text) and has at most
 * max characters; none ends in white space. */
static void check_lines(const char *s, size_t max)
{
	const char *line = s;

	for (const char *p = s;; p++) {
		if (*p == '\r' || *p == '\0') {
			size_t n = (size_t)(p - line);

			cr_expect(n <= max, "line of %zu: %.*s", n, (int)n,
			          line);
			cr_expect(n == 0 || (line[n - 1] != ' ' &&
			                     line[n - 1] != '\t'),
			          "white space ends: %.*s", (int)n, line);
			if (*p == '\0')
				return;
			cr_assert_eq(p[1], '\n', "CR without LF");
			line = p + 2;
			p++;
		} else {
			cr_assert_neq(*p, '\n', "LF without CR");
		}
	}
}

/* s with every LF not after a CR turned into CRLF (malloc'd). */
static char *crlf(const char *s, size_t len)
{
	char *out = malloc(2 * len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = s[i];
	}
	out[o] = '\0';
	return out;
}

static char *qp(const char *s, size_t len)
{
	struct buf b = { 0 };

	mime_qp_encode(&b, s, len);
	cr_assert_not(buf_failed(&b));
	return buf_take(&b);
}

static void qp_round_trip(const char *s, size_t len)
{
	char *enc = qp(s, len), *want = crlf(s, len), *got;
	size_t got_len;

	check_lines(enc, 76);
	got = qp_decode(enc, &got_len);
	cr_expect_eq(got_len, strlen(want), "%s", enc);
	cr_expect(memcmp(got, want, got_len) == 0, "%s", enc);
	free(enc);
	free(want);
	free(got);
}

/* One encoded-word's text into out; p points after "=?". Returns the end
 * of the word. Each word must decode to whole UTF-8 characters. */
static const char *ew_decode_one(const char *p, struct buf *out)
{
	const char *q, *end;
	uint8_t bytes[128];
	size_t n = 0;

	cr_assert(strncmp(p, "UTF-8?", 6) == 0, "charset: %.20s", p);
	q = p + 8;
	end = strstr(q, "?=");
	cr_assert(end != NULL);
	cr_expect_leq(end - p + 4, 75, "word too long: %.*s",
	              (int)(end - p + 4), p - 2);
	if (p[6] == 'B') {
		cr_assert(base64_decode(q, (size_t)(end - q), bytes,
		                        sizeof(bytes), &n));
	} else {
		cr_assert_eq(p[6], 'Q');
		for (; q < end; q++) {
			if (*q == '_') {
				bytes[n++] = ' ';
			} else if (*q == '=') {
				bytes[n++] =
				    (uint8_t)(hexval(q[1]) * 16 + hexval(q[2]));
				q += 2;
			} else {
				bytes[n++] = (uint8_t)*q;
			}
		}
	}
	bytes[n] = '\0';
	for (size_t i = 0; i < n;) {
		size_t c = utf8_valid_prefix(bytes + i);

		cr_assert(c > 0, "a character split between words");
		i += c;
	}
	buf_put(out, bytes, n);
	return end + 2;
}

/* An unstructured header value: unfolded, encoded-words decoded, and the
 * white space between two of them dropped (RFC 2047 6.2). */
static char *ew_decode(const char *value)
{
	struct buf out = { 0 };
	bool after_word = false;
	const char *p = value;

	while (*p != '\0') {
		size_t ws = strspn(p, " \t\r\n");

		if (strncmp(p + ws, "=?", 2) == 0) {
			if (!after_word && ws > 0)
				buf_putc(&out, ' ');
			p = ew_decode_one(p + ws + 2, &out);
			after_word = true;
			continue;
		}
		if (ws > 0) {
			buf_putc(&out, ' ');
			p += ws;
			continue;
		}
		buf_putc(&out, *p++);
		after_word = false;
	}
	return buf_take(&out);
}

/* The value of header name in a message, still folded (malloc'd). */
static char *header(const char *msg, const char *name)
{
	size_t n = strlen(name);
	const char *p = msg, *end;

	while (strncmp(p, name, n) != 0 || p[n] != ':') {
		p = strstr(p, "\r\n");
		cr_assert(p != NULL && p[2] != '\r', "no %s header", name);
		p += 2;
	}
	p += n + 1;
	if (*p == ' ')
		p++;
	end = p;
	do {
		end = strstr(end, "\r\n") + 2;
	} while (*end == ' ' || *end == '\t');
	return strndup(p, (size_t)(end - p - 2));
}

static char *subject_of(const char *subject)
{
	struct buf b = { 0 };
	char *value, *text;

	mime_subject(&b, subject);
	cr_assert_not(buf_failed(&b));
	check_lines(b.data, 78);
	value = header(b.data, "Subject");
	text = ew_decode(value);
	free(value);
	buf_free(&b);
	return text;
}

/* Quoted-printable. */

Test(mime, qp_long_line)
{
	char line[301];

	memset(line, 'a', 300);
	line[300] = '\0';
	qp_round_trip(line, 300);

	char *enc = qp(line, 300);

	cr_expect(strncmp(enc + 75, "=\r\n", 3) == 0, "%s", enc);
	free(enc);
}

Test(mime, qp_equals_and_utf8)
{
	const char *in = "a=b h\xc3\xa9llo \xe2\x82\xac";
	const char *two = "x=1\n\xc3\xa9t\xc3\xa9 \xf0\x9f\x9a\x80\n";
	char *enc = qp(in, strlen(in));

	cr_expect_str_eq(enc, "a=3Db h=C3=A9llo =E2=82=AC");
	free(enc);
	qp_round_trip(two, strlen(two));
}

Test(mime, qp_escape_never_split)
{
	/* 74 letters then é: the =C3 cannot start at column 75. */
	char s[80];

	memset(s, 'a', 74);
	memcpy(s + 74, "\xc3\xa9z", 4);
	char *enc = qp(s, 77);

	cr_expect(strstr(enc, "=\r\n=C3=A9z") != NULL, "%s", enc);
	free(enc);
	qp_round_trip(s, 77);
}

Test(mime, qp_trailing_white_space)
{
	const char *in = "end  \r\nnext\t\nlast ";
	char *enc = qp(in, strlen(in));

	cr_expect_str_eq(enc, "end=20=20\r\nnext=09\r\nlast=20");
	free(enc);
	qp_round_trip("a \t \n \n\t", strlen("a \t \n \n\t"));
}

Test(mime, qp_line_ends)
{
	char *enc = qp("a\r\nb\nc\rd\r\n\r\n", 12);

	cr_expect_str_eq(enc, "a\r\nb\r\nc=0Dd\r\n\r\n");
	free(enc);
	enc = qp(".\r\n.hidden", 10);
	cr_expect_str_eq(enc, ".\r\n.hidden", "curl dot-stuffs, we do not");
	free(enc);
}

Test(mime, qp_random_text_round_trips)
{
	static const char pieces[][5] = { "a",        " ",    "\t",   "=",
		                          "\n",       "\r\n", "\r",   ".",
		                          "\xc3\xa9", "\x01", "\xff", "Z" };
	uint32_t seed = 12345;

	for (int round = 0; round < 500; round++) {
		char s[600];
		size_t len = 0;

		seed = seed * 1103515245 + 12345;
		for (int k = (int)(seed >> 16) % 200; k > 0; k--) {
			const char *piece;

			seed = seed * 1103515245 + 12345;
			piece = pieces[(seed >> 16) % 12];
			memcpy(s + len, piece, strlen(piece));
			len += strlen(piece);
		}
		qp_round_trip(s, len);
	}
}

/* Subjects. */

Test(mime, subject_plain_ascii)
{
	struct buf b = { 0 };

	mime_subject(&b, "Deploy web-1 failed");
	cr_expect_str_eq(buf_str(&b), "Subject: Deploy web-1 failed\r\n");
	buf_free(&b);
}

Test(mime, subject_long_ascii_folds)
{
	const char *s = "DEPLOYMENT_FAILED for deployment web-frontend-42 "
	                "in region europe-west: the health check timed out "
	                "after 300 seconds and the rollout was stopped";
	struct buf b = { 0 };
	char *text;

	mime_subject(&b, s);
	cr_expect(strstr(b.data, "=?") == NULL, "%s", b.data);
	cr_expect(strstr(b.data, "\r\n ") != NULL, "%s", b.data);
	buf_free(&b);
	text = subject_of(s);
	cr_expect_str_eq(text, s);
	free(text);
}

Test(mime, subject_utf8_encoded_words)
{
	const char *s = "D\xc3\xa9ploiement \xc3\xa9"
	                "chou\xc3\xa9 sur "
	                "web-1 \xf0\x9f\x9a\x80 \xe2\x80\x94 la v\xc3\xa9rif"
	                "ication de sant\xc3\xa9 n'a pas r\xc3\xa9pondu "
	                "apr\xc3\xa8s trois cents secondes d'attente";
	char *text = subject_of(s);

	cr_expect_str_eq(text, s);
	free(text);
}

Test(mime, subject_mostly_non_ascii_uses_b)
{
	const char *s = "\xe3\x83\x87\xe3\x83\x97\xe3\x83\xad\xe3\x82\xa4"
	                "\xe5\xa4\xb1\xe6\x95\x97\xe3\x80\x81\xe3\x83\x87"
	                "\xe3\x83\x97\xe3\x83\xad\xe3\x82\xa4\xe5\xa4\xb1"
	                "\xe6\x95\x97\xe3\x80\x81\xe3\x83\x87\xe3\x83\x97"
	                "\xe3\x83\xad\xe3\x82\xa4\xe5\xa4\xb1\xe6\x95\x97";
	struct buf b = { 0 };
	char *text;

	mime_subject(&b, s);
	cr_expect(strstr(b.data, "=?UTF-8?B?") != NULL, "%s", b.data);
	cr_expect(strstr(b.data, "\r\n =?UTF-8?B?") != NULL, "%s", b.data);
	buf_free(&b);
	text = subject_of(s);
	cr_expect_str_eq(text, s);
	free(text);
}

Test(mime, subject_that_looks_encoded_is_encoded)
{
	const char *s = "=?UTF-8?Q?fake?= and 100% ready_now";
	char *text = subject_of(s);

	cr_expect_str_eq(text, s);
	free(text);
}

Test(mime, subject_word_too_long_to_fold_is_encoded)
{
	char s[120];

	memset(s, 'x', 100);
	s[100] = '\0';
	char *text = subject_of(s);

	cr_expect_str_eq(text, s);
	free(text);
}

/* Header injection. */

static const char *const one_to[] = { "ops@example.com" };

static struct mime_message message(void)
{
	return (struct mime_message){
		.from = "Herald <herald@example.com>",
		.to = one_to,
		.nto = 1,
		.subject = "hello",
		.message_id = "<d1@example.com>",
		.date = 1796323728,
		.text = "text\n",
		.text_len = 5,
		.html = "<p>html</p>\n",
		.html_len = 12,
	};
}

static char *compose(const struct mime_message *m)
{
	struct buf b = { 0 };

	cr_assert(mime_compose(m, &b));
	return buf_take(&b);
}

/* The header section alone (malloc'd). */
static char *head_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n");

	cr_assert(end != NULL);
	return strndup(msg, (size_t)(end - msg + 2));
}

Test(mime, subject_cannot_add_headers)
{
	struct mime_message m = message();
	char *msg, *head, *text;

	m.subject = "hi\r\nBcc: evil@example.net\nX-Evil: 1\r\n\r\nbody";
	msg = compose(&m);
	head = head_of(msg);
	cr_expect(strstr(head, "\nBcc:") == NULL, "%s", head);
	cr_expect(strstr(head, "\nX-Evil:") == NULL, "%s", head);
	text = subject_of(m.subject);
	cr_expect_str_eq(text, "hi Bcc: evil@example.net X-Evil: 1 body");
	free(text);
	free(head);
	free(msg);
}

Test(mime, addresses_cannot_add_headers)
{
	static const char *const bad_to[] = {
		"ops@example.com\r\nBcc: evil@example.net"
	};
	struct mime_message m = message();
	struct buf b = { 0 };
	char *msg, *head;

	m.to = bad_to;
	cr_expect_not(mime_compose(&m, &b), "not an address");
	buf_free(&b);

	m = message();
	m.from = "Ops\r\nBcc: evil@example.net <herald@example.com>";
	m.message_id = "<d1@example.com>\r\nX-Evil: 1";
	msg = compose(&m);
	head = head_of(msg);
	cr_expect(strstr(head, "\nBcc:") == NULL, "%s", head);
	cr_expect(strstr(head, "\nX-Evil:") == NULL, "%s", head);
	cr_expect(strstr(head, "From: \"Ops Bcc: evil@example.net\" "
	                       "<herald@example.com>\r\n") != NULL,
	          "%s", head);
	free(head);
	free(msg);
}

/* Addresses and ids. */

Test(mime, addr_spec)
{
	char a[64];

	cr_assert(mime_addr_spec("Herald <herald@example.com>", a, 64));
	cr_expect_str_eq(a, "herald@example.com");
	cr_assert(mime_addr_spec("  ops@example.com ", a, 64));
	cr_expect_str_eq(a, "ops@example.com");
	cr_assert(mime_addr_spec("\"A, B\" <a.b@example.com>", a, 64));
	cr_expect_str_eq(a, "a.b@example.com");
	cr_expect_not(mime_addr_spec("Herald <herald@example.com", a, 64));
	cr_expect_not(mime_addr_spec("nobody", a, 64));
	cr_expect_not(mime_addr_spec("@example.com", a, 64));
	cr_expect_not(mime_addr_spec("a@", a, 64));
	cr_expect_not(mime_addr_spec("a b@example.com", a, 64));
	cr_expect_not(mime_addr_spec("a@example.com", a, 5));
}

Test(mime, message_id)
{
	char id[128];

	mime_message_id("0190a2b4-1c2d", "Herald <herald@Example.COM>", id,
	                sizeof(id));
	cr_expect_str_eq(id, "<0190a2b4-1c2d@Example.COM>");
	mime_message_id("a b<c>\r\n", "not an address", id, sizeof(id));
	cr_expect_str_eq(id, "<a-b-c---@herald>");
}

Test(mime, display_names)
{
	static const char *const to[] = {
		"Op\xc3\xa9rations <ops@example.com>",
		"\"Smith, Jo\" <jo@example.com>",
		"plain@example.com",
	};
	struct mime_message m = message();
	char *msg, *value, *text;

	m.to = to;
	m.nto = 3;
	msg = compose(&m);
	value = header(msg, "To");
	text = ew_decode(value);
	cr_expect_str_eq(text, "Op\xc3\xa9rations <ops@example.com>, "
	                       "\"Smith, Jo\" <jo@example.com>, "
	                       "plain@example.com");
	free(text);
	free(value);
	free(msg);
}

Test(mime, many_recipients_fold)
{
	const char *to[12];
	char names[12][40];
	struct mime_message m = message();
	char *msg, *head, *value;

	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]),
		         "recipient-%02d@example.com", i);
		to[i] = names[i];
	}
	m.to = to;
	m.nto = 12;
	msg = compose(&m);
	head = head_of(msg);
	check_lines(head, 78);
	value = header(msg, "To");
	for (int i = 0; i < 12; i++)
		cr_expect(strstr(value, names[i]) != NULL, "%s", names[i]);
	cr_expect(strstr(value, ",\r\n ") != NULL, "%s", value);
	free(value);
	free(head);
	free(msg);
}

/* The message. */

Test(mime, date)
{
	char d[MIME_DATE_MAX];

	cr_assert(mime_date(0, d, sizeof(d)));
	cr_expect_str_eq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
	cr_assert(mime_date(1796323728, d, sizeof(d)));
	cr_expect_str_eq(d, "Thu, 03 Dec 2026 18:48:48 +0000");
	cr_assert(mime_date(951782400, d, sizeof(d)));
	cr_expect_str_eq(d, "Tue, 29 Feb 2000 00:00:00 +0000");
	cr_expect_not(mime_date(0, d, 10));
}

/* The boundary, from the Content-Type of msg (malloc'd). */
static char *boundary_of(const char *msg)
{
	char *ct = header(msg, "Content-Type");
	char *b = strstr(ct, "boundary=\""), *end, *out;

	cr_assert(b != NULL, "%s", ct);
	b += 10;
	end = strchr(b, '"');
	out = strndup(b, (size_t)(end - b));
	free(ct);
	return out;
}

Test(mime, multipart_structure)
{
	struct mime_message m = message();
	char *msg, *head, *b, *delim, *text_at, *html_at, *end_at;

	m.text = "--\n-- =_herald_ line\n.\nend\n";
	m.text_len = strlen(m.text);
	m.html = "<p>caf\xc3\xa9</p>\n<p>--</p>";
	m.html_len = strlen(m.html);
	msg = compose(&m);
	check_lines(msg, 998);
	head = head_of(msg);
	cr_expect(strstr(head, "\r\nMIME-Version: 1.0\r\n") != NULL);
	cr_expect(strstr(head, "\r\nAuto-Submitted: auto-generated\r\n"));
	cr_expect(strstr(head, "\r\nMessage-ID: <d1@example.com>\r\n"));
	cr_expect(strstr(head, "\r\nDate: Thu, 03 Dec 2026 18:48:48 "
	                       "+0000\r\n"));
	cr_expect(strncmp(head, "From: Herald <herald@example.com>\r\n", 35) ==
	          0);
	cr_expect(strstr(head, "\r\nTo: ops@example.com\r\n"));
	cr_expect(strstr(head, "multipart/alternative;"));

	b = boundary_of(msg);
	delim = malloc(strlen(b) + 8);
	snprintf(delim, strlen(b) + 8, "\r\n--%s", b);
	text_at = strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"
	                      "Content-Transfer-Encoding: "
	                      "quoted-printable\r\n\r\n");
	html_at = strstr(msg, "Content-Type: text/html; charset=UTF-8\r\n"
	                      "Content-Transfer-Encoding: "
	                      "quoted-printable\r\n\r\n");
	cr_assert(text_at != NULL && html_at != NULL && text_at < html_at);

	/* The boundary only frames: once before each part, once at the end. */
	cr_expect(strstr(text_at, delim) < html_at);
	end_at = strstr(html_at, delim);
	cr_assert(end_at != NULL);
	cr_expect(strcmp(end_at + strlen(delim), "--\r\n") == 0, "%s", end_at);
	cr_expect(strstr(text_at,
	                 "--\r\n-- =3D_herald_ line\r\n.\r\nend\r\n") != NULL);
	cr_expect(strstr(html_at, "<p>caf=C3=A9</p>\r\n<p>--</p>\r\n--") !=
	          NULL);
	{
		const char *p = msg;
		int count = 0;

		while ((p = strstr(p, b)) != NULL) {
			count++;
			p += strlen(b);
		}
		cr_expect_eq(count, 4, "Content-Type, two parts, the end");
	}
	free(delim);
	free(b);
	free(head);
	free(msg);
}

Test(mime, same_input_same_bytes)
{
	struct mime_message m = message();
	char *a = compose(&m), *b = compose(&m);

	cr_expect_str_eq(a, b);
	free(a);
	free(b);
}

Test(mime, text_only)
{
	struct mime_message m = message();
	char *msg;

	m.html = NULL;
	m.text = "no newline at the end";
	m.text_len = strlen(m.text);
	msg = compose(&m);
	cr_expect(strstr(msg, "multipart") == NULL);
	cr_expect(strstr(msg, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
	                      "Content-Transfer-Encoding: quoted-printable"
	                      "\r\n\r\nno newline at the end\r\n") != NULL,
	          "%s", msg);
	check_lines(msg, 998);
	free(msg);
}

Test(mime, no_recipient_or_sender_refused)
{
	struct mime_message m = message();
	struct buf b = { 0 };

	m.nto = 0;
	cr_expect_not(mime_compose(&m, &b));
	buf_free(&b);
	m = message();
	m.from = "Herald";
	cr_expect_not(mime_compose(&m, &b));
	buf_free(&b);
}
