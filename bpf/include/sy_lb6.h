/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The service decision for IPv6 packets: sy_lb_decide() (sy_lb.h) step by
 * step, over the *6 maps (sy_services6, sy_backends6, sy_revnat6,
 * sy_conntrack6, sy_affinity6, sy_source_ranges6, sy_config6). The steps,
 * verdicts, roles, hooks and SNAT rules are those of sy_lb.h; what is
 * shared is called, not copied: the scoped frontend lookup
 * (sy_frontend.h), the backend pick and Maglev (sy_pick.h, family
 * argument), the conntrack pairing and TCP close state (sy_ct_pair.h,
 * family argument), lifetimes, counters and statistics. What this file
 * has of its own is what the 16-byte addresses force: keys, the
 * translation (struct sy_xlate6) and the flow hash (sy_flow_hash6()).
 */
#ifndef SY_LB6_H
#define SY_LB6_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_addr.h"
#include "sy_parse6.h"
#include "sy_conntrack6.h"
#include "sy_ct_pair.h"
#include "sy_jhash.h"
#include "sy_config.h"
#include "sy_frontend.h"
#include "sy_pick.h"
#include "sy_stats.h"
#include "sy_lb.h"

struct sy_xlate6 {
	__be32 saddr[4]; /* source address after the rewrite */
	__be32 daddr[4]; /* destination address after the rewrite */
	__be16 sport;
	__be16 dport;
	__u32 fe_id;
	__u8 reply;
	__u8 snat;
	__u16 cnt;
	__u32 be_id; /* backend id, 0 if none (the monitor's trace events) */
};

/* The monitor's trace and conntrack events of IPv6 translations: they take
 * struct sy_xlate6, so they come after it. */
#include "sy_trace6.h"

static __always_inline const struct sy_config6 *sy_config6_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sy_config6, &zero);
}

/* The IPv6 frontend at addr:port/proto (sy_lookup_frontend()). */
static __always_inline struct sy_svc_value *
sy_lookup_frontend6(const __be32 *addr, __be16 port, __u8 proto, int role)
{
	struct sy_svc_key6 key;

	sy_a6_copy(key.addr, addr);
	key.port = port;
	key.proto = proto;
	key.scope = 0;
	return sy_lookup_scoped(&sy_services6, &key, &key.scope, role);
}

/* The IPv6 Service CIDR (sy_service_cidr.h): never a reply's destination. */
static __always_inline int sy_to_service_cidr6(const struct sy_config6 *cfg,
					       const __be32 *daddr)
{
	return cfg && !sy_a6_is_zero(cfg->svc_mask) &&
	       sy_a6_in_net(daddr, cfg->svc_net, cfg->svc_mask);
}

/* loadBalancerSourceRanges (sy_source_allowed()). */
static __always_inline int sy_source_allowed6(__u32 fe_id, const __be32 *saddr)
{
	struct sy_source_range_key6 key;

	key.prefixlen = 32 + 128;
	key.frontend_id = fe_id;
	sy_a6_copy(key.addr, saddr);
	return bpf_map_lookup_elem(&sy_source_ranges6, &key) != NULL;
}

static __always_inline struct sy_backend6 *
sy_lb6_pick(const struct sy_pkt6 *pkt, const struct sy_svc_value *svc,
	    __u64 now, __u32 *backend_id)
{
	struct sy_affinity_key6 akey;
	__be16 sport = (svc->flags & SY_SVC_F_AFFINITY) ? 0 : pkt->sport;
	__u32 hash = 0;

	sy_a6_copy(akey.client, pkt->saddr);
	akey.group = svc->group;
	if (!(svc->flags & SY_SVC_F_RANDOM))
		hash = sy_flow_hash6(pkt->saddr, pkt->daddr, sport, pkt->dport,
				     pkt->proto, sy_flow_hash_seed());
	return sy_select_backend_fam(SY_AF6, svc, &sy_affinity6, &akey, hash,
				     now, backend_id);
}

