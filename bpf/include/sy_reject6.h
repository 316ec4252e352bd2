/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Answers the IPv6 datapath writes itself (sy_reject.h for IPv4):
 *
 *   REJECT, as kube-proxy's ip6tables REJECT:
 *     TCP -> a TCP reset (RFC 793 reset generation, RFC 9293 3.10.7.1);
 *     UDP -> ICMPv6 destination unreachable / port unreachable (type 1
 *            code 4, RFC 4443 3.1);
 *   ICMPv6 packet too big (type 2, RFC 4443 3.2) for a packet too big for
 *   its egress (sy_icmp6.h decides when).
 *
 * An ICMPv6 error quotes as much of the packet as fits in the IPv6 minimum
 * MTU (1280 bytes, RFC 4443 2.4 (c)). It keeps the packet where it is and
 * opens room for the new IPv6 and ICMPv6 headers in front of it
 * (bpf_skb_adjust_room() at the MAC layer / bpf_xdp_adjust_head()),
 * trimmed first to the quote length. A packet too big quotes the packet as
 * its sender sent it (pkt: the parse, before any translation), so the
 * sender's socket matches it: addresses, ports and the L4 checksum of the
 * quote are restored. Checksums are computed from scratch over the IPv6
 * pseudo-header (RFC 8200 8.1; an ICMPv6 checksum covers it, unlike
 * ICMPv4's), the quote summed straight from the packet (bpf_csum_diff over
 * direct packet access, no copy).
 *
 * Stack: these run inside sy_tc_main()/sy_xdp(), whose frames are close to
 * the 512-byte limit. Each builder is a BPF subprogram (__noinline) with a
 * small frame of its own (the verifier adds it to the caller's), that reads
 * pkt through a pointer and writes the answer piecewise into the packet.
 *
 * No answer (a drop) to a TCP RST or to a source that is not unicast
 * (RFC 4443 2.4 (e): not to ::, loopback or a multicast address).
 */
#ifndef SY_REJECT6_H
#define SY_REJECT6_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sy_parse.h"
#include "sy_parse6.h"
#include "sy_addr.h"
#include "sy_csum.h"
#include "sy_reject.h"
#include "sy_stats.h"
#include "sy_ratelimit.h"

#define SY_IP6_MIN_MTU     1280
#define SY_ICMP6_HDR_LEN   8
/* Most of the invoking packet an ICMPv6 error may quote (RFC 4443 2.4). */
#define SY_ICMP6_QUOTE_MAX (SY_IP6_MIN_MTU - SY_IP6_HDR_LEN - SY_ICMP6_HDR_LEN)
/* Ethernet + IPv6 + ICMPv6 header of an answer; the quote follows. */
#define SY_ICMP6_HDRS_LEN  (14 + SY_IP6_HDR_LEN + SY_ICMP6_HDR_LEN)
#define SY_RST6_LEN        (14 + SY_IP6_HDR_LEN + 20)
#define SY_ANSWER6_HOPLIMIT 64

#define SY_ICMP6_DEST_UNREACH 1
#define SY_ICMP6_PKT_TOO_BIG  2
#define SY_ICMP6_TIME_EXCEED  3
#define SY_ICMP6_PARAMPROB    4
#define SY_ICMP6_PORT_UNREACH 4 /* code of type 1 */

/* May an error or a reset go to this source? Not to :: (unspecified), ::1
 * (loopback) or ff00::/8 (multicast). */
static __always_inline int sy_unicast_src6(const __be32 *a)
{
	if (sy_a6_is_zero(a))
		return 0;
	if ((a[0] | a[1] | a[2]) == 0 && a[3] == bpf_htonl(1))
		return 0;
	if ((bpf_ntohl(a[0]) >> 24) == 0xff)
		return 0;
	return 1;
}

/* Sum of the IPv6 pseudo-header (RFC 8200 8.1): addresses, upper-layer
 * length, next header. */
static __always_inline __u32 sy_csum6_pseudo(const __be32 *saddr,
					     const __be32 *daddr, __u32 len,
					     __u8 nexthdr)
{
	__u32 s = sy_csum_words((const __u16 *)saddr, 8, 0);

	s = sy_csum_words((const __u16 *)daddr, 8, s);
	s += bpf_htons(len >> 16) + bpf_htons(len & 0xffff);
	return s + bpf_htons(nexthdr);
}

/* One's complement sum (folded) of [off, off + len) of the linear data,
 * off even; len at most SY_ICMP6_QUOTE_MAX + 8. Returns -1 if the range is
 * not in [data, data_end). */
#define SY_CSUM6_BLOCK(n)                                                     \
	if (len >= (n)) {                                                     \
		p = data + off;                                               \
		if ((void *)(p + (n)) > data_end)                             \
			return -1;                                            \
		s = sy_csum_fold(s) +                                         \
		    sy_csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)p, (n), 0)); \
		off += (n);                                                   \
		len -= (n);                                                   \
	}

