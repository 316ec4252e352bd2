// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Matching entries are collected by one walk and deleted after it. */
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "sy_structs.h"
#include "ct_flush.h"
#include "log.h"
#include "map_iter.h"

struct ct_match_ctx {
	uint32_t backend_id, rev_nat_id, proto;
	struct key_list keys;
};

static int ct_match(const void *key, const void *value, void *ctx)
{
	const struct sy_ct_key *k = key;
	const struct sy_ct_value *v = value;
	struct ct_match_ctx *f = ctx;

	if (f->proto && k->proto != f->proto)
		return 0;
	if ((f->backend_id && v->backend_id == f->backend_id) ||
	    (f->rev_nat_id && v->rev_nat_id == f->rev_nat_id))
		return key_list_push(&f->keys, key);
	return 0;
}

int ct_flush(struct loader *L, uint32_t backend_id, uint32_t rev_nat_id,
	     uint32_t proto, const char *at, uint64_t *deleted,
	     struct sy_err *e)
{
	struct ct_match_ctx ctx = {
		.backend_id = backend_id,
		.rev_nat_id = rev_nat_id,
		.proto = proto,
		.keys = { .ksize = sizeof(struct sy_ct_key) },
	};
	int fd = sy_map_fd(L, SY_MAP_CONNTRACK);
	int err;

	*deleted = 0;
	err = map_iter(fd, sizeof(struct sy_ct_key),
		       sizeof(struct sy_ct_value),
		       sy_map_iter_bound(L, SY_MAP_CONNTRACK), ct_match, &ctx);
	if (!err)
		err = key_list_delete(fd, &ctx.keys, deleted);
	key_list_free(&ctx.keys);
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "flushing "
				  "sy_conntrack: %s", sy_errstr(err));
	log_info("%s: %llu conntrack entries removed (backend %u, revnat %u, "
		 "proto %u)", at, (unsigned long long)*deleted, backend_id,
		 rev_nat_id, proto);
	return 0;
}

struct aff_match_ctx {
	uint32_t group;
	struct key_list keys;
};

static int aff_match(const void *key, const void *value, void *ctx)
{
	const struct sy_affinity_key *k = key;
	struct aff_match_ctx *f = ctx;

	(void)value;
	if (k->group == f->group)
		return key_list_push(&f->keys, key);
	return 0;
}

int affinity_flush(struct loader *L, uint32_t group, const char *at,
		   struct sy_err *e)
{
	struct aff_match_ctx ctx = {
		.group = group,
		.keys = { .ksize = sizeof(struct sy_affinity_key) },
	};
	int fd = sy_map_fd(L, SY_MAP_AFFINITY);
	uint64_t deleted = 0;
	int err;

	err = map_iter(fd, sizeof(struct sy_affinity_key), 0,
		       sy_map_iter_bound(L, SY_MAP_AFFINITY), aff_match, &ctx);
	if (!err)
		err = key_list_delete(fd, &ctx.keys, &deleted);
	key_list_free(&ctx.keys);
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "flushing "
				  "sy_affinity: %s", sy_errstr(err));
	log_debug("%s: %llu affinity entries removed", at,
		  (unsigned long long)deleted);
	return 0;
}
