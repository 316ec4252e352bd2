/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Conntrack for IPv6 service flows (sy_conntrack6): the entries, their
 * meaning, lifetimes and pairing are those of sy_conntrack.h; only the key
 * and the NAT address are 16 bytes. The lifetime checks and the pairing
 * read the fields sy_ct_value6 shares with sy_ct_value (sy_ct_pair.h).
 */
#ifndef SY_CONNTRACK6_H
#define SY_CONNTRACK6_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_config.h"
#include "sy_parse6.h"
#include "sy_conntrack.h"
#include "sy_addr.h"
#include "sy_jhash.h"
#include "sy_stats.h"

/* The fields an IPv6 entry shares with sy_ct_value (sy_ct_pair.h). */
static __always_inline struct sy_ct_value *sy_ct6_common(struct sy_ct_value6 *v)
{
	return (struct sy_ct_value *)v;
}

/* Keys are hashed bytewise: always build them fully, padding included. */
static __always_inline void sy_ct_key6_fill(struct sy_ct_key6 *key,
					    const __be32 *saddr,
					    const __be32 *daddr, __be16 sport,
					    __be16 dport, __u8 proto, __u8 dir)
{
	sy_a6_copy(key->saddr, saddr);
	sy_a6_copy(key->daddr, daddr);
	key->sport = sport;
	key->dport = dport;
	key->proto = proto;
	key->dir = dir;
	key->pad = 0;
}

/* Both entries of a new flow without SNAT (sy_ct_create()). */
static __always_inline void sy_ct6_create(const struct sy_pkt6 *pkt,
					  const __be32 *be_addr,
					  __be16 be_port, __u32 backend_id,
					  __u32 rev_nat_id, __u64 now)
{
	struct sy_ct_value6 val = {};
	struct sy_ct_key6 key;

	val.last_seen = now;
	val.backend_id = backend_id;
	val.rev_nat_id = rev_nat_id;
	val.tcp_flags = pkt->tcp_flags;
	if (pkt->tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
		val.flags = SY_CT_F_CLOSING;

	sy_ct_key6_fill(&key, pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
			pkt->proto, SY_CT_FORWARD);
	bpf_map_update_elem(&sy_conntrack6, &key, &val, BPF_ANY);

	val.tcp_flags = 0;
	val.flags = 0;
	sy_ct_key6_fill(&key, be_addr, pkt->saddr, be_port, pkt->sport,
			pkt->proto, SY_CT_REPLY);
	bpf_map_update_elem(&sy_conntrack6, &key, &val, BPF_ANY);
}

/* A NAT port candidate, as sy_snat_candidate(): the client's own port
 * first when it lies in the range, then ports hashed from the tuple. */
static __always_inline __be16 sy_snat6_candidate(const struct sy_pkt6 *pkt,
						 int i, __u16 min, __u16 max)
{
	__u16 cport = bpf_ntohs(pkt->sport);
	__u32 h;

	if (i == 0 && cport >= min && cport <= max)
		return pkt->sport;
	h = sy_flow_hash6(pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
			  pkt->proto, SY_JHASH_INITVAL + i);
	return bpf_htons(min + h % ((__u32)max - min + 1));
}

/* Both entries of a new flow whose source is NATed to nat_addr:port, as
 * sy_ct_create_snat() (the same port choice and claim). */
static __always_inline int sy_ct6_create_snat(const struct sy_pkt6 *pkt,
					      const __be32 *be_addr,
					      __be16 be_port, __u32 backend_id,
					      __u32 rev_nat_id, __u64 now,
					      const __be32 *nat_addr,
					      __be16 *nat_port)
{
	struct sy_ct_value6 val = {};
	struct sy_ct_key6 key;
	__be16 port = 0;
	__u16 pmin, pmax;
	int found = 0;

	sy_snat_range(&pmin, &pmax);

	val.last_seen = now;
	val.backend_id = backend_id;
	val.rev_nat_id = rev_nat_id;
	val.flags = SY_CT_F_SNAT;
	sy_a6_copy(val.nat_addr, pkt->saddr);
	val.nat_port = pkt->sport;

	for (int i = 0; i <= SY_SNAT_TRIES; i++) {
		struct sy_ct_value6 *cur;

		port = sy_snat6_candidate(pkt, i, pmin, pmax);
		sy_ct_key6_fill(&key, be_addr, nat_addr, be_port, port,
				pkt->proto, SY_CT_REPLY);
		cur = bpf_map_lookup_elem(&sy_conntrack6, &key);
		if (cur) {
			if (!sy_ct_is_expired(sy_ct6_common(cur), pkt->proto,
					      now) &&
			    !((cur->flags & SY_CT_F_SNAT) &&
			      sy_a6_eq(cur->nat_addr, pkt->saddr) &&
			      cur->nat_port == pkt->sport &&
			      cur->rev_nat_id == rev_nat_id)) {
				sy_count(SY_CNT_SNAT_PORT_BUSY);
				continue;
			}
			if (bpf_map_update_elem(&sy_conntrack6, &key, &val,
						BPF_EXIST) == 0) {
				found = 1;
				break;
			}
			continue;
		}
		if (bpf_map_update_elem(&sy_conntrack6, &key, &val,
					BPF_NOEXIST) == 0) {
			found = 1;
			break;
		}
		sy_count(SY_CNT_SNAT_PORT_BUSY);
	}
	if (!found)
		return -1;

	val.tcp_flags = pkt->tcp_flags;
	val.flags = SY_CT_F_SNAT;
	if (pkt->tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
		val.flags |= SY_CT_F_CLOSING;
	sy_a6_copy(val.nat_addr, nat_addr);
	val.nat_port = port;
	sy_ct_key6_fill(&key, pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
			pkt->proto, SY_CT_FORWARD);
	bpf_map_update_elem(&sy_conntrack6, &key, &val, BPF_ANY);
	*nat_port = port;
	return 0;
}

#endif /* SY_CONNTRACK6_H */
