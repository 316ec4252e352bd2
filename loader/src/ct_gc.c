// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Garbage collection of sy_conntrack and sy_conntrack6 (each judged
 * against its own family's sy_backends(6) and sy_revnat(6)).
 *
 * Pass 1 walks sy_conntrack, a batch of entries at a time (map_batch.c),
 * against snapshots of the sy_backends and sy_revnat keys and collects
 * candidates: expired entries (sy_ct_expired(), the datapath's own rule)
 * and orphans. Pass 2, after each batch, re-reads each candidate and
 * checks again with the live maps and a fresh clock before deleting, so an
 * entry refreshed by a packet, or one that uses a backend added after the
 * snapshot, survives. What remains is the unavoidable race of a packet
 * refreshing an entry between that check and the delete: its next packet
 * then starts a new flow, which Maglev sends to the same backend.
 *
 * A walk can be cut into slices of a time budget (ct_gc_slice), resumed
 * from a cursor (family, next bucket): the loader serves one request at a
 * time, and one walk of a full sy_conntrack (262,144 entries) took 1.3 s
 * with get_next_key and a lookup per entry, during which no apply landed. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "ct_family.h"
#include "ct_gc.h"
#include "log.h"
#include "map_batch.h"
#include "map_iter.h"

static uint64_t mono_now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
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
	err = map_keys_snapshot(sy_map_fd(L, id),
				bpf_map__value_size(L->maps[id]),
				sy_map_iter_bound(L, id), ids);
	if (!err && ids->n)
		qsort(ids->data, ids->n, sizeof(uint32_t), u32_cmp);
	return err;
}

static bool id_in(const struct key_list *ids, uint32_t id)
{
	return ids->n &&
	       bsearch(&id, ids->data, ids->n, sizeof(uint32_t), u32_cmp);
}

/* The walk in progress: the id snapshots of each family, kept from one
 * slice to the next (one loader per process, one walk at a time; a request
 * with another cursor starts afresh). Pass 2 re-checks every candidate
 * against the live maps, so snapshots that age during a walk only make
 * candidates that survive, or miss an orphan until the next walk. */
static struct {
	uint64_t next;            /* the cursor the next slice comes with */
	bool have[2];
	struct key_list backends[2], revnat[2];
} walk;

static void walk_reset(void)
{
	for (int i = 0; i < 2; i++) {
		key_list_free(&walk.backends[i]);
		key_list_free(&walk.revnat[i]);
		walk.have[i] = false;
	}
	walk.next = 0;
}

struct ct_gc {
	struct loader *L;
	const struct ct_family *fam;
	const struct key_list *backends, *revnat; /* sorted __u32 ids */
	struct key_list keys;                     /* candidates */
	struct ct_gc_stats *st;
	uint64_t now;                             /* pass 1's clock, per batch */
	uint64_t deadline;                        /* 0: none */
	int err;                                  /* of pass 2 */
};

