#include "http/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

void tls_error(char *err, size_t size)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e == 0) {
		snprintf(err, size, "unknown TLS error");
		return;
	}
	ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, size, "%s", buf);
	ERR_clear_error();
}

static bool load_pair(SSL_CTX *ctx, const struct config_tls *tls, char *err,
                      size_t size)
{
	char why[256];

	if (SSL_CTX_use_certificate_chain_file(ctx, tls->cert_file) != 1) {
		tls_error(why, sizeof(why));
		snprintf(err, size, "cannot load certificate %s: %s",
		         tls->cert_file, why);
		return false;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, tls->key_file, SSL_FILETYPE_PEM) !=
	    1) {
		tls_error(why, sizeof(why));
		snprintf(err, size, "cannot load key %s: %s", tls->key_file,
		         why);
		return false;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, size, "key %s does not match certificate %s",
		         tls->key_file, tls->cert_file);
		return false;
	}
	return true;
}

SSL_CTX *tls_server_context(const struct config_tls *tls, char *err,
                            size_t size)
{
	int min = tls->min_version == CONFIG_TLS_1_3 ? TLS1_3_VERSION
	                                             : TLS1_2_VERSION;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_error(err, size);
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, min) != 1) {
		tls_error(err, size);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	                             SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* bufferevent_openssl retries a write from wherever its buffer
	 * has moved since. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                          SSL_MODE_RELEASE_BUFFERS);
	if (!load_pair(ctx, tls, err, size)) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* Self-signed certificate */

static bool mkdir_parent(const char *file)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s", file);
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return false;
		*p = '/';
	}
	return true;
}

static bool add_san(X509 *x)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	                          "DNS:localhost,IP:127.0.0.1,IP:::1");
	ok = ext != NULL && X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

static X509 *make_cert(EVP_PKEY *key, int days)
{
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char serial[16];

	if (x == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);

	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		BN_free(bn);
		goto fail;
	}
	BN_free(bn);
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L * days) == NULL ||
	    X509_set_pubkey(x, key) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	                               (const unsigned char *)"herald", -1, -1,
	                               0) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || !add_san(x) ||
	    X509_sign(x, key, EVP_sha256()) == 0)
		goto fail;
	return x;

fail:
	X509_free(x);
	return NULL;
}

static bool write_pem(const char *path, mode_t mode, EVP_PKEY *key, X509 *x)
{
	char tmp[4096];
	int fd;
	FILE *f;
	bool ok;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return false;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return false;
	}
	ok = key ? PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL)
	         : PEM_write_X509(f, x);
	ok = fclose(f) == 0 && ok;
	return ok && rename(tmp, path) == 0;
}

bool tls_self_signed_ensure(const char *cert_file, const char *key_file,
                            int days, char *err, size_t size)
{
	bool have_cert = access(cert_file, F_OK) == 0;
	bool have_key = access(key_file, F_OK) == 0;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	bool ok = false;

	if (have_cert && have_key)
		return true;
	if (have_cert || have_key) {
		snprintf(err, size,
		         "%s exists but %s does not; remove it or supply both",
		         have_cert ? cert_file : key_file,
		         have_cert ? key_file : cert_file);
		return false;
	}
	if (!mkdir_parent(cert_file) || !mkdir_parent(key_file)) {
		snprintf(err, size, "cannot create the folder of %s: %s",
		         cert_file, strerror(errno));
		return false;
	}
	key = EVP_EC_gen("P-256");
	x = key ? make_cert(key, days) : NULL;
	if (x == NULL)
		tls_error(err, size);
	else if (!write_pem(key_file, 0600, key, NULL) ||
	         !write_pem(cert_file, 0644, NULL, x))
		snprintf(err, size, "cannot write %s: %s", cert_file,
		         strerror(errno));
	else
		ok = true;
	X509_free(x);
	EVP_PKEY_free(key);
	return ok;
}
