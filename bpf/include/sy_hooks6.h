/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Hook points of the IPv6 datapath for ICMPv6 and fragments: the decision
 * of each case in one place, the work in sy_reject6.h, sy_icmp6.h and
 * sy_frag6.h:
 *
 *   REJECT (frontend without endpoints, backend of a TCP flow gone):
 *       TCP reset / ICMPv6 port unreachable, rate limited (SY_RL_REJECT);
 *       a later fragment of a rejected datagram is dropped
 *       (SY_CNT_DROP_FRAG_REJECT);
 *   ICMPv6 errors quoting a tracked flow: translated (sy_icmp6.h); one
 *       whose new source is an address of the node is forwarded from here
 *       (sy_tc6_forward()), as IPv4; anything else untouched (TCX_NEXT);
 *   fragments: the first records its ports, later ones get them
 *       (sy_frag6.h); a later fragment whose first is unknown is dropped;
 *   too big for the egress (bpf_fib_lookup() FRAG_NEEDED): ICMPv6 packet
 *       too big to the sender, quoting its packet as it sent it, rate
 *       limited (SY_RL_FRAG_NEEDED).
 */
#ifndef SY_HOOKS6_H
#define SY_HOOKS6_H

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_parse6.h"
#include "sy_stats.h"
#include "sy_config.h"
#include "sy_lb6.h"
#include "sy_reject6.h"
#include "sy_icmp6.h"
#include "sy_frag6.h"

#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

/* A hook's "go on as without it" (no verdict; TCX_NEXT is -1). */
#define SY_HOOK6_CONTINUE 0x7fff0100

/* tc, SY_LB_REJECT for an IPv6 packet. */
static __always_inline int sy_tc6_reject(struct __sk_buff *skb,
					 const struct sy_pkt6 *pkt)
{
	if (pkt->frag == SY_FRAG_LATER) { /* its first was answered */
		sy_count(SY_CNT_DROP_FRAG_REJECT);
		return TC_ACT_SHOT;
	}
	return sy_reject6(skb, pkt);
}

/* tc, an unfragmented ICMPv6 packet (l4_off set): an error of a tracked
 * flow is translated in place. Returns SY_HOOK6_CONTINUE when it was (x
 * describes the result as the flow's own translation would, pkt->proto is
 * the embedded protocol: the caller forwards it as a translated packet),
 * else a verdict (TCX_NEXT: untouched). */
static __always_inline int sy_tc6_icmp(struct __sk_buff *skb,
				       struct sy_pkt6 *pkt,
				       struct sy_xlate6 *x)
{
	int in_proto = sy_icmp6_tc(skb, pkt, x);

	if (in_proto < 0)
		return TC_ACT_SHOT; /* a store failed: never leak it half done */
	if (in_proto == 0)
		return TCX_NEXT;
	pkt->proto = in_proto;
	return SY_HOOK6_CONTINUE;
}

/* tc, a TCP/UDP fragment (pkt->frag != SY_FRAG_NONE). Returns a verdict, or
 * SY_HOOK6_CONTINUE to go on with the decision (pkt's ports set; a later
 * fragment is then rewritten with sy_frag6_xlate_skb()). */
static __always_inline int sy_tc6_frag(struct __sk_buff *skb,
				       struct sy_pkt6 *pkt)
{
	if (sy_frag6_track(pkt) < 0)
		return TC_ACT_SHOT; /* counted: SY_CNT_DROP_FRAG_NO_FIRST */
	return SY_HOOK6_CONTINUE;
}

/* XDP, an unfragmented ICMPv6 packet: left to tc (XDP_PASS), which
 * translates errors of tracked flows (sy_tc6_icmp()). sy_icmp6_xdp() /
 * sy_icmp6_xdp_apply() can do it in XDP, but XDP's IPv6 frame leaves no
 * stack for their subprogram frames. */
static __always_inline int sy_xdp6_icmp(struct xdp_md *ctx,
					const struct sy_pkt6 *pkt)
{
	return XDP_PASS;
}

/* XDP, a TCP/UDP fragment: left to tc (XDP_PASS), which tracks it and
 * translates it (sy_tc6_frag()) from the shared conntrack. XDP's IPv6
 * frame has no stack left for the fragment subprogram. */
static __always_inline int sy_xdp6_frag(struct xdp_md *ctx,
					struct sy_pkt6 *pkt)
{
	return XDP_PASS;
}

/* XDP, a packet whose translation would be too big for its egress: left
 * untouched to tc (XDP_PASS), which translates it from the conntrack
 * entries written here, finds it too big in its own forwarding lookup and
 * answers with packet too big (sy_tc6_too_big()). sy_icmp6_too_big_xdp()
 * answers from XDP itself, but does not fit in the stack XDP's IPv6 frame
 * leaves. */
static __always_inline int sy_xdp6_too_big(struct xdp_md *ctx,
					   const struct sy_pkt6 *pkt, __u32 mtu)
{
	return XDP_PASS;
}

/* tc, a translated packet too big for its egress (mtu: the egress MTU;
 * pkt: the packet before the rewrite). Returns a verdict, or
 * SY_HOOK6_CONTINUE to forward it anyway (no answer is due). */
static __always_inline int sy_tc6_too_big(struct __sk_buff *skb,
					  const struct sy_pkt6 *pkt, __u32 mtu)
{
	int ret = sy_icmp6_too_big_tc(skb, pkt, mtu);

	return ret == -1 ? SY_HOOK6_CONTINUE : ret;
}

#endif /* SY_HOOKS6_H */
