/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The backend of a new flow, one choice for every hook (tc, XDP, the
 * socket hooks): ClientIP affinity if the frontend has it and the client's
 * entry is fresh and its backend active, else the Maglev slot of a hash
 * (sy_maglev_pick(); random with SY_SVC_F_RANDOM). What differs by hook
 * and address family comes in from the caller:
 *
 *   - the hash: tc and XDP hash the packet's tuple (sy_flow_hash(), the
 *     control plane's prediction contract), the socket hooks the socket
 *     (sy_sock.h);
 *   - the affinity entry: its map and a key the family's step built
 *     (client address and sy_svc_value.group); the value is the same for
 *     every family;
 *   - the backend map (sy_backends or sy_backends6): fam, a compile-time
 *     constant (sy_addr.h).
 */
#ifndef SY_PICK_H
#define SY_PICK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_maglev.h"
#include "sy_addr.h"

/* Returns the backend (a struct sy_backend, or sy_backend6 for SY_AF6; its
 * id in *backend_id) or NULL (a broken table: the caller drops or leaves
 * the flow to another hook). Refreshes the client's affinity entry. */
static __always_inline void *
sy_select_backend_fam(int fam, const struct sy_svc_value *svc, void *aff_map,
		      const void *akey, __u32 hash, __u64 now,
		      __u32 *backend_id)
{
	struct sy_affinity_value aval = {};
	void *be = NULL;
	__u16 flags = svc->flags;
	__u32 id = 0;

	if (flags & SY_SVC_F_AFFINITY) {
		struct sy_affinity_value *aff;

		aff = bpf_map_lookup_elem(aff_map, akey);
		if (aff && now - aff->last_used <
				   (__u64)svc->affinity_timeout * SY_NSEC_PER_SEC) {
			id = aff->backend_id;
			be = bpf_map_lookup_elem(sy_backends_map(fam), &id);
			/* A terminating backend keeps its flows (conntrack)
			 * but takes no new ones, even from sticky clients. */
			if (be && sy_backend_state(fam, be) != SY_BE_ACTIVE)
				be = NULL;
		}
	}

	if (!be) {
		if (sy_maglev_pick(svc, hash, &id) < 0)
			return NULL;
		be = bpf_map_lookup_elem(sy_backends_map(fam), &id);
		if (!be)
			return NULL;
	}

	if (flags & SY_SVC_F_AFFINITY) {
		aval.last_used = now;
		aval.backend_id = id;
		bpf_map_update_elem(aff_map, akey, &aval, BPF_ANY);
	}
	*backend_id = id;
	return be;
}

/* IPv4 (sy_lb.h, sy_sock.h). */
static __always_inline struct sy_backend *
sy_select_backend(const struct sy_svc_value *svc, void *aff_map,
		  const void *akey, __u32 hash, __u64 now, __u32 *backend_id)
{
	return sy_select_backend_fam(SY_AF4, svc, aff_map, akey, hash, now,
				     backend_id);
}

#endif /* SY_PICK_H */
