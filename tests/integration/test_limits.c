/*
 * Slow and idle clients: 500 connections that send a byte a second do not
 * keep others from being answered within a second; a request that does
 * not arrive in time is answered 408; an idle connection is closed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "support/tcheck.h"
#include "support/therald.h"
#include "support/thttp.h"
#include "support/ttls.h"

#define SLOW_CLIENTS 500
#define SLOW_SECONDS 5

static struct therald h;

static void setup(void)
{
	struct rlimit rl;

	/* Each slow client is a socket here and one in herald. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	therald_init(&h);
}

static void teardown(void)
{
	therald_cleanup(&h);
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 180);

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

Test(limits, slow_clients_do_not_delay_others)
{
	static const char head[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	                           "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	static struct ttls slow[SLOW_CLIENTS];
	double worst = 0, start;
	int answered = 0, opened = 0;
	char *url;

	therald_start(&h, "{" THERALD_BASE "}", NULL);
	for (int i = 0; i < SLOW_CLIENTS; i++) {
		if (!ttls_open(&slow[i], h.port, h.ca, 0))
			break;
		fcntl(slow[i].fd, F_SETFL, O_NONBLOCK);
		opened++;
	}
	cr_assert_eq(opened, SLOW_CLIENTS, "only %d connections", opened);

	url = tfmt("%s/healthz", h.url);
	start = now_s();
	for (int sec = 0; now_s() - start < SLOW_SECONDS; sec++) {
		double round = now_s();

		/* One more byte from every slow client. */
		for (int i = 0; i < SLOW_CLIENTS; i++)
			SSL_write(slow[i].ssl, head + (sec % (int)strlen(head)),
			          1);
		/* Others are answered meanwhile, each within a second. */
		while (now_s() - round < 1.0) {
			struct thttp_resp r;
			double t = now_s();

			thttp("GET", url, h.ca, NULL, NULL, 0, &r);
			t = now_s() - t;
			if (t > worst)
				worst = t;
			answered += r.status == 200;
			thttp_free(&r);
			tsleep_ms(100);
		}
	}
	cr_expect(answered >= SLOW_SECONDS * 5, "answered %d", answered);
	cr_expect(worst < 1.0, "slowest answer took %.3f s", worst);
	cr_log_info("%d answers beside %d slow clients, slowest %.1f ms",
	            answered, SLOW_CLIENTS, worst * 1000);
	for (int i = 0; i < SLOW_CLIENTS; i++)
		ttls_close(&slow[i]);
	free(url);
}

Test(limits, late_request_gets_408_and_idle_connection_closes)
{
	struct ttls t;
	char *resp;

	therald_start(&h,
	              "{" THERALD_STATE_TLS "," THERALD_DB ","
	              " \"listen\": {\"port\": 0, \"request_timeout\": \"1s\","
	              " \"idle_timeout\": \"1s\"}}",
	              NULL);
	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	resp = ttls_read_all(&t, 3000);
	cr_assert_not_null(resp);
	cr_expect(strncmp(resp, "HTTP/1.1 408 ", 13) == 0, "%s", resp);
	cr_expect_not_null(strstr(resp, "\"error\":\"timeout\""), "%s", resp);
	free(resp);
	ttls_close(&t);

	cr_assert(ttls_open(&t, h.port, h.ca, 0));
	ttls_puts(&t, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	resp = ttls_read_response(&t, 2000);
	cr_assert_not_null(resp);
	free(resp);
	/* Kept alive, then closed after the idle timeout. */
	resp = ttls_read_all(&t, 3000);
	cr_expect_str_eq(resp, "", "idle connection got: %s", resp);
	free(resp);
	ttls_close(&t);
}
