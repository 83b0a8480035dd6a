/*
 * Composing an e-mail message: header fields folded at word boundaries,
 * RFC 2047 encoded-words for text that is not plain ASCII,
 * quoted-printable bodies and the multipart frame around them.
 *
 * Header fields are written word by word through struct hdr, which knows
 * the column and folds (CRLF and a space) before a word that would pass
 * HDR_COLS; a word is never split, so every encoded-word is made to fit
 * the room left on its line before it is written.
 */
#include "sinks/mime.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/base64.h"
#include "util/buf.h"
#include "util/utf8.h"

#define HDR_COLS      78                   /* RFC 5322 2.1.1 */
#define QP_COLS       76                   /* RFC 2045 6.7 (5) */
#define WORD_MAX      75                   /* RFC 2047 2 */
#define WORD_OVERHEAD 12                   /* "=?UTF-8?Q?" and "?=" */
#define WORD_MIN      (WORD_OVERHEAD + 12) /* one 4-byte character, Q */
#define ADDR_MAX      320

enum ew_kind {
	EW_Q,
	EW_B,
};

/* A header field being written, and where its current line stands. */
struct hdr {
	struct buf *out;
	size_t col;
	bool words; /* the current line has a word already */
};

static void hdr_start(struct hdr *h, struct buf *out, const char *name)
{
	h->out = out;
	buf_puts(out, name);
	buf_putc(out, ':');
	h->col = strlen(name) + 1;
	h->words = false;
}

/* One word after a space, folding first when it would not fit. The
 * first word of a line is never folded away from it: nothing is gained. */
static void hdr_word(struct hdr *h, const char *w, size_t len)
{
	if (h->words && h->col + 1 + len > HDR_COLS) {
		buf_puts(h->out, "\r\n");
		h->col = 0;
	}
	buf_putc(h->out, ' ');
	buf_put(h->out, w, len);
	h->col += 1 + len;
	h->words = true;
}

static void hdr_end(struct hdr *h)
{
	buf_puts(h->out, "\r\n");
}

/* Characters a word can have on the current line after its space. */
static size_t hdr_room(const struct hdr *h)
{
	return h->col + 1 < HDR_COLS ? HDR_COLS - h->col - 1 : 0;
}

static bool is_space_or_control(unsigned char c)
{
	return c <= 0x20 || c == 0x7f;
}

/*
 * A copy of s fit for a header (malloc'd, NULL when out of memory): CR,
 * LF and every other control character become spaces, runs of spaces
 * one, the ends are trimmed, and bytes that are not UTF-8 become "?".
 */
