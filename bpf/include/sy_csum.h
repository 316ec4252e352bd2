/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksums, every kind the datapath writes:
 *
 *   - arithmetic for code that writes packet bytes itself (XDP, ICMP
 *     errors translated in place, answers built on the stack): sums over
 *     words (RFC 1071) and incremental updates (RFC 1624 eqn. 3,
 *     HC' = ~(~HC + ~m + m')). An update is a diff accumulated over every
 *     changed field with sy_csum_add16() / sy_csum_add32(), then applied to
 *     each checksum that covers those fields with sy_csum_apply(): one diff
 *     of the addresses serves the IP header and the L4 pseudo header alike,
 *     whatever the address length. Words are summed as stored (network
 *     order), which one's complement arithmetic allows, and results are
 *     stored back unconverted;
 *   - rewrites of IPv4 addresses and L4 ports in an skb (tc). The kernel
 *     helpers do the incremental update and also keep skb->csum right for
 *     CHECKSUM_COMPLETE and the pseudo-header seed for CHECKSUM_PARTIAL
 *     skbs, which a hand-written update in BPF could not do. None of these
 *     functions touches packet pointers: callers pass offsets, so nothing
 *     has to be re-validated after the helpers change the skb.
 */
#ifndef SY_CSUM_H
#define SY_CSUM_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* ---- arithmetic ---------------------------------------------------------- */

/* Fold a 32-bit sum of 16-bit words into 16 bits (end-around carry). Two
 * rounds suffice for any sum below 2^31. */
static __always_inline __u16 sy_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* The checksum of a sum (RFC 1071): its folded complement. */
static __always_inline __u16 sy_csum_finish(__u32 sum)
{
	return (__u16)~sy_csum_fold(sum);
}

/* Sum of n aligned 16-bit words at w, added to sum. */
static __always_inline __u32 sy_csum_words(const __u16 *w, int n, __u32 sum)
{
#pragma clang loop unroll(full)
	for (int i = 0; i < n; i++)
		sum += w[i];
	return sum;
}

/* Diff of a 16-bit field changing from -> to, added to d. */
static __always_inline __u32 sy_csum_add16(__u32 d, __u16 from, __u16 to)
{
	return d + (__u16)~from + to;
}

/* ... of a 32-bit field (two words; an IPv4 address, two ports). */
static __always_inline __u32 sy_csum_add32(__u32 d, __u32 from, __u32 to)
{
	d = sy_csum_add16(d, from & 0xffff, to & 0xffff);
	return sy_csum_add16(d, from >> 16, to >> 16);
}

/* The checksum check after the changes summed in diff d. */
static __always_inline __u16 sy_csum_apply(__u16 check, __u32 d)
{
	return (__u16)~sy_csum_fold((__u16)~check + sy_csum_fold(d));
}

/* A UDP checksum that comes out 0 is sent as 0xffff (0 means "none",
 * RFC 768). */
static __always_inline __u16 sy_csum_udp(__u16 check)
{
	return check ? check : 0xffff;
}

/* The IPv4 header checksum after TTL - 1 (the TTL is the high byte of its
 * 16-bit word), as the kernel's ip_decrease_ttl() computes it. */
static __always_inline __u16 sy_csum_ttl_dec(__u16 check)
{
	__u32 c = check;

	c += bpf_htons(0x0100);
	return (__u16)(c + (c >= 0xffff));
}

/* ---- skb rewrites (kernel helpers) --------------------------------------- */

/* Offset of the L4 checksum field from the start of the L4 header. */
static __always_inline int sy_l4_csum_off(__u8 proto)
{
	return proto == IPPROTO_TCP ? offsetof(struct tcphdr, check)
				    : offsetof(struct udphdr, check);
}

/* Flags for bpf_l4_csum_replace: a zero UDP checksum means "no checksum"
 * (RFC 768) and must stay zero; a computed zero must become 0xffff. */
static __always_inline __u64 sy_l4_csum_flags(__u8 proto)
{
	return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* Rewrite the IPv4 address at l3_off + addr_off (saddr or daddr), fixing the
 * IP header checksum only (a later fragment: no L4 header). Returns 0 or a
 * negative error. */
static __always_inline int sy_rewrite_ip4_addr(struct __sk_buff *skb,
					       __u32 l3_off, __u32 addr_off,
					       __be32 old_addr, __be32 new_addr)
{
	int ret;

	ret = bpf_l3_csum_replace(skb, l3_off + offsetof(struct iphdr, check),
				  old_addr, new_addr, sizeof(new_addr));
	if (ret < 0)
		return ret;
	return bpf_skb_store_bytes(skb, l3_off + addr_off, &new_addr,
				   sizeof(new_addr), 0);
}

/* ... and the L4 checksum too (the address is in the pseudo header). */
static __always_inline int sy_rewrite_addr(struct __sk_buff *skb, __u32 l3_off,
					   __u32 l4_off, __u8 proto,
					   __u32 addr_off, __be32 old_addr,
					   __be32 new_addr)
{
	int ret;

	if (old_addr == new_addr)
		return 0;
	ret = bpf_l4_csum_replace(skb, l4_off + sy_l4_csum_off(proto),
				  old_addr, new_addr,
				  BPF_F_PSEUDO_HDR | sy_l4_csum_flags(proto) |
					  sizeof(new_addr));
	if (ret < 0)
		return ret;
	return sy_rewrite_ip4_addr(skb, l3_off, addr_off, old_addr, new_addr);
}

/* Rewrite the L4 port at l4_off + port_off (source or dest), fixing the L4
 * checksum. Returns 0 or a negative error.
 *
 * nocsum: UDP without checksum. Nothing in the packet then compensates the
 * port change, so skb->csum (CHECKSUM_COMPLETE) must follow the new bytes:
 * BPF_F_RECOMPUTE_CSUM does that. With a checksum the updated field cancels
 * the port change in the packet sum and skb->csum must stay as it is. */
static __always_inline int sy_rewrite_port(struct __sk_buff *skb, __u32 l4_off,
					   __u8 proto, __u8 nocsum,
					   __u32 port_off, __be16 old_port,
					   __be16 new_port)
{
	int ret;

	if (old_port == new_port)
		return 0;
	if (nocsum)
		return bpf_skb_store_bytes(skb, l4_off + port_off, &new_port,
					   sizeof(new_port),
					   BPF_F_RECOMPUTE_CSUM);
	ret = bpf_l4_csum_replace(skb, l4_off + sy_l4_csum_off(proto),
				  old_port, new_port,
				  sy_l4_csum_flags(proto) | sizeof(new_port));
	if (ret < 0)
		return ret;
	return bpf_skb_store_bytes(skb, l4_off + port_off, &new_port,
				   sizeof(new_port), 0);
}

#endif /* SY_CSUM_H */
