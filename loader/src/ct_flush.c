// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Matching entries are collected by one walk and deleted after it. */
#include <linux/bpf.h>
#include <string.h>
#include <bpf/bpf.h>

#include "sy_structs.h"
#include "ct_family.h"
#include "ct_flush.h"
#include "log.h"
#include "map_iter.h"

struct ct_match_ctx {
	const struct ct_family *fam;
	uint32_t backend_id, rev_nat_id, proto;
	struct key_list keys;
};

static int ct_match(const void *key, const void *value, void *ctx)
{
	struct ct_match_ctx *f = ctx;
	struct ct_value_head v = ct_value_head(value);

	if (f->proto && ct_key_proto(f->fam, key) != f->proto)
		return 0;
	if ((f->backend_id && v.backend_id == f->backend_id) ||
	    (f->rev_nat_id && v.rev_nat_id == f->rev_nat_id))
		return key_list_push(&f->keys, key);
	return 0;
}

/* One family's conntrack map; *deleted grows by what it removed. */
static int ct_flush_family(struct loader *L, const struct ct_family *fam,
			   uint32_t backend_id, uint32_t rev_nat_id,
			   uint32_t proto, uint64_t *deleted, struct sy_err *e)
{
	struct ct_match_ctx ctx = {
		.fam = fam,
		.backend_id = backend_id,
		.rev_nat_id = rev_nat_id,
		.proto = proto,
		.keys = { .ksize = fam->key_size },
	};
	int fd = sy_map_fd(L, fam->ct);
	uint64_t n = 0;
	int err;

	err = map_iter(fd, fam->key_size, fam->value_size,
		       sy_map_iter_bound(L, fam->ct), ct_match, &ctx);
	if (!err)
		err = key_list_delete(fd, &ctx.keys, &n);
	key_list_free(&ctx.keys);
	*deleted += n;
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "flushing %s: %s",
				  sy_map_names[fam->ct], sy_errstr(err));
	return 0;
}

int ct_flush(struct loader *L, uint32_t backend_id, uint32_t rev_nat_id,
	     uint32_t proto, const char *at, uint64_t *deleted,
	     struct sy_err *e)
{
	int err;

	*deleted = 0;
	/* Ids are one space across families: the id is in one map at most,
	 * but the sender need not say which. */
	for (int i = 0; i < 2; i++) {
		err = ct_flush_family(L, &ct_families[i], backend_id,
				      rev_nat_id, proto, deleted, e);
		if (err)
			return err;
	}
	log_info("%s: %llu conntrack entries removed (backend %u, revnat %u, "
		 "proto %u)", at, (unsigned long long)*deleted, backend_id,
		 rev_nat_id, proto);
	return 0;
}

struct aff_match_ctx {
	const struct ct_family *fam;
	uint32_t group;
	struct key_list keys;
};

static int aff_match(const void *key, const void *value, void *ctx)
{
	struct aff_match_ctx *f = ctx;
	uint32_t group;

	(void)value;
	memcpy(&group, (const uint8_t *)key + f->fam->affinity_group_off,
	       sizeof(group));
	if (group == f->group)
		return key_list_push(&f->keys, key);
	return 0;
}

int affinity_flush(struct loader *L, uint32_t group, const char *at,
		   struct sy_err *e)
{
	uint64_t deleted = 0;
	int err = 0;

	/* Groups are one space across families: sy_affinity and
	 * sy_affinity6 both. */
	for (int i = 0; i < 2 && !err; i++) {
		const struct ct_family *fam = &ct_families[i];
		struct aff_match_ctx ctx = {
			.fam = fam,
			.group = group,
			.keys = { .ksize = fam->affinity_key_size },
		};
		int fd = sy_map_fd(L, fam->affinity);

		err = map_iter(fd, fam->affinity_key_size, 0,
			       sy_map_iter_bound(L, fam->affinity), aff_match,
			       &ctx);
		if (!err)
			err = key_list_delete(fd, &ctx.keys, &deleted);
		key_list_free(&ctx.keys);
		if (err)
			return sy_err_set(e, SY_ERR_KERNEL, err, "flushing "
					  "%s: %s", sy_map_names[fam->affinity],
					  sy_errstr(err));
	}
	log_debug("%s: %llu affinity entries removed", at,
		  (unsigned long long)deleted);
	return 0;
}
