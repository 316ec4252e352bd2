// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_xdp: service load balancing at XDP on the node's external devices, in
 * front of sy_tc_external on the same device. Same decision as tc
 * (sy_lb_decide(), shared maps: conntrack, affinity, Maglev), restricted to
 * what XDP can finish on its own:
 *
 *   - new and tracked flows of NodePort / ExternalIP / LoadBalancer
 *     frontends: DNAT, and SNAT to the node address for remote backends
 *     (eTP=Cluster);
 *   - replies of SNATed flows (from remote backends, to node:NAT port):
 *     source back to the frontend, destination back to the client;
 *   - a source outside a frontend's loadBalancerSourceRanges: XDP_DROP.
 *
 * Checksums are updated by hand (sy_xlate_xdp() in sy_nat.h, arithmetic in
 * sy_csum.h), since XDP has no checksum helpers.
 *
 * Before rewriting anything, bpf_fib_lookup() on the new destination (its
 * answer cached per flow direction: sy_fib_cache.h): on
 * success the packet is rewritten, the MACs set, the TTL decremented, and
 * the frame leaves with XDP_TX (egress device = ingress device) or
 * bpf_redirect() to the egress device. If the lookup does not succeed
 * (BPF_FIB_LKUP_RET_NO_NEIGH: neighbour not resolved yet; a local
 * destination; forwarding disabled; ...) or the TTL would expire, the packet
 * goes to the stack untouched (XDP_PASS) and sy_tc_external on the same
 * device translates it from the conntrack entries written here, then
 * forwards it itself (bpf_redirect_neigh() resolves the neighbour for the
 * next packets). A packet is never translated twice, and a translated packet
 * with a node address as source never meets IPv4 input routing, which would
 * drop it as a martian. Everything XDP does not handle (ClusterIP,
 * non-service traffic, rejects, malformed packets, frames for other hosts:
 * sy_pkt_type.h) is XDP_PASS, untouched. IPv4 fragments are translated with
 * their first fragment's flow (sy_frag.h). IPv6 frames: sy_xdp6.h.
 */
#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_stats.h"
#include "sy_lb.h"
#include "sy_icmp.h"
#include "sy_frag.h"
#include "sy_pkt_type.h"
#include "sy_config.h"
#include "sy_csum.h"
#include "sy_nat.h"
#include "sy_fib.h"
#include "sy_fib_cache.h"
#include "sy_xdp6.h"

/* Where does the translated packet go? Returns 0 with fib filled when XDP
 * can forward it itself, -1 when it must go to the stack (untouched), or
 * BPF_FIB_LKUP_RET_FRAG_NEEDED (fib->mtu_result: the egress MTU). The
 * answer comes from sy_fib_cache when it holds a current one. */
static __always_inline int sy_xdp_fib(struct xdp_md *ctx,
				      const struct sy_pkt *pkt,
				      const struct sy_xlate *x,
				      struct bpf_fib_lookup *fib, __u64 now,
				      int cached)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	int rc;

	if ((void *)(iph + 1) > data_end)
		return -1;
	if (iph->ttl <= 1)
		return -1; /* the stack sends time exceeded */
	sy_fib_fill4(fib, x, pkt->proto, iph->tos, bpf_ntohs(iph->tot_len),
		     ctx->ingress_ifindex);
	rc = cached ? sy_fib_lookup_cached(ctx, fib, now) :
		      bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return rc;
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? 0 : -1;
}

/* SY_CFG_F_NO_XDP_TX: a veth delivers XDP_TX frames to its peer only when
 * the peer has NAPI set up, which a plain veth peer (e.g. a bridge port) does
 * not: there, frames that would leave by the ingress device go to the stack
 * untouched and sy_tc_external translates them from the conntrack entries. */
static __always_inline int sy_xdp_tx_disabled(void)
{
	return sy_config_flag(SY_CFG_F_NO_XDP_TX);
}

/* After the rewrite: TTL - 1, MACs, out. */
static __always_inline int sy_xdp_forward(struct xdp_md *ctx,
					  const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = data + sizeof(struct ethhdr);

	if ((void *)(iph + 1) > data_end)
		return XDP_ABORTED;
	iph->check = sy_csum_ttl_dec(iph->check);
	iph->ttl--;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);

	if (fib->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib->ifindex, 0);
}