static char *hdr_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(strlen(s) + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	while (*p != '\0') {
		size_t n = utf8_valid_prefix(p);

		if (n == 1 && is_space_or_control(*p)) {
			if (o > 0 && out[o - 1] != ' ')
				out[o++] = ' ';
			p++;
			continue;
		}
		if (n == 0) {
			out[o++] = '?';
			p++;
			continue;
		}
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	if (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return out;
}

/* Whether clean text s can be written as it is: printable ASCII, nothing
 * a reader could take for an encoded-word, and each word short enough to
 * fit a line (the first one the room left after the field name). */
static bool hdr_plain_ok(const char *s, size_t first_room)
{
	size_t word = 0, limit = first_room;

	if (strstr(s, "=?") != NULL)
		return false;
	for (const char *p = s;; p++) {
		if (*p == ' ' || *p == '\0') {
			if (word > limit)
				return false;
			if (*p == '\0')
				return true;
			word = 0;
			limit = HDR_COLS - 1;
			continue;
		}
		if ((unsigned char)*p > 0x7e)
			return false;
		word++;
	}
}

static void hdr_plain(struct hdr *h, const char *s)
{
	while (*s != '\0') {
		size_t n = strcspn(s, " ");

		hdr_word(h, s, n);
		s += n;
		if (*s == ' ')
			s++;
	}
}

/* Encoded-words: RFC 2047 section 5 (3), the strictest context, so the
 * same words serve in a Subject and in a display name. */
static bool q_literal(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!*+-/", c) != NULL;
}

static size_t q_cost(unsigned char c)
{
	return c == ' ' || q_literal(c) ? 1 : 3;
}

static size_t q_length(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += q_cost((unsigned char)*s);
	return n;
}

static size_t char_len(const char *s)
{
	size_t n = utf8_valid_prefix((const unsigned char *)s);

	return n == 0 ? 1 : n;
}

/* How many bytes of s, in whole characters (RFC 2047 5: a character is
 * never split between words), fit an encoded-word of room characters. */
static size_t ew_take(const char *s, enum ew_kind kind, size_t room)
{
	size_t payload = room - WORD_OVERHEAD, used = 0, n = 0;

	while (s[n] != '\0') {
		size_t len = char_len(s + n), cost = 0;

		for (size_t k = 0; k < len; k++)
			cost += q_cost((unsigned char)s[n + k]);
		if (kind == EW_Q && used + cost > payload)
			break;
		if (kind == EW_B && BASE64_LEN(n + len) > payload)
			break;
		used += cost;
		n += len;
	}
	return n;
}

static void ew_put(struct hdr *h, const char *s, size_t n, enum ew_kind kind)
{
	static const char hex[] = "0123456789ABCDEF";
	char word[WORD_MAX + 1];
	size_t o = 10;

	memcpy(word, kind == EW_Q ? "=?UTF-8?Q?" : "=?UTF-8?B?", o);
	if (kind == EW_B) {
		base64_encode((const uint8_t *)s, n, word + o);
		o += BASE64_LEN(n);
	}
	for (size_t i = 0; kind == EW_Q && i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ') {
			word[o++] = '_';
		} else if (q_literal(c)) {
			word[o++] = (char)c;
		} else {
			word[o++] = '=';
			word[o++] = hex[c >> 4];
			word[o++] = hex[c & 15];
		}
	}
	memcpy(word + o, "?=", 2);
	hdr_word(h, word, o + 2);
}

/* Clean text s as encoded-words, Q or B, whichever is shorter overall. */
static void hdr_encoded(struct hdr *h, const char *s)
{
	enum ew_kind kind = q_length(s) <= BASE64_LEN(strlen(s)) ? EW_Q : EW_B;

	while (*s != '\0') {
		size_t room = hdr_room(h), n;

		/* Too little room here: the word starts a new line. */
		if (room < WORD_MIN || room > WORD_MAX)
			room = WORD_MAX;
		n = ew_take(s, kind, room);
		ew_put(h, s, n, kind);
		s += n;
	}
}

/* Clean text as plain words when it can be, else encoded. */
static void hdr_text(struct hdr *h, const char *clean)
{
	if (hdr_plain_ok(clean, hdr_room(h)))
		hdr_plain(h, clean);
	else
		hdr_encoded(h, clean);
}

void mime_subject(struct buf *out, const char *subject)
{
	char *clean = hdr_clean(subject);
	struct hdr h;

	if (clean == NULL) {
		out->failed = true;
		return;
	}
	hdr_start(&h, out, "Subject");
	hdr_text(&h, clean);
	hdr_end(&h);
	free(clean);
}

/* Addresses. */

static bool addr_char_ok(unsigned char c)
{
	return !is_space_or_control(c) && strchr("<>(),;\"", c) == NULL;
}

bool mime_addr_spec(const char *mailbox, char *out, size_t size)
{
	const char *lt = strrchr(mailbox, '<'), *start, *end, *at = NULL;

	if (lt != NULL) {
		start = lt + 1;
		end = strchr(start, '>');
		if (end == NULL)
			return false;
	} else {
		start = mailbox + strspn(mailbox, " \t");
		end = start + strlen(start);
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
	}
	for (const char *p = start; p < end; p++) {
		if (!addr_char_ok((unsigned char)*p))
			return false;
		if (*p == '@')
			at = p;
	}
	if (at == NULL || at == start || at + 1 == end ||
	    (size_t)(end - start) >= size)
		return false;
	memcpy(out, start, (size_t)(end - start));
	out[end - start] = '\0';
	return true;
}

/* The display name of a mailbox: what comes before "<", trimmed, with
 * surrounding quotes and their backslash escapes taken off. malloc'd;
 * "" when there is none. NULL when out of memory. */
static char *display_name(const char *mailbox)
{
	const char *lt = strrchr(mailbox, '<');
	size_t len = lt != NULL ? (size_t)(lt - mailbox) : 0, o = 0;
	char *raw = strndup(mailbox, len), *clean, *p;

	if (raw == NULL)
		return NULL;
	clean = hdr_clean(raw);
	free(raw);
	if (clean == NULL)
		return NULL;
	len = strlen(clean);
	if (len < 2 || clean[0] != '"' || clean[len - 1] != '"')
		return clean;
	clean[len - 1] = '\0';
	for (p = clean + 1; *p != '\0'; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		clean[o++] = *p;
	}
	clean[o] = '\0';
	return clean;
}

/* A plain display name with a special in it goes out quoted. */
static void hdr_quoted(struct hdr *h, const char *name)
{
	struct buf q = { 0 };

	buf_putc(&q, '"');
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(&q, '\\');
		buf_putc(&q, *p);
	}
	buf_putc(&q, '"');
	if (buf_failed(&q))
		h->out->failed = true;
	else
		hdr_word(h, q.data, q.len);
	buf_free(&q);
}

