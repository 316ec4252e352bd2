// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test harness for the IPv6 ICMP, REJECT and fragment headers
 * (sy_reject6.h, sy_icmp6.h, sy_frag6.h), run by test/bpf/icmp6_test.c
 * through BPF_PROG_TEST_RUN until the IPv6 service datapath (sy_tc_main,
 * sy_xdp) calls them itself. Each program is a thin caller of one header
 * entry point: the parsing here is the minimum to find the offsets
 * (Ethernet, IPv6, up to two hop-by-hop / destination options headers and
 * a fragment header); everything tested is the headers' code.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_reject6.h"
#include "sy_icmp6.h"
#include "sy_frag6.h"

#define AF_INET6_ 10

/* Written by the test: the tuple as sent (too big) and the rewrite of a
 * later fragment. */
__be32 v6h_o_saddr[4], v6h_o_daddr[4];
__be16 v6h_o_sport, v6h_o_dport;
__u8 v6h_o_proto;
/* Routed instead of the packet's destination, if set (XDP looks the
 * route of the translated destination up before it rewrites). */
__be32 v6h_fib_dst[4];
__be32 v6h_frag_saddr[4];
__be32 v6h_frag_daddr[4];
/* Read by the test: the ports a fragment got from sy_frag6_track(). */
__be16 v6h_frag_sport, v6h_frag_dport;
__u8 v6h_frag_kind;

struct v6h_pkt {
	__be32 saddr[4];
	__be32 daddr[4];
	__u32 l4_off;
	__u8 proto;
	__u8 frag;       /* SY_FRAG_* */
	__be32 frag_id;
	__u32 len;
	__u32 tot_len;   /* IPv6 packet length (40 + payload length) */
};

static __always_inline void v6h_orig(struct sy_tuple6 *o)
{
	__builtin_memcpy(o->saddr, v6h_o_saddr, 16);
	__builtin_memcpy(o->daddr, v6h_o_daddr, 16);
	o->sport = v6h_o_sport;
	o->dport = v6h_o_dport;
	o->proto = v6h_o_proto;
}

#define V6H_LOAD(ctx, load, p, len_)                                          \
	({                                                                    \
		struct sy_ip6 __ip;                                           \
		__u8 __x[2];                                                  \
		struct sy_ip6_frag_hdr __fh;                                  \
		__be16 __et;                                                  \
		__u32 __o = 14 + 40;                                          \
		__u8 __nh;                                                    \
		int __r = 0;                                                  \
		(p)->len = (len_);                                            \
		(p)->frag = SY_FRAG_NONE;                                     \
		(p)->frag_id = 0;                                             \
		if (load(ctx, 12, &__et, 2) < 0 ||                            \
		    __et != bpf_htons(ETH_P_IPV6) ||                          \
		    load(ctx, 14, &__ip, 40) < 0)                             \
			__r = -1;                                             \
		else {                                                        \
			__builtin_memcpy((p)->saddr, __ip.saddr, 16);         \
			__builtin_memcpy((p)->daddr, __ip.daddr, 16);         \
			(p)->tot_len = 40 + bpf_ntohs(__ip.payload_len);      \
			__nh = __ip.nexthdr;                                  \
			for (int __i = 0; __i < 3; __i++) {                   \
				if (__nh == SY_NEXTHDR_FRAGMENT) {                 \
					if (load(ctx, __o, &__fh, 8) < 0) {   \
						__r = -1;                     \
						break;                        \
					}                                     \
					(p)->frag = sy_frag6_kind(__fh.frag_off); \
					(p)->frag_id = __fh.id;               \
					__nh = __fh.nexthdr;                  \
					__o += 8;                             \
				} else if (__nh == SY_NEXTHDR_HOP ||           \
					   __nh == SY_NEXTHDR_DEST) {          \
					if (load(ctx, __o, __x, 2) < 0) {     \
						__r = -1;                     \
						break;                        \
					}                                     \
					__nh = __x[0];                        \
					__o += ((__u32)__x[1] + 1) * 8;       \
				}                                             \
			}                                                     \
			(p)->proto = __nh;                                    \
			(p)->l4_off = __o;                                    \
		}                                                             \
		__r;                                                          \
	})

SEC("tc")
int v6h_reject(struct __sk_buff *skb)
{
	struct v6h_pkt p;

	if (V6H_LOAD(skb, bpf_skb_load_bytes, &p, skb->len) < 0)
		return -1;
	return sy_reject6(skb, 14, p.l4_off, p.proto);
}

