// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The map-layout contract in the object's BTF. clang emits into BTF only the
 * types that a map, a program or a function reaches; the value of the Maglev
 * inner maps (given by size) and the enums of sy_structs.h (flags, counter
 * indices, lifetimes) are reached by none. This function, never called and
 * so never loaded, reaches every one of them, so that
 * `bpftool btf dump file build/switchyard.bpf.o` shows the whole contract:
 * scripts/map-layout/ generates the TypeScript codecs from it and
 * test/unit/map-layout.test.ts fails on any drift (docs/maps.md).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"

struct sy_layout_contract {
	struct sy_svc_key svc_key;
	struct sy_svc_value svc_value;
	struct sy_backend backend;
	struct sy_revnat revnat;
	struct sy_maglev_slots maglev_slots;
	struct sy_ct_key ct_key;
	struct sy_ct_value ct_value;
	struct sy_affinity_key affinity_key;
	struct sy_affinity_value affinity_value;
	struct sy_rate_bucket rate_bucket;
	struct sy_frag_key frag_key;
	struct sy_frag_value frag_value;
	struct sy_dev_mac dev_mac;
	struct sy_fib_key fib_key;
	struct sy_fib_entry fib_entry;
	struct sy_fib_scratch fib_scratch;
	struct sy_svc_stats_key svc_stats_key;
	struct sy_svc_stats svc_stats;
	struct sy_source_range_key source_range_key;
	struct sy_sock_revnat_key sock_revnat_key;
	struct sy_sock_revnat_value sock_revnat_value;
	struct sy_attach_key attach_key;
	struct sy_attach_value attach_value;
	struct sy_config config;
	struct sy_svc_key6 svc_key6;
	struct sy_backend6 backend6;
	struct sy_revnat6 revnat6;
	struct sy_ct_key6 ct_key6;
	struct sy_ct_value6 ct_value6;
	struct sy_affinity_key6 affinity_key6;
	struct sy_frag_key6 frag_key6;
	struct sy_source_range_key6 source_range_key6;
	struct sy_sock_revnat_key6 sock_revnat_key6;
	struct sy_sock_revnat_value6 sock_revnat_value6;
	struct sy_config6 config6;
	struct sy_monitor monitor;
	struct sy_events_budget events_budget;
	enum sy_events_limit events_limit;
	struct sy_event event;
	enum sy_scope scope;
	enum sy_svc_flag svc_flag;
	enum sy_backend_state backend_state;
	enum sy_backend_flag backend_flag;
	enum sy_ct_dir ct_dir;
	enum sy_ct_flag ct_flag;
	enum sy_ct_lifetime_s ct_lifetime_s;
	enum sy_counter counter;
	enum sy_fib_gen_bits fib_gen_bits;
	enum sy_rate_limit rate_limit;
	enum sy_hook hook;
	enum sy_attach_mode attach_mode;
	enum sy_config_flag config_flag;
	enum sy_monitor_flag monitor_flag;
	enum sy_event_type event_type;
	enum sy_event_flag event_flag;
};

__attribute__((used, noinline)) int sy_layout_contract(struct sy_layout_contract *c)
{
	return c != 0;
}
