/*
 * herald send: post one event to a generic source of a running Herald,
 * signed or authenticated the way the configuration says, and print the
 * answer. For people testing a setup, much as amtool's "alert add".
 */
#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "config/config.h"
#include "sources/signature.h"
#include "util/buf.h"
#include "util/uuid.h"

static const char usage[] =
    "usage: herald send [OPTIONS] SOURCE EVENT_TYPE [KEY=VALUE...]\n"
    "\n"
    "Post one event to the generic source SOURCE of a running Herald,\n"
    "signed with the source's secret from the configuration, and print\n"
    "the answer. KEY=VALUE pairs become fields of the JSON body (VALUE\n"
    "is taken as JSON when it parses, else as a string). Exit status 0\n"
    "when the event was accepted or was a duplicate.\n"
    "\n"
    "  -d, --deployment ID     the deployment id\n"
    "  -s, --severity LEVEL    the severity\n"
    "  -b, --body FILE         send FILE (or - for stdin) as the body\n"
    "  -i, --id ID             webhook-id (default: a new one)\n"
    "  -u, --url URL           Herald's base URL (default: public_url, or\n"
    "                          the listen address)\n"
    "      --cacert FILE       trust FILE (default: the configured\n"
    "                          certificate when it is self-signed)\n"
    "  -k, --insecure          do not verify the server's "
    "certificate\n" CLI_COMMON_USAGE;

struct send_opts {
	struct cli_common common;
	const char *deployment;
	const char *severity;
	const char *body_file;
	const char *id;
	const char *url;
	const char *cacert;
	bool insecure;
	const char *source;
	const char *type;
	char **pairs;
	int npairs;
};

/* Set value at a JSON pointer, creating objects on the way. */
static bool put_at(json_t *root, const char *pointer, json_t *value)
{
	char *path = strdup(pointer), *save = NULL, *tok;
	json_t *at = root;
	bool ok = path != NULL && pointer[0] == '/';

	for (tok = ok ? strtok_r(path + 1, "/", &save) : NULL; ok && tok;) {
		char *next = strtok_r(NULL, "/", &save);

		if (next == NULL) {
			ok = json_object_set(at, tok, value) == 0;
			break;
		}
		if (!json_is_object(json_object_get(at, tok)))
			json_object_set_new(at, tok, json_object());
		at = json_object_get(at, tok);
		tok = next;
	}
	free(path);
	json_decref(value);
	return ok;
}

static json_t *pair_value(const char *v)
{
	json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);

	return j ? j : json_string(v);
}

