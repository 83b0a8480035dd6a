/*
 * Environment expansion of configuration strings: ${NAME} is replaced by
 * the variable's value, ${NAME:-text} by the value or, when NAME is unset
 * or empty, by text; $$ stands for one dollar sign. Any other $ is kept.
 */
#ifndef HERALD_CONFIG_EXPAND_H
#define HERALD_CONFIG_EXPAND_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"

/*
 * Expand in into *out (allocated from a). On failure *out is NULL and err
 * (size bytes) says why, naming the variable; the value is never shown.
 */
bool expand_env(struct arena *a, const char *in, char **out, char *err,
                size_t size) __attribute__((warn_unused_result));

#endif
