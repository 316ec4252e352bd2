/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * REJECT for IPv6 frontends that cannot be served (sy_reject.h for IPv4),
 * as kube-proxy's ip6tables REJECT does it:
 *
 *   TCP -> a TCP reset (RFC 793 reset generation, RFC 9293 3.10.7.1),
 *   UDP -> ICMPv6 destination unreachable / port unreachable (type 1
 *          code 4, RFC 4443 3.1) quoting as much of the packet as fits
 *          in the IPv6 minimum MTU (1280 bytes, RFC 4443 2.4 (c)).
 *
 * Everything is read from the packet at the offsets the parser found
 * (l3_off: the IPv6 header; l4_off: the TCP/UDP header after any
 * extension headers), so any parser can call it. The answer replaces the
 * packet and leaves by the device it arrived on (bpf_redirect(ifindex, 0)).
 * Checksums are computed from scratch over the IPv6 pseudo-header (RFC
 * 8200 8.1): an ICMPv6 checksum covers it, unlike ICMPv4's.
 *
 * The ICMPv6 answer keeps the original packet where it is and puts the new
 * IPv6 and ICMPv6 headers in front of it (bpf_skb_adjust_room at the MAC
 * layer), trimmed first to the quote length: no copy of up to 1232 bytes
 * through the BPF stack. Its checksum is summed over the packet in
 * chunks (sy_csum6_skb_range).
 *
 * No answer (a drop) to a TCP RST or to a source that is not unicast
 * (RFC 4443 2.4 (e): not to ::, loopback or a multicast address).
 * Rate limited by the caller's bucket (sy_ratelimit.h), as IPv4.
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
#include "sy_csum.h"
#include "sy_reject.h"
#include "sy_ratelimit.h"
#include "sy_stats.h"
#include "sy_addr.h"
#include "sy_parse6.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

#define SY_IP6_MIN_MTU     1280
#define SY_ICMP6_HDR_LEN   8
/* Most of the invoking packet an ICMPv6 error may quote (RFC 4443 2.4). */
#define SY_ICMP6_QUOTE_MAX (SY_IP6_MIN_MTU - SY_IP6_HDR_LEN - SY_ICMP6_HDR_LEN)
#define SY_REJECT6_HOPLIMIT 64

#define SY_ICMP6_DEST_UNREACH 1
#define SY_ICMP6_PKT_TOO_BIG  2
#define SY_ICMP6_TIME_EXCEED  3
#define SY_ICMP6_PARAMPROB    4
#define SY_ICMP6_PORT_UNREACH 4 /* code of type 1 */

/* The IPv6 header, byte-explicit (no bitfields). */
struct sy_ip6 {
	__be32 vtc_flow;     /* version 6, traffic class, flow label */
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__be32 saddr[4];
	__be32 daddr[4];
}; /* 40 bytes */

struct sy_rst6_frame {
	struct sy_eth_pad eth;
	struct sy_ip6 ip;
	struct sy_tcp th;
}; /* 76 bytes, 74 sent */

#define SY_RST6_LEN (14 + 40 + 20)

/* Ethernet + IPv6 + ICMPv6 header of a generated ICMPv6 error; the quote
 * follows in the packet. */
struct sy_icmp6_hdrs {
	struct sy_eth_pad eth;
	struct sy_ip6 ip;
	__u8 type;
	__u8 code;
	__u16 check;
	__be32 data;         /* unused (0), or the MTU of a packet too big */
}; /* 64 bytes, 62 sent */

#define SY_ICMP6_HDRS_LEN (14 + 40 + 8)

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

static __always_inline void sy_ip6_answer(struct sy_ip6 *ip, __u16 plen,
					  __u8 nexthdr, const __be32 *saddr,
					  const __be32 *daddr)
{
	ip->vtc_flow = bpf_htonl(0x60000000);
	ip->payload_len = bpf_htons(plen);
	ip->nexthdr = nexthdr;
	ip->hop_limit = SY_REJECT6_HOPLIMIT;
	__builtin_memcpy(ip->saddr, saddr, 16);
	__builtin_memcpy(ip->daddr, daddr, 16);
}

/* One's complement sum of len bytes of the packet at off (an even offset
 * of the sum it continues), read in chunks through a stack buffer and
 * summed by bpf_csum_diff; a trailing odd byte is padded with zero, as RFC
 * 1071 says. load is bpf_skb_load_bytes or bpf_xdp_load_bytes. len is at
 * most SY_ICMP6_QUOTE_MAX. Returns the folded sum, or -1. */
