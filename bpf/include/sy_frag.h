/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv4 fragments of service traffic, in tc and XDP. The kernel's conntrack
 * gives kube-proxy whole datagrams (nf_defrag reassembles them); this
 * datapath sees each fragment and translates it on its own:
 *
 *   first fragment (offset 0, MF)  carries the L4 header: its ports are
 *                                  recorded in sy_frag under (saddr, daddr,
 *                                  IP id, proto), then it goes through the
 *                                  usual decision and rewrite (addresses,
 *                                  ports, IPv4 and L4 checksums: the L4
 *                                  checksum covers the whole datagram, and
 *                                  an incremental update stays right);
 *   later fragment (offset > 0)    no L4 header: the ports are those of its
 *                                  first fragment, so conntrack gives the
 *                                  same backend (or reverse NAT) as for the
 *                                  first; only the addresses and the IPv4
 *                                  header checksum change.
 *   later fragment, first unseen   dropped and counted: it must never leave
 *                                  with the frontend address (as Cilium's
 *                                  DROP_FRAG_NOT_FOUND).
 *
 * Replies come back in fragments the same way: the backend's first reply
 * fragment records the reply tuple, the later ones find it. Non-fragmented
 * packets never reach this file (sy_pkt.frag is set by the parser from the
 * header it reads anyway), so they pay no extra lookup.
 */
#ifndef SY_FRAG_H
#define SY_FRAG_H

#include <stddef.h>
#include <linux/bpf.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_stats.h"

/* Record (first fragment) or recall (later fragment) the datagram's ports.
 * Returns 0 when pkt has its ports, -1 when a later fragment's first
 * fragment is unknown (the caller drops it). */
static __always_inline int sy_frag_track(struct sy_pkt *pkt)
{
	struct sy_frag_key key = {
		.saddr = pkt->saddr,
		.daddr = pkt->daddr,
		.id = pkt->ip_id,
		.proto = pkt->proto,
	};
	struct sy_frag_value *fv, val;

	if (pkt->frag == SY_FRAG_FIRST) {
		val.sport = pkt->sport;
		val.dport = pkt->dport;
		/* Failure only if the map cannot take it: the later
		 * fragments are then dropped, never sent untranslated. */
		bpf_map_update_elem(&sy_frag, &key, &val, BPF_ANY);
		sy_count(SY_CNT_FRAG_FIRST);
		return 0;
	}
	fv = bpf_map_lookup_elem(&sy_frag, &key);
	if (!fv)
		return -1;
	pkt->sport = fv->sport;
	pkt->dport = fv->dport;
	return 0;
}

/* tc: a later fragment's translation, addresses only (IPv4 checksum; the
 * pseudo-header part of the L4 checksum went with the first fragment). */
static __always_inline int sy_frag_xlate_skb(struct __sk_buff *skb,
					     const struct sy_pkt *pkt,
					     __be32 saddr, __be32 daddr)
{
	__u32 csum_off = pkt->l3_off + offsetof(struct iphdr, check);

	if (saddr != pkt->saddr &&
	    (bpf_l3_csum_replace(skb, csum_off, pkt->saddr, saddr,
				 sizeof(saddr)) < 0 ||
	     bpf_skb_store_bytes(skb, pkt->l3_off + offsetof(struct iphdr, saddr),
				 &saddr, sizeof(saddr), 0) < 0))
		return -1;
	if (daddr != pkt->daddr &&
	    (bpf_l3_csum_replace(skb, csum_off, pkt->daddr, daddr,
				 sizeof(daddr)) < 0 ||
	     bpf_skb_store_bytes(skb, pkt->l3_off + offsetof(struct iphdr, daddr),
				 &daddr, sizeof(daddr), 0) < 0))
		return -1;
	sy_count(SY_CNT_FRAG_XLATE);
	return 0;
}

/* RFC 1624 eqn. 3 for a 32-bit field of the IPv4 header. */
static __always_inline __u16 sy_frag_csum32(__u16 check, __u32 from, __u32 to)
{
	__u32 s = (__u16)~check;

	s += (__u16)~(from & 0xffff);
	s += (__u16)~(from >> 16);
	s += to & 0xffff;
	s += to >> 16;
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* XDP: the same rewrite on the IPv4 header in place. Returns 0, or -1 if
 * the header is not where the parser saw it. */
static __always_inline int sy_frag_xlate_xdp(struct xdp_md *ctx,
					     __be32 saddr, __be32 daddr)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *iph = data + sizeof(struct ethhdr);

	if ((void *)(iph + 1) > data_end)
		return -1;
	if (iph->saddr != saddr) {
		iph->check = sy_frag_csum32(iph->check, iph->saddr, saddr);
		iph->saddr = saddr;
	}
	if (iph->daddr != daddr) {
		iph->check = sy_frag_csum32(iph->check, iph->daddr, daddr);
		iph->daddr = daddr;
	}
	sy_count(SY_CNT_FRAG_XLATE);
	return 0;
}

#endif /* SY_FRAG_H */
