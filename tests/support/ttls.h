/*
 * A raw TLS client for tests that need to control the bytes on the wire
 * (partial requests, slow senders, several requests on one connection).
 */
#ifndef HERALD_TEST_TTLS_H
#define HERALD_TEST_TTLS_H

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct ttls {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

/* Connect to 127.0.0.1:port and finish the handshake, trusting ca (or
 * anything when ca is NULL). max_version limits the client (0: any).
 * False if the handshake failed. */
bool ttls_open(struct ttls *t, int port, const char *ca, int max_version);

void ttls_write(struct ttls *t, const char *data, size_t len);
#define ttls_puts(t, s) ttls_write((t), (s), strlen(s))

/* Read until the peer closes or ms pass; returns what came (malloc'd). */
char *ttls_read_all(struct ttls *t, int ms);

/* Read one whole response (head and Content-Length body), or NULL. */
char *ttls_read_response(struct ttls *t, int ms);

/* The server certificate, for comparing with a file. */
X509 *ttls_peer(struct ttls *t);

void ttls_close(struct ttls *t);

/* Open a plain TCP connection to 127.0.0.1:port (no TLS); -1 on error. */
int ttcp_open(int port);

#endif
