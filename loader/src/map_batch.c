// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "map_batch.h"

/* Entries per batch: a few hundred microseconds of work each, so a time
 * budget is checked often enough. A bucket with more entries than this
 * (never seen: the maps have at least as many buckets as entries) grows
 * the batch. */
#define BATCH_ENTRIES 256u
#define BATCH_ENTRIES_MAX 65536u

int map_batch_walk(struct map_batch_walk *w, map_iter_cb cb,
		   int (*after_batch)(void *ctx), void *ctx)
{
	uint32_t cap = BATCH_ENTRIES;
	uint8_t *keys = NULL, *vals = NULL;
	int ret = 0;

	for (;;) {
		uint32_t in = w->cursor, out = 0, n;
		int err;

		if (!keys) {
			keys = malloc((size_t)cap * w->ksize);
			vals = malloc((size_t)cap * (w->vsize ? w->vsize : 1));
			if (!keys || !vals) {
				ret = -ENOMEM;
				break;
			}
		}
		n = cap;
		err = bpf_map_lookup_batch(w->fd, &in, &out, keys, vals, &n,
					   NULL);
		if (err == -ENOSPC && n == 0 && cap < BATCH_ENTRIES_MAX) {
			/* One bucket holds more than cap entries. */
			cap *= 4;
			free(keys);
			free(vals);
			keys = vals = NULL;
			continue;
		}
		if (err && err != -ENOENT) {
			if (map_batch_unsupported(err) && w->visited == 0 &&
			    w->cursor == 0)
				err = -EOPNOTSUPP;
			ret = err;
			break;
		}
		for (uint32_t i = 0; i < n && !ret; i++) {
			w->visited++;
			ret = cb(keys + (size_t)i * w->ksize,
				 vals + (size_t)i * w->vsize, ctx);
		}
		if (err == -ENOENT) {
			w->end = true;
			w->cursor = 0;
		} else {
			w->cursor = out;
		}
		if (ret || w->end)
			break;
		if (after_batch && (ret = after_batch(ctx)))
			break;
	}
	free(keys);
	free(vals);
	return ret;
}

int map_keys_snapshot(int fd, uint32_t vsize, uint64_t max_iter,
		      struct key_list *kl)
{
	struct map_batch_walk w = { .fd = fd, .ksize = (uint32_t)kl->ksize,
				    .vsize = vsize };
	int err;

	err = map_batch_walk(&w, key_list_push_cb, NULL, kl);
	if (err == -EOPNOTSUPP)
		err = map_iter(fd, (uint32_t)kl->ksize, 0, max_iter,
			       key_list_push_cb, kl);
	return err;
}
