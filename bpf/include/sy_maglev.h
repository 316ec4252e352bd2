/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Maglev slot selection. The control plane builds each table (one inner
 * ARRAY per ServicePort group holding M slots, two per element, M prime) and
 * predicts slots with the same flow hash (sy_flow_hash() in sy_jhash.h), so
 * slot = hash % M is a cross-component contract (see sy_structs.h).
 */
#ifndef SY_MAGLEV_H
#define SY_MAGLEV_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"

/* The backend id in slot of svc's table. Returns 0 and sets *backend_id, or
 * -1 when the table or slot is missing (caller drops: a frontend with
 * count > 0 but no table is a transient control-plane state). */
static __always_inline int sy_maglev_slot(const struct sy_svc_value *svc,
					  __u32 slot, __u32 *backend_id)
{
	__u32 group = svc->group;
	struct sy_maglev_slots *pair;
	__u32 elem, id;
	void *table;

	table = bpf_map_lookup_elem(&sy_maglev, &group);
	if (!table)
		return -1;
	/* Slot s is ids[s & 1] of element s / 2. The inner map bounds-checks
	 * the element against its real size, so a table_size larger than the
	 * map misses (or reads the 0 padding of an odd M: id 0 is never a
	 * backend, so that misses too). */
	elem = slot / SY_MAGLEV_SLOTS_PER_ELEM;
	pair = bpf_map_lookup_elem(table, &elem);
	if (!pair)
		return -1;
	id = pair->ids[slot & 1];
	if (id == 0)
		return -1;
	*backend_id = id;
	return 0;
}

/* The backend id for a new flow of svc: the slot of hash (the caller's flow
 * hash, sy_pick.h), or a random slot with SY_SVC_F_RANDOM. */
static __always_inline int sy_maglev_pick(const struct sy_svc_value *svc,
					  __u32 hash, __u32 *backend_id)
{
	__u32 size = svc->table_size;
	__u32 slot;

	if (size == 0)
		return -1;
	if (svc->flags & SY_SVC_F_RANDOM)
		slot = bpf_get_prandom_u32() % size;
	else
		slot = hash % size;
	return sy_maglev_slot(svc, slot, backend_id);
}

#endif /* SY_MAGLEV_H */
