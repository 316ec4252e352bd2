/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Bounded iteration over a BPF map from user space. */
#ifndef SY_MAP_ITER_H
#define SY_MAP_ITER_H

#include <stdint.h>

/* Return 0 to continue, >0 to stop (returned by map_iter), <0 error. */
typedef int (*map_iter_cb)(const void *key, const void *value, void *ctx);

/* Calls cb for every entry. With vsize == 0 only keys are read (value is
 * NULL). Entries that vanish between get_next_key and lookup are skipped.
 * At most max_iter entries are visited: a hash map restarts from its first
 * key when the current key is deleted concurrently, so unbounded iteration
 * could loop. Returns 0 at the end of the map, cb's positive value, or
 * -errno. */
int map_iter(int fd, uint32_t ksize, uint32_t vsize, uint64_t max_iter,
	     map_iter_cb cb, void *ctx);
/* The same, from the key after `start` (NULL: from the first key); used by
 * paginated dumps, whose cursor is the last key of the previous page. */
int map_iter_from(int fd, uint32_t ksize, uint32_t vsize, const void *start,
		  uint64_t max_iter, map_iter_cb cb, void *ctx);

/* Bytes a lookup writes for one value (per-CPU maps: one slot per CPU). */
uint32_t map_value_buf_size(uint32_t map_type, uint32_t value_size);

/* A growable byte array of fixed-size keys (malloc'd, caller frees). */
struct key_list {
	uint8_t *data;
	size_t n, cap, ksize;
};
int key_list_push(struct key_list *kl, const void *key);
/* A map_iter_cb pushing each key to the key_list ctx. */
int key_list_push_cb(const void *key, const void *value, void *ctx);
void key_list_free(struct key_list *kl);
/* Deletes every key of kl from the map (absent keys are fine) and adds the
 * number deleted to *deleted. Walks collect first and delete after:
 * deleting while walking a hash map with get_next_key restarts the walk. */
int key_list_delete(int fd, const struct key_list *kl, uint64_t *deleted);

#endif
