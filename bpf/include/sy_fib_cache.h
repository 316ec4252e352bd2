/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The route-result cache: bpf_fib_lookup() for the packets XDP and tc
 * forward themselves, asked of the kernel once per flow direction instead
 * of per packet (the kernel's IPv6 lookup costs up to twice its IPv4 one,
 * which made a forwarded IPv6 packet ~1.5x an IPv4 one: docs/maps.md,
 * "sy_fib_cache").
 *
 * Key: the inputs of the lookup that can change its answer (sy_fib_key:
 * family, arrival device, TOS / traffic class, source, destination, and
 * the protocol, ports and IPv6 flow label unless the loader set the
 * family's SY_FIB_SHORT_KEY bit in sy_fib_gen), so policy routing and
 * multipath hashing pick what they would pick for the packet; with the
 * short key a new flow to a known client/backend pair hits. Value:
 * what the forwarding uses (egress device, MACs) and the route's MTU. Only
 * BPF_FIB_LKUP_RET_SUCCESS is stored; a hit gives the kernel's own MTU
 * verdict: a packet longer (tot_len) than the stored MTU is
 * BPF_FIB_LKUP_RET_FRAG_NEEDED with mtu_result = that MTU, as the kernel's
 * check against the same route says.
 *
 * Staleness: the loader bumps sy_fib_gen on every route, neighbour, link,
 * address and rule notification of its namespace (and when it lost some);
 * an entry of another generation is not used. The generation is read
 * before the lookup, so a change during the lookup leaves the entry stale
 * rather than the cache wrong. SY_FIB_CACHE_MAX_AGE_NS bounds the rest.
 * Generation 0 means no loader watches (none started yet, or its netlink
 * socket failed): the cache is off, every packet asks the kernel.
 */
#ifndef SY_FIB_CACHE_H
#define SY_FIB_CACHE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_stats.h"

/* An entry is looked up again after 1 s even without a notification: what
 * a missed one (loader restarting, a PMTU exception, which the kernel does
 * not announce) can cost is 1 s of packets on the old route, while a flow
 * still asks the kernel only once a second. */
#define SY_FIB_CACHE_MAX_AGE_NS 1000000000ULL

/* The last argument of the callers that can go either way (sy_xdp_fib,
 * sy_tc_forward, ...), always a constant: the translated ICMP errors ask
 * the kernel directly (rare; another copy of the cache code on their paths
 * would only lengthen the verifier's work). */
#define SY_FIB_CACHED 1
#define SY_FIB_UNCACHED 0

static __always_inline __u32 sy_fib_gen_now(void)
{
	__u32 zero = 0;
	__u32 *gen = bpf_map_lookup_elem(&sy_fib_gen, &zero);

	return gen ? *gen : 0;
}

/* The key of a filled lookup (sy_fib_fill4/6), before bpf_fib_lookup()
 * overwrites its inputs; gen: sy_fib_gen (its key-mode bits). */
static __always_inline void sy_fib_key_of(struct sy_fib_key *k,
					  const struct bpf_fib_lookup *fib,
					  __u32 gen)
{
	__u32 short_key = fib->family == 2 /* AF_INET */ ?
		gen & SY_FIB_SHORT_KEY_V4 : gen & SY_FIB_SHORT_KEY_V6;

	__builtin_memset(k, 0, sizeof(*k));
	k->family = fib->family;
	if (!short_key) {
		k->proto = fib->l4_protocol;
		k->sport = fib->sport;
		k->dport = fib->dport;
	}
	k->ifindex = fib->ifindex;
	if (fib->family == 2 /* AF_INET */) {
		*(__u8 *)&k->flowinfo = fib->tos;
		k->saddr[0] = fib->ipv4_src;
		k->daddr[0] = fib->ipv4_dst;
	} else {
		/* The traffic class stays: rules select on it. */
		k->flowinfo = short_key ?
			fib->flowinfo & bpf_htonl(0x0ff00000U) : fib->flowinfo;
		__builtin_memcpy(k->saddr, fib->ipv6_src, 16);
		__builtin_memcpy(k->daddr, fib->ipv6_dst, 16);
	}
}

/* bpf_fib_lookup(ctx, fib, sizeof(*fib), 0) for a fib filled by
 * sy_fib_fill4/6 with tot_len set (the MTU is checked against it), served
 * from sy_fib_cache when it holds a current answer. Returns what the kernel
 * would: SUCCESS (ifindex, smac, dmac, mtu_result set), FRAG_NEEDED
 * (mtu_result), or any other BPF_FIB_LKUP_RET_*. now: bpf_ktime_get_ns(). */
static __always_inline int sy_fib_lookup_cached(void *ctx,
						struct bpf_fib_lookup *fib,
						__u64 now)
{
	struct sy_fib_scratch *s;
	struct sy_fib_entry *e;
	__u32 gen = sy_fib_gen_now(), zero = 0;
	int rc;

	s = bpf_map_lookup_elem(&sy_fib_scratch, &zero);
	if (!gen || !s) {
		sy_count(SY_CNT_FIB_CACHE_MISS);
		return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	}
	sy_fib_key_of(&s->key, fib, gen);
	e = bpf_map_lookup_elem(&sy_fib_cache, &s->key);
	if (e && e->gen == gen && now - e->stamp_ns < SY_FIB_CACHE_MAX_AGE_NS) {
		sy_count(SY_CNT_FIB_CACHE_HIT);
		if (fib->tot_len > e->mtu) {
			fib->mtu_result = e->mtu;
			return BPF_FIB_LKUP_RET_FRAG_NEEDED;
		}
		fib->mtu_result = e->mtu;
		fib->ifindex = e->ifindex;
		__builtin_memcpy(fib->smac, e->smac, 6);
		__builtin_memcpy(fib->dmac, e->dmac, 6);
		return BPF_FIB_LKUP_RET_SUCCESS;
	}
	sy_count(SY_CNT_FIB_CACHE_MISS);
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	s->fresh.stamp_ns = now;
	s->fresh.gen = gen;
	s->fresh.ifindex = fib->ifindex;
	s->fresh.mtu = fib->mtu_result;
	__builtin_memcpy(s->fresh.smac, fib->smac, 6);
	__builtin_memcpy(s->fresh.dmac, fib->dmac, 6);
	s->fresh.pad[0] = s->fresh.pad[1] = 0;
	bpf_map_update_elem(&sy_fib_cache, &s->key, &s->fresh, BPF_ANY);
	return rc;
}

#endif /* SY_FIB_CACHE_H */
