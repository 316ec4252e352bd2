/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * REJECT for frontends that cannot be served, as kube-proxy does it:
 *
 *   TCP -> a TCP reset (RFC 793 reset generation, like iptables' REJECT
 *          --reject-with tcp-reset),
 *   UDP -> ICMP destination unreachable / port unreachable (type 3 code 3)
 *          quoting the original IP header and the first 8 bytes of the
 *          datagram (RFC 792).
 *
 * The answer comes from the frontend the client addressed (VIP:port) and is
 * written over the packet itself: the skb is trimmed or grown to the size of
 * the answer (bpf_skb_change_tail), the whole frame is stored in one
 * bpf_skb_store_bytes, and bpf_redirect(skb->ifindex, 0) sends it out of the
 * device it arrived on, i.e. back towards the client (at tc ingress a
 * redirect without BPF_F_INGRESS is a transmit on that device).
 *
 * Checksums are computed from scratch over the new headers (they cannot be
 * updated incrementally: almost every byte changes). BPF_F_RECOMPUTE_CSUM
 * keeps skb->csum right for a CHECKSUM_COMPLETE skb whose length does not
 * change; a resize turns CHECKSUM_COMPLETE into CHECKSUM_NONE in the kernel.
 * A CHECKSUM_PARTIAL skb (sent by a local socket through a veth) keeps its
 * state: the peer receiving it back trusts it, as it trusts every packet a
 * veth delivers in that state.
 *
 * No answer (just a drop) when the packet is itself a TCP RST, or when its
 * source is not a unicast address (RFC 1122 3.2.2 / RFC 1812 4.3.2.7: no
 * ICMP error or reset towards 0.0.0.0, loopback, multicast or broadcast).
 */
#ifndef SY_REJECT_H
#define SY_REJECT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sy_parse.h"
#include "sy_csum.h"

#define SY_REJECT_TTL 64
#define SY_IP_DF 0x4000
#define SY_ICMP_DEST_UNREACH 3
#define SY_ICMP_PORT_UNREACH 3
/* Precedence "internetwork control", as Linux's icmp_send() uses. */
#define SY_ICMP_TOS 0xc0

/* Byte-explicit headers (no bitfields). In the frames below they start at a
 * 4-byte aligned stack offset: the verifier rejects misaligned stack
 * accesses, so each frame begins with 2 bytes of padding that are not sent
 * (Ethernet is 14 bytes). */
struct sy_ip4 {
	__u8 ver_ihl;
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
}; /* 20 bytes */

struct sy_tcp {
	__be16 source;
	__be16 dest;
	__be32 seq;
	__be32 ack_seq;
	__u8 doff;    /* data offset << 4 */
	__u8 flags;   /* SY_TCP_* */
	__be16 window;
	__u16 check;
	__be16 urg_ptr;
}; /* 20 bytes */

struct sy_eth_pad {
	__u16 pad;    /* not sent */
	__u8 dst[6];
	__u8 src[6];
	__be16 proto;
}; /* 16 bytes: the IPv4 header that follows is 4-byte aligned */

struct sy_rst_frame {
	struct sy_eth_pad eth;
	struct sy_ip4 ip;
	struct sy_tcp th;
}; /* 56 bytes, 54 sent */

#define SY_RST_LEN (14 + 20 + 20)

/* Quoted part of an ICMP error: the original IPv4 header (20..60 bytes with
 * options) and the first 8 bytes of its payload (the UDP header). */
#define SY_ICMP_QUOTE_MAX (60 + 8)

struct sy_icmp_frame {
	struct sy_eth_pad eth;
	struct sy_ip4 ip;
	__u8 type;
	__u8 code;
	__u16 check;
	__u32 unused;
	__u8 quote[SY_ICMP_QUOTE_MAX];
}; /* 112 bytes, 14 + 20 + 8 + quote sent */

static __always_inline int sy_unicast_src(__be32 saddr)
{
	__u32 a = bpf_ntohl(saddr);

	if (a == 0 || a == 0xffffffff)
		return 0;
	if ((a >> 24) == 127 || (a >> 28) == 0xe) /* loopback, 224/4 */
		return 0;
	return 1;
}

/* The Ethernet header of an answer (ethertype h_proto) to a frame whose
 * destination and source MACs are macs[0..11]: the two swapped. */
static __always_inline void sy_eth_answer(struct sy_eth_pad *e,
					  const __u8 *macs, __be16 h_proto)
{
	__builtin_memcpy(e->dst, macs + 6, 6);
	__builtin_memcpy(e->src, macs, 6);
	e->proto = h_proto;
}

/* tc: the Ethernet header of the answer to the frame in skb. */
static __always_inline int sy_reject_eth(struct __sk_buff *skb,
					 struct sy_eth_pad *e)
{
	__u8 macs[12];

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) < 0)
		return -1;
	sy_eth_answer(e, macs, bpf_htons(ETH_P_IP));
	return 0;
}

static __always_inline void sy_reject_ip(struct sy_ip4 *ip, __u8 tos,
					 __u16 tot_len, __be16 frag_off,
					 __u8 proto, __be32 saddr,
					 __be32 daddr)
{
	ip->ver_ihl = 0x45;
	ip->tos = tos;
	ip->tot_len = bpf_htons(tot_len);
	ip->id = 0;
	ip->frag_off = frag_off;
	ip->ttl = SY_REJECT_TTL;
	ip->protocol = proto;
	ip->check = 0;
	ip->saddr = saddr;
	ip->daddr = daddr;
	ip->check = sy_csum_finish(sy_csum_words((const __u16 *)ip, 10, 0));
}