static __always_inline void sy_xlate6_init(struct sy_xlate6 *x,
					   const struct sy_pkt6 *pkt)
{
	sy_a6_copy(x->saddr, pkt->saddr);
	sy_a6_copy(x->daddr, pkt->daddr);
	x->sport = pkt->sport;
	x->dport = pkt->dport;
	x->fe_id = 0;
	x->reply = 0;
	x->snat = 0;
	x->cnt = 0;
	x->be_id = 0;
}

static __always_inline void sy_xlate6_account(const struct sy_xlate6 *x,
					      int hook, __u64 len)
{
	sy_xlate_count(x->reply, x->snat, x->fe_id, hook, len);
}

/* Step 1 (sy_lb_reply()). */
static __always_inline int sy_lb6_reply(const struct sy_pkt6 *pkt,
					struct sy_ct_value6 *ct, __u64 now,
					struct sy_xlate6 *x)
{
	__u32 rev_nat_id = ct->rev_nat_id;
	__u8 snat = !!(ct->flags & SY_CT_F_SNAT);
	__be32 none[4] = {};
	struct sy_revnat6 *rn;
	struct sy_ct_key6 key;

	rn = bpf_map_lookup_elem(&sy_revnat6, &rev_nat_id);
	if (!rn)
		return SY_LB_PASS;
	sy_a6_copy(x->saddr, rn->addr);
	x->sport = rn->port;
	if (snat) {
		sy_a6_copy(x->daddr, ct->nat_addr);
		x->dport = ct->nat_port;
	}

	sy_ct_key6_fill(&key, x->daddr, x->saddr, x->dport, x->sport,
			pkt->proto, SY_CT_FORWARD);
	sy_ct_pair_follow_fam(SY_AF6, sy_ct6_common(ct), SY_CT_REPLY, &key,
			      snat ? pkt->daddr : none, snat ? pkt->dport : 0,
			      pkt->tcp_flags, now);
	x->fe_id = rev_nat_id;
	x->be_id = ct->backend_id;
	x->reply = 1;
	x->snat = snat;
	return SY_LB_XLATE;
}

static __always_inline int sy_is_external_frontend6(const struct sy_pkt6 *pkt)
{
	struct sy_svc_value *svc = sy_lookup_frontend6(pkt->daddr, pkt->dport,
						       pkt->proto,
						       SY_ROLE_EXTERNAL);

	return svc && (svc->flags & SY_SVC_F_EXTERNAL_KINDS);
}

/* sy_lb_decide() for IPv6: same verdicts, x filled for SY_LB_XLATE. */
static __always_inline int sy_lb6_decide(const struct sy_pkt6 *pkt, int role,
					 int hook, __u64 now,
					 struct sy_xlate6 *x)
{
	__be32 none[4] = {};
	const struct sy_config6 *cfg6 = sy_config6_get();
	struct sy_svc_value *svc;
	struct sy_ct_value6 *ct;
	struct sy_backend6 *be;
	struct sy_ct_key6 key;
	__u32 backend_id, svc_id;
	__be16 nat_port;
	__u16 svc_flags;
	int snat = 0;

	sy_xlate6_init(x, pkt);

	/* Step 1: replies. */
	sy_ct_key6_fill(&key, pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
			pkt->proto, SY_CT_REPLY);
	if (!sy_to_service_cidr6(cfg6, pkt->daddr)) {
		ct = bpf_map_lookup_elem(&sy_conntrack6, &key);
		if (ct && !sy_ct_is_expired(sy_ct6_common(ct), pkt->proto, now)) {
			if (hook == SY_HOOK_XDP && !(ct->flags & SY_CT_F_SNAT))
				return SY_LB_PASS;
			return sy_lb6_reply(pkt, ct, now, x);
		}
	}

