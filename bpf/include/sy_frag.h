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
#include "sy_csum.h"
#include "sy_nat.h"
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
	if (saddr != pkt->saddr &&
	    sy_rewrite_ip4_addr(skb, pkt->l3_off, offsetof(struct iphdr, saddr),
				pkt->saddr, saddr) < 0)
		return -1;
	if (daddr != pkt->daddr &&
	    sy_rewrite_ip4_addr(skb, pkt->l3_off, offsetof(struct iphdr, daddr),
				pkt->daddr, daddr) < 0)
		return -1;
	sy_count(SY_CNT_FRAG_XLATE);
	return 0;
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
	sy_ip4_set_addrs(iph, saddr, daddr);
	sy_count(SY_CNT_FRAG_XLATE);
	return 0;
}

#endif /* SY_FRAG_H */