#define SY_CSUM6_CHUNK 64 /* small: the caller's stack is shared */
#define SY_CSUM6_CHUNKS ((SY_ICMP6_QUOTE_MAX + SY_CSUM6_CHUNK - 1) / SY_CSUM6_CHUNK)
#define SY_CSUM6_RANGE(ctx, load, off, len)                                   \
	({                                                                    \
		__u8 __buf[SY_CSUM6_CHUNK];                                   \
		__s64 __r = 0;                                                \
		__u64 __o = (off), __left = (len), __n, __w;                  \
		__u32 __s = 0;                                                \
		for (int __i = 0; __i < SY_CSUM6_CHUNKS && __left; __i++) {                 \
			__n = __left > SY_CSUM6_CHUNK ? SY_CSUM6_CHUNK :     \
							__left;              \
			/* Opaque to the compiler, so the verifier sees the  \
			 * bound checked right here. */                       \
			asm volatile("" : "+r"(__n));                         \
			if (__n == 0 || __n > SY_CSUM6_CHUNK) {               \
				__r = -1;                                     \
				break;                                        \
			}                                                     \
			__w = (__n + 3) & ~3ull;                                \
			*(__u32 *)&__buf[(__w - 4) & (SY_CSUM6_CHUNK - 4)] = 0; \
			if (load(ctx, __o, __buf, __n) < 0) {                 \
				__r = -1;                                     \
				break;                                        \
			}                                                     \
			if (__w > SY_CSUM6_CHUNK) {                           \
				__r = -1;                                     \
				break;                                        \
			}                                                     \
			__s = sy_csum_fold(__s) +                             \
			      sy_csum_fold(bpf_csum_diff(NULL, 0,             \
							 (__be32 *)__buf,     \
							 __w, 0));            \
			__o += __n;                                           \
			__left -= __n;                                        \
		}                                                             \
		if (__left)                                                   \
			__r = -1;                                             \
		__r < 0 ? __r : (__s64)sy_csum_fold(__s);                    \
	})

/* The sum of a packet range, as BPF subprograms (their 64-byte buffer
 * lives in a frame of its own, not in the caller's). */
static __noinline __s64 sy_csum6_skb_range(struct __sk_buff *skb, __u32 off,
					   __u32 len)
{
	return SY_CSUM6_RANGE(skb, bpf_skb_load_bytes, off, len);
}

static __noinline __s64 sy_csum6_xdp_range(struct xdp_md *ctx, __u32 off,
					   __u32 len)
{
	return SY_CSUM6_RANGE(ctx, bpf_xdp_load_bytes, off, len);
}

/* The checksum of the ICMPv6 message whose 8-byte header h->type.. lies at
 * the start of the IPv6 payload of the answer, with quote_len bytes of
 * quote after it in the packet (at SY_ICMP6_HDRS_LEN). h->check must be 0.
 * range: sy_csum6_skb_range or sy_csum6_xdp_range. */
#define SY_ICMP6_CSUM(ctx, range, h, quote_len)                               \
	({                                                                    \
		__s64 __q = range(ctx, SY_ICMP6_HDRS_LEN, quote_len);         \
		__u32 __sum;                                                  \
		if (__q >= 0) {                                               \
			__sum = sy_csum6_pseudo((h)->ip.saddr, (h)->ip.daddr, \
						8 + (quote_len),              \
						IPPROTO_ICMPV6);              \
			__sum = sy_csum_words((const __u16 *)&(h)->type, 4,   \
					      __sum);                         \
			(h)->check = sy_csum_finish(sy_csum_fold(__sum) +     \
						    (__u32)__q);              \
		}                                                             \
		__q;                                                          \
	})

/* tc: make the skb the ICMPv6 error whose headers h holds (addresses,
 * type, code, data), quoting the IPv6 packet at l3_off (14: Ethernet only)
 * trimmed to the quote limit. Returns the quote length, or -1 (the caller
 * drops). On success h holds the final headers and checksum, stored in the
 * packet. */
static __always_inline int sy_icmp6_build_skb(struct __sk_buff *skb,
					      struct sy_icmp6_hdrs *h,
					      __u32 l3_off)
{
	__u32 quote_len = skb->len - l3_off;
	__s64 ok;

	if (l3_off != 14 || skb->len <= l3_off)
		return -1;
	if (quote_len > SY_ICMP6_QUOTE_MAX)
		quote_len = SY_ICMP6_QUOTE_MAX;
	/* Trim first (less to move), then open room for the new IPv6 and
	 * ICMPv6 headers between Ethernet and the quoted packet. */
	if (bpf_skb_change_tail(skb, l3_off + quote_len, 0) < 0 ||
	    bpf_skb_adjust_room(skb, SY_IP6_HDR_LEN + SY_ICMP6_HDR_LEN,
				BPF_ADJ_ROOM_MAC, 0) < 0)
		return -1;
	h->ip.payload_len = bpf_htons(8 + quote_len);
	h->check = 0;
	ok = SY_ICMP6_CSUM(skb, sy_csum6_skb_range, h, quote_len);
	if (ok < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, (const __u8 *)h + 2, SY_ICMP6_HDRS_LEN,
				BPF_F_RECOMPUTE_CSUM) < 0)
		return -1;
	return quote_len;
}

