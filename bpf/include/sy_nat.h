/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * DNAT (client -> frontend becomes client -> backend) and reverse NAT
 * (backend -> client becomes frontend -> client) on an already parsed
 * packet. Only offsets from struct sy_pkt are used, so the helpers that
 * resize or re-linearise the skb cannot leave us with stale pointers.
 */
#ifndef SY_NAT_H
#define SY_NAT_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include "sy_parse.h"
#include "sy_csum.h"

/* Ports sit at the same offsets in TCP and UDP headers. */
#define SY_L4_SPORT_OFF 0
#define SY_L4_DPORT_OFF 2

static __always_inline int sy_dnat(struct __sk_buff *skb,
				   const struct sy_pkt *pkt, __be32 addr,
				   __be16 port)
{
	int ret;

	ret = sy_rewrite_addr(skb, pkt->l3_off, pkt->l4_off, pkt->proto,
			      offsetof(struct iphdr, daddr), pkt->daddr, addr);
	if (ret < 0)
		return ret;
	return sy_rewrite_port(skb, pkt->l4_off, pkt->proto, pkt->l4_nocsum,
			       SY_L4_DPORT_OFF, pkt->dport, port);
}

static __always_inline int sy_revnat_rewrite(struct __sk_buff *skb,
					     const struct sy_pkt *pkt,
					     __be32 addr, __be16 port)
{
	int ret;

	ret = sy_rewrite_addr(skb, pkt->l3_off, pkt->l4_off, pkt->proto,
			      offsetof(struct iphdr, saddr), pkt->saddr, addr);
	if (ret < 0)
		return ret;
	return sy_rewrite_port(skb, pkt->l4_off, pkt->proto, pkt->l4_nocsum,
			       SY_L4_SPORT_OFF, pkt->sport, port);
}

/* Source NAT of a forward packet: client -> node address and NAT port. */
static __always_inline int sy_snat_rewrite(struct __sk_buff *skb,
					   const struct sy_pkt *pkt,
					   __be32 addr, __be16 port)
{
	return sy_revnat_rewrite(skb, pkt, addr, port);
}

/* Apply a translation decided by sy_lb_decide(): every field that changes,
 * each with its checksum updates. pkt holds the original values. */
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
	return sy_dnat(skb, pkt, daddr, dport);
}

#endif /* SY_NAT_H */
