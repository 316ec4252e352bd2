// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test harness for the IPv6 ICMP, REJECT and fragment headers
 * (sy_reject6.h, sy_icmp6.h, sy_frag6.h), run by test/bpf/icmp6_test.c
 * through BPF_PROG_TEST_RUN. Each program parses with sy_parse6.h and calls
 * one header entry point, so that a header is tested on its own (the same
 * code sy_tc_ingress runs through sy_hooks6.h), including the XDP entry
 * points the XDP datapath does not call (sy_hooks6.h says why).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_parse6.h"
#include "sy_reject6.h"
#include "sy_icmp6.h"
#include "sy_frag6.h"

#define AF_INET6_ 10

/* Written by the test: the tuple as sent (too big; the packet carries the
 * translated one), and where XDP routes. */
__be32 v6h_o_saddr[4], v6h_o_daddr[4];
__be16 v6h_o_sport, v6h_o_dport;
__be32 v6h_fib_dst[4];
/* Written by the test: the rewrite of a later fragment (source, then
 * destination). Read by the test: the ports a fragment got. */
__be32 v6h_frag_addrs[8];
__be16 v6h_frag_sport, v6h_frag_dport;

static __always_inline int v6h_parse_skb(struct __sk_buff *skb,
					 struct sy_pkt6 *pkt)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end ||
	    eth->h_proto != bpf_htons(ETH_P_IPV6))
		return SY_PARSE_PASS;
	return sy_parse6(skb, pkt);
}

static __always_inline void v6h_orig(struct sy_pkt6 *pkt)
{
	sy_a6_copy(pkt->saddr, v6h_o_saddr);
	sy_a6_copy(pkt->daddr, v6h_o_daddr);
	pkt->sport = v6h_o_sport;
	pkt->dport = v6h_o_dport;
}

SEC("tc")
int v6h_reject(struct __sk_buff *skb)
{
	struct sy_pkt6 pkt;

	if (v6h_parse_skb(skb, &pkt) != SY_PARSE_OK)
		return -1;
	return sy_reject6(skb, &pkt);
}

SEC("tc")
int v6h_icmp(struct __sk_buff *skb)
{
	struct sy_xlate6 x;
	struct sy_pkt6 pkt;
	int ret;

	if (v6h_parse_skb(skb, &pkt) != SY_PARSE_ICMP)
		return -1;
	ret = sy_icmp6_tc(skb, &pkt, &x);
	return ret < 0 ? TC_ACT_SHOT : (ret > 0 ? TC_ACT_OK : -1);
}

/* The forwarding question of the datapath: the route of the (translated)
 * packet with its length; too big -> sy_icmp6_too_big_tc() with the tuple
 * as it was sent. */
SEC("tc")
int v6h_too_big(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib = {};
	struct sy_pkt6 pkt;
	__be16 plen;
	int rc;

	if (v6h_parse_skb(skb, &pkt) != SY_PARSE_OK ||
	    bpf_skb_load_bytes(skb, 14 + 4, &plen, 2) < 0)
		return -1;
	fib.family = AF_INET6_;
	fib.l4_protocol = pkt.proto;
	fib.tot_len = SY_IP6_HDR_LEN + bpf_ntohs(plen);
	__builtin_memcpy(fib.ipv6_src, pkt.saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, pkt.daddr, 16);
	fib.ifindex = skb->ifindex;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		v6h_orig(&pkt);
		rc = sy_icmp6_too_big_tc(skb, &pkt, fib.mtu_result);
		return rc == -1 ? TC_ACT_OK : rc;
	}
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? TC_ACT_OK : 100 + rc;
}

SEC("tc")
int v6h_frag(struct __sk_buff *skb)
{
	struct sy_pkt6 pkt;

	if (v6h_parse_skb(skb, &pkt) != SY_PARSE_OK ||
	    pkt.frag == SY_FRAG_NONE)
		return -1;
	if (sy_frag6_track(&pkt) < 0)
		return TC_ACT_SHOT;
	v6h_frag_sport = pkt.sport;
	v6h_frag_dport = pkt.dport;
	if (pkt.frag == SY_FRAG_LATER &&
	    sy_frag6_xlate_skb(skb, pkt.l3_off, v6h_frag_addrs) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("xdp")
int v6h_xdp_icmp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct sy_xlate6 x;
	struct sy_pkt6 pkt;
	int in;

	if (sy_parse6_data(data, data_end, data_end - data, &pkt) !=
	    SY_PARSE_ICMP)
		return XDP_ABORTED;
	in = sy_icmp6_xdp(ctx, &pkt, &x);
	if (in <= 0)
		return XDP_PASS;
	if (sy_icmp6_xdp_apply(ctx, &pkt, &x, in) < 0)
		return XDP_ABORTED;
	return XDP_TX;
}

SEC("xdp")
int v6h_xdp_too_big(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct sy_pkt6 pkt;
	int rc;

	if (sy_parse6_data(data, data_end, data_end - data, &pkt) !=
	    SY_PARSE_OK)
		return XDP_ABORTED;
	fib.family = AF_INET6_;
	fib.l4_protocol = pkt.proto;
	fib.tot_len = (data_end - data) - 14;
	__builtin_memcpy(fib.ipv6_src, pkt.saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, pkt.daddr, 16);
	if (!sy_a6_is_zero(v6h_fib_dst))
		__builtin_memcpy(fib.ipv6_dst, v6h_fib_dst, 16);
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return sy_icmp6_too_big_xdp(ctx, &pkt, fib.mtu_result, 0);
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? XDP_PASS : 100 + rc;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
