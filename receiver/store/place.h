/*
 * Where Herald's database is: the configured database.url, or, when there
 * is none, the embedded cluster under the state folder, started on open
 * and stopped on close.
 */
#ifndef HERALD_STORE_PLACE_H
#define HERALD_STORE_PLACE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/db.h"
#include "store/embedded.h"

struct config;

struct db_place {
	struct db_target target; /* borrows from cfg or embedded */
	bool is_embedded;
	struct embedded embedded;
};

/* cfg must outlive the place. */
bool db_place_open(struct db_place *p, const struct config *cfg, char *err,
                   size_t size) __attribute__((warn_unused_result));
void db_place_close(struct db_place *p);

#endif