/* sy_xdp4(): the frame is IPv6, for sy_xdp6() (not an XDP verdict). */
#define SY_XDP_IS_IPV6 0x7fff0006

/* The IPv4 datapath (and the dispatch of other ethertypes). */
static __noinline int sy_xdp4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	struct bpf_fib_lookup fib = {};
	struct sy_icmp_err icmp;
	struct sy_xlate x;
	struct sy_pkt pkt;
	int ret, verdict;
	__u64 now;

	ret = sy_parse_data(data, data_end, &pkt);
	if (ret == SY_PARSE_ICMP &&
	    sy_icmp_xdp(ctx, &pkt, &icmp, &x) == SY_ICMP_XLATE &&
	    sy_xdp_fib(ctx, &pkt, &x, &fib, 0, SY_FIB_UNCACHED) == 0 &&
	    !(fib.ifindex == ctx->ingress_ifindex && sy_xdp_tx_disabled()) &&
	    sy_icmp_xdp_store(ctx, &icmp, &x) == 0)
		return sy_xdp_forward(ctx, &fib);
	if (ret != SY_PARSE_OK) {
		if (ret == SY_PARSE_IPV6)
			return SY_XDP_IS_IPV6;
		if (ret == SY_PARSE_MALFORMED)
			sy_count(SY_CNT_MALFORMED);
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}
	if (sy_xdp_not_for_host(data, ctx->ingress_ifindex)) {
		sy_count(SY_CNT_NOT_FOR_HOST);
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}
	if (pkt.frag != SY_FRAG_NONE && sy_frag_track(&pkt) < 0) {
		sy_count(SY_CNT_DROP_FRAG_NO_FIRST);
		sy_event_verdict4(SY_EV_DROP, &pkt, 0, SY_CNT_DROP_FRAG_NO_FIRST, SY_HOOK_XDP);
		return XDP_DROP;
	}

	now = bpf_ktime_get_ns();
	verdict = sy_lb_decide(&pkt, SY_ROLE_EXTERNAL, SY_HOOK_XDP, now, &x);
	if (verdict == SY_LB_DROP) {
		sy_count(x.cnt);
		sy_event_verdict4(SY_EV_DROP, &pkt, x.fe_id, x.cnt, SY_HOOK_XDP);
		return XDP_DROP;
	}
	if (verdict != SY_LB_XLATE) {
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}

	ret = sy_xdp_fib(ctx, &pkt, &x, &fib, now, SY_FIB_CACHED);
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return sy_icmp_too_big_xdp(ctx, &pkt, fib.mtu_result,
					   sy_xdp_tx_disabled());
	if (ret != 0 ||
	    (fib.ifindex == ctx->ingress_ifindex && sy_xdp_tx_disabled()) ||
	    (pkt.frag == SY_FRAG_LATER ?
		     sy_frag_xlate_xdp(ctx, x.saddr, x.daddr) :
		     sy_xlate_xdp(ctx, &pkt, x.saddr, x.sport, x.daddr,
				  x.dport)) < 0) {
		/* Untouched to the stack: sy_tc_external translates it. */
		sy_count(SY_CNT_XDP_PASS);
		return XDP_PASS;
	}
	sy_xlate_account(&x, SY_HOOK_XDP, len);
	sy_event_trace4(&pkt, &x, SY_HOOK_XDP);

	ret = sy_xdp_forward(ctx, &fib);
	if (ret == XDP_TX)
		sy_count(SY_CNT_XDP_TX);
	else if (ret == XDP_REDIRECT)
		sy_count(SY_CNT_XDP_REDIRECT);
	return ret;
}

/* Each family in a function of its own: each gets the whole 512-byte BPF
 * stack (the IPv4 path alone takes over 400 bytes). */
static __noinline int sy_xdp6(struct xdp_md *ctx)
{
	return sy_xdp6_main(ctx);
}

SEC("xdp")
int sy_xdp(struct xdp_md *ctx)
{
	int ret = sy_xdp4(ctx);

	return ret == SY_XDP_IS_IPV6 ? sy_xdp6(ctx) : ret;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
