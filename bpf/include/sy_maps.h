/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Switchyard BPF map definitions (BTF-style). The names are part of the
 * user-facing contract (pinned by the loader under its own paths, dumped with
 * bpftool); the layouts live in sy_structs.h. The loader resizes max_entries
 * before load, so the datapath never relies on the sizes below.
 *
 * Every entry-point object includes this header. The definitions are weak so
 * that the libbpf static linker (bpftool gen object) merges the identical
 * copies into one map per name instead of failing on duplicate symbols.
 */
#ifndef SY_MAPS_H
#define SY_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"

#define SY_MAP_DEF __attribute__((weak)) SEC(".maps")

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_svc_key);
	__type(value, struct sy_svc_value);
} sy_services SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct sy_backend);
} sy_backends SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct sy_revnat);
} sy_revnat SY_MAP_DEF;

/* Inner map template. BPF_F_INNER_MAP lets the outer map accept ARRAYs of
 * any max_entries (one per table: (M + 1) / 2 elements of two slots) as long
 * as type, key/value size and flags match, so inner maps must also be
 * created with BPF_F_INNER_MAP. The value is struct sy_maglev_slots, given
 * by size: clang emits only a forward declaration in BTF for a type that is
 * reachable through a nested inner-map template alone, and libbpf could not
 * size it. */
struct sy_maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SY_MAGLEV_INNER_TEMPLATE_SIZE);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct sy_maglev_slots));
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__array(values, struct sy_maglev_inner);
} sy_maglev SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct sy_ct_key);
	__type(value, struct sy_ct_value);
} sy_conntrack SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_affinity_key);
	__type(value, struct sy_affinity_value);
} sy_affinity SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SY_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} sy_counters SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_svc_stats_key);
	__type(value, struct sy_svc_stats);
} sy_svc_stats SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sy_source_range_key);
	__type(value, __u8);
} sy_source_ranges SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_sock_revnat_key);
	__type(value, struct sy_sock_revnat_value);
} sy_sock_revnat SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sy_frag_key);
	__type(value, struct sy_frag_value);
} sy_frag SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SY_DEV_MAC_MAX);
	__type(key, __u32);
	__type(value, struct sy_dev_mac);
} sy_dev_mac SY_MAP_DEF;

/* The route-result cache (sy_fib_cache.h): one entry per forwarded flow
 * direction, LRU-evicted; 65536 entries (5 MiB). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_fib_key);
	__type(value, struct sy_fib_entry);
} sy_fib_cache SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_fib_scratch);
} sy_fib_scratch SY_MAP_DEF;

/* sy_fib_gen[0]: the route generation, written by the loader (route_watch.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sy_fib_gen SY_MAP_DEF;

/* Written by the loader only; declared here so it is part of the object and
 * the skeleton (the datapath never reads it). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct sy_attach_key);
	__type(value, struct sy_attach_value);
} sy_attach SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_config);
} sy_config SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SY_RL_MAX);
	__type(key, __u32);
	__type(value, struct sy_rate_bucket);
} sy_icmp_rate SY_MAP_DEF;

/* ---- IPv6 twins (sy_structs.h, "IPv6 twins"); sizes as their IPv4 maps'. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_svc_key6);
	__type(value, struct sy_svc_value);
} sy_services6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct sy_backend6);
} sy_backends6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct sy_revnat6);
} sy_revnat6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct sy_ct_key6);
	__type(value, struct sy_ct_value6);
} sy_conntrack6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_affinity_key6);
	__type(value, struct sy_affinity_value);
} sy_affinity6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct sy_frag_key6);
	__type(value, struct sy_frag_value);
} sy_frag6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct sy_source_range_key6);
	__type(value, __u8);
} sy_source_ranges6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct sy_sock_revnat_key6);
	__type(value, struct sy_sock_revnat_value6);
} sy_sock_revnat6 SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_config6);
} sy_config6 SY_MAP_DEF;

/* ---- The datapath monitor (sy_events.h) --------------------------------- */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_monitor);
} sy_monitor SY_MAP_DEF;

/* 256 KiB: about 2,700 events (96 bytes + an 8-byte header each) before
 * the reader must have caught up; beyond, SY_CNT_EVENTS_LOST. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} sy_events SY_MAP_DEF;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sy_events_budget);
} sy_events_budget SY_MAP_DEF;

#endif /* SY_MAPS_H */