/* tc: the Ethernet header of the answer to the frame in skb (IPv6). */
static __always_inline int sy_reject6_eth(struct __sk_buff *skb,
					  struct sy_eth_pad *e)
{
	__u8 macs[12];

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) < 0)
		return -1;
	sy_eth_answer(e, macs, bpf_htons(ETH_P_IPV6));
	return 0;
}

/* TCP reset for the segment at l4_off (RFC 793 "Reset Generation", state
 * CLOSED; the same rules as sy_reject_tcp()). */
static __always_inline int sy_reject6_tcp(struct __sk_buff *skb, __u32 l3_off,
					  __u32 l4_off)
{
	struct sy_rst6_frame f = {};
	struct sy_ip6 ip;
	struct sy_tcp in;
	__u32 end, hdrs_end, seg_len;

	if (bpf_skb_load_bytes(skb, l3_off, &ip, sizeof(ip)) < 0 ||
	    bpf_skb_load_bytes(skb, l4_off, &in, sizeof(in)) < 0)
		return TC_ACT_SHOT;
	if (in.flags & SY_TCP_RST)
		return TC_ACT_SHOT;
	if (!sy_unicast_src6(ip.saddr))
		return TC_ACT_SHOT;
	if (sy_reject6_eth(skb, &f.eth) < 0)
		return TC_ACT_SHOT;

	f.th.source = in.dest;
	f.th.dest = in.source;
	f.th.doff = 5 << 4;
	if (in.flags & SY_TCP_ACK) {
		f.th.seq = in.ack_seq;
		f.th.flags = SY_TCP_RST;
	} else {
		end = l3_off + SY_IP6_HDR_LEN + bpf_ntohs(ip.payload_len);
		hdrs_end = l4_off + ((in.doff >> 4) << 2);
		seg_len = end > hdrs_end ? end - hdrs_end : 0;
		if (in.flags & SY_TCP_SYN)
			seg_len++;
		if (in.flags & SY_TCP_FIN)
			seg_len++;
		f.th.ack_seq = bpf_htonl(bpf_ntohl(in.seq) + seg_len);
		f.th.flags = SY_TCP_RST | SY_TCP_ACK;
	}
	sy_ip6_answer(&f.ip, 20, IPPROTO_TCP, ip.daddr, ip.saddr);
	f.th.check = sy_csum_finish(sy_csum_words(
		(const __u16 *)&f.th, 10,
		sy_csum6_pseudo(f.ip.saddr, f.ip.daddr, 20, IPPROTO_TCP)));
	return sy_reject_send(skb, (const __u8 *)&f + 2, SY_RST6_LEN);
}

/* ICMPv6 port unreachable for the UDP datagram of the IPv6 packet at
 * l3_off, from its destination (the frontend) to its source. */
static __always_inline int sy_reject6_udp(struct __sk_buff *skb, __u32 l3_off)
{
	struct sy_icmp6_hdrs h = {};
	struct sy_ip6 ip;

	if (bpf_skb_load_bytes(skb, l3_off, &ip, sizeof(ip)) < 0)
		return TC_ACT_SHOT;
	if (!sy_unicast_src6(ip.saddr))
		return TC_ACT_SHOT;
	if (sy_reject6_eth(skb, &h.eth) < 0)
		return TC_ACT_SHOT;
	sy_ip6_answer(&h.ip, 0, IPPROTO_ICMPV6, ip.daddr, ip.saddr);
	h.type = SY_ICMP6_DEST_UNREACH;
	h.code = SY_ICMP6_PORT_UNREACH;
	if (sy_icmp6_build_skb(skb, &h, l3_off) < 0)
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

/* The REJECT verdict for an IPv6 TCP/UDP packet: rate limited (the same
 * bucket as IPv4's), answered, counted. Returns the tc verdict
 * (TC_ACT_REDIRECT with the answer, or TC_ACT_SHOT). */
static __always_inline int sy_reject6(struct __sk_buff *skb, __u32 l3_off,
				      __u32 l4_off, __u8 proto)
{
	int ret;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return TC_ACT_SHOT;
	if (!sy_rl_take(SY_RL_REJECT, bpf_ktime_get_ns())) {
		sy_count(SY_CNT_REJECT_RATE_LIMITED);
		return TC_ACT_SHOT;
	}
	ret = proto == IPPROTO_TCP ? sy_reject6_tcp(skb, l3_off, l4_off) :
				     sy_reject6_udp(skb, l3_off);
	if (ret == TC_ACT_REDIRECT)
		sy_count(proto == IPPROTO_TCP ? SY_CNT_REJECT_TCP :
						SY_CNT_REJECT_UDP);
	return ret;
}

#endif /* SY_REJECT6_H */