static void hdr_phrase(struct hdr *h, const char *name)
{
	if (!hdr_plain_ok(name, hdr_room(h)))
		hdr_encoded(h, name);
	else if (strpbrk(name, "()<>[]:;@\\,.\"") != NULL)
		hdr_quoted(h, name);
	else
		hdr_plain(h, name);
}

/* One mailbox of an address list, sep (",", or "" for the last) after
 * it. False if it has no address. */
static bool hdr_mailbox(struct hdr *h, const char *mailbox, const char *sep)
{
	char addr[ADDR_MAX], word[ADDR_MAX + 4];
	char *name = display_name(mailbox);
	int n;

	if (name == NULL) {
		h->out->failed = true;
		return false;
	}
	if (!mime_addr_spec(mailbox, addr, sizeof(addr))) {
		free(name);
		return false;
	}
	if (*name != '\0')
		hdr_phrase(h, name);
	n = snprintf(word, sizeof(word), *name != '\0' ? "<%s>%s" : "%s%s",
	             addr, sep);
	hdr_word(h, word, (size_t)n);
	free(name);
	return true;
}

/* Dates and ids. */

bool mime_date(time_t t, char *out, size_t size)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed",
		                         "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr",
		                            "May", "Jun", "Jul", "Aug",
		                            "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	int n;

	/* Names from tables, not strftime: the locale must not matter. */
	if (gmtime_r(&t, &tm) == NULL)
		return false;
	n = snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return n > 0 && (size_t)n < size;
}

/* Copy s into out (size bytes), keeping letters, digits and the
 * characters of extra, putting "-" for the rest. */
static void copy_kept(const char *s, char *out, size_t size, const char *extra)
{
	size_t o = 0;

	for (; *s != '\0' && o + 1 < size; s++) {
		unsigned char c = (unsigned char)*s;
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9');

		out[o++] = alnum || strchr(extra, c) != NULL ? (char)c : '-';
	}
	out[o] = '\0';
}

void mime_message_id(const char *id, const char *from, char *out, size_t size)
{
	char left[128], domain[256] = "", addr[ADDR_MAX];

	copy_kept(id, left, sizeof(left), "-_");
	if (mime_addr_spec(from, addr, sizeof(addr)))
		copy_kept(strrchr(addr, '@') + 1, domain, sizeof(domain), "-.");
	snprintf(out, size, "<%s@%s>", left,
	         *domain != '\0' ? domain : "herald");
}

/* Quoted-printable. */

static void qp_line(struct buf *out, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t trail = n, col = 0;

	/* White space at the end of a line would be lost in transport. */
	while (trail > 0 && (p[trail - 1] == ' ' || p[trail - 1] == '\t'))
		trail--;
	for (size_t i = 0; i < n; i++) {
		bool literal = (p[i] >= 33 && p[i] <= 126 && p[i] != '=') ||
		               ((p[i] == ' ' || p[i] == '\t') && i < trail);
		size_t len = literal ? 1 : 3;
		/* The last token may reach column 76; any other must leave
		 * room for the "=" of a soft break. */
		size_t limit = i + 1 == n ? QP_COLS : QP_COLS - 1;

		if (col + len > limit) {
			buf_puts(out, "=\r\n");
			col = 0;
		}
		if (literal) {
			buf_putc(out, (char)p[i]);
		} else {
			char esc[3] = { '=', hex[p[i] >> 4], hex[p[i] & 15] };

			buf_put(out, esc, 3);
		}
		col += len;
	}
}

