/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tc ingress datapath, instantiated once per device role:
 *   sy_tc_ingress  (tc_ingress.c)  pod-facing veths (node side)
 *   sy_tc_external (tc_external.c) the node's external/underlay devices
 * The decision is sy_lb_decide() (sy_lb.h); this file applies it to the skb
 * with the kernel's checksum helpers, which also keep skb->csum right for
 * CHECKSUM_COMPLETE and the pseudo-header seed for CHECKSUM_PARTIAL skbs.
 *
 * A rewritten packet is handed back with TC_ACT_OK so the stack routes the
 * new destination (and the tcx chain ends there); an untouched one returns
 * TCX_NEXT so the programs attached after ours still run; a reject is
 * redirected out of the arrival device (TC_ACT_REDIRECT); drops are reserved for packets that must not reach the
 * frontend address (Local policy without local endpoint, source outside the
 * frontend's ranges, broken table, no SNAT port, a reset to a reset).
 *
 * Packets whose new source is an address of the node itself cannot go back
 * to the stack: IPv4 input routing drops a received packet with a local
 * source address as a martian (fib_validate_source()). That is every SNATed
 * packet (source node:NAT port), and every reply whose restored source is a
 * NodePort frontend (a node address). Those are forwarded from here: FIB
 * lookup on the new destination, TTL decremented, then bpf_redirect() to the
 * egress device with the MACs from the FIB, or bpf_redirect_neigh() when the
 * neighbour is not resolved yet (which resolves it, so sy_xdp can forward
 * the next packets itself). If the FIB has no answer the packet goes to the
 * stack anyway (TC_ACT_OK).
 *
 * sy_xdp on the same device only translates what it can forward itself; what
 * it passes (FIB lookup failed) is untouched, and this program translates it
 * from the conntrack state sy_xdp already wrote: each packet is translated
 * exactly once. A packet with already translated addresses (client ->
 * backend, node:NAT port -> backend, frontend -> client) is no frontend and
 * no conntrack key of its direction, so it would pass untouched too.
 *
 * IPv6 frames go to sy_tc6_main() (sy_tc6.h): the same steps over the IPv6
 * maps (each family in a function of its own, see sy_tc_main()).
 */
#ifndef SY_TC_H
#define SY_TC_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_csum.h"
#include "sy_nat.h"
#include "sy_reject.h"
#include "sy_stats.h"
#include "sy_lb.h"
#include "sy_icmp.h"
#include "sy_ratelimit.h"
#include "sy_frag.h"
#include "sy_pkt_type.h"
#include "sy_config.h"
#include "sy_frontend.h"
#include "sy_fib.h"
#include "sy_pmtu.h"
#include "sy_fib_cache.h"
#include "sy_tc6.h"
#include "sy_events.h"

/* tcx: hand the packet to the next program of the chain (uapi enum
 * tcx_action_base; for a clsact direct-action filter, TC_ACT_UNSPEC: the
 * next filter). Every packet left untouched returns it, so a CNI's or a
 * policy engine's program attached after ours still sees it; TC_ACT_OK
 * would end the chain. Older uapi headers lack the name. */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

/* Does the translated packet carry a source address of the node? */
static __always_inline int sy_src_is_node(const struct sy_pkt *pkt,
					  const struct sy_xlate *x)
{
	struct sy_svc_value *svc;

	if (x->snat)
		return 1; /* forward: node:NAT port; reply: node frontend */
	if (!x->reply)
		return 0; /* the client's own source */
	if (x->saddr == sy_node_addr())
		return 1;
	/* A NodePort frontend on another of the node's addresses. */
	svc = sy_lookup_frontend(x->saddr, x->sport, pkt->proto,
				 SY_ROLE_EXTERNAL);
	return svc && (svc->flags & SY_SVC_F_NODEPORT);
}

/* Forward a translated packet past IPv4 input routing (see above). Returns
 * TC_ACT_REDIRECT, or TC_ACT_OK when the FIB cannot tell (the stack then
 * decides). The lookup checks the packet's size against the egress MTU
 * (tot_len; per segment for GSO): a DF packet too big for it is answered
 * with ICMP fragmentation needed (sy_icmp.h) instead of being lost. A
 * successful answer is cached (sy_fib_cache.h); the retry without the size
 * (tot_len 0: the kernel then checks the skb itself) is not. */
static __always_inline int sy_tc_forward(struct __sk_buff *skb,
					 const struct sy_pkt *pkt,
					 const struct sy_xlate *x, __u64 now,
					 int cached)
{
	struct bpf_fib_lookup fib = {};
	struct sy_ip4 h; /* first 10 bytes: lengths, DF, TTL */
	__be16 old_ttl_proto, new_ttl_proto;
	int rc;

	if (bpf_skb_load_bytes(skb, pkt->l3_off, &h, 10) < 0)
		return TC_ACT_OK;
	if (h.ttl <= 1)
		return TC_ACT_OK;
	old_ttl_proto = *(__be16 *)&h.ttl;
	sy_fib_fill4(&fib, x, pkt->proto, 0,
		     sy_icmp_fwd_len(skb, pkt, h.tot_len), skb->ifindex);
	rc = cached && fib.tot_len ? sy_fib_lookup_cached(skb, &fib, now) :
			   bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		rc = sy_icmp_too_big_tc(skb, pkt, x, h.frag_off,
					fib.mtu_result);
		if (rc >= 0)
			return rc;
		/* No DF: as before this check (the kernel's own size check
		 * then sends it to the stack). */
		fib.tot_len = 0;
		rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_OK;

	/* Routed by us: TTL - 1 (the high byte of its 16-bit word). */
	new_ttl_proto = bpf_htons(bpf_ntohs(old_ttl_proto) - 0x0100);
	if (bpf_l3_csum_replace(skb, pkt->l3_off + offsetof(struct iphdr, check),
				old_ttl_proto, new_ttl_proto,
				sizeof(new_ttl_proto)) < 0 ||
	    bpf_skb_store_bytes(skb, pkt->l3_off + offsetof(struct iphdr, ttl),
				&new_ttl_proto, sizeof(new_ttl_proto), 0) < 0)
		return TC_ACT_SHOT;
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	if (bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

/* sy_tc4_main(): the frame is IPv6, for sy_tc6_main() (not a tc verdict). */
#define SY_TC_IS_IPV6 0x7fff0006

/* The IPv4 datapath (and the dispatch of other ethertypes). */
static __noinline int sy_tc4_main(struct __sk_buff *skb, int role)
{
	struct sy_xlate x;
	struct sy_pkt pkt;
	int ret, verdict;
	__u64 now;

	ret = sy_parse(skb, &pkt);
	if (ret != SY_PARSE_OK) {
		if (ret == SY_PARSE_ICMP) {
			ret = sy_icmp_tc(skb, &pkt, &x);
			if (ret == SY_ICMP_XLATE && sy_src_is_node(&pkt, &x)) {
				pkt.proto = IPPROTO_ICMP;
				return sy_tc_forward(skb, &pkt, &x, 0,
						     SY_FIB_UNCACHED);
			}
			return ret < 0 ? TC_ACT_SHOT : (ret == SY_ICMP_XLATE ? TC_ACT_OK : TCX_NEXT);
		}
		if (ret == SY_PARSE_IPV6)
			return SY_TC_IS_IPV6;
		if (ret == SY_PARSE_MALFORMED)
			sy_count(SY_CNT_MALFORMED);
		return TCX_NEXT;
	}
	if (sy_skb_not_for_host(skb)) {
		sy_count(SY_CNT_NOT_FOR_HOST);
		return TCX_NEXT;
	}
	if (pkt.frag != SY_FRAG_NONE && sy_frag_track(&pkt) < 0) {
		sy_count(SY_CNT_DROP_FRAG_NO_FIRST);
		sy_event_verdict4(SY_EV_DROP, &pkt, 0, SY_CNT_DROP_FRAG_NO_FIRST, SY_HOOK_TC_INGRESS);
		return TC_ACT_SHOT;
	}

	now = bpf_ktime_get_ns();
	verdict = sy_lb_decide(&pkt, role, SY_HOOK_TC_INGRESS, now, &x);
	switch (verdict) {
	case SY_LB_XLATE:
		if ((pkt.frag == SY_FRAG_LATER ?
			     sy_frag_xlate_skb(skb, &pkt, x.saddr, x.daddr) :
			     sy_xlate_skb(skb, &pkt, x.saddr, x.sport, x.daddr,
					  x.dport)) < 0)
			return TC_ACT_SHOT; /* never leak a half-rewritten packet */
		sy_xlate_account(&x, SY_HOOK_TC_INGRESS, skb->len);
		sy_event_trace4(&pkt, &x, SY_HOOK_TC_INGRESS);
		if (sy_src_is_node(&pkt, &x))
			return sy_tc_forward(skb, &pkt, &x, now,
					     SY_FIB_CACHED);
		return sy_pmtu_check4(skb, &pkt, &x, now); /* the stack forwards it */
	case SY_LB_REJECT:
		if (pkt.frag == SY_FRAG_LATER) { /* its first was answered */
			sy_count(SY_CNT_DROP_FRAG_REJECT);
			sy_event_verdict4(SY_EV_DROP, &pkt, x.fe_id, SY_CNT_DROP_FRAG_REJECT, SY_HOOK_TC_INGRESS);
			return TC_ACT_SHOT;
		}
		if (!sy_rl_take(SY_RL_REJECT, bpf_ktime_get_ns())) {
			sy_count(SY_CNT_REJECT_RATE_LIMITED);
			sy_event_verdict4(SY_EV_REJECT, &pkt, x.fe_id, SY_CNT_REJECT_RATE_LIMITED, SY_HOOK_TC_INGRESS);
			return TC_ACT_SHOT;
		}
		ret = sy_reject(skb, &pkt);
		if (ret == TC_ACT_REDIRECT)
			sy_count(pkt.proto == IPPROTO_TCP ? SY_CNT_REJECT_TCP :
							    SY_CNT_REJECT_UDP);
		sy_event_verdict4(SY_EV_REJECT, &pkt, x.fe_id, pkt.proto == IPPROTO_TCP ? SY_CNT_REJECT_TCP : SY_CNT_REJECT_UDP, SY_HOOK_TC_INGRESS);
		return ret;
	case SY_LB_DROP:
		sy_count(x.cnt);
		sy_event_verdict4(SY_EV_DROP, &pkt, x.fe_id, x.cnt, SY_HOOK_TC_INGRESS);
		return TC_ACT_SHOT;
	default:
		return TCX_NEXT;
	}
}

/* Each family in a function of its own: each gets the whole 512-byte BPF
 * stack (the IPv4 path alone takes over 400 bytes), and the IPv4 code is
 * what it was before IPv6 existed. */
static __always_inline int sy_tc_main(struct __sk_buff *skb, int role)
{
	int ret = sy_tc4_main(skb, role);

	return ret == SY_TC_IS_IPV6 ? sy_tc6_main(skb, role) : ret;
}

#endif /* SY_TC_H */
