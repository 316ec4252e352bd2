/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Datapath counters (sy_counters) and per-frontend statistics
 * (sy_svc_stats). Both maps are per-CPU, so plain increments are exact; the
 * loader sums the CPUs when it dumps them.
 */
#ifndef SY_STATS_H
#define SY_STATS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"

static __always_inline void sy_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&sy_counters, &idx);

	if (v)
		*v += 1;
}

/* One packet of len bytes translated for frontend fe_id at hook. */
static __always_inline void sy_svc_account(__u32 fe_id, __u32 hook, __u64 len)
{
	struct sy_svc_stats_key key = { .frontend_id = fe_id, .hook = hook };
	struct sy_svc_stats *st, init;

	st = bpf_map_lookup_elem(&sy_svc_stats, &key);
	if (st) {
		st->packets += 1;
		st->bytes += len;
		return;
	}
	init.packets = 1;
	init.bytes = len;
	/* From a program, a per-CPU update writes this CPU's slot only (the
	 * other CPUs' slots of a new element start at zero), so a race with
	 * another CPU creating the same entry loses nothing. */
	bpf_map_update_elem(&sy_svc_stats, &key, &init, BPF_ANY);
}

#endif /* SY_STATS_H */
