/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rewrite of a parsed packet to a translation decided by sy_lb_decide()
 * (every field that changes, with its checksums), once per hook:
 *
 *   tc   sy_xlate_skb(): the kernel's checksum helpers (sy_csum.h), which
 *        keep skb->csum right too. Only offsets from struct sy_pkt are
 *        used, so helpers that resize or re-linearise the skb cannot leave
 *        us with stale pointers;
 *   XDP  sy_xlate_xdp(): in place, with incremental checksums: one diff of
 *        the addresses for the IPv4 header, the same diff plus the ports
 *        for the L4 checksum (pseudo header). A UDP checksum of 0 (none)
 *        stays 0; a computed 0 becomes 0xffff.
 */
#ifndef SY_NAT_H
#define SY_NAT_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include "sy_parse.h"
#include "sy_csum.h"

/* Ports sit at the same offsets in TCP and UDP headers. */
#define SY_L4_SPORT_OFF 0
#define SY_L4_DPORT_OFF 2

/* tc. pkt holds the original values. */
static __always_inline int sy_xlate_skb(struct __sk_buff *skb,
					const struct sy_pkt *pkt,
					__be32 saddr, __be16 sport,
					__be32 daddr, __be16 dport)
{
	int ret;

	ret = sy_rewrite_addr(skb, pkt->l3_off, pkt->l4_off, pkt->proto,
			      offsetof(struct iphdr, saddr), pkt->saddr, saddr);
	if (ret < 0)
		return ret;
	ret = sy_rewrite_port(skb, pkt->l4_off, pkt->proto, pkt->l4_nocsum,
			      SY_L4_SPORT_OFF, pkt->sport, sport);
	if (ret < 0)
		return ret;
	ret = sy_rewrite_addr(skb, pkt->l3_off, pkt->l4_off, pkt->proto,
			      offsetof(struct iphdr, daddr), pkt->daddr, daddr);
	if (ret < 0)
		return ret;
	return sy_rewrite_port(skb, pkt->l4_off, pkt->proto, pkt->l4_nocsum,
			       SY_L4_DPORT_OFF, pkt->dport, dport);
}

/* XDP, IPv4 header in place: the addresses and the header checksum.
 * Returns the diff of the addresses, for the L4 checksum. */
static __always_inline __u32 sy_ip4_set_addrs(struct iphdr *iph,
					      __be32 saddr, __be32 daddr)
{
	__u32 d = 0;

	if (iph->saddr != saddr) {
		d = sy_csum_add32(d, iph->saddr, saddr);
		iph->saddr = saddr;
	}
	if (iph->daddr != daddr) {
		d = sy_csum_add32(d, iph->daddr, daddr);
		iph->daddr = daddr;
	}
	if (d)
		iph->check = sy_csum_apply(iph->check, d);
	return d;
}

/* XDP: the whole rewrite. Returns 0, or -1 if the headers are not where
 * the parser saw them (cannot happen; the packet then passes as it is). */
static __always_inline int sy_xlate_xdp(struct xdp_md *ctx,
					const struct sy_pkt *pkt,
					__be32 saddr, __be16 sport,
					__be32 daddr, __be16 dport)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);
	__u32 off = pkt->l4_off, d;
	__be16 *ports;
	__u16 *l4sum;
	void *l4;

	if ((void *)(iph + 1) > data_end)
		return -1;
	if (off > sizeof(struct ethhdr) + 60)
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

	d = sy_ip4_set_addrs(iph, saddr, daddr);
	if (ports[0] != sport) {
		d = sy_csum_add16(d, ports[0], sport);
		ports[0] = sport;
	}
	if (ports[1] != dport) {
		d = sy_csum_add16(d, ports[1], dport);
		ports[1] = dport;
	}
	if (pkt->proto == IPPROTO_TCP)
		*l4sum = sy_csum_apply(*l4sum, d);
	else if (*l4sum) /* UDP without checksum: it must stay 0 */
		*l4sum = sy_csum_udp(sy_csum_apply(*l4sum, d));
	return 0;
}

#endif /* SY_NAT_H */
