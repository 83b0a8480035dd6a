/*
 * The real herald binary under test: write a configuration into a fresh
 * folder, start `herald serve` with its log captured, find the port it
 * listens on, stop it with a signal and collect its exit status.
 */
#ifndef HERALD_TEST_THERALD_H
#define HERALD_TEST_THERALD_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Configuration fragments for a test instance: state and certificate in
 * the instance's folder, a port the kernel picks, {{db}} as database.
 * Tests put them between braces with whatever else they need;
 * THERALD_BASE is all of them.
 */
#define THERALD_STATE "\"state_dir\": \"{{dir}}/state\""
#define THERALD_TLS_FILES                                                      \
	"\"self_signed\": true, \"cert_file\": \"{{dir}}/tls/cert.pem\","      \
	" \"key_file\": \"{{dir}}/tls/key.pem\""
#define THERALD_TLS       "\"tls\": {" THERALD_TLS_FILES "}"
#define THERALD_STATE_TLS THERALD_STATE "," THERALD_TLS
#define THERALD_LISTEN                                                         \
	"\"listen\": {\"port\": 0,"                                            \
	" \"shutdown_timeout\": \"5s\"}"
#define THERALD_DB   "\"database\": {\"url\": \"{{db}}\"}"
#define THERALD_BASE THERALD_STATE_TLS "," THERALD_LISTEN "," THERALD_DB

struct therald {
	char *dir;    /* the instance's folder */
	char *config; /* its configuration file */
	char *log;    /* stdout and stderr of herald */
	char *ca;     /* the certificate a client should trust */
	char *db;     /* connection string substituted for {{db}} */
	char *url;    /* https://127.0.0.1:PORT */
	pid_t pid;
	int port;
};

/* Prepare h with a new folder and database (h->db); nothing runs yet. */
void therald_init(struct therald *h);

/* Write config_template ({{dir}} and {{db}} replaced) and start
 * `herald serve` with extra arguments (NULL-terminated, may be NULL);
 * returns once /readyz answers 200, so that events sent next are stored
 * rather than refused as "starting". Fails the test if herald exits or
 * is not ready within a minute. */
void therald_start(struct therald *h, const char *config_template,
                   const char *const extra[]);

/* The same, returning once herald listens, ready or not: for tests of
 * what it does before it is ready. */
void therald_start_listening(struct therald *h, const char *config_template,
                             const char *const extra[]);

/* Write the configuration and start `herald serve` as therald_start
 * does, without waiting for it to listen; returns the log's size before
 * the start. */
size_t therald_spawn(struct therald *h, const char *config_template,
                     const char *const extra[]);

/* Send sig (0: none, only wait) and wait for the exit; returns the exit status,
 * or 128 + the signal that killed it. */
int therald_stop(struct therald *h, int sig);

/* True once needle appears in the log, waiting up to ms. */
bool therald_wait_log(struct therald *h, const char *needle, int ms);

/* The log so far (malloc'd). */
char *therald_log(struct therald *h);

/* Run `herald ARGS...` to completion, collecting its output. */
int therald_cli(const char *const args[], char **out, char **err);

/* Stop if running, drop the database, remove the folder. */
void therald_cleanup(struct therald *h);

#endif
