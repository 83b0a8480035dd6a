/*
 * The email sink: one message per delivery, rendered from the sink's
 * templates (subject in header mode, text, and html when there is one),
 * composed by mime.c and sent over SMTP by one libcurl easy handle on the
 * dispatcher's loop (dispatch/curl_driver.h).
 *
 * TLS is never optional: smtp:// must upgrade with STARTTLS and smtps://
 * speaks TLS from the first byte; the server's certificate and name are
 * always verified. The outcome follows the SMTP reply: 4xx and network
 * trouble are worth a retry, 5xx and refused credentials are not.
 *
 * An open sink borrows its configuration and the environment's loop,
 * curl driver and template store; it owns the recipient list its
 * transfers share, so it must outlive them (sink.h: close comes only when
 * nothing is in flight).
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "dispatch/curl_driver.h"
#include "sinks/email.h"
#include "sinks/kinds.h"
#include "sinks/mime.h"
#include "sinks/sink.h"
#include "template/store.h"
#include "util/buf.h"

#define EMAIL_ADDR_MAX 320
#define EMAIL_NAME_MAX 256

struct email_sink {
	const struct config_sink *cfg;
	struct sink_env env;
	char mail_from[EMAIL_ADDR_MAX]; /* the envelope sender */
	struct curl_slist *rcpt;        /* the envelope recipients */
};

/* One delivery in flight: the message and what came back. */
struct email_send {
	struct email_sink *sink;
	struct buf message;
	size_t sent; /* bytes of message handed to curl */
	char last[SINK_RESPONSE_MAX + 1];
	size_t last_len; /* of the server's latest reply line */
	char errbuf[CURL_ERROR_SIZE];
	sink_done_fn done;
	void *arg;
};

/* The rendered parts; html is NULL when the sink has no html template. */
struct email_parts {
	char *subject, *text, *html;
	size_t subject_len, text_len, html_len;
};

/* Checking the configuration. */

static bool email_url_fits(const struct config_sink *cfg, const char *scheme,
                           const char **key, char *err, size_t size)
{
	bool implicit = cfg->smtp_tls == CONFIG_SMTP_IMPLICIT;

	*key = "smtp_url";
	if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0) {
		snprintf(err, size,
		         "must start with smtp:// or smtps://, not %s://",
		         scheme);
		return false;
	}
	*key = "smtp_tls";
	if (!implicit && strcmp(scheme, "smtps") == 0) {
		snprintf(err, size,
		         "\"starttls\" does not go with an smtps:// URL (TLS "
		         "from the first byte): use smtp://HOST:587, or set "
		         "smtp_tls to \"implicit\"");
		return false;
	}
	if (implicit && strcmp(scheme, "smtp") == 0) {
		snprintf(err, size,
		         "\"implicit\" does not go with an smtp:// URL "
		         "(STARTTLS): use smtps://HOST:465, or set smtp_tls to "
		         "\"starttls\"");
		return false;
	}
	return true;
}

