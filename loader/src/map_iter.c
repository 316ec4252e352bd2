// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "map_iter.h"

int map_iter(int fd, uint32_t ksize, uint32_t vsize, uint64_t max_iter,
	     map_iter_cb cb, void *ctx)
{
	return map_iter_from(fd, ksize, vsize, NULL, max_iter, cb, ctx);
}

int map_iter_from(int fd, uint32_t ksize, uint32_t vsize, const void *start,
		  uint64_t max_iter, map_iter_cb cb, void *ctx)
{
	uint8_t *key, *next, *val = NULL;
	uint64_t n;
	int err, ret = 0;

	key = malloc(ksize);
	next = malloc(ksize);
	if (vsize)
		val = malloc(vsize);
	if (!key || !next || (vsize && !val)) {
		ret = -ENOMEM;
		goto out;
	}
	err = bpf_map_get_next_key(fd, start, next);
	for (n = 0; err == 0 && n < max_iter; n++) {
		int r;

		if (vsize) {
			r = bpf_map_lookup_elem(fd, next, val);
			if (r == -ENOENT)
				goto advance;
			if (r < 0) {
				ret = r;
				goto out;
			}
		}
		r = cb(next, val, ctx);
		if (r) {
			ret = r;
			goto out;
		}
advance:
		memcpy(key, next, ksize);
		err = bpf_map_get_next_key(fd, key, next);
	}
	if (err && err != -ENOENT)
		ret = err;
out:
	free(key);
	free(next);
	free(val);
	return ret;
}

uint32_t map_value_buf_size(uint32_t type, uint32_t value_size)
{
	int ncpus;

	switch (type) {
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_ARRAY:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE:
		ncpus = libbpf_num_possible_cpus();
		if (ncpus < 1)
			ncpus = 1;
		return ((value_size + 7) & ~7u) * (uint32_t)ncpus;
	default:
		return value_size;
	}
}

int key_list_push(struct key_list *kl, const void *key)
{
	if (kl->n == kl->cap) {
		size_t cap = kl->cap ? kl->cap * 2 : 64;
		uint8_t *p = realloc(kl->data, cap * kl->ksize);

		if (!p)
			return -ENOMEM;
		kl->data = p;
		kl->cap = cap;
	}
	memcpy(kl->data + kl->n * kl->ksize, key, kl->ksize);
	kl->n++;
	return 0;
}

int key_list_push_cb(const void *key, const void *value, void *ctx)
{
	(void)value;
	return key_list_push(ctx, key);
}

void key_list_free(struct key_list *kl)
{
	free(kl->data);
	kl->data = NULL;
	kl->n = kl->cap = 0;
}

int key_list_delete(int fd, const struct key_list *kl, uint64_t *deleted)
{
	for (size_t i = 0; i < kl->n; i++) {
		int err = bpf_map_delete_elem(fd, kl->data + i * kl->ksize);

		if (err && err != -ENOENT)
			return err;
		if (!err)
			(*deleted)++;
	}
	return 0;
}