static __always_inline __s64 sy_csum6_data(void *data, void *data_end,
					   __u32 off, __u32 len)
{
	__u32 s = 0;
	__u8 *p;

	if (off > 256 || len > SY_ICMP6_QUOTE_MAX + 8)
		return -1;
#pragma clang loop unroll(disable)
	for (int i = 0; i < (SY_ICMP6_QUOTE_MAX + 8) / 64 + 1; i++) {
		if (len < 64)
			break;
		p = data + off;
		if ((void *)(p + 64) > data_end)
			return -1;
		s = sy_csum_fold(s) +
		    sy_csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)p, 64, 0));
		off += 64;
		len -= 64;
	}
	SY_CSUM6_BLOCK(32)
	SY_CSUM6_BLOCK(16)
	SY_CSUM6_BLOCK(8)
	SY_CSUM6_BLOCK(4)
	p = data + off;
	if (len >= 2) {
		if ((void *)(p + 2) > data_end)
			return -1;
		s += *(__u16 *)p;
		p += 2;
		len -= 2;
	}
	if (len) { /* the odd last byte, padded with zero (RFC 1071) */
		if ((void *)(p + 1) > data_end)
			return -1;
		s += bpf_htons((__u16)*p << 8);
	}
	return sy_csum_fold(s);
}

/* The first 8 bytes of an answer's IPv6 header (version 6, traffic class
 * and flow label 0). */
static __always_inline void sy_ip6_first8(__u8 *h, __u16 plen, __u8 nexthdr)
{
	*(__be32 *)h = bpf_htonl(0x60000000);
	*(__be16 *)(h + 4) = bpf_htons(plen);
	h[6] = nexthdr;
	h[7] = SY_ANSWER6_HOPLIMIT;
}

/* Write the headers of an answer at 0: Ethernet from macs (the received
 * frame's destination and source, swapped), IPv6 (plen, nexthdr) from the
 * address the sender addressed (pkt->daddr) to the sender (pkt->saddr).
 * store: bpf_skb_store_bytes or bpf_xdp_store_bytes. */
