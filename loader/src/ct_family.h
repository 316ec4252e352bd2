/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The conntrack map of each IP family and the maps its ids refer to, for
 * the walks that cover both (flush, GC). sy_ct_value6 starts with
 * sy_ct_value's first 20 bytes (last_seen, backend_id, rev_nat_id,
 * tcp_flags, flags), so one reader serves both values. */
#ifndef SY_CT_FAMILY_H
#define SY_CT_FAMILY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "loader.h"
#include "sy_structs.h"

struct ct_family {
	enum sy_map_id ct, backends, revnat, affinity;
	uint32_t key_size, value_size, affinity_key_size;
	uint32_t proto_off;        /* of the key's proto byte */
	uint32_t affinity_group_off; /* of the affinity key's group */
};

static const struct ct_family ct_families[2] = {
	{ SY_MAP_CONNTRACK, SY_MAP_BACKENDS, SY_MAP_REVNAT, SY_MAP_AFFINITY,
	  sizeof(struct sy_ct_key), sizeof(struct sy_ct_value),
	  sizeof(struct sy_affinity_key), offsetof(struct sy_ct_key, proto),
	  offsetof(struct sy_affinity_key, group) },
	{ SY_MAP_CONNTRACK6, SY_MAP_BACKENDS6, SY_MAP_REVNAT6,
	  SY_MAP_AFFINITY6, sizeof(struct sy_ct_key6),
	  sizeof(struct sy_ct_value6), sizeof(struct sy_affinity_key6),
	  offsetof(struct sy_ct_key6, proto),
	  offsetof(struct sy_affinity_key6, group) },
};

/* What the loader reads of a conntrack value, in either family. */
struct ct_value_head {
	uint64_t last_seen;
	uint32_t backend_id;
	uint32_t rev_nat_id;
	uint16_t tcp_flags;
	uint16_t flags;
};

_Static_assert(offsetof(struct sy_ct_value6, flags) ==
		       offsetof(struct sy_ct_value, flags) &&
	       offsetof(struct sy_ct_value6, rev_nat_id) ==
		       offsetof(struct sy_ct_value, rev_nat_id) &&
	       offsetof(struct ct_value_head, flags) ==
		       offsetof(struct sy_ct_value, flags),
	       "conntrack values of both families share their head");

/* Largest key and value of either family (buffers). */
#define CT_KEY_MAX sizeof(struct sy_ct_key6)
#define CT_VALUE_MAX sizeof(struct sy_ct_value6)

static inline struct ct_value_head ct_value_head(const void *value)
{
	struct ct_value_head h;

	memcpy(&h, value, sizeof(h));
	return h;
}

static inline uint8_t ct_key_proto(const struct ct_family *f, const void *key)
{
	return ((const uint8_t *)key)[f->proto_off];
}

#endif