	/* Step 2: established flows keep their backend. */
	key.dir = SY_CT_FORWARD;
	ct = bpf_map_lookup_elem(&sy_conntrack6, &key);
	if (ct && !sy_ct_is_expired(sy_ct6_common(ct), pkt->proto, now) &&
	    !sy_ct_reopens(sy_ct6_common(ct), pkt->tcp_flags)) {
		backend_id = ct->backend_id;
		be = bpf_map_lookup_elem(&sy_backends6, &backend_id);
		if (be) {
			__u8 fsnat = !!(ct->flags & SY_CT_F_SNAT);

			if (hook == SY_HOOK_XDP && !fsnat &&
			    !sy_is_external_frontend6(pkt))
				return SY_LB_PASS;
			sy_a6_copy(x->daddr, be->addr);
			x->dport = be->port;
			if (fsnat) {
				sy_a6_copy(x->saddr, ct->nat_addr);
				x->sport = ct->nat_port;
				x->snat = 1;
			}
			x->fe_id = ct->rev_nat_id;
			x->be_id = backend_id;
			sy_ct_key6_fill(&key, x->daddr, x->saddr, x->dport,
					x->sport, pkt->proto, SY_CT_REPLY);
			sy_ct_pair_follow_fam(SY_AF6, sy_ct6_common(ct),
					      SY_CT_FORWARD, &key,
					      fsnat ? pkt->saddr : none,
					      fsnat ? pkt->sport : 0,
					      pkt->tcp_flags, now);
			return SY_LB_XLATE;
		}
		/* Backend gone: as sy_lb_decide(). */
		if (pkt->proto == IPPROTO_TCP &&
		    !(pkt->tcp_flags & SY_TCP_SYN)) {
			if (hook == SY_HOOK_XDP)
				return SY_LB_PASS;
			bpf_map_delete_elem(&sy_conntrack6, &key);
			return SY_LB_REJECT;
		}
	}

	/* Step 3: a frontend? */
	svc = sy_lookup_frontend6(pkt->daddr, pkt->dport, pkt->proto, role);
	if (!svc)
		return SY_LB_PASS;
	x->fe_id = svc->id; /* for the monitor's drop and reject events */
	svc_flags = svc->flags;
	if (hook == SY_HOOK_XDP && !(svc_flags & SY_SVC_F_EXTERNAL_KINDS))
		return SY_LB_PASS;
	if (svc->count == 0) {
		if (hook == SY_HOOK_XDP)
			return SY_LB_PASS;
		if (svc_flags & SY_SVC_F_DROP_NO_EP) {
			x->cnt = SY_CNT_DROP_NO_BACKEND;
			return SY_LB_DROP;
		}
		return SY_LB_REJECT;
	}
	svc_id = svc->id;
	if ((svc_flags & SY_SVC_F_SOURCE_RANGE) &&
	    !sy_source_allowed6(svc_id, pkt->saddr)) {
		x->cnt = SY_CNT_DROP_SOURCE_RANGE;
		return SY_LB_DROP;
	}

	be = sy_lb6_pick(pkt, svc, now, &backend_id);
	if (!be) {
		if (hook == SY_HOOK_XDP)
			return SY_LB_PASS;
		x->cnt = SY_CNT_DROP_NO_BACKEND;
		return SY_LB_DROP;
	}
	sy_a6_copy(x->daddr, be->addr);
	x->dport = be->port;

	/* Source NAT (NAT66 to sy_config6.node_addr)? */
	if (cfg6 && !sy_a6_is_zero(cfg6->node_addr)) {
		if (sy_a6_eq(x->daddr, pkt->saddr))
			snat = 1; /* hairpin */
		else if (role == SY_ROLE_EXTERNAL &&
			 !(svc_flags & SY_SVC_F_LOCAL_EXT) &&
			 !(be->flags & SY_BE_F_LOCAL))
			snat = 1;
	}

	if (snat) {
		if (sy_ct6_create_snat(pkt, x->daddr, x->dport, backend_id,
				       svc_id, now, cfg6->node_addr,
				       &nat_port) < 0) {
			if (hook == SY_HOOK_XDP)
				return SY_LB_PASS;
			x->cnt = SY_CNT_DROP_NO_SNAT_PORT;
			return SY_LB_DROP;
		}
		sy_a6_copy(x->saddr, cfg6->node_addr);
		x->sport = nat_port;
		x->snat = 1;
	} else {
		sy_ct6_create(pkt, x->daddr, x->dport, backend_id, svc_id, now);
	}
	x->fe_id = svc_id;
	x->be_id = backend_id;
	sy_event_ct_new6(pkt, x, hook);
	return SY_LB_XLATE;
}

#endif /* SY_LB6_H */
