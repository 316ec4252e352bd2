/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Hook points of the IPv6 datapath for what it does not do yet: ICMPv6
 * (REJECT answers, errors of translated flows, packet too big) and IPv6
 * fragments. Each is one function with its decision in one place; the
 * ICMPv6/fragment work replaces their bodies. Until then:
 *
 *   REJECT (frontend without endpoints, backend of a TCP flow gone):
 *       dropped and counted (SY_CNT_IP6_NOT_HANDLED): the client times
 *       out instead of seeing "connection refused";
 *   ICMPv6 (any): untouched (TCX_NEXT / XDP_PASS), not counted: the
 *       stack and the endpoints see it as it is;
 *   fragments (a fragment header with offset or M set): untouched and
 *       counted (SY_CNT_IP6_NOT_HANDLED);
 *   too big for the egress (bpf_fib_lookup() FRAG_NEEDED): counted as
 *       SY_CNT_TOO_BIG_NO_DF (no answer); XDP leaves the packet to tc, tc to
 *       the stack (which sends its own packet-too-big).
 */
#ifndef SY_HOOKS6_H
#define SY_HOOKS6_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_parse6.h"
#include "sy_stats.h"

#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

/* A hook's "go on as without it" (no verdict; TCX_NEXT is -1). */
#define SY_HOOK6_CONTINUE 0x7fff0100

/* tc, SY_LB_REJECT for an IPv6 packet. */
static __always_inline int sy_tc6_reject(struct __sk_buff *skb,
					 const struct sy_pkt6 *pkt)
{
	sy_count(SY_CNT_IP6_NOT_HANDLED);
	return TC_ACT_SHOT;
}

/* tc, an unfragmented ICMPv6 packet (l4_off set). */
static __always_inline int sy_tc6_icmp(struct __sk_buff *skb,
				       const struct sy_pkt6 *pkt)
{
	return TCX_NEXT;
}

/* tc, a TCP/UDP fragment (pkt->frag != SY_FRAG_NONE). Returns a verdict, or
 * SY_HOOK6_CONTINUE to go on with the decision (pkt's ports set). */
static __always_inline int sy_tc6_frag(struct __sk_buff *skb,
				       struct sy_pkt6 *pkt)
{
	sy_count(SY_CNT_IP6_NOT_HANDLED);
	return TCX_NEXT;
}

/* XDP: the same for fragments (XDP_PASS: tc decides). */
static __always_inline int sy_xdp6_frag(struct xdp_md *ctx,
					struct sy_pkt6 *pkt)
{
	return XDP_PASS;
}

/* XDP, a packet whose translation would be too big for its egress:
 * untouched to tc. */
static __always_inline int sy_xdp6_too_big(struct xdp_md *ctx,
					   const struct sy_pkt6 *pkt, __u32 mtu)
{
	sy_count(SY_CNT_TOO_BIG_NO_DF);
	return XDP_PASS;
}

/* tc, a translated packet too big for its egress (mtu: the egress MTU).
 * Returns a verdict, or SY_HOOK6_CONTINUE to forward it anyway. */
static __always_inline int sy_tc6_too_big(struct __sk_buff *skb,
					  const struct sy_pkt6 *pkt, __u32 mtu)
{
	sy_count(SY_CNT_TOO_BIG_NO_DF);
	return TC_ACT_OK;
}

#endif /* SY_HOOKS6_H */
