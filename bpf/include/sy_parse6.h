/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Ethernet / IPv6 / TCP / UDP parsing, the IPv6 twin of sy_parse.h (same
 * return codes). Everything the datapath needs is copied into struct
 * sy_pkt6; later code uses offsets only.
 *
 * Extension headers: hop-by-hop (0), routing (43), destination options (60)
 * and fragment (44) are skipped, at most SY_IP6_MAX_EXT of them and at most
 * SY_IP6_EXT_MAX_LEN bytes in all (a bounded loop for the verifier). What
 * the datapath must not translate is left untouched and counted by the
 * caller:
 *   SY_PARSE_MALFORMED  version not 6, header or L4 header truncated,
 *                       payload length 0 (jumbogram) or beyond the frame,
 *                       UDP without checksum (forbidden over IPv6,
 *                       RFC 8200 8.1: receivers drop it);
 *   SY_PARSE_UNHANDLED  a longer chain, a header not walked here (AH,
 *                       mobility, HIP, shim6, experimental), a routing
 *                       header with segments left (the destination field
 *                       is not the final one).
 * A fragment header is noted in sy_pkt6.frag / frag_id / frag_hdr_off: the
 * caller decides (IPv6 fragments are a hook point, see sy_tc6.h).
 * Other upper-layer protocols are SY_PARSE_PASS, ICMPv6 SY_PARSE_ICMP.
 */
#ifndef SY_PARSE6_H
#define SY_PARSE6_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_parse.h"

#define SY_PARSE_UNHANDLED -3 /* IPv6 extension headers not walked: untouched */

#define SY_IP6_MAX_EXT     6   /* extension headers skipped at most */
#define SY_IP6_EXT_MAX_LEN 512 /* bytes of extension headers at most */
#define SY_IP6_L3_OFF      14
#define SY_IP6_HDR_LEN     40
/* Headers a tc program may have to pull into the linear part. */
#define SY_PARSE6_MAX_HDRS (14 + 40 + SY_IP6_EXT_MAX_LEN + 20)

#define SY_NEXTHDR_HOP      0
#define SY_NEXTHDR_ROUTING  43
#define SY_NEXTHDR_FRAGMENT 44
#define SY_NEXTHDR_AUTH     51
#define SY_NEXTHDR_ICMPV6   58
#define SY_NEXTHDR_DEST     60
#define SY_NEXTHDR_MOBILITY 135

struct sy_pkt6 {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;      /* upper-layer protocol after the extension headers */
	__u8 tcp_flags;  /* 0 for UDP */
	__u8 frag;       /* SY_FRAG_* (sy_parse.h) from the fragment header */
	__u8 pad;
	__be32 frag_id;  /* fragment header identification (fragments only) */
	__u32 l3_off;    /* offset of the IPv6 header */
	__u32 l4_off;    /* offset of the TCP/UDP/ICMPv6 header */
	__u32 frag_hdr_off; /* offset of the fragment header, 0 if none */
};

/* Extension headers this parser does not walk: untouched, counted. */
static __always_inline int sy_ip6_unwalked_ext(__u8 nh)
{
	return nh == SY_NEXTHDR_AUTH || nh == SY_NEXTHDR_MOBILITY ||
	       nh == 139 /* HIP */ || nh == 140 /* shim6 */ ||
	       nh == 253 || nh == 254 /* experimental */;
}

