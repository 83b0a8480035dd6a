/*
 * The server's TLS context and the self-signed certificate of a first run.
 *
 * TLS 1.2 at least (1.3 when configured), 1.3 preferred by the protocol
 * itself, no compression, no renegotiation. A context is built whole from
 * files; a reload builds a new one and swaps it only if it loaded.
 */
#ifndef HERALD_HTTP_TLS_H
#define HERALD_HTTP_TLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct config_tls;

/* A new server context (the caller owns it; SSL_CTX_free), or NULL with
 * the reason in err. */
SSL_CTX *tls_server_context(const struct config_tls *tls, char *err,
                            size_t size) __attribute__((warn_unused_result));

/*
 * Make sure cert_file and key_file exist: when neither does, write a new
 * EC P-256 key (mode 0600) and a self-signed certificate for localhost,
 * 127.0.0.1 and ::1, valid for days. When only one exists that is an
 * error: Herald does not overwrite half of a pair.
 */
bool tls_self_signed_ensure(const char *cert_file, const char *key_file,
                            int days, char *err, size_t size)
    __attribute__((warn_unused_result));

/* The first OpenSSL error of this thread as text, clearing the queue. */
void tls_error(char *err, size_t size);

#endif
