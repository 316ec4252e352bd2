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

#define SY_AF_INET 2 /* AF_INET (no <sys/socket.h> for BPF) */

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

#endif /* SY_FIB_H */