/* [data, data_end) is the linear part of a frame of frame_len bytes. */
static __always_inline int sy_parse6_data(void *data, void *data_end,
					  __u32 frame_len, struct sy_pkt6 *pkt)
{
	struct ipv6hdr *ip6 = data + SY_IP6_L3_OFF;
	__u32 off = SY_IP6_L3_OFF + SY_IP6_HDR_LEN, end;
	__u8 nh;
	void *l4;

	if ((void *)(ip6 + 1) > data_end)
		return SY_PARSE_MALFORMED;
	if (ip6->version != 6)
		return SY_PARSE_MALFORMED;
	end = off + bpf_ntohs(ip6->payload_len);
	if (end == off || end > frame_len)
		return SY_PARSE_MALFORMED;
	__builtin_memcpy(pkt->saddr, &ip6->saddr, 16);
	__builtin_memcpy(pkt->daddr, &ip6->daddr, 16);
	pkt->l3_off = SY_IP6_L3_OFF;
	pkt->tcp_flags = 0;
	pkt->frag = SY_FRAG_NONE;
	pkt->pad = 0;
	pkt->frag_id = 0;
	pkt->frag_hdr_off = 0;
	pkt->sport = 0;
	pkt->dport = 0;
	nh = ip6->nexthdr;

#pragma unroll
	for (int i = 0; i < SY_IP6_MAX_EXT; i++) {
		__u8 *h;
		__u32 len;

		if (nh != SY_NEXTHDR_HOP && nh != SY_NEXTHDR_ROUTING &&
		    nh != SY_NEXTHDR_DEST && nh != SY_NEXTHDR_FRAGMENT)
			break;
		if (off > SY_IP6_L3_OFF + SY_IP6_HDR_LEN + SY_IP6_EXT_MAX_LEN)
			return SY_PARSE_UNHANDLED;
		h = data + off;
		if ((void *)(h + 8) > data_end || off + 8 > end)
			return SY_PARSE_MALFORMED;
		if (nh == SY_NEXTHDR_FRAGMENT) {
			__be16 fo = *(__be16 *)(h + 2);

			/* Offset (13 bits, in 8-byte units) and M. An atomic
			 * fragment (offset 0, M clear; RFC 6946) is whole. */
			if (fo & bpf_htons(0xfff8))
				pkt->frag = SY_FRAG_LATER;
			else if (fo & bpf_htons(1))
				pkt->frag = SY_FRAG_FIRST;
			if (pkt->frag != SY_FRAG_NONE) {
				pkt->frag_id = *(__be32 *)(h + 4);
				pkt->frag_hdr_off = off;
			}
			len = 8;
		} else {
			/* Segments left: the destination is not final. */
			if (nh == SY_NEXTHDR_ROUTING && h[3] != 0)
				return SY_PARSE_UNHANDLED;
			len = ((__u32)h[1] + 1) * 8;
		}
		nh = h[0];
		off += len;
	}
	if (nh == SY_NEXTHDR_HOP || nh == SY_NEXTHDR_ROUTING ||
	    nh == SY_NEXTHDR_DEST || nh == SY_NEXTHDR_FRAGMENT ||
	    sy_ip6_unwalked_ext(nh))
		return SY_PARSE_UNHANDLED; /* chain too long, or not walked */
	if (off > SY_IP6_L3_OFF + SY_IP6_HDR_LEN + SY_IP6_EXT_MAX_LEN + 8)
		return SY_PARSE_UNHANDLED;
	pkt->proto = nh;
	pkt->l4_off = off;

	if (nh == SY_NEXTHDR_ICMPV6)
		return pkt->frag == SY_FRAG_NONE ? SY_PARSE_ICMP : SY_PARSE_PASS;
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
		return SY_PARSE_PASS;
	if (pkt->frag == SY_FRAG_LATER)
		return SY_PARSE_OK; /* no L4 header: ports 0 */

	l4 = data + off;
	if (nh == IPPROTO_TCP) {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end || off + sizeof(*th) > end)
			return SY_PARSE_MALFORMED;
		pkt->sport = th->source;
		pkt->dport = th->dest;
		pkt->tcp_flags = ((__u8 *)th)[13];
	} else {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end || off + sizeof(*uh) > end)
			return SY_PARSE_MALFORMED;
		if (uh->check == 0)
			return SY_PARSE_MALFORMED;
		pkt->sport = uh->source;
		pkt->dport = uh->dest;
	}
	return SY_PARSE_OK;
}

/* tc: sy_parse() pulled SY_PARSE_MAX_HDRS bytes already; a packet with
 * extension headers may need more (never more than it has). */
static __always_inline int sy_parse6(struct __sk_buff *skb, struct sy_pkt6 *pkt)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	__u32 linear = data_end - data;
	__u8 *nh = data + SY_IP6_L3_OFF + 6;

	if ((void *)(nh + 1) <= data_end && *nh != IPPROTO_TCP &&
	    *nh != IPPROTO_UDP && linear < SY_PARSE6_MAX_HDRS &&
	    skb->len > linear) {
		bpf_skb_pull_data(skb, skb->len < SY_PARSE6_MAX_HDRS ?
					       skb->len : SY_PARSE6_MAX_HDRS);
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	return sy_parse6_data(data, data_end, skb->len, pkt);
}

#endif /* SY_PARSE6_H */