#define SY_ANSWER6_HDRS(ctx, store, macs, pkt, plen, nexthdr, ...)            \
	({                                                                    \
		__u8 __h[8];                                                  \
		__be16 __et = bpf_htons(ETH_P_IPV6);                          \
		sy_ip6_first8(__h, plen, nexthdr);                            \
		(store(ctx, 0, (macs) + 6, 6, ##__VA_ARGS__) < 0 ||           \
		 store(ctx, 6, (macs), 6, ##__VA_ARGS__) < 0 ||               \
		 store(ctx, 12, &__et, 2, ##__VA_ARGS__) < 0 ||               \
		 store(ctx, 14, __h, 8, ##__VA_ARGS__) < 0 ||                 \
		 store(ctx, 14 + 8, (void *)(pkt)->daddr, 16, ##__VA_ARGS__) < 0 || \
		 store(ctx, 14 + 24, (void *)(pkt)->saddr, 16, ##__VA_ARGS__) < 0) \
			? -1 : 0;                                             \
	})

/* tc: TCP reset for the segment of pkt (RFC 793 "Reset Generation", state
 * CLOSED; the same rules as sy_reject_tcp()). A BPF subprogram. */
static __noinline __attribute__((unused)) int sy_reject6_tcp(struct __sk_buff *skb,
				     const struct sy_pkt6 *pkt)
{
	struct sy_tcp th = {};
	__u8 macs[12];
	__be32 seq_ack[2];
	__be16 plen;
	__u8 doff;
	__u32 end, hdrs_end, seg_len;

	if (pkt->tcp_flags & SY_TCP_RST)
		return TC_ACT_SHOT;
	if (!sy_unicast_src6(pkt->saddr))
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, 0, macs, 12) < 0 ||
	    bpf_skb_load_bytes(skb, pkt->l3_off + 4, &plen, 2) < 0 ||
	    bpf_skb_load_bytes(skb, pkt->l4_off + 4, seq_ack, 8) < 0 ||
	    bpf_skb_load_bytes(skb, pkt->l4_off + 12, &doff, 1) < 0)
		return TC_ACT_SHOT;

	th.source = pkt->dport;
	th.dest = pkt->sport;
	th.doff = 5 << 4;
	if (pkt->tcp_flags & SY_TCP_ACK) {
		th.seq = seq_ack[1];
		th.flags = SY_TCP_RST;
	} else {
		end = pkt->l3_off + SY_IP6_HDR_LEN + bpf_ntohs(plen);
		hdrs_end = pkt->l4_off + ((doff >> 4) << 2);
		seg_len = end > hdrs_end ? end - hdrs_end : 0;
		if (pkt->tcp_flags & SY_TCP_SYN)
			seg_len++;
		if (pkt->tcp_flags & SY_TCP_FIN)
			seg_len++;
		th.ack_seq = bpf_htonl(bpf_ntohl(seq_ack[0]) + seg_len);
		th.flags = SY_TCP_RST | SY_TCP_ACK;
	}
	th.check = sy_csum_finish(sy_csum_words(
		(const __u16 *)&th, 10,
		sy_csum6_pseudo(pkt->daddr, pkt->saddr, 20, IPPROTO_TCP)));

	if (bpf_skb_change_tail(skb, SY_RST6_LEN, 0) < 0 ||
	    SY_ANSWER6_HDRS(skb, bpf_skb_store_bytes, macs, pkt, 20,
			    IPPROTO_TCP, BPF_F_RECOMPUTE_CSUM) < 0 ||
	    bpf_skb_store_bytes(skb, 14 + SY_IP6_HDR_LEN, &th, 20,
				BPF_F_RECOMPUTE_CSUM) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* The kinds of ICMPv6 error sy_icmp6_error_skb() writes. */
#define SY_ICMP6_KIND_PORT_UNREACH 0 /* REJECT of a UDP datagram */
#define SY_ICMP6_KIND_TOO_BIG      1 /* packet too big, quote restored */

/* The quote of a packet too big: the packet as pkt describes it (before
 * the translation that is in the packet now): addresses, ports and the L4
 * checksum (if quoted and used). */
static __always_inline int sy_icmp6_quote_restore(struct __sk_buff *skb,
						  const struct sy_pkt6 *pkt,
						  __u32 qlen)
{
	__u32 q = SY_ICMP6_HDRS_LEN, d = 0, w, q_l4, sum_off;
	__u16 l4sum, n;

#pragma clang loop unroll(disable)
	for (int i = 0; i < 8; i++) {
		if (bpf_skb_load_bytes(skb, q + 8 + i * 4, &w, 4) < 0)
			return -1;
		d = sy_csum_add32(d, w, i < 4 ? pkt->saddr[i] : pkt->daddr[i - 4]);
	}
	if (bpf_skb_store_bytes(skb, q + 8, pkt->saddr, 32, 0) < 0)
		return -1;
	if (pkt->frag == SY_FRAG_LATER)
		return 0; /* no L4 header in this fragment */
	q_l4 = q + pkt->l4_off - pkt->l3_off;
	if (bpf_skb_load_bytes(skb, q_l4, &w, 4) < 0)
		return -1;
	d = sy_csum_add32(d, w, pkt->sport | (__u32)pkt->dport << 16);
	if (bpf_skb_store_bytes(skb, q_l4, &pkt->sport, 4, 0) < 0)
		return -1;
	sum_off = q_l4 + (pkt->proto == IPPROTO_TCP ? 16 : 6);
	if (sum_off + 2 > q + qlen)
		return 0; /* not quoted */
	if (bpf_skb_load_bytes(skb, sum_off, &l4sum, 2) < 0)
		return -1;
	if (pkt->proto == IPPROTO_UDP && !l4sum)
		return 0;
	n = sy_csum_apply(l4sum, sy_csum_fold(d));
	if (pkt->proto == IPPROTO_UDP)
		n = sy_csum_udp(n);
	return bpf_skb_store_bytes(skb, sum_off, &n, 2, 0);
}

/* tc: make the skb an ICMPv6 error (kind SY_ICMP6_KIND_*; data: 0, or the
 * MTU) about the packet of pkt, from pkt->daddr to pkt->saddr, and send it
 * back out of the arrival device. Returns TC_ACT_REDIRECT or TC_ACT_SHOT.
 * A BPF subprogram. */
static __noinline __attribute__((unused)) int sy_icmp6_error_skb(struct __sk_buff *skb,
					 const struct sy_pkt6 *pkt, __u32 kind,
					 __u32 data)
{
	__u8 macs[12], ih[8];
	__u32 qlen, sum;
	__be16 plen;
	__u16 check;
	__s64 q;
	void *d, *de;

	if (pkt->l3_off != 14 || skb->len <= 14)
		return TC_ACT_SHOT;
	if (bpf_skb_load_bytes(skb, 0, macs, 12) < 0 ||
	    bpf_skb_load_bytes(skb, 14 + 4, &plen, 2) < 0)
		return TC_ACT_SHOT;
	/* The IPv6 packet (not the Ethernet padding after it), cut to what
	 * fits in 1280 bytes. */
	qlen = SY_IP6_HDR_LEN + bpf_ntohs(plen);
	if (qlen > skb->len - 14)
		qlen = skb->len - 14;
	if (qlen > SY_ICMP6_QUOTE_MAX)
		qlen = SY_ICMP6_QUOTE_MAX;
	/* Trim first (less to move), then room for IPv6 + ICMPv6 between
	 * Ethernet and the quoted packet. */
	if (bpf_skb_change_tail(skb, 14 + qlen, 0) < 0 ||
	    bpf_skb_adjust_room(skb, SY_IP6_HDR_LEN + SY_ICMP6_HDR_LEN,
				BPF_ADJ_ROOM_MAC, 0) < 0)
		return TC_ACT_SHOT;
	if (kind == SY_ICMP6_KIND_TOO_BIG &&
	    sy_icmp6_quote_restore(skb, pkt, qlen) < 0)
		return TC_ACT_SHOT;
	ih[0] = kind == SY_ICMP6_KIND_TOO_BIG ? SY_ICMP6_PKT_TOO_BIG :
						SY_ICMP6_DEST_UNREACH;
	ih[1] = kind == SY_ICMP6_KIND_TOO_BIG ? 0 : SY_ICMP6_PORT_UNREACH;
	*(__u16 *)&ih[2] = 0;
	*(__be32 *)&ih[4] = bpf_htonl(data);
	if (SY_ANSWER6_HDRS(skb, bpf_skb_store_bytes, macs, pkt, 8 + qlen,
			    SY_NEXTHDR_ICMPV6, 0) < 0 ||
	    bpf_skb_store_bytes(skb, 14 + SY_IP6_HDR_LEN, ih, 8, 0) < 0)
		return TC_ACT_SHOT;
	/* The checksum over the ICMPv6 message, straight from the packet. */
	if (bpf_skb_pull_data(skb, SY_ICMP6_HDRS_LEN + qlen) < 0)
		return TC_ACT_SHOT;
	d = (void *)(long)skb->data;
	de = (void *)(long)skb->data_end;
	q = sy_csum6_data(d, de, 14 + SY_IP6_HDR_LEN, 8 + qlen);
	if (q < 0)
		return TC_ACT_SHOT;
	sum = sy_csum6_pseudo(pkt->daddr, pkt->saddr, 8 + qlen,
			      SY_NEXTHDR_ICMPV6);
	check = sy_csum_finish(sy_csum_fold(sum) + (__u32)q);
	if (bpf_skb_store_bytes(skb, 14 + SY_IP6_HDR_LEN + 2, &check, 2,
				BPF_F_RECOMPUTE_CSUM) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* tc, the REJECT verdict for an IPv6 TCP/UDP packet: rate limited (the
 * bucket IPv4 uses), answered, counted. Returns TC_ACT_REDIRECT (answer
 * sent) or TC_ACT_SHOT. */
static __always_inline int sy_reject6(struct __sk_buff *skb,
				      const struct sy_pkt6 *pkt)
{
	int ret;

	if (pkt->proto != IPPROTO_TCP && pkt->proto != IPPROTO_UDP)
		return TC_ACT_SHOT;
	if (!sy_rl_take(SY_RL_REJECT, bpf_ktime_get_ns())) {
		sy_count(SY_CNT_REJECT_RATE_LIMITED);
		return TC_ACT_SHOT;
	}
	if (pkt->proto == IPPROTO_TCP) {
		ret = sy_reject6_tcp(skb, pkt);
	} else {
		if (!sy_unicast_src6(pkt->saddr))
			return TC_ACT_SHOT;
		ret = sy_icmp6_error_skb(skb, pkt, SY_ICMP6_KIND_PORT_UNREACH, 0);
	}
	if (ret == TC_ACT_REDIRECT)
		sy_count(pkt->proto == IPPROTO_TCP ? SY_CNT_REJECT_TCP :
						     SY_CNT_REJECT_UDP);
	return ret;
}

#endif /* SY_REJECT6_H */
