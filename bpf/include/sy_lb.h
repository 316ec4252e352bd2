/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service load balancing decision, shared by the tc programs (both device
 * roles) and the XDP program. It looks at a parsed packet, consults and
 * updates conntrack, affinity and the Maglev tables, and says what to do;
 * the caller does the rewrite with the means of its hook (skb checksum
 * helpers in tc, manual incremental checksums in XDP) and the counting.
 *
 *   1. reply of a tracked flow          -> reverse NAT: source back to the
 *                                          frontend; for an SNATed flow the
 *                                          destination back to the client
 *   2. forward packet of a tracked flow -> DNAT to the same backend (and the
 *                                          flow's SNAT source, if any)
 *   3. first packet to a frontend       -> source-range check, affinity /
 *                                          Maglev pick, SNAT decision,
 *                                          conntrack, DNAT (+ SNAT)
 *   4. frontend without endpoints       -> REJECT (tc), or DROP with
 *                                          SY_SVC_F_DROP_NO_EP
 *   anything else                       -> PASS, untouched
 *
 * Device roles: packets from pod devices (SY_ROLE_POD) look up a frontend
 * with scope SY_SCOPE_INTERNAL first, then SY_SCOPE_EXTERNAL; packets on
 * external devices (SY_ROLE_EXTERNAL, and XDP) only SY_SCOPE_EXTERNAL.
 *
 * Source NAT (to sy_config.node_addr, port from sy_ct_create_snat()):
 *   - a new flow arriving on an external device whose backend is not local
 *     (SY_BE_F_LOCAL clear), unless the frontend is externalTrafficPolicy=
 *     Local (SY_SVC_F_LOCAL_EXT: its table holds local backends only and
 *     the client address is preserved);
 *   - hairpin, on any device: the backend is the client itself, so its
 *     reply must come back through the node.
 * Without a node_addr (0) nothing is SNATed.
 *
 * XDP (hook SY_HOOK_XDP) only takes what it can finish on its own: new and
 * tracked flows of NodePort / ExternalIP / LoadBalancer frontends and
 * replies of SNATed flows. Everything else, including rejects and drops
 * other than source ranges, is PASS, left to the tc program of the device.
 */
#ifndef SY_LB_H
#define SY_LB_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_conntrack.h"
#include "sy_ct_pair.h"
#include "sy_jhash.h"
#include "sy_config.h"
#include "sy_frontend.h"
#include "sy_pick.h"
#include "sy_service_cidr.h"
#include "sy_maglev.h"
#include "sy_stats.h"
#include "sy_events.h"

#define SY_LB_PASS   0 /* not ours (or not for this hook): untouched */
#define SY_LB_XLATE  1 /* rewrite to the addresses in struct sy_xlate */
#define SY_LB_REJECT 2 /* answer with a TCP reset / ICMP port unreachable */
#define SY_LB_DROP   3 /* drop; sy_xlate.cnt says why (SY_CNT_*) */

#define SY_SVC_F_EXTERNAL_KINDS \
	(SY_SVC_F_NODEPORT | SY_SVC_F_EXTERNALIP | SY_SVC_F_LOADBALANCER)

struct sy_xlate {
	__be32 saddr;  /* source address after the rewrite */
	__be32 daddr;  /* destination address after the rewrite */
	__be16 sport;
	__be16 dport;
	__u32 fe_id;   /* frontend (sy_svc_stats), 0 if none */
	__u8 reply;    /* 1: reverse NAT of a reply; 0: DNAT of a forward packet */
	__u8 snat;     /* forward: source NATed too; reply: destination restored */
	__u16 cnt;     /* SY_LB_DROP: SY_CNT_* reason */
	__u32 be_id;   /* backend id, 0 if none (the monitor's trace filter) */
};

/* Step 3's pick (sy_pick.h), IPv4: the flow hash of the packet's tuple
 * (without the source port for ClientIP affinity, so that every connection
 * of a client lands on the same slot) and the client's affinity key. */
static __always_inline struct sy_backend *
sy_lb_pick(const struct sy_pkt *pkt, const struct sy_svc_value *svc,
	   __u64 now, __u32 *backend_id)
{
	struct sy_affinity_key akey = {
		.client = pkt->saddr,
		.group = svc->group,
	};
	__be16 sport = (svc->flags & SY_SVC_F_AFFINITY) ? 0 : pkt->sport;
	__u32 hash = 0;

	/* A random-selection Service draws its slot; it needs no hash. */
	if (!(svc->flags & SY_SVC_F_RANDOM))
		hash = sy_flow_hash(pkt->saddr, pkt->daddr, sport, pkt->dport,
				    pkt->proto, sy_flow_hash_seed());

	return sy_select_backend(svc, &sy_affinity, &akey, hash, now,
				 backend_id);
}

/* loadBalancerSourceRanges: does the source match one of the frontend's
 * CIDRs? */
static __always_inline int sy_source_allowed(__u32 fe_id, __be32 saddr)
{
	struct sy_source_range_key key = {
		.prefixlen = 64,
		.frontend_id = fe_id,
		.addr = saddr,
	};

	return bpf_map_lookup_elem(&sy_source_ranges, &key) != NULL;
}

static __always_inline void sy_xlate_init(struct sy_xlate *x,
					  const struct sy_pkt *pkt)
{
	x->saddr = pkt->saddr;
	x->daddr = pkt->daddr;
	x->sport = pkt->sport;
	x->dport = pkt->dport;
	x->fe_id = 0;
	x->reply = 0;
	x->snat = 0;
	x->cnt = 0;
	x->be_id = 0;
}

/* A translation done at hook (tc or XDP), of either family: its counters
 * and the frontend's packets and bytes. */
static __always_inline void sy_xlate_count(__u8 reply, __u8 snat,
					   __u32 fe_id, int hook, __u64 len)
{
	int xdp = hook == SY_HOOK_XDP;

	if (reply) {
		sy_count(xdp ? SY_CNT_XDP_REVNAT : SY_CNT_TC_REVNAT);
	} else {
		sy_count(xdp ? SY_CNT_XDP_DNAT : SY_CNT_TC_DNAT);
		if (snat)
			sy_count(SY_CNT_SNAT);
	}
	sy_svc_account(fe_id, hook, len);
}

static __always_inline void sy_xlate_account(const struct sy_xlate *x,
					     int hook, __u64 len)
{
	sy_xlate_count(x->reply, x->snat, x->fe_id, hook, len);
}

/* Step 1: a packet matching a live REPLY entry comes from a backend; give
 * it the frontend address and port back (and, for an SNATed flow, the
 * client as destination) before the client sees it. */
static __always_inline int sy_lb_reply(const struct sy_pkt *pkt,
				       struct sy_ct_value *ct, __u64 now,
				       struct sy_xlate *x)
{
	__u32 rev_nat_id = ct->rev_nat_id;
	__u8 snat = !!(ct->flags & SY_CT_F_SNAT);
	struct sy_revnat *rn;
	__be32 fe_addr, client;
	__be16 fe_port, cport;

	rn = bpf_map_lookup_elem(&sy_revnat, &rev_nat_id);
	if (!rn)
		/* Frontend deleted: nothing to restore. Do not refresh the
		 * entry either, so it ages out. */
		return SY_LB_PASS;
	fe_addr = rn->addr;
	fe_port = rn->port;
	client = snat ? ct->nat_addr : pkt->daddr;
	cport = snat ? ct->nat_port : pkt->dport;

	/* The forward entry: recreated if missing, close state shared. */
	{
		struct sy_ct_key key;

		sy_ct_key_fill(&key, client, fe_addr, cport, fe_port,
			       pkt->proto, SY_CT_FORWARD);
		sy_ct_pair_follow(ct, SY_CT_REPLY, &key,
				  snat ? pkt->daddr : 0, snat ? pkt->dport : 0,
				  pkt->tcp_flags, now);
	}

	x->saddr = fe_addr;
	x->sport = fe_port;
	x->daddr = client;
	x->dport = cport;
	x->fe_id = rev_nat_id;
	x->be_id = ct->backend_id;
	x->reply = 1;
	x->snat = snat;
	return SY_LB_XLATE;
}

/* XDP takes tracked forward flows of external frontends only. */
static __always_inline int sy_is_external_frontend(const struct sy_pkt *pkt)
{
	struct sy_svc_value *svc = sy_lookup_frontend(pkt->daddr, pkt->dport,
						      pkt->proto,
						      SY_ROLE_EXTERNAL);

	return svc && (svc->flags & SY_SVC_F_EXTERNAL_KINDS);
}

static __always_inline int sy_lb_decide(const struct sy_pkt *pkt, int role,
					int hook, __u64 now,
					struct sy_xlate *x)
{
	struct sy_svc_value *svc;
	struct sy_ct_value *ct;
	struct sy_backend *be;
	struct sy_ct_key key;
	__u32 backend_id, svc_id;
	__be32 be_addr, node;
	__be16 be_port, nat_port;
	__u16 svc_flags;
	int snat = 0;

	sy_xlate_init(x, pkt);

	/* Step 1: replies first, so a backend that is itself a frontend
	 * client is never mistaken for a new flow. A packet to the Service
	 * CIDR is never a reply (sy_service_cidr.h): no lookup. */
	sy_ct_key_fill(&key, pkt->saddr, pkt->daddr, pkt->sport, pkt->dport,
		       pkt->proto, SY_CT_REPLY);
	if (!sy_to_service_cidr(pkt->daddr)) {
		ct = bpf_map_lookup_elem(&sy_conntrack, &key);
		if (ct && !sy_ct_is_expired(ct, pkt->proto, now)) {
			if (hook == SY_HOOK_XDP && !(ct->flags & SY_CT_F_SNAT))
				return SY_LB_PASS;
			return sy_lb_reply(pkt, ct, now, x);
		}
	}

	/* Step 2: established flows stick to their backend, whatever the
	 * Maglev table says now. An expired entry, or a SYN reusing the
	 * tuple of a closed flow, starts a new flow below. */
	key.dir = SY_CT_FORWARD;
	ct = bpf_map_lookup_elem(&sy_conntrack, &key);
	if (ct && !sy_ct_is_expired(ct, pkt->proto, now) &&
	    !sy_ct_reopens(ct, pkt->tcp_flags)) {
		backend_id = ct->backend_id;
		be = bpf_map_lookup_elem(&sy_backends, &backend_id);
		if (be) {
			__u8 fsnat = !!(ct->flags & SY_CT_F_SNAT);

			if (hook == SY_HOOK_XDP && !fsnat &&
			    !sy_is_external_frontend(pkt))
				return SY_LB_PASS;
			be_addr = be->addr;
			be_port = be->port;
			x->daddr = be_addr;
			x->dport = be_port;
			if (fsnat) {
				x->saddr = ct->nat_addr;
				x->sport = ct->nat_port;
				x->snat = 1;
			}
			x->fe_id = ct->rev_nat_id;
			x->be_id = backend_id;
			/* The reply entry: recreated if missing. */
			sy_ct_key_fill(&key, be_addr, x->saddr, be_port,
				       x->sport, pkt->proto, SY_CT_REPLY);
			sy_ct_pair_follow(ct, SY_CT_FORWARD, &key,
					  fsnat ? pkt->saddr : 0,
					  fsnat ? pkt->sport : 0,
					  pkt->tcp_flags, now);
			return SY_LB_XLATE;
		}
		/* Backend gone. A mid-stream TCP segment must not be moved
		 * to another backend (it would only get a RST there, after
		 * confusing it): the client gets the reset now, and the
		 * flow's forward entry goes. (The reply entry is keyed by
		 * the deleted backend's address, which is no longer known
		 * here; the loader's gc_conntrack removes it as an orphan.)
		 * A SYN or a UDP datagram starts over and overwrites the
		 * entry below. XDP leaves all that to tc. */
		if (pkt->proto == IPPROTO_TCP &&
		    !(pkt->tcp_flags & SY_TCP_SYN)) {
			if (hook == SY_HOOK_XDP)
				return SY_LB_PASS;
			bpf_map_delete_elem(&sy_conntrack, &key);
			return SY_LB_REJECT;
		}
	}

	/* Step 3: is it a frontend at all? */
	svc = sy_lookup_frontend(pkt->daddr, pkt->dport, pkt->proto, role);
	if (!svc)
		return SY_LB_PASS;
	x->fe_id = svc->id; /* for the monitor's drop and reject events */
	svc_flags = svc->flags;
	if (hook == SY_HOOK_XDP && !(svc_flags & SY_SVC_F_EXTERNAL_KINDS))
		return SY_LB_PASS;
	if (svc->count == 0) {
		if (hook == SY_HOOK_XDP)
			return SY_LB_PASS;
		/* kube-proxy: REJECT, or DROP for a Local policy without a
		 * local endpoint. */
		if (svc_flags & SY_SVC_F_DROP_NO_EP) {
			x->cnt = SY_CNT_DROP_NO_BACKEND;
			return SY_LB_DROP;
		}
		return SY_LB_REJECT;
	}
	svc_id = svc->id;
	if ((svc_flags & SY_SVC_F_SOURCE_RANGE) &&
	    !sy_source_allowed(svc_id, pkt->saddr)) {
		x->cnt = SY_CNT_DROP_SOURCE_RANGE;
		return SY_LB_DROP;
	}

	/* Backend selection. */
	be = sy_lb_pick(pkt, svc, now, &backend_id);
	if (!be) {
		if (hook == SY_HOOK_XDP)
			return SY_LB_PASS;
		x->cnt = SY_CNT_DROP_NO_BACKEND;
		return SY_LB_DROP;
	}
	be_addr = be->addr;
	be_port = be->port;

	/* Source NAT? */
	node = sy_node_addr();
	if (node) {
		if (be_addr == pkt->saddr)
			snat = 1; /* hairpin */
		else if (role == SY_ROLE_EXTERNAL &&
			 !(svc_flags & SY_SVC_F_LOCAL_EXT) &&
			 !(be->flags & SY_BE_F_LOCAL))
			snat = 1;
	}

	/* Conntrack, then the rewrite. */
	if (snat) {
		if (sy_ct_create_snat(pkt, be_addr, be_port, backend_id,
				      svc_id, now, node, &nat_port) < 0) {
			if (hook == SY_HOOK_XDP)
				return SY_LB_PASS;
			x->cnt = SY_CNT_DROP_NO_SNAT_PORT;
			return SY_LB_DROP;
		}
		x->saddr = node;
		x->sport = nat_port;
		x->snat = 1;
	} else {
		sy_ct_create(pkt, be_addr, be_port, backend_id, svc_id, now);
	}
	x->daddr = be_addr;
	x->dport = be_port;
	x->fe_id = svc_id;
	x->be_id = backend_id;
	sy_event_ct_new4(pkt, x, hook);
	return SY_LB_XLATE;
}

#endif /* SY_LB_H */
