/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Walking a hash map from user space in batches (BPF_MAP_LOOKUP_BATCH):
 * one syscall for up to a few hundred entries where get_next_key plus
 * lookup costs two per entry, and a cursor (the next bucket) that stays
 * valid across calls, so a walk can stop and resume between requests. */
#ifndef SY_MAP_BATCH_H
#define SY_MAP_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "map_iter.h"

#include <errno.h>

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* kernel-internal, leaks to user space */
#endif

/* A batch op's error that means "no batch ops here" (the kernel or the map
 * type), after which the caller goes element by element. */
static inline int map_batch_unsupported(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP;
}

struct map_batch_walk {
	int fd;
	uint32_t ksize, vsize;  /* vsize: the value as a lookup writes it */
	uint32_t cursor;        /* next bucket; 0 at the start */
	bool end;               /* the last bucket was read */
	uint64_t visited;
};

/* Calls cb (map_iter.h) for entries from w->cursor on, a batch at a time,
 * until the end of the map, until cb returns non-zero, or, after a batch,
 * until after_batch (may be NULL) returns non-zero (a time budget, work on
 * what the batch found). Sets w->end at the end of the map. Returns 0,
 * cb's / after_batch's positive value, -EOPNOTSUPP when the kernel or the
 * map type has no batch lookup (before anything was visited), or -errno. */
int map_batch_walk(struct map_batch_walk *w, map_iter_cb cb,
		   int (*after_batch)(void *ctx), void *ctx);

/* Every key of the map into kl (ksize set by the caller): batches when the
 * map has them, else map_iter with max_iter as its bound. */
int map_keys_snapshot(int fd, uint32_t vsize, uint64_t max_iter,
		      struct key_list *kl);

#endif
