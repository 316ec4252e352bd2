/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 fragments of service traffic, in tc and XDP (sy_frag.h for IPv4;
 * the same rules). An IPv6 fragment carries a fragment header (RFC 8200
 * 4.5): 32-bit identification, offset, M flag.
 *
 *   first fragment (offset 0, M set)  carries the L4 header: its ports are
 *                                     recorded in sy_frag6 under (saddr,
 *                                     daddr, identification, upper-layer
 *                                     proto), then it is translated as any
 *                                     packet (the L4 checksum covers the
 *                                     whole datagram: an incremental update
 *                                     stays right);
 *   later fragment (offset > 0)       no L4 header: its first fragment's
 *                                     ports give the same conntrack entry,
 *                                     so the same backend (or reverse NAT);
 *                                     only the addresses change (IPv6 has no
 *                                     header checksum);
 *   later fragment, first unseen      dropped and counted
 *                                     (SY_CNT_DROP_FRAG_NO_FIRST): it must
 *                                     never leave with the frontend address.
 *
 * Replies in fragments work the same way. Unfragmented packets never call
 * this file. Counters are IPv4's (family-neutral).
 */
#ifndef SY_FRAG6_H
#define SY_FRAG6_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_stats.h"
#include "sy_addr.h"
#include "sy_parse6.h"

/* The fragment header (RFC 8200 4.5). */
struct sy_ip6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off;     /* offset << 3 | M */
	__be32 id;
}; /* 8 bytes */

#define SY_IP6_FRAG_OFFSET 0xfff8 /* host order of frag_off */
#define SY_IP6_FRAG_MF     0x0001

/* The kind of fragment a fragment header describes (SY_FRAG_* of
 * sy_parse.h). An atomic fragment (offset 0, M clear: RFC 6946) is a
 * whole datagram: SY_FRAG_NONE. */
static __always_inline __u8 sy_frag6_kind(__be16 frag_off)
{
	if (frag_off & bpf_htons(SY_IP6_FRAG_OFFSET))
		return SY_FRAG_LATER;
	if (frag_off & bpf_htons(SY_IP6_FRAG_MF))
		return SY_FRAG_FIRST;
	return SY_FRAG_NONE;
}

/* Record (first fragment) or recall (later fragment) the datagram's ports
 * in pkt. Returns 0, or -1 when a later fragment's first fragment is
 * unknown (counted; the caller drops it). A BPF subprogram: its key stays
 * out of the caller's frame. */
static __noinline __attribute__((unused)) int sy_frag6_track(struct sy_pkt6 *pkt)
{
	struct sy_frag_key6 key;
	struct sy_frag_value *fv, val;

	sy_a6_copy(key.saddr, pkt->saddr);
	sy_a6_copy(key.daddr, pkt->daddr);
	key.id = pkt->frag_id;
	key.proto = pkt->proto;
	key.pad[0] = 0;
	key.pad[1] = 0;
	key.pad[2] = 0;
	if (pkt->frag == SY_FRAG_FIRST) {
		val.sport = pkt->sport;
		val.dport = pkt->dport;
		/* Fails only if the map cannot take it: the later fragments
		 * are then dropped, never sent untranslated. */
		bpf_map_update_elem(&sy_frag6, &key, &val, BPF_ANY);
		sy_count(SY_CNT_FRAG_FIRST);
		return 0;
	}
	fv = bpf_map_lookup_elem(&sy_frag6, &key);
	if (!fv) {
		sy_count(SY_CNT_DROP_FRAG_NO_FIRST);
		return -1;
	}
	pkt->sport = fv->sport;
	pkt->dport = fv->dport;
	return 0;
}

/* tc: a later fragment's translation, addresses only (addrs: the new
 * source then destination, 32 bytes, as in struct sy_xlate6). Nothing in
 * the packet compensates the change (the L4 checksum travels in the first
 * fragment), so skb->csum follows the new bytes (BPF_F_RECOMPUTE_CSUM). */
static __always_inline int sy_frag6_xlate_skb(struct __sk_buff *skb,
					      __u32 l3_off,
					      const __be32 *addrs)
{
	if (bpf_skb_store_bytes(skb, l3_off + 8, addrs, 32,
				BPF_F_RECOMPUTE_CSUM) < 0)
		return -1;
	sy_count(SY_CNT_FRAG_XLATE);
	return 0;
}

/* XDP: the same rewrite in place. */
static __always_inline int sy_frag6_xlate_xdp(struct xdp_md *ctx,
					      __u32 l3_off,
					      const __be32 *addrs)
{
	if (bpf_xdp_store_bytes(ctx, l3_off + 8, (void *)addrs, 32) < 0)
		return -1;
	sy_count(SY_CNT_FRAG_XLATE);
	return 0;
}

#endif /* SY_FRAG6_H */
