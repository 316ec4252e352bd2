/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Checksum-preserving rewrites of IPv4 addresses and L4 ports. The kernel
 * helpers do the incremental update (RFC 1624) and also keep skb->csum right
 * for CHECKSUM_COMPLETE and the pseudo-header seed for CHECKSUM_PARTIAL skbs,
 * which a hand-written update in BPF could not do.
 *
 * None of these functions touches packet pointers: callers pass offsets, so
 * nothing has to be re-validated after the helpers change the skb.
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
 * IP header checksum and the L4 checksum (the address is in the pseudo
 * header). Returns 0 or a negative error. */
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
	ret = bpf_l3_csum_replace(skb, l3_off + offsetof(struct iphdr, check),
				  old_addr, new_addr, sizeof(new_addr));
	if (ret < 0)
		return ret;
	return bpf_skb_store_bytes(skb, l3_off + addr_off, &new_addr,
				   sizeof(new_addr), 0);
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
