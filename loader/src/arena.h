/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Per-request bump allocator: everything a Response points to is allocated
 * here and released in one go once the Response is encoded, so no error path
 * can leak a piece of it. Allocation failures abort (the daemon cannot answer
 * anything sensible without memory). */
#ifndef SY_ARENA_H
#define SY_ARENA_H

#include <stddef.h>
#include <stdarg.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head;
};

void *arena_alloc(struct arena *a, size_t size);        /* zeroed */
void *arena_memdup(struct arena *a, const void *p, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap);
void arena_free(struct arena *a);

/* Growable array of pointers living in the arena. */
struct ptr_vec {
	void **items;
	size_t len, cap;
};
void ptr_vec_push(struct arena *a, struct ptr_vec *v, void *item);

#endif
