/*
 * The writer thread owns Herald's ingest connection to PostgreSQL. It
 * reconnects with backoff when the connection breaks and keeps a readiness
 * verdict (database reachable, migrations current) that any thread can
 * read.
 */
#ifndef HERALD_STORE_WRITER_H
#define HERALD_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>

#include "store/db.h"

struct writer;

/* Start the thread; target's strings must outlive the writer. */
struct writer *writer_start(const struct db_target *target, char *err,
                            size_t size) __attribute__((warn_unused_result));

/* Stop the thread and close its connection. */
void writer_stop(struct writer *w);

/* True if the database is reachable and current; otherwise reason says
 * why not. Safe from any thread. */
bool writer_ready(struct writer *w, char *reason, size_t size);

#endif
