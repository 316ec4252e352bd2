/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rewrite of an IPv6 packet to a translation of sy_lb6_decide(), the
 * twin of sy_nat.h. IPv6 has no header checksum: the addresses are in the
 * TCP/UDP checksum's pseudo header only. One diff of the 32 address bytes
 * (source and destination are adjacent in the header, in struct sy_pkt6 and
 * in struct sy_xlate6) and the ports' diffs update the L4 checksum:
 *
 *   tc   bpf_csum_diff() over the addresses, one bpf_skb_store_bytes() of
 *        32 bytes, one bpf_l4_csum_replace() of the diff with
 *        BPF_F_PSEUDO_HDR (right for CHECKSUM_PARTIAL skbs too) and
 *        BPF_F_IPV6 (skb->csum of a CHECKSUM_COMPLETE skb stays as it is:
 *        the address bytes and the checksum field cancel out). A kernel
 *        without BPF_F_IPV6 refuses the flag before touching anything; then
 *        the update is made without it and skb->csum corrected with
 *        bpf_csum_update(). Ports: sy_rewrite_port() (sy_csum.h);
 *   XDP  in place, the diff summed by hand (sy_csum.h).
 *
 * UDP: a computed checksum of 0 is sent as 0xffff (BPF_F_MARK_MANGLED_0,
 * sy_csum_udp()); an IPv6 UDP datagram without checksum never gets here
 * (sy_parse6.h: malformed).
 */
#ifndef SY_NAT6_H
#define SY_NAT6_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include "sy_parse6.h"
#include "sy_csum.h"
#include "sy_nat.h"
#include "sy_lb6.h"

#ifndef BPF_F_IPV6
#define BPF_F_IPV6 (1ULL << 7)
#endif

#define SY_IP6_SADDR_OFF 8 /* saddr, then daddr: 32 bytes */

/* tc. pkt holds the original values. */
static __always_inline int sy_xlate6_skb(struct __sk_buff *skb,
					 const struct sy_pkt6 *pkt,
					 const struct sy_xlate6 *x)
{
	__u32 csum_off = pkt->l4_off + sy_l4_csum_off(pkt->proto);
	__u64 flags = BPF_F_PSEUDO_HDR | sy_l4_csum_flags(pkt->proto);
	__s64 diff;
	int ret;

	if (!sy_a6_eq(pkt->saddr, x->saddr) || !sy_a6_eq(pkt->daddr, x->daddr)) {
		diff = bpf_csum_diff((__be32 *)pkt->saddr, 32,
				     (__be32 *)x->saddr, 32, 0);
		if (diff < 0)
			return -1;
		ret = bpf_l4_csum_replace(skb, csum_off, 0, diff,
					  flags | BPF_F_IPV6);
		if (ret == -22 /* EINVAL: no BPF_F_IPV6 here */) {
			ret = bpf_l4_csum_replace(skb, csum_off, 0, diff, flags);
			if (ret == 0)
				bpf_csum_update(skb, diff);
		}
		if (ret < 0)
			return ret;
		ret = bpf_skb_store_bytes(skb, pkt->l3_off + SY_IP6_SADDR_OFF,
					  x->saddr, 32, 0);
		if (ret < 0)
			return ret;
	}
	ret = sy_rewrite_port(skb, pkt->l4_off, pkt->proto, 0, SY_L4_SPORT_OFF,
			      pkt->sport, x->sport);
	if (ret < 0)
		return ret;
	return sy_rewrite_port(skb, pkt->l4_off, pkt->proto, 0, SY_L4_DPORT_OFF,
			       pkt->dport, x->dport);
}

/* XDP: the whole rewrite in place. Returns 0, or -1 if the headers are not
 * where the parser saw them (the packet then passes as it is). */
static __always_inline int sy_xlate6_xdp(struct xdp_md *ctx,
					 const struct sy_pkt6 *pkt,
					 const struct sy_xlate6 *x)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ipv6hdr *ip6 = data + SY_IP6_L3_OFF;
	__u32 off = pkt->l4_off, d = 0;
	const __be32 *n;
	__be32 *a;
	__be16 *ports;
	__u16 *l4sum;
	void *l4;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	if (off > SY_IP6_L3_OFF + SY_IP6_HDR_LEN + SY_IP6_EXT_MAX_LEN + 8)
		return -1;
	l4 = data + off;
	if (pkt->proto == IPPROTO_TCP) {
		if (l4 + 20 > data_end)
			return -1;
		l4sum = l4 + offsetof(struct tcphdr, check);
	} else {
		if (l4 + 8 > data_end)
			return -1;
		l4sum = l4 + offsetof(struct udphdr, check);
	}
	ports = l4;

	a = (__be32 *)&ip6->saddr;
	n = x->saddr; /* and x->daddr, which follows it */
#pragma unroll
	for (int i = 0; i < 8; i++) {
		if (a[i] != n[i]) {
			d = sy_csum_add32(d, a[i], n[i]);
			a[i] = n[i];
		}
	}
	if (ports[0] != x->sport) {
		d = sy_csum_add16(d, ports[0], x->sport);
		ports[0] = x->sport;
	}
	if (ports[1] != x->dport) {
		d = sy_csum_add16(d, ports[1], x->dport);
		ports[1] = x->dport;
	}
	if (pkt->proto == IPPROTO_TCP)
		*l4sum = sy_csum_apply(*l4sum, d);
	else
		*l4sum = sy_csum_udp(sy_csum_apply(*l4sum, d));
	return 0;
}

#endif /* SY_NAT6_H */
