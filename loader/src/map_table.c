// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The maps and socket programs the loader knows by name, and the file
 * descriptors of the loaded maps. Below every other module that touches a
 * map (datapath loading, layout migration, attach, map writes). */
#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"

const char *const sy_map_names[SY_MAP_COUNT] = {
	[SY_MAP_SERVICES] = "sy_services",
	[SY_MAP_BACKENDS] = "sy_backends",
	[SY_MAP_REVNAT] = "sy_revnat",
	[SY_MAP_MAGLEV] = "sy_maglev",
	[SY_MAP_CONNTRACK] = "sy_conntrack",
	[SY_MAP_AFFINITY] = "sy_affinity",
	[SY_MAP_ATTACH] = "sy_attach",
	[SY_MAP_CONFIG] = "sy_config",
	[SY_MAP_COUNTERS] = "sy_counters",
	[SY_MAP_SVC_STATS] = "sy_svc_stats",
	[SY_MAP_SOURCE_RANGES] = "sy_source_ranges",
	[SY_MAP_SOCK_REVNAT] = "sy_sock_revnat",
	[SY_MAP_ICMP_RATE] = "sy_icmp_rate",
	[SY_MAP_FRAG] = "sy_frag",
	[SY_MAP_DEV_MAC] = "sy_dev_mac",
	[SY_MAP_FIB_CACHE] = "sy_fib_cache",
	[SY_MAP_FIB_GEN] = "sy_fib_gen",
	[SY_MAP_SERVICES6] = "sy_services6",
	[SY_MAP_BACKENDS6] = "sy_backends6",
	[SY_MAP_REVNAT6] = "sy_revnat6",
	[SY_MAP_CONNTRACK6] = "sy_conntrack6",
	[SY_MAP_AFFINITY6] = "sy_affinity6",
	[SY_MAP_SOURCE_RANGES6] = "sy_source_ranges6",
	[SY_MAP_SOCK_REVNAT6] = "sy_sock_revnat6",
	[SY_MAP_FRAG6] = "sy_frag6",
	[SY_MAP_CONFIG6] = "sy_config6",
};

const struct sy_sock_hook sy_sock_hooks[SY_SOCK_PROGS] = {
	{ "sy_connect4", "connect4", BPF_CGROUP_INET4_CONNECT },
	{ "sy_sendmsg4", "sendmsg4", BPF_CGROUP_UDP4_SENDMSG },
	{ "sy_recvmsg4", "recvmsg4", BPF_CGROUP_UDP4_RECVMSG },
	{ "sy_getpeername4", "getpeername4", BPF_CGROUP_INET4_GETPEERNAME },
	{ "sy_connect6", "connect6", BPF_CGROUP_INET6_CONNECT },
	{ "sy_sendmsg6", "sendmsg6", BPF_CGROUP_UDP6_SENDMSG },
	{ "sy_recvmsg6", "recvmsg6", BPF_CGROUP_UDP6_RECVMSG },
	{ "sy_getpeername6", "getpeername6", BPF_CGROUP_INET6_GETPEERNAME },
};

int sy_map_fd(struct loader *L, enum sy_map_id id)
{
	return bpf_map__fd(L->maps[id]);
}

/* A hash walk restarts when its current key is deleted concurrently: twice
 * the map's size, plus some, bounds it. */
uint64_t sy_map_iter_bound(struct loader *L, enum sy_map_id id)
{
	return (uint64_t)bpf_map__max_entries(L->maps[id]) * 2 + 1024;
}
