/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The tc datapath for IPv6 frames (ethertype 0x86dd), both device roles:
 * sy_tc_main() (sy_tc.h) hands them here. Same flow as the IPv4 path:
 * parse (sy_parse6.h), decide (sy_lb6.h), rewrite (sy_nat6.h), and a
 * translated packet whose new source is an address of the node is
 * forwarded from here (FIB lookup AF_INET6, hop limit - 1, redirect), as
 * sy_tc_forward() does for IPv4. ICMPv6, fragments and REJECT go through
 * the hook points of sy_hooks6.h.
 *
 * A function of its own (a BPF subprogram), as the IPv4 path is: each
 * family has the whole BPF stack (sy_tc_main()).
 */
#ifndef SY_TC6_H
#define SY_TC6_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_addr.h"
#include "sy_parse6.h"
#include "sy_lb6.h"
#include "sy_nat6.h"
#include "sy_hooks6.h"
#include "sy_events6.h"
#include "sy_stats.h"
#include "sy_pkt_type.h"
#include "sy_fib.h"
#include "sy_pmtu.h"
#include "sy_fib_cache.h"

#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

/* Does the translated packet carry a source address of the node? */
static __always_inline int sy_src_is_node6(const struct sy_pkt6 *pkt,
					   const struct sy_xlate6 *x)
{
	const struct sy_config6 *cfg6;
	struct sy_svc_value *svc;

	if (x->snat)
		return 1;
	if (!x->reply)
		return 0;
	cfg6 = sy_config6_get();
	if (cfg6 && sy_a6_eq(x->saddr, cfg6->node_addr))
		return 1;
	svc = sy_lookup_frontend6(x->saddr, x->sport, pkt->proto,
				  SY_ROLE_EXTERNAL);
	return svc && (svc->flags & SY_SVC_F_NODEPORT);
}

/* sy_tc_forward() for IPv6: no header checksum, the hop limit instead of
 * the TTL. */
static __always_inline int sy_tc6_forward(struct __sk_buff *skb,
					  const struct sy_pkt6 *pkt,
					  const struct sy_xlate6 *x, __u64 now,
					  int cached)
{
	struct bpf_fib_lookup fib = {};
	__u8 h[8]; /* flowinfo, payload length, next header, hop limit */
	__u8 hop;
	int rc;

	if (bpf_skb_load_bytes(skb, pkt->l3_off, h, 8) < 0)
		return TC_ACT_OK;
	if (h[7] <= 1)
		return TC_ACT_OK; /* the stack sends time exceeded */
	sy_fib_fill6(&fib, x->saddr, x->daddr, x->sport, x->dport, pkt->proto,
		     *(__be32 *)h & bpf_htonl(0x0fffffff),
		     sy_fwd6_len(skb, pkt, *(__be16 *)(h + 4)), skb->ifindex);
	rc = cached && fib.tot_len ? sy_fib_lookup_cached(skb, &fib, now) :
			   bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		rc = sy_tc6_too_big(skb, pkt, fib.mtu_result);
		if (rc != SY_HOOK6_CONTINUE)
			return rc;
		fib.tot_len = 0;
		rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	}
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return TC_ACT_OK;

	hop = h[7] - 1;
	if (bpf_skb_store_bytes(skb, pkt->l3_off +
					     offsetof(struct ipv6hdr, hop_limit),
				&hop, 1, 0) < 0)
		return TC_ACT_SHOT;
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	if (bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0) < 0 ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

static __noinline int sy_tc6_main(struct __sk_buff *skb, int role)
{
	struct sy_xlate6 x;
	struct sy_pkt6 pkt;
	int ret, verdict;
	__u64 now;

	ret = sy_parse6(skb, &pkt);
	if (ret != SY_PARSE_OK) {
		if (ret == SY_PARSE_ICMP) {
			ret = sy_tc6_icmp(skb, &pkt, &x);
			if (ret != SY_HOOK6_CONTINUE)
				return ret;
			/* Translated: a node source cannot go back to the
			 * stack (as IPv4's ICMP errors). */
			if (!sy_src_is_node6(&pkt, &x))
				return TC_ACT_OK;
			pkt.proto = SY_NEXTHDR_ICMPV6;
			return sy_tc6_forward(skb, &pkt, &x, 0, SY_FIB_UNCACHED);
		}
		if (ret == SY_PARSE_MALFORMED)
			sy_count(SY_CNT_MALFORMED6);
		else if (ret == SY_PARSE_UNHANDLED)
			sy_count(SY_CNT_IP6_NOT_HANDLED);
		return TCX_NEXT;
	}
	if (sy_skb_not_for_host(skb)) {
		sy_count(SY_CNT_NOT_FOR_HOST);
		return TCX_NEXT;
	}
	if (pkt.frag != SY_FRAG_NONE) {
		ret = sy_tc6_frag(skb, &pkt);
		if (ret != SY_HOOK6_CONTINUE)
			return ret;
	}

	now = bpf_ktime_get_ns();
	verdict = sy_lb6_decide(&pkt, role, SY_HOOK_TC_INGRESS, now, &x);
	switch (verdict) {
	case SY_LB_XLATE:
		if ((pkt.frag == SY_FRAG_LATER ?
			     sy_frag6_xlate_skb(skb, pkt.l3_off, x.saddr) :
			     sy_xlate6_skb(skb, &pkt, &x)) < 0)
			return TC_ACT_SHOT; /* never leak a half-rewritten packet */
		sy_xlate6_account(&x, SY_HOOK_TC_INGRESS, skb->len);
		sy_event_trace6(&pkt, &x, SY_HOOK_TC_INGRESS);
		if (sy_src_is_node6(&pkt, &x))
			return sy_tc6_forward(skb, &pkt, &x, now, SY_FIB_CACHED);
		return sy_pmtu_check6(skb, &pkt, &x, now); /* the stack forwards it */
	case SY_LB_REJECT:
		sy_event_verdict6(&pkt, sy_event6_info(SY_EV_REJECT, SY_HOOK_TC_INGRESS,
				  pkt.proto == IPPROTO_TCP ? SY_CNT_REJECT_TCP :
				  SY_CNT_REJECT_UDP, x.fe_id));
		return sy_tc6_reject(skb, &pkt);
	case SY_LB_DROP:
		sy_count(x.cnt);
		sy_event_verdict6(&pkt, sy_event6_info(SY_EV_DROP, SY_HOOK_TC_INGRESS,
							x.cnt, x.fe_id));
		return TC_ACT_SHOT;
	default:
		return TCX_NEXT;
	}
}

#endif /* SY_TC6_H */
