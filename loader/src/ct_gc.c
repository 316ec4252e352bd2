// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Garbage collection of sy_conntrack and sy_conntrack6 (each judged
 * against its own family's sy_backends(6) and sy_revnat(6)).
 *
 * Pass 1 walks sy_conntrack against snapshots of the sy_backends and
 * sy_revnat keys and collects candidates: expired entries (sy_ct_expired(),
 * the datapath's own rule) and orphans. Pass 2 re-reads each candidate and
 * checks again with the live maps and a fresh clock before deleting, so an
 * entry refreshed by a packet, or one that uses a backend added after the
 * snapshot, survives. What remains is the unavoidable race of a packet
 * refreshing an entry between that check and the delete: its next packet
 * then starts a new flow, which Maglev sends to the same backend. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "sy_structs.h"
#include "ct_family.h"
#include "ct_gc.h"
#include "log.h"
#include "map_iter.h"

static uint64_t mono_now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int key_push_cb(const void *key, const void *value, void *ctx)
{
	(void)value;
	return key_list_push(ctx, key);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted snapshot of a map's __u32 keys. */
static int id_snapshot(struct loader *L, enum sy_map_id id,
		       struct key_list *ids)
{
	int err;

	ids->ksize = sizeof(uint32_t);
	err = map_iter(sy_map_fd(L, id), sizeof(uint32_t), 0,
		       sy_map_iter_bound(L, id), key_push_cb, ids);
	if (!err && ids->n)
		qsort(ids->data, ids->n, sizeof(uint32_t), u32_cmp);
	return err;
}

static bool id_in(const struct key_list *ids, uint32_t id)
{
	return ids->n &&
	       bsearch(&id, ids->data, ids->n, sizeof(uint32_t), u32_cmp);
}

struct ct_gc {
	const struct ct_family *fam;
	uint64_t now;
	struct key_list backends, revnat; /* sorted __u32 ids */
	struct key_list keys;             /* candidates */
	uint64_t scanned;
};

static int ct_gc_match(const void *key, const void *value, void *ctx)
{
	struct ct_gc *g = ctx;
	struct ct_value_head v = ct_value_head(value);

	g->scanned++;
	if (sy_ct_expired(ct_key_proto(g->fam, key), v.flags, v.last_seen,
			  g->now) ||
	    !id_in(&g->backends, v.backend_id) ||
	    !id_in(&g->revnat, v.rev_nat_id))
		return key_list_push(&g->keys, key);
	return 0;
}

static bool id_exists(struct loader *L, enum sy_map_id id, uint32_t key,
		      int *err)
{
	uint8_t val[64]; /* sy_backend(6) 16/28 B, sy_revnat(6) 8/20 B */
	int e = bpf_map_lookup_elem(sy_map_fd(L, id), &key, val);

	if (e && e != -ENOENT)
		*err = e;
	return e == 0;
}

uint64_t ct_gc_deleted(const struct ct_gc_stats *st)
{
	return st->expired + st->orphaned_backend + st->orphaned_frontend;
}

/* Pass 2 for one candidate: re-read, re-judge with the live maps and a
 * fresh clock, delete if it still is expired or orphaned. */
static int ct_gc_recheck(struct loader *L, const struct ct_family *fam,
			 const void *k, struct ct_gc_stats *st)
{
	int fd = sy_map_fd(L, fam->ct);
	uint8_t val[CT_VALUE_MAX];
	struct ct_value_head v;
	uint64_t *why = NULL;
	int err = 0;
	bool has;

	err = bpf_map_lookup_elem(fd, k, val);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	v = ct_value_head(val);
	if (sy_ct_expired(ct_key_proto(fam, k), v.flags, v.last_seen,
			  mono_now_ns())) {
		why = &st->expired;
	} else {
		has = id_exists(L, fam->backends, v.backend_id, &err);
		if (err)
			return err;
		if (!has)
			why = &st->orphaned_backend;
	}
	if (!why) {
		has = id_exists(L, fam->revnat, v.rev_nat_id, &err);
		if (err)
			return err;
		if (!has)
			why = &st->orphaned_frontend;
	}
	if (!why)
		return 0; /* refreshed or re-created meanwhile */
	err = bpf_map_delete_elem(fd, k);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	(*why)++;
	return 0;
}

/* One family: its conntrack map judged against its own backends and
 * frontends (ids of the other family are never in them). */
static int ct_gc_family(struct loader *L, const struct ct_family *fam,
			struct ct_gc_stats *st, struct sy_err *e)
{
	struct ct_gc g = {
		.fam = fam,
		.keys = { .ksize = fam->key_size },
	};
	int fd = sy_map_fd(L, fam->ct);
	int err;

	err = id_snapshot(L, fam->backends, &g.backends);
	if (err) {
		sy_err_set(e, SY_ERR_KERNEL, err, "reading %s: %s",
			   sy_map_names[fam->backends], sy_errstr(err));
		goto out;
	}
	err = id_snapshot(L, fam->revnat, &g.revnat);
	if (err) {
		sy_err_set(e, SY_ERR_KERNEL, err, "reading %s: %s",
			   sy_map_names[fam->revnat], sy_errstr(err));
		goto out;
	}
	g.now = mono_now_ns();
	err = map_iter(fd, fam->key_size, fam->value_size,
		       sy_map_iter_bound(L, fam->ct), ct_gc_match, &g);
	st->scanned += g.scanned;
	if (err) {
		sy_err_set(e, SY_ERR_KERNEL, err, "walking %s: %s",
			   sy_map_names[fam->ct], sy_errstr(err));
		goto out;
	}
	for (size_t i = 0; i < g.keys.n && !err; i++)
		err = ct_gc_recheck(L, fam, g.keys.data + i * g.keys.ksize, st);
	if (err)
		sy_err_set(e, SY_ERR_KERNEL, err, "deleting from %s: %s",
			   sy_map_names[fam->ct], sy_errstr(err));
out:
	key_list_free(&g.backends);
	key_list_free(&g.revnat);
	key_list_free(&g.keys);
	return err;
}

int ct_gc(struct loader *L, const char *at, struct ct_gc_stats *st,
	  struct sy_err *e)
{
	uint64_t t0 = mono_now_ns();
	int err = 0;

	memset(st, 0, sizeof(*st));
	for (int i = 0; i < 2 && !err; i++)
		err = ct_gc_family(L, &ct_families[i], st, e);
	if (err)
		return err;
	log_info("%s: %llu of %llu conntrack entries removed (%llu expired, "
		 "%llu of deleted backends, %llu of deleted frontends) in "
		 "%llu ms", at, (unsigned long long)ct_gc_deleted(st),
		 (unsigned long long)st->scanned,
		 (unsigned long long)st->expired,
		 (unsigned long long)st->orphaned_backend,
		 (unsigned long long)st->orphaned_frontend,
		 (unsigned long long)((mono_now_ns() - t0) / 1000000));
	return 0;
}