static bool email_check_url(const struct config_sink *cfg, const char **key,
                            char *err, size_t size)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *password = NULL;
	bool ok = false;

	*key = "smtp_url";
	if (u == NULL) {
		snprintf(err, size, "out of memory");
		return false;
	}
	if (curl_url_set(u, CURLUPART_URL, cfg->smtp_url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		snprintf(err, size, "not a URL like smtp://HOST:587");
	else if (curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK)
		snprintf(err, size,
		         "must not hold a password: use \"username\" and "
		         "\"password\"");
	else
		ok = email_url_fits(cfg, scheme, key, err, size);

	curl_free(scheme);
	curl_free(host);
	curl_free(password);
	curl_url_cleanup(u);
	return ok;
}

static bool email_check_addr(const char *mailbox, const char *key,
                             const char **at, char *err, size_t size)
{
	char addr[EMAIL_ADDR_MAX];

	if (mime_addr_spec(mailbox, addr, sizeof(addr)))
		return true;
	*at = key;
	snprintf(err, size, "\"%s\" is not an address", mailbox);
	return false;
}

bool email_check(const struct config_sink *cfg, const char **key, char *err,
                 size_t size)
{
	if (!email_check_url(cfg, key, err, size) ||
	    !email_check_addr(cfg->from, "from", key, err, size))
		return false;
	for (size_t i = 0; i < cfg->to.count; i++)
		if (!email_check_addr(cfg->to.items[i], "to", key, err, size))
			return false;
	if (cfg->to.count == 0) {
		*key = "to";
		snprintf(err, size, "names no recipient");
		return false;
	}
	return true;
}

/* Opening. */

static void email_free(struct email_sink *s)
{
	if (s == NULL)
		return;
	curl_slist_free_all(s->rcpt);
	free(s);
}

/* The envelope sender and recipients, from the addresses of from and
 * to. */
static bool email_envelope(struct email_sink *s)
{
	const struct cfg_strings *to = &s->cfg->to;

	if (!mime_addr_spec(s->cfg->from, s->mail_from, sizeof(s->mail_from)))
		return false;
	for (size_t i = 0; i < to->count; i++) {
		char addr[EMAIL_ADDR_MAX];
		struct curl_slist *l;

		if (!mime_addr_spec(to->items[i], addr, sizeof(addr)))
			return false;
		l = curl_slist_append(s->rcpt, addr);
		if (l == NULL)
			return false;
		s->rcpt = l;
	}
	return true;
}

static void *email_open(const struct config_sink *cfg,
                        const struct sink_env *env, char *err, size_t size)
{
	struct email_sink *s;
	const char *key;
	char why[256];

	if (!email_check(cfg, &key, why, sizeof(why))) {
		snprintf(err, size, "%s: %s", key, why);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, size, "out of memory");
		return NULL;
	}
	s->cfg = cfg;
	s->env = *env;
	if (!email_envelope(s)) {
		/* email_check accepted every address: only memory is short */
		snprintf(err, size, "out of memory");
		email_free(s);
		return NULL;
	}
	return s;
}

static void email_close(void *sink)
{
	email_free(sink);
}

/* Rendering. */

/* The configured template, else the default for the event type. */
static bool email_template_name(struct email_sink *s, const char *type,
                                const char *configured, const char *part,
                                char *name, size_t size)
{
	if (configured != NULL && *configured != '\0') {
		snprintf(name, size, "%s", configured);
		return true;
	}
	return tmpl_store_find(s->env.templates, "email", type, part, name,
	                       size);
}

/*
 * Render one part into *out. A part without a template is an error when
 * required, else *out stays NULL. Errors are for good: the same template
 * over the same event would fail the same way on every retry.
 */
static bool email_render(struct email_sink *s, const struct sink_message *msg,
                         const char *configured, const char *part,
                         bool required, char **out, size_t *len,
                         struct sink_result *r)
{
	const char *type = msg->event_type != NULL ? msg->event_type : "";
	char name[EMAIL_NAME_MAX], err[sizeof(r->error)];
	bool header = strcmp(part, "subject.txt") == 0;

	*out = NULL;
	if (!email_template_name(s, type, configured, part, name,
	                         sizeof(name))) {
		if (required)
			sink_result_set(r, SINK_FAILED,
			                "no email template for %s: neither "
			                "email/%s.%s nor email/default.%s",
			                type, type, part, part);
		return !required;
	}
	if (tmpl_store_render(s->env.templates, name, msg->event, header, out,
	                      len, err, sizeof(err)))
		return true;
	if (strstr(err, name) != NULL)
		sink_result_set(r, SINK_FAILED, "%s", err);
	else
		sink_result_set(r, SINK_FAILED, "%s: %s", name, err);
	return false;
}

static void email_parts_free(struct email_parts *p)
{
	free(p->subject);
	free(p->text);
	free(p->html);
}

