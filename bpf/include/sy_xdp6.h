/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * sy_xdp for IPv6 frames: what xdp.c does for IPv4 (see there), over the
 * IPv6 decision (sy_lb6.h) and rewrite (sy_nat6.h): new and tracked flows
 * of NodePort / ExternalIP / LoadBalancer frontends and replies of SNATed
 * flows, forwarded by XDP itself after a FIB lookup (AF_INET6) with the
 * hop limit decremented (IPv6 has no header checksum to fix); everything
 * else, and whatever the FIB cannot place, goes to the stack untouched,
 * where sy_tc_external translates it from the conntrack entries.
 * ICMPv6 and fragments: the hook points of sy_hooks6.h (XDP_PASS for now).
 */
#ifndef SY_XDP6_H
#define SY_XDP6_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse6.h"
#include "sy_lb6.h"
#include "sy_events6.h"
#include "sy_nat6.h"
#include "sy_hooks6.h"
#include "sy_stats.h"
#include "sy_pkt_type.h"
#include "sy_config.h"
#include "sy_fib.h"
#include "sy_fib_cache.h"

/* Where does the translated packet go (sy_xdp_fib())? */
static __always_inline int sy_xdp6_fib(struct xdp_md *ctx,
				       const struct sy_pkt6 *pkt,
				       const struct sy_xlate6 *x,
				       struct bpf_fib_lookup *fib, __u64 now)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + SY_IP6_L3_OFF;
	int rc;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	if (ip6->hop_limit <= 1)
		return -1; /* the stack sends time exceeded */
	sy_fib_fill6(fib, x->saddr, x->daddr, x->sport, x->dport, pkt->proto,
		     *(__be32 *)ip6 & bpf_htonl(0x0fffffff),
		     SY_IP6_HDR_LEN + bpf_ntohs(ip6->payload_len),
		     ctx->ingress_ifindex);
	rc = sy_fib_lookup_cached(ctx, fib, now);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return rc;
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
}

/* After the rewrite: hop limit - 1, MACs, out. */
static __always_inline int sy_xdp6_forward(struct xdp_md *ctx,
					   const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + SY_IP6_L3_OFF;

	if ((void *)(ip6 + 1) > data_end)
		return XDP_ABORTED;
	ip6->hop_limit--;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	if (fib->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib->ifindex, 0);
}

static __always_inline int sy_xdp6_main(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct bpf_fib_lookup fib = {};
	struct sy_xlate6 x;
	struct sy_pkt6 pkt;
	int ret, verdict;
	__u64 now;

	ret = sy_parse6_data(data, data_end, len, &pkt);
	if (ret == SY_PARSE_ICMP) {
		ret = sy_xdp6_icmp(ctx, &pkt);
		if (ret == XDP_PASS)
			sy_count(SY_CNT_XDP_PASS);
		return ret;
	}
	if (ret != SY_PARSE_OK) {
		if (ret == SY_PARSE_MALFORMED)
			sy_count(SY_CNT_MALFORMED6);
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS; /* unhandled chains: tc decides */
	}
	if (sy_xdp_not_for_host(data, ctx->ingress_ifindex)) {
		sy_count(SY_CNT_NOT_FOR_HOST);
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}
	if (pkt.frag != SY_FRAG_NONE) {
		ret = sy_xdp6_frag(ctx, &pkt);
		if (ret != SY_HOOK6_CONTINUE) {
			sy_count(SY_CNT_XDP_PASS);
			return ret;
		}
	}

	now = bpf_ktime_get_ns();
	verdict = sy_lb6_decide(&pkt, SY_ROLE_EXTERNAL, SY_HOOK_XDP, now, &x);
	if (verdict == SY_LB_DROP) {
		sy_count(x.cnt);
		sy_event_verdict6_inline(&pkt, sy_event6_info(SY_EV_DROP, SY_HOOK_XDP,
							x.cnt, x.fe_id));
		return XDP_DROP;
	}
	if (verdict != SY_LB_XLATE) {
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}

	ret = sy_xdp6_fib(ctx, &pkt, &x, &fib, now);
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return sy_xdp6_too_big(ctx, &pkt, fib.mtu_result);
	if (ret != 0 ||
	    (fib.ifindex == ctx->ingress_ifindex &&
	     sy_config_flag(SY_CFG_F_NO_XDP_TX)) ||
	    sy_xlate6_xdp(ctx, &pkt, &x) < 0) {
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}
	sy_xlate6_account(&x, SY_HOOK_XDP, len);
	sy_event_trace6(&pkt, &x, SY_HOOK_XDP);

	ret = sy_xdp6_forward(ctx, &fib);
	if (ret == XDP_TX)
		sy_count(SY_CNT_XDP_TX);
	else if (ret == XDP_REDIRECT)
		sy_count(SY_CNT_XDP_REDIRECT);
	return ret;
}

#endif /* SY_XDP6_H */