/* The body from the pairs and the fields the source reads from it. */
static char *build_body(const struct send_opts *o,
                        const struct config_generic *src)
{
	json_t *body = json_object();
	const struct {
		const struct config_field *f;
		const char *v;
	} fields[] = { { &src->event_type, o->type },
		       { &src->deployment_id, o->deployment },
		       { &src->severity, o->severity } };
	char *text;

	for (int i = 0; i < o->npairs; i++) {
		char *eq = strchr(o->pairs[i], '=');

		if (eq == NULL || eq == o->pairs[i]) {
			fprintf(stderr, "herald: \"%s\" is not KEY=VALUE\n",
			        o->pairs[i]);
			json_decref(body);
			return NULL;
		}
		*eq = '\0';
		json_object_set_new(body, o->pairs[i], pair_value(eq + 1));
		*eq = '=';
	}
	for (size_t i = 0; i < 3; i++) {
		if (fields[i].v != NULL && fields[i].f->pointer != NULL)
			put_at(body, fields[i].f->pointer,
			       json_string(fields[i].v));
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	return text;
}

static char *read_body(const char *file)
{
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "re");
	struct buf b = { 0 };
	char chunk[8192];
	size_t n;

	if (f == NULL) {
		perror(file);
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_put(&b, chunk, n);
	if (f != stdin)
		fclose(f);
	if (buf_failed(&b)) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

static struct curl_slist *add(struct curl_slist *l, const char *name,
                              const char *value)
{
	char line[1024];

	snprintf(line, sizeof(line), "%s: %s", name, value);
	return curl_slist_append(l, line);
}

/* Content type, authentication, and the header-borne fields. */
static struct curl_slist *headers(const struct send_opts *o,
                                  const struct config_generic *src,
                                  const char *body)
{
	struct curl_slist *l = add(NULL, "Content-Type", "application/json");
	const struct config_field *f[] = { &src->event_type,
		                           &src->deployment_id,
		                           &src->severity };
	const char *v[] = { o->type, o->deployment, o->severity };
	char id[64], ts[24], sig[SIG_HEADER_MAX], auth[600];
	int64_t now;

	for (size_t i = 0; i < 3; i++) {
		if (v[i] != NULL && f[i]->header != NULL)
			l = add(l, f[i]->header, v[i]);
	}
	if (src->auth == CONFIG_AUTH_BEARER) {
		snprintf(auth, sizeof(auth), "Bearer %s", src->tokens.items[0]);
		return add(l, "Authorization", auth);
	}
	if (o->id != NULL) {
		snprintf(id, sizeof(id), "%s", o->id);
	} else {
		struct uuid u;
		char s[UUID_STR_LEN + 1];

		if (!uuid_v7(&u))
			memset(&u, 0, sizeof(u));
		uuid_format(&u, s);
		snprintf(id, sizeof(id), "msg_%s", s);
	}
	/* One reading of the clock: the header and the signature must
	 * name the same second. */
	now = (int64_t)time(NULL);
	snprintf(ts, sizeof(ts), "%lld", (long long)now);
	sig_sign(&src->keys[0], id, now, body, strlen(body), sig);
	l = add(l, "webhook-id", id);
	l = add(l, "webhook-timestamp", ts);
	return add(l, "webhook-signature", sig);
}

static char *base_url(const struct send_opts *o, const struct config *cfg)
{
	const char *host = cfg->listen.address;
	char *url;

	if (o->url != NULL)
		return strdup(o->url);
	if (cfg->public_url != NULL)
		return strdup(cfg->public_url);
	if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
		host = "127.0.0.1";
	if (asprintf(&url,
	             strchr(host, ':') ? "https://[%s]:%lld"
	                               : "https://%s:%lld",
	             host, (long long)cfg->listen.port) < 0)
		return NULL;
	return url;
}

static size_t print_body(char *p, size_t size, size_t n, void *arg)
{
	(void)arg;
	return fwrite(p, size, n, stdout) * size;
}

static int post(const struct send_opts *o, const struct config *cfg,
                const struct config_generic *src, const char *body)
{
	char *base = base_url(o, cfg), *url = NULL;
	struct curl_slist *h = headers(o, src, body);
	CURL *c = curl_easy_init();
	long status = 0;
	CURLcode rc = CURLE_FAILED_INIT;

	if (base != NULL &&
	    asprintf(&url, "%s/hooks/generic/%s", base, src->name) >= 0 &&
	    c != NULL) {
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, print_body);
		if (o->insecure) {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		} else if (o->cacert != NULL || cfg->tls.self_signed) {
			curl_easy_setopt(c, CURLOPT_CAINFO,
			                 o->cacert ? o->cacert
			                           : cfg->tls.cert_file);
		}
		rc = curl_easy_perform(c);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	}
	if (rc != CURLE_OK)
		fprintf(stderr, "herald: cannot post to %s: %s\n",
		        url ? url : "?", curl_easy_strerror(rc));
	else
		printf("\n");
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	free(url);
	free(base);
	return rc == CURLE_OK && status >= 200 && status < 300 ? CLI_OK
	                                                       : CLI_FAILED;
}

static int parse_args(int argc, char **argv, struct send_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "deployment", required_argument, NULL, 'd' },
		{ "severity", required_argument, NULL, 's' },
		{ "body", required_argument, NULL, 'b' },
		{ "id", required_argument, NULL, 'i' },
		{ "url", required_argument, NULL, 'u' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "insecure", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:d:s:b:i:u:kh", longopts,
	                        NULL)) != -1) {
		if (cli_common_option(&o->common, c, optarg))
			continue;
		switch (c) {
		case 'd': o->deployment = optarg; break;
		case 's': o->severity = optarg; break;
		case 'b': o->body_file = optarg; break;
		case 'i': o->id = optarg; break;
		case 'u': o->url = optarg; break;
		case 'C': o->cacert = optarg; break;
		case 'k': o->insecure = true; break;
		case 'h': fputs(usage, stdout); return CLI_OK;
		default: fputs(usage, stderr); return CLI_USAGE;
		}
	}
	if (argc - optind < 2) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	o->source = argv[optind];
	o->type = argv[optind + 1];
	o->pairs = argv + optind + 2;
	o->npairs = argc - optind - 2;
	return -1;
}

int cli_send(int argc, char **argv)
{
	struct send_opts o = { 0 };
	const struct config_generic *src;
	struct config *cfg;
	char *body;
	int rc = parse_args(argc, argv, &o);

	if (rc >= 0)
		return rc;
	cfg = cli_common_setup(&o.common);
	if (cfg == NULL)
		return CLI_FAILED;
	src = config_generic_source(cfg, o.source);
	if (src == NULL) {
		fprintf(stderr, "herald: no generic source \"%s\" in %s\n",
		        o.source, cfg->path);
		config_unref(cfg);
		return CLI_FAILED;
	}
	body = o.body_file ? read_body(o.body_file) : build_body(&o, src);
	rc = body ? post(&o, cfg, src, body) : CLI_FAILED;
	free(body);
	config_unref(cfg);
	return rc;
}