static bool email_compose(struct email_sink *s, const struct sink_message *msg,
                          const struct email_parts *p, struct buf *out,
                          struct sink_result *r)
{
	char id[EMAIL_ADDR_MAX];
	struct mime_message m = {
		.from = s->cfg->from,
		.to = s->cfg->to.items,
		.nto = s->cfg->to.count,
		.subject = p->subject,
		.message_id = id,
		.date = time(NULL),
		.text = p->text,
		.text_len = p->text_len,
		.html = p->html,
		.html_len = p->html_len,
	};

	mime_message_id(msg->delivery_id, s->cfg->from, id, sizeof(id));
	if (mime_compose(&m, out))
		return true;
	/* The addresses passed at open, so only memory can be short. */
	sink_result_set(r, SINK_RETRY, "out of memory composing the message");
	return false;
}

static bool email_build(struct email_sink *s, const struct sink_message *msg,
                        struct buf *out, struct sink_result *r)
{
	const struct config_sink *cfg = s->cfg;
	struct email_parts p = { 0 };
	bool ok;

	ok = email_render(s, msg, cfg->subject, "subject.txt", true, &p.subject,
	                  &p.subject_len, r) &&
	     email_render(s, msg, cfg->text, "txt", true, &p.text, &p.text_len,
	                  r) &&
	     email_render(s, msg, cfg->html, "html", false, &p.html,
	                  &p.html_len, r) &&
	     email_compose(s, msg, &p, out, r);

	email_parts_free(&p);
	return ok;
}

/* Sending. */

static size_t email_read(char *dst, size_t size, size_t n, void *arg)
{
	struct email_send *t = arg;
	size_t room = size * n, left = t->message.len - t->sent;

	if (room > left)
		room = left;
	memcpy(dst, t->message.data + t->sent, room);
	t->sent += room;
	return room;
}

/* libcurl hands every SMTP reply line to the header callback; the last
 * one is what the server said about the step that ended the transfer. */
static size_t email_on_reply(char *p, size_t size, size_t n, void *arg)
{
	struct email_send *t = arg;
	size_t len = size * n, keep = len;

	while (keep > 0 && (p[keep - 1] == '\r' || p[keep - 1] == '\n'))
		keep--;
	if (keep > 0 && p[0] >= '1' && p[0] <= '5') {
		if (keep > SINK_RESPONSE_MAX)
			keep = SINK_RESPONSE_MAX;
		memcpy(t->last, p, keep);
		t->last_len = keep;
	}
	return len;
}

static bool email_setopt_transfer(CURL *e, struct email_send *t)
{
	const struct email_sink *s = t->sink;

	return curl_easy_setopt(e, CURLOPT_URL, s->cfg->smtp_url) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps") ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->mail_from) ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_MAIL_RCPT, s->rcpt) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_READFUNCTION, email_read) ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_READDATA, t) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE,
	                        (curl_off_t)t->message.len) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, email_on_reply) ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_HEADERDATA, t) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf) ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
}

static bool email_setopt_security(CURL *e, const struct config_sink *cfg)
{
	/* libcurl waits for the reply to the end of DATA without returning
	 * to the loop; the reply timeout bounds that wait too. */
	long reply_s = (long)((cfg->timeout_ms + 999) / 1000);

	return curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL) ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	       (cfg->ca_file == NULL ||
	        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file) ==
	            CURLE_OK) &&
	       (cfg->username == NULL ||
	        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->username) ==
	            CURLE_OK) &&
	       (cfg->password == NULL ||
	        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->password) ==
	            CURLE_OK) &&
	       curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms) ==
	           CURLE_OK &&
	       curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, reply_s) ==
	           CURLE_OK;
}

/* Curl errors that no retry can mend: the configuration or the server's
 * certificate has to change first. */
static const CURLcode email_permanent[] = {
	CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT,
	CURLE_NOT_BUILT_IN,         CURLE_LOGIN_DENIED,
	CURLE_USE_SSL_FAILED,       CURLE_PEER_FAILED_VERIFICATION,
	CURLE_SSL_CACERT_BADFILE,   CURLE_SSL_CERTPROBLEM,
	CURLE_AUTH_ERROR,
};

