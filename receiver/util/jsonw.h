/*
 * Writing small JSON texts straight into a buffer, for the hot path where
 * building a jansson tree only to serialise it would cost more than the
 * text itself.
 */
#ifndef HERALD_UTIL_JSONW_H
#define HERALD_UTIL_JSONW_H

#include <stdbool.h>

#include "util/buf.h"

/* Append s as a quoted JSON string. False (nothing appended) if s is not
 * valid UTF-8. */
bool jsonw_string(struct buf *b, const char *s);

#endif