SEC("tc")
int v6h_icmp(struct __sk_buff *skb)
{
	struct sy_xlate6 f;
	struct v6h_pkt p;
	__u8 in_proto;
	int ret;

	if (V6H_LOAD(skb, bpf_skb_load_bytes, &p, skb->len) < 0 ||
	    p.proto != IPPROTO_ICMPV6)
		return -1;
	ret = sy_icmp6_tc(skb, 14, p.l4_off, &f, &in_proto);
	return ret < 0 ? TC_ACT_SHOT : (ret == SY_ICMP6_XLATE ? TC_ACT_OK : -1);
}

/* The forwarding question of the datapath: the route of the (translated)
 * packet, with its length; too big -> sy_icmp6_too_big_tc(). */
SEC("tc")
int v6h_too_big(struct __sk_buff *skb)
{
	struct bpf_fib_lookup fib = {};
	struct sy_tuple6 o = {};
	struct v6h_pkt p;
	int rc;

	v6h_orig(&o);

	if (V6H_LOAD(skb, bpf_skb_load_bytes, &p, skb->len) < 0)
		return -1;
	fib.family = AF_INET6_;
	fib.l4_protocol = p.proto;
	fib.tot_len = p.tot_len;
	__builtin_memcpy(fib.ipv6_src, p.saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, p.daddr, 16);
	fib.ifindex = skb->ifindex;
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		rc = sy_icmp6_too_big_tc(skb, 14, p.l4_off, &o,
					 fib.mtu_result);
		return rc >= 0 ? rc : TC_ACT_OK;
	}
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? TC_ACT_OK : 100 + rc;
}

SEC("tc")
int v6h_frag(struct __sk_buff *skb)
{
	struct v6h_pkt p;
	__be16 ports[2] = {};

	if (V6H_LOAD(skb, bpf_skb_load_bytes, &p, skb->len) < 0 ||
	    p.frag == SY_FRAG_NONE)
		return -1;
	if (p.frag == SY_FRAG_FIRST &&
	    bpf_skb_load_bytes(skb, p.l4_off, ports, 4) < 0)
		return -1;
	v6h_frag_kind = p.frag;
	if (sy_frag6_track(p.saddr, p.daddr, p.frag_id, p.proto, p.frag,
			   &ports[0], &ports[1]) < 0)
		return TC_ACT_SHOT;
	v6h_frag_sport = ports[0];
	v6h_frag_dport = ports[1];
	if (p.frag == SY_FRAG_LATER &&
	    sy_frag6_xlate_skb(skb, 14, v6h_frag_saddr, v6h_frag_daddr) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("xdp")
int v6h_xdp_icmp(struct xdp_md *ctx)
{
	struct sy_icmp6_err e;
	struct sy_xlate6 f;
	struct v6h_pkt p;

	if (V6H_LOAD(ctx, bpf_xdp_load_bytes, &p,
		     ctx->data_end - ctx->data) < 0 ||
	    p.proto != IPPROTO_ICMPV6)
		return XDP_ABORTED;
	if (sy_icmp6_xdp(ctx, 14, p.l4_off, &e, &f) != SY_ICMP6_XLATE)
		return XDP_PASS;
	if (sy_icmp6_xdp_store(ctx, &e, &f) < 0)
		return XDP_ABORTED;
	return XDP_TX;
}

SEC("xdp")
int v6h_xdp_too_big(struct xdp_md *ctx)
{
	struct bpf_fib_lookup fib = {};
	struct sy_tuple6 o = {};
	struct v6h_pkt p;
	int rc;

	v6h_orig(&o);

	if (V6H_LOAD(ctx, bpf_xdp_load_bytes, &p,
		     ctx->data_end - ctx->data) < 0)
		return XDP_ABORTED;
	fib.family = AF_INET6_;
	fib.l4_protocol = p.proto;
	fib.tot_len = p.tot_len;
	__builtin_memcpy(fib.ipv6_src, p.saddr, 16);
	__builtin_memcpy(fib.ipv6_dst, p.daddr, 16);
	if (!sy_a6_is_zero(v6h_fib_dst))
		__builtin_memcpy(fib.ipv6_dst, v6h_fib_dst, 16);
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return sy_icmp6_too_big_xdp(ctx, 14, &o,
					    fib.mtu_result, 0);
	return rc == BPF_FIB_LKUP_RET_SUCCESS ? XDP_PASS : 100 + rc;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