void mime_qp_encode(struct buf *out, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t start = 0;

	if (len == 0)
		return;
	for (;;) {
		const unsigned char *lf = memchr(p + start, '\n', len - start);
		size_t end = lf != NULL ? (size_t)(lf - p) : len;
		size_t n = end - start;

		if (lf != NULL && n > 0 && p[end - 1] == '\r')
			n--;
		qp_line(out, p + start, n);
		if (lf == NULL)
			break;
		buf_puts(out, "\r\n");
		start = end + 1;
	}
}

/* The message. */

static bool put_addresses(struct buf *out, const struct mime_message *m)
{
	struct hdr h;
	bool ok;

	hdr_start(&h, out, "From");
	ok = hdr_mailbox(&h, m->from, "");
	hdr_end(&h);

	hdr_start(&h, out, "To");
	for (size_t i = 0; ok && i < m->nto; i++)
		ok = hdr_mailbox(&h, m->to[i], i + 1 < m->nto ? "," : "");
	hdr_end(&h);
	return ok && m->nto > 0;
}

static bool put_headers(struct buf *out, const struct mime_message *m)
{
	char date[MIME_DATE_MAX];
	char *id = hdr_clean(m->message_id);

	if (id == NULL || !mime_date(m->date, date, sizeof(date)) ||
	    !put_addresses(out, m)) {
		free(id);
		return false;
	}
	mime_subject(out, m->subject);
	buf_printf(out, "Date: %s\r\n", date);
	buf_printf(out, "Message-ID: %s\r\n", id);
	buf_puts(out, "MIME-Version: 1.0\r\n");
	/* RFC 3834: no vacation replies or bounces to a notifier. */
	buf_puts(out, "Auto-Submitted: auto-generated\r\n");
	free(id);
	return true;
}

static uint64_t fnv1a(const char *s, uint64_t h)
{
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211u;
	}
	return h;
}

/*
 * A boundary derived from the message id and date, checked against the
 * encoded parts. Quoted-printable never has "=_" (an "=" is followed by
 * hex digits or a line end), so the first candidate always passes; the
 * check keeps that true whatever changes.
 */
static void pick_boundary(const struct mime_message *m, const char *text,
                          const char *html, char *out, size_t size)
{
	uint64_t h =
	    fnv1a(m->message_id, 14695981039346656037u) ^ (uint64_t)m->date;

	for (unsigned i = 0;; i++) {
		snprintf(out, size, "=_herald_%016" PRIx64 "_%u", h, i);
		if (strstr(text, out) == NULL && strstr(html, out) == NULL)
			return;
	}
}

static void put_part_headers(struct buf *out, const char *type)
{
	buf_printf(out, "Content-Type: %s; charset=UTF-8\r\n", type);
	buf_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
}

static void put_alternative(struct buf *out, const struct mime_message *m,
                            const struct buf *text, const struct buf *html)
{
	char b[64];

	pick_boundary(m, buf_str(text), buf_str(html), b, sizeof(b));
	buf_printf(out,
	           "Content-Type: multipart/alternative;\r\n"
	           " boundary=\"%s\"\r\n\r\n",
	           b);
	buf_printf(out, "--%s\r\n", b);
	put_part_headers(out, "text/plain");
	buf_puts(out, buf_str(text));
	buf_printf(out, "\r\n--%s\r\n", b);
	put_part_headers(out, "text/html");
	buf_puts(out, buf_str(html));
	buf_printf(out, "\r\n--%s--\r\n", b);
}

static void put_single(struct buf *out, const struct buf *text)
{
	put_part_headers(out, "text/plain");
	buf_puts(out, buf_str(text));
	if (text->len < 2 || memcmp(text->data + text->len - 2, "\r\n", 2))
		buf_puts(out, "\r\n");
}

bool mime_compose(const struct mime_message *m, struct buf *out)
{
	struct buf text = { 0 }, html = { 0 };
	bool ok;

	mime_qp_encode(&text, m->text, m->text_len);
	if (m->html != NULL)
		mime_qp_encode(&html, m->html, m->html_len);
	ok = !buf_failed(&text) && !buf_failed(&html) && put_headers(out, m);

	if (ok && m->html != NULL)
		put_alternative(out, m, &text, &html);
	else if (ok)
		put_single(out, &text);

	buf_free(&text);
	buf_free(&html);
	return ok && !buf_failed(out);
}
