/*
 * A configuration held in a test's own text: unit suites load one in
 * their setup and fail there, with Herald's first error, when it does
 * not load.
 */
#ifndef HERALD_TEST_TCONFIG_H
#define HERALD_TEST_TCONFIG_H

struct config;

/* The configuration in text, named name in errors; never NULL. */
struct config *tconfig_load(const char *name, const char *text);

#endif