static int ct_gc_match(const void *key, const void *value, void *ctx)
{
	struct ct_gc *g = ctx;
	struct ct_value_head v = ct_value_head(value);

	g->st->scanned++;
	if (sy_ct_expired(ct_key_proto(g->fam, key), v.flags, v.last_seen,
			  g->now) ||
	    !id_in(g->backends, v.backend_id) ||
	    !id_in(g->revnat, v.rev_nat_id))
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

/* Pass 2 for the candidates collected so far. */
static int ct_gc_flush_candidates(struct ct_gc *g)
{
	for (size_t i = 0; i < g->keys.n && !g->err; i++)
		g->err = ct_gc_recheck(g->L, g->fam,
				       g->keys.data + i * g->keys.ksize, g->st);
	g->keys.n = 0;
	return g->err;
}

/* After each batch: its candidates re-checked and deleted at once (a
 * bucket a lookup just brought in), then the time budget. */
static int ct_gc_after_batch(void *ctx)
{
	struct ct_gc *g = ctx;

	if (ct_gc_flush_candidates(g))
		return 1;
	g->now = mono_now_ns();
	return g->deadline && g->now >= g->deadline ? 1 : 0;
}

/* The whole walk of one family the old way, get_next_key and lookup per
 * entry (a kernel without batch lookups): collect, then re-check. */
static int ct_gc_family_iter(struct ct_gc *g)
{
	int err = map_iter(sy_map_fd(g->L, g->fam->ct), g->fam->key_size,
			   g->fam->value_size, sy_map_iter_bound(g->L, g->fam->ct),
			   ct_gc_match, g);

	if (!err)
		err = ct_gc_flush_candidates(g);
	return err;
}

/* Walks family f from bucket *bucket until its end (*end) or the deadline. */
static int ct_gc_family(struct loader *L, int f, uint32_t *bucket, bool *end,
			uint64_t deadline, struct ct_gc_stats *st,
			struct sy_err *e)
{
	const struct ct_family *fam = &ct_families[f];
	struct ct_gc g = {
		.L = L, .fam = fam, .st = st, .deadline = deadline,
		.keys = { .ksize = fam->key_size },
	};
	struct map_batch_walk w = {
		.fd = sy_map_fd(L, fam->ct), .ksize = fam->key_size,
		.vsize = fam->value_size, .cursor = *bucket,
	};
	int err = 0;

	if (!walk.have[f]) {
		err = id_snapshot(L, fam->backends, &walk.backends[f]);
		if (err) {
			sy_err_set(e, SY_ERR_KERNEL, err, "reading %s: %s",
				   sy_map_names[fam->backends], sy_errstr(err));
			goto out;
		}
		err = id_snapshot(L, fam->revnat, &walk.revnat[f]);
		if (err) {
			sy_err_set(e, SY_ERR_KERNEL, err, "reading %s: %s",
				   sy_map_names[fam->revnat], sy_errstr(err));
			goto out;
		}
		walk.have[f] = true;
	}
	g.backends = &walk.backends[f];
	g.revnat = &walk.revnat[f];
	g.now = mono_now_ns();
	err = map_batch_walk(&w, ct_gc_match, ct_gc_after_batch, &g);
	if (err == -EOPNOTSUPP) {
		err = ct_gc_family_iter(&g);
		w.end = true;
	} else if (err > 0) {
		err = g.err; /* 0: the budget is spent */
	} else if (!err) {
		err = ct_gc_flush_candidates(&g);
	}
	*bucket = w.cursor;
	*end = w.end;
	if (err && !g.err)
		sy_err_set(e, SY_ERR_KERNEL, err, "walking %s: %s",
			   sy_map_names[fam->ct], sy_errstr(err));
	else if (err)
		sy_err_set(e, SY_ERR_KERNEL, err, "deleting from %s: %s",
			   sy_map_names[fam->ct], sy_errstr(err));
out:
	key_list_free(&g.keys);
	return err;
}

int ct_gc_slice(struct loader *L, uint64_t cursor, uint64_t budget_ns,
		struct ct_gc_stats *st, uint64_t *next, struct sy_err *e)
{
	uint64_t deadline = budget_ns ? mono_now_ns() + budget_ns : 0;
	int f = (int)(cursor >> 32);
	uint32_t bucket = (uint32_t)cursor;
	int err = 0;

	memset(st, 0, sizeof(*st));
	*next = 0;
	if (f > 1) {
		sy_err_set(e, SY_ERR_INVALID, -EINVAL,
			   "cursor %llu: not one this loader gave",
			   (unsigned long long)cursor);
		return -EINVAL;
	}
	if (cursor == 0 || cursor != walk.next)
		walk_reset();
	while (f < 2) {
		bool end = false;

		err = ct_gc_family(L, f, &bucket, &end, deadline, st, e);
		if (err)
			break;
		if (!end) { /* the budget is spent */
			*next = ((uint64_t)f << 32) | bucket;
			break;
		}
		f++;
		bucket = 0;
		if (f < 2 && deadline && mono_now_ns() >= deadline) {
			*next = (uint64_t)f << 32;
			break;
		}
	}
	if (err || *next == 0)
		walk_reset();
	else
		walk.next = *next;
	return err;
}

int ct_gc(struct loader *L, const char *at, struct ct_gc_stats *st,
	  struct sy_err *e)
{
	uint64_t t0 = mono_now_ns(), next;
	int err;

	err = ct_gc_slice(L, 0, 0, st, &next, e);
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
