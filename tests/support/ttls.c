#include "support/ttls.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int ttcp_open(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
		                  .sin_port = htons((uint16_t)port),
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

bool ttls_open(struct ttls *t, int port, const char *ca, int max_version)
{
	memset(t, 0, sizeof(*t));
	t->fd = ttcp_open(port);
	cr_assert(t->fd >= 0, "cannot connect to port %d", port);
	t->ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_security_level(t->ctx, 0);
	SSL_CTX_set_min_proto_version(t->ctx, TLS1_VERSION);
	if (max_version != 0)
		SSL_CTX_set_max_proto_version(t->ctx, max_version);
	if (ca != NULL) {
		cr_assert(SSL_CTX_load_verify_locations(t->ctx, ca, NULL) == 1);
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	}
	t->ssl = SSL_new(t->ctx);
	SSL_set_fd(t->ssl, t->fd);
	SSL_set1_host(t->ssl, "127.0.0.1");
	return SSL_connect(t->ssl) == 1;
}

void ttls_write(struct ttls *t, const char *data, size_t len)
{
	cr_assert(SSL_write(t->ssl, data, (int)len) == (int)len);
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 +
	       (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* Append what is readable within the time left; false at the end. */
static bool read_some(struct ttls *t, FILE *out, int left)
{
	struct pollfd p = { t->fd, POLLIN, 0 };
	char buf[4096];
	int n;

	if (SSL_pending(t->ssl) == 0 && poll(&p, 1, left) <= 0)
		return false;
	n = SSL_read(t->ssl, buf, sizeof(buf));
	if (n <= 0)
		return false;
	fwrite(buf, 1, (size_t)n, out);
	return true;
}

char *ttls_read_all(struct ttls *t, int ms)
{
	struct timespec start;
	char *data = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&data, &len);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (elapsed_ms(&start) < ms &&
	       read_some(t, out, ms - (int)elapsed_ms(&start)))
		;
	fclose(out);
	return data;
}

static bool response_complete(const char *data, size_t len)
{
	const char *end = strstr(data, "\r\n\r\n");
	const char *cl;
	size_t want;

	if (end == NULL)
		return false;
	cl = strcasestr(data, "\r\nContent-Length:");
	want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
	return len >= (size_t)(end + 4 - data) + want;
}

char *ttls_read_response(struct ttls *t, int ms)
{
	struct timespec start;
	char *data = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&data, &len);
	bool done = false;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!done && elapsed_ms(&start) < ms) {
		if (!read_some(t, out, ms - (int)elapsed_ms(&start)))
			break;
		fflush(out);
		done = response_complete(data, len);
	}
	fclose(out);
	if (!done) {
		free(data);
		return NULL;
	}
	return data;
}

X509 *ttls_peer(struct ttls *t)
{
	return SSL_get1_peer_certificate(t->ssl);
}

void ttls_close(struct ttls *t)
{
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	if (t->ctx != NULL)
		SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}
