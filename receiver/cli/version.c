#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <stdio.h>

#include "cli/cli.h"
#include "version.h"

int cli_version(int argc, char **argv)
{
	(void)argc, (void)argv;
	printf("herald %s\n", HERALD_VERSION);
	printf("libevent %s, %s, libpq %d, jansson %s, %s\n",
	       event_get_version(), OpenSSL_version(OPENSSL_VERSION),
	       PQlibVersion(), jansson_version_str(), curl_version());
	return CLI_OK;
}