/* 5xx is for good, 4xx is for later (RFC 5321 4.2.1); without a reply
 * code, network trouble and timeouts are retried. */
static enum sink_outcome email_outcome(CURLcode rc, long code)
{
	if (rc == CURLE_OK)
		return SINK_DELIVERED;
	if (code >= 500 && code <= 599)
		return SINK_FAILED;
	if (code >= 400 && code <= 499)
		return SINK_RETRY;
	for (size_t i = 0; i < sizeof(email_permanent) / sizeof(CURLcode); i++)
		if (rc == email_permanent[i])
			return SINK_FAILED;
	return SINK_RETRY;
}

/* A server may echo what it was sent: never let the password out. */
static void email_scrub(char *s, const char *secret)
{
	size_t n = secret != NULL ? strlen(secret) : 0;

	/* Search on after each hit: a password of stars would match its own
	 * mask for ever. */
	for (char *hit = s; n > 0 && (hit = strstr(hit, secret)) != NULL;
	     hit += n)
		memset(hit, '*', n);
}

static void email_result(const struct email_send *t, CURLcode rc, long code,
                         struct sink_result *r)
{
	const char *why =
	    t->errbuf[0] != '\0' ? t->errbuf : curl_easy_strerror(rc);
	const char *password = t->sink->cfg->password;

	/* The reply line, made printable, says more than curl's words for
	 * a refusal ("Weird server reply"), so a refusal quotes it. */
	sink_result_response(r, t->last, t->last_len);
	r->outcome = email_outcome(rc, code);
	if (r->outcome != SINK_DELIVERED && code >= 400 && t->last_len > 0)
		sink_result_set(r, r->outcome, "%s: %s", why, r->response);
	else if (r->outcome != SINK_DELIVERED)
		sink_result_set(r, r->outcome, "%s", why);
	email_scrub(r->error, password);
	email_scrub(r->response, password);
}

static void email_send_free(struct email_send *t)
{
	buf_free(&t->message);
	free(t);
}

static void email_sent(CURL *easy, CURLcode rc, void *arg)
{
	struct email_send *t = arg;
	struct sink_result r = { .retry_after_ms = -1 };
	sink_done_fn done = t->done;
	void *done_arg = t->arg;
	long code = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	email_result(t, rc, code, &r);
	curl_easy_cleanup(easy);
	email_send_free(t);
	done(done_arg, &r);
}

static bool email_start(struct email_send *t, struct sink_result *r)
{
	CURL *e = curl_easy_init();

	if (e == NULL) {
		sink_result_set(r, SINK_RETRY, "out of memory");
		return false;
	}
	if (!email_setopt_transfer(e, t) ||
	    !email_setopt_security(e, t->sink->cfg)) {
		/* An option this libcurl lacks (STARTTLS, SMTP, TLS). */
		curl_easy_cleanup(e);
		sink_result_set(r, SINK_FAILED,
		                "libcurl cannot send mail as configured");
		return false;
	}
	if (!curl_driver_add(t->sink->env.curl, e, email_sent, t)) {
		curl_easy_cleanup(e);
		sink_result_set(r, SINK_RETRY, "could not start the transfer");
		return false;
	}
	return true;
}

static void email_deliver(void *sink, const struct sink_message *msg,
                          sink_done_fn done, void *arg)
{
	struct email_sink *s = sink;
	struct sink_result r = { .outcome = SINK_FAILED, .retry_after_ms = -1 };
	struct email_send *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		sink_result_set(&r, SINK_RETRY, "out of memory");
		done(arg, &r);
		return;
	}
	t->sink = s;
	t->done = done;
	t->arg = arg;

	if (!email_build(s, msg, &t->message, &r) || !email_start(t, &r)) {
		email_send_free(t);
		done(arg, &r);
	}
}

const struct sink_ops sink_email_ops = {
	.kind = "email",
	.open = email_open,
	.deliver = email_deliver,
	.close = email_close,
};