/* Replace the frame by len bytes of buf and send it back out of the device
 * it came in on. */
static __always_inline int sy_reject_send(struct __sk_buff *skb,
					  const void *buf, __u32 len)
{
	if (bpf_skb_change_tail(skb, len, 0) < 0)
		return TC_ACT_SHOT;
	if (bpf_skb_store_bytes(skb, 0, buf, len, BPF_F_RECOMPUTE_CSUM) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* TCP reset for the segment in skb, from its destination (the frontend) to
 * its source. RFC 793, "Reset Generation", state CLOSED:
 *   ACK set:   <SEQ=SEG.ACK><CTL=RST>
 *   ACK clear: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
 * where SEG.LEN counts payload bytes plus SYN and FIN. */
static __always_inline int sy_reject_tcp(struct __sk_buff *skb,
					 const struct sy_pkt *pkt)
{
	struct sy_rst_frame f = {};
	struct sy_tcp in;
	__be16 tot_len_be;
	__u32 hdrs, tot_len, seg_len;

	if (pkt->tcp_flags & SY_TCP_RST)
		return TC_ACT_SHOT;
	if (!sy_unicast_src(pkt->saddr))
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, pkt->l4_off, &in, sizeof(in)) < 0 ||
	    bpf_skb_load_bytes(skb, pkt->l3_off + 2, &tot_len_be,
			       sizeof(tot_len_be)) < 0)
		return TC_ACT_SHOT;
	if (sy_reject_eth(skb, &f.eth) < 0)
		return TC_ACT_SHOT;

	f.th.source = pkt->dport;
	f.th.dest = pkt->sport;
	f.th.doff = 5 << 4;
	if (pkt->tcp_flags & SY_TCP_ACK) {
		f.th.seq = in.ack_seq;
		f.th.flags = SY_TCP_RST;
	} else {
		tot_len = bpf_ntohs(tot_len_be);
		hdrs = (pkt->l4_off - pkt->l3_off) + ((in.doff >> 4) << 2);
		seg_len = tot_len > hdrs ? tot_len - hdrs : 0;
		if (pkt->tcp_flags & SY_TCP_SYN)
			seg_len++;
		if (pkt->tcp_flags & SY_TCP_FIN)
			seg_len++;
		f.th.ack_seq = bpf_htonl(bpf_ntohl(in.seq) + seg_len);
		f.th.flags = SY_TCP_RST | SY_TCP_ACK;
	}

	sy_reject_ip(&f.ip, 0, 40, bpf_htons(SY_IP_DF), IPPROTO_TCP,
		     pkt->daddr, pkt->saddr);
	/* Pseudo header: addresses (the 4 words at the end of the IPv4
	 * header), protocol and TCP length; then the header itself. */
	f.th.check = sy_csum_finish(sy_csum_words(
		(const __u16 *)&f.th, 10,
		sy_csum_words((const __u16 *)&f.ip.saddr, 4,
			      bpf_htons(IPPROTO_TCP) + bpf_htons(20))));

	return sy_reject_send(skb, (const __u8 *)&f + 2, SY_RST_LEN);
}

/* ICMP port unreachable for the UDP datagram in skb, from its destination
 * (the frontend) to its source. */
static __always_inline int sy_reject_udp(struct __sk_buff *skb,
					 const struct sy_pkt *pkt)
{
	struct sy_icmp_frame f = {};
	__u32 ihl_len, quote_len;

	if (!sy_unicast_src(pkt->saddr))
		return TC_ACT_SHOT;
	ihl_len = pkt->l4_off - pkt->l3_off;
	if (ihl_len < 20 || ihl_len > 60)
		return TC_ACT_SHOT;
	quote_len = ihl_len + 8;
	/* The quote is loaded into zeroed memory, so the checksum can run
	 * over the whole fixed-size buffer: trailing zeros add nothing. */
	if (bpf_skb_load_bytes(skb, pkt->l3_off, f.quote, quote_len) < 0)
		return TC_ACT_SHOT;
	if (sy_reject_eth(skb, &f.eth) < 0)
		return TC_ACT_SHOT;

	sy_reject_ip(&f.ip, SY_ICMP_TOS, 20 + 8 + quote_len, 0, IPPROTO_ICMP,
		     pkt->daddr, pkt->saddr);
	f.type = SY_ICMP_DEST_UNREACH;
	f.code = SY_ICMP_PORT_UNREACH;
	f.check = sy_csum_finish(sy_csum_words((const __u16 *)&f.type,
					     (8 + SY_ICMP_QUOTE_MAX) / 2, 0));

	return sy_reject_send(skb, (const __u8 *)&f + 2,
			      14 + 20 + 8 + quote_len);
}

static __always_inline int sy_reject(struct __sk_buff *skb,
				     const struct sy_pkt *pkt)
{
	if (pkt->proto == IPPROTO_TCP)
		return sy_reject_tcp(skb, pkt);
	if (pkt->proto == IPPROTO_UDP)
		return sy_reject_udp(skb, pkt);
	return TC_ACT_SHOT;
}

#endif /* SY_REJECT_H */
