/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The route of a translated packet (bpf_fib_lookup()): tc and XDP ask the
 * same question, the new destination from the new source on the arrival
 * device, and differ in what they do with the answer (sy_tc.h, xdp.c).
 */
#ifndef SY_FIB_H
#define SY_FIB_H

#include <linux/bpf.h>

#include "sy_lb.h"

#define SY_AF_INET  2  /* AF_INET (no <sys/socket.h> for BPF) */
#define SY_AF_INET6 10 /* AF_INET6 */

/* IPv4: the lookup for x (addresses and ports after the rewrite). */
static __always_inline void sy_fib_fill4(struct bpf_fib_lookup *fib,
					 const struct sy_xlate *x, __u8 proto,
					 __u8 tos, __u16 tot_len,
					 __u32 ifindex)
{
	fib->family = SY_AF_INET;
	fib->tos = tos;
	fib->l4_protocol = proto;
	fib->sport = x->sport;
	fib->dport = x->dport;
	fib->tot_len = tot_len;
	fib->ipv4_src = x->saddr;
	fib->ipv4_dst = x->daddr;
	fib->ifindex = ifindex;
}

/* IPv6: the lookup for the addresses and ports after the rewrite;
 * flowinfo: traffic class and flow label as in the header's first word. */
static __always_inline void sy_fib_fill6(struct bpf_fib_lookup *fib,
					 const __be32 *saddr,
					 const __be32 *daddr, __be16 sport,
					 __be16 dport, __u8 proto,
					 __be32 flowinfo, __u16 tot_len,
					 __u32 ifindex)
{
	fib->family = SY_AF_INET6;
	fib->flowinfo = flowinfo;
	fib->l4_protocol = proto;
	fib->sport = sport;
	fib->dport = dport;
	fib->tot_len = tot_len;
	__builtin_memcpy(fib->ipv6_src, saddr, 16);
	__builtin_memcpy(fib->ipv6_dst, daddr, 16);
	fib->ifindex = ifindex;
}

#endif /* SY_FIB_H */
