/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ethernet / IPv4 / TCP / UDP parsing. Everything the datapath needs is
 * copied into struct sy_pkt, so later code only works with offsets and
 * helpers and never dereferences a packet pointer that a helper may have
 * invalidated.
 */
#ifndef SY_PARSE_H
#define SY_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SY_IP_MF     0x2000
#define SY_IP_OFFSET 0x1fff

/* TCP flag bits as in byte 13 of the TCP header. */
#define SY_TCP_FIN 0x01
#define SY_TCP_SYN 0x02
#define SY_TCP_RST 0x04
#define SY_TCP_ACK 0x10

struct sy_pkt {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 tcp_flags; /* 0 for UDP */
	__u8 l4_nocsum; /* UDP datagram without checksum (field is 0) */
	__u8 frag;      /* SY_FRAG_*: IPv4 fragment kind (see sy_frag.h) */
	__be16 ip_id;   /* IPv4 identification (fragments only, else 0) */
	__u16 pad;
	__u32 l3_off;   /* offset of the IPv4 header */
	__u32 l4_off;   /* offset of the TCP/UDP header (honours IHL) */
};

/* sy_pkt.frag. A non-first fragment has no L4 header: the parser leaves
 * its ports 0 and sy_frag_track() fills them in from its first fragment. */
#define SY_FRAG_NONE  0 /* not a fragment */
#define SY_FRAG_FIRST 1 /* offset 0, MF set: carries the L4 header */
#define SY_FRAG_LATER 2 /* offset > 0: no L4 header */

#define SY_PARSE_OK         0
#define SY_PARSE_PASS      -1 /* not for us: leave the packet untouched */
#define SY_PARSE_MALFORMED -2 /* IPv4 with a bad or truncated header: untouched too */
#define SY_PARSE_ICMP       1 /* unfragmented ICMP: l3_off, l4_off, addresses set (sy_icmp.h) */
#define SY_PARSE_IPV6       2 /* ethertype IPv6: nothing parsed, see sy_parse6.h */

/* Headers the parser may need in the linear part of a packet: Ethernet,
 * IPv4 with the longest options, TCP without options. */
#define SY_PARSE_MAX_HDRS (14 + 60 + 20)

/* Parses [data, data_end): works for skbs (tc) and xdp_md alike, since
 * both give direct packet access to the headers. */
static __always_inline int sy_parse_data(void *data, void *data_end,
					 struct sy_pkt *pkt)
{
	struct ethhdr *eth = data;
	struct iphdr *iph;
	__u32 ihl_len;
	void *l4;

	if ((void *)(eth + 1) > data_end)
		return SY_PARSE_PASS;
	/* VLAN-tagged frames (802.1Q in the payload) and every non-IPv4
	 * ethertype pass; VLAN offload already stripped the tag otherwise. */
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return eth->h_proto == bpf_htons(ETH_P_IPV6) ? SY_PARSE_IPV6 :
							      SY_PARSE_PASS;

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end)
		return SY_PARSE_MALFORMED;
	if (iph->version != 4 || iph->ihl < 5)
		return SY_PARSE_MALFORMED;
	ihl_len = iph->ihl * 4;
	pkt->l3_off = sizeof(struct ethhdr);
	pkt->l4_off = sizeof(struct ethhdr) + ihl_len;
	pkt->saddr = iph->saddr;
	pkt->daddr = iph->daddr;
	pkt->proto = iph->protocol;
	pkt->tcp_flags = 0;
	pkt->l4_nocsum = 0;
	pkt->frag = SY_FRAG_NONE;
	pkt->ip_id = 0;
	pkt->pad = 0;

	if (iph->protocol == IPPROTO_ICMP)
		return SY_PARSE_ICMP;
	if (iph->protocol != IPPROTO_TCP && iph->protocol != IPPROTO_UDP)
		return SY_PARSE_PASS;

	/* Fragments: only the first one carries the L4 header. A later one
	 * is parsed without ports; sy_frag.h gives it its first fragment's. */
	if (iph->frag_off & bpf_htons(SY_IP_MF | SY_IP_OFFSET)) {
		pkt->ip_id = iph->id;
		if (iph->frag_off & bpf_htons(SY_IP_OFFSET)) {
			pkt->frag = SY_FRAG_LATER;
			pkt->sport = 0;
			pkt->dport = 0;
			return SY_PARSE_OK;
		}
		pkt->frag = SY_FRAG_FIRST;
	}

	/* One L4 pointer and explicit checks on it: clang otherwise merges the
	 * per-protocol checks into a form the verifier cannot follow. */
	l4 = (void *)iph + ihl_len;
	if (iph->protocol == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return SY_PARSE_MALFORMED;
		pkt->sport = th->source;
		pkt->dport = th->dest;
		pkt->tcp_flags = ((__u8 *)th)[13];
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return SY_PARSE_MALFORMED;
		pkt->sport = uh->source;
		pkt->dport = uh->dest;
		pkt->l4_nocsum = uh->check == 0;
	}
	return SY_PARSE_OK;
}

/* tc: the headers of a non-linear skb may not all be in its linear part;
 * pull them first (never more than the packet has) so that a valid packet
 * is never mistaken for a truncated one. */
static __always_inline int sy_parse(struct __sk_buff *skb, struct sy_pkt *pkt)
{
	__u32 linear = skb->data_end - skb->data;

	if (linear < SY_PARSE_MAX_HDRS && skb->len > linear)
		bpf_skb_pull_data(skb, skb->len < SY_PARSE_MAX_HDRS ?
					       skb->len : SY_PARSE_MAX_HDRS);
	return sy_parse_data((void *)(long)skb->data,
			     (void *)(long)skb->data_end, pkt);
}

#endif /* SY_PARSE_H */
