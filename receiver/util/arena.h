/*
 * A bump allocator for data that lives and dies together, such as one
 * loaded configuration: many small allocations, one free.
 *
 * Allocation failure is fatal (the arena serves start-up and reload, where
 * running on without memory would only fail later and less clearly).
 */
#ifndef HERALD_UTIL_ARENA_H
#define HERALD_UTIL_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
};

/* Zeroed memory for n bytes, aligned for any type; owned by the arena. */
void *arena_alloc(struct arena *a, size_t n);

/* Copies owned by the arena; NULL in gives NULL out. */
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);

/* Zero and free every allocation; the arena may be used again. */
void arena_free(struct arena *a);

#endif
