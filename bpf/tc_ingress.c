// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sy_tc_ingress: service load balancing at tc ingress of every pod-facing
 * veth (node side) and of the node's underlay device.
 *
 *   1. reply of a tracked flow        -> reverse NAT (backend -> frontend)
 *   2. forward packet of a tracked flow -> DNAT to the same backend
 *   3. first packet to a frontend     -> affinity / Maglev pick, conntrack,
 *                                         DNAT
 *   4. frontend without endpoints     -> REJECT: TCP reset / ICMP port
 *                                         unreachable back to the client
 *                                         (drop with SY_SVC_F_DROP_NO_EP)
 *   anything else                     -> TC_ACT_OK, untouched
 *
 * Conntrack entries idle for longer than their lifetime (sy_structs.h) are
 * treated as absent. A rewritten packet is handed back with TC_ACT_OK so the
 * stack routes the new destination; a reject is redirected out of the
 * arrival device (TC_ACT_REDIRECT); drops are reserved for packets that must
 * not reach the frontend address (iTP=Local without local endpoint, broken
 * table, a reset to a reset).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_parse.h"
#include "sy_csum.h"
#include "sy_jhash.h"
#include "sy_conntrack.h"
#include "sy_maglev.h"
#include "sy_nat.h"
#include "sy_reject.h"

#define SY_NSEC_PER_SEC 1000000000ULL

/* Step 1: a packet matching a REPLY entry comes from a backend; give it the
 * frontend address and port back before the client sees it. */
static __always_inline int sy_handle_reply(struct __sk_buff *skb,
					   const struct sy_pkt *pkt,
					   struct sy_ct_value *ct, __u64 now)
{
	__u32 rev_nat_id = ct->rev_nat_id;
	struct sy_revnat *rn;
	__be32 fe_addr;
	__be16 fe_port;

	rn = bpf_map_lookup_elem(&sy_revnat, &rev_nat_id);
	if (!rn)
		/* Frontend deleted: nothing to restore. Do not refresh the
		 * entry either, so it ages out. */
		return TC_ACT_OK;
	fe_addr = rn->addr;
	fe_port = rn->port;

	/* First reply: mark the forward entry too, so its lifetime becomes
	 * the established one; a FIN or RST closes both directions. */
	if (!(ct->flags & SY_CT_F_SEEN_REPLY) ||
	    (pkt->tcp_flags & (SY_TCP_FIN | SY_TCP_RST))) {
		struct sy_ct_key key;
		__u16 mark = SY_CT_F_SEEN_REPLY;

		if (pkt->tcp_flags & (SY_TCP_FIN | SY_TCP_RST))
			mark |= SY_CT_F_CLOSING;
		sy_ct_key_fill(&key, pkt->daddr, fe_addr, pkt->dport, fe_port,
			       pkt->proto, SY_CT_FORWARD);
		sy_ct_mark(&key, mark);
	}
	sy_ct_touch(ct, now, pkt->tcp_flags, SY_CT_F_SEEN_REPLY);

	if (sy_revnat_rewrite(skb, pkt, fe_addr, fe_port) < 0)
		return TC_ACT_SHOT; /* never leak a half-rewritten packet */
	return TC_ACT_OK;
}

/* Steps 5-6: choose a backend for a new flow. Returns the backend or NULL
 * (caller drops). */
static __always_inline struct sy_backend *
sy_select_backend(const struct sy_pkt *pkt, const struct sy_svc_value *svc,
		  __u64 now, __u32 *backend_id)
{
	struct sy_affinity_key akey = {};
	struct sy_affinity_value aval = {};
	struct sy_backend *be = NULL;
	__u16 flags = svc->flags;
	__u32 id = 0;

	if (flags & SY_SVC_F_AFFINITY) {
		struct sy_affinity_value *aff;

		akey.client = pkt->saddr;
		akey.group = svc->group;
		aff = bpf_map_lookup_elem(&sy_affinity, &akey);
		if (aff && now - aff->last_used <
				   (__u64)svc->affinity_timeout * SY_NSEC_PER_SEC) {
			id = aff->backend_id;
			be = bpf_map_lookup_elem(&sy_backends, &id);
			/* A terminating backend keeps its flows (conntrack)
			 * but takes no new ones, even from sticky clients. */
			if (be && be->state != SY_BE_ACTIVE)
				be = NULL;
		}
	}

	if (!be) {
		if (sy_maglev_pick(svc, pkt->saddr, pkt->daddr, pkt->sport,
				   pkt->dport, pkt->proto, &id) < 0)
			return NULL;
		be = bpf_map_lookup_elem(&sy_backends, &id);
		if (!be)
			return NULL;
	}

	if (flags & SY_SVC_F_AFFINITY) {
		aval.last_used = now;
		aval.backend_id = id;
		bpf_map_update_elem(&sy_affinity, &akey, &aval, BPF_ANY);
	}
	*backend_id = id;
	return be;
}

SEC("tc")
int sy_tc_ingress(struct __sk_buff *skb)
{
	struct sy_svc_key skey = {};
	struct sy_svc_value *svc;
	struct sy_ct_value *ct;
	struct sy_backend *be;
	struct sy_ct_key key;
	struct sy_pkt pkt;
	__u32 backend_id;
	__be32 be_addr;
	__be16 be_port;
	__u32 svc_id;
	__u64 now;

	if (sy_parse(skb, &pkt) != SY_PARSE_OK)
		return TC_ACT_OK;
	now = bpf_ktime_get_ns();

	/* Step 2: replies first, so a backend that is itself a frontend
	 * client is never mistaken for a new flow. */
	sy_ct_key_fill(&key, pkt.saddr, pkt.daddr, pkt.sport, pkt.dport,
		       pkt.proto, SY_CT_REPLY);
	ct = bpf_map_lookup_elem(&sy_conntrack, &key);
	if (ct && !sy_ct_is_expired(ct, pkt.proto, now))
		return sy_handle_reply(skb, &pkt, ct, now);

	/* Step 3: established flows stick to their backend, whatever the
	 * Maglev table says now. An expired entry, or a SYN reusing the
	 * tuple of a closed flow, starts a new flow below. */
	key.dir = SY_CT_FORWARD;
	ct = bpf_map_lookup_elem(&sy_conntrack, &key);
	if (ct && !sy_ct_is_expired(ct, pkt.proto, now) &&
	    !sy_ct_reopens(ct, pkt.tcp_flags)) {
		backend_id = ct->backend_id;
		be = bpf_map_lookup_elem(&sy_backends, &backend_id);
		if (be) {
			be_addr = be->addr;
			be_port = be->port;
			sy_ct_touch(ct, now, pkt.tcp_flags, 0);
			if (pkt.tcp_flags & (SY_TCP_FIN | SY_TCP_RST)) {
				/* Close the reply direction too. */
				sy_ct_key_fill(&key, be_addr, pkt.saddr,
					       be_port, pkt.sport, pkt.proto,
					       SY_CT_REPLY);
				sy_ct_mark(&key, SY_CT_F_CLOSING);
			}
			if (sy_dnat(skb, &pkt, be_addr, be_port) < 0)
				return TC_ACT_SHOT;
			return TC_ACT_OK;
		}
		/* Backend gone. A mid-stream TCP segment must not be moved
		 * to another backend (it would only get a RST there, after
		 * confusing it): the client gets the reset now, and the
		 * flow's forward entry goes. (The reply entry is keyed by
		 * the deleted backend's address, which is no longer known
		 * here; the loader's gc_conntrack removes it as an orphan.)
		 * A SYN or a UDP datagram starts over and overwrites the
		 * entry below. */
		if (pkt.proto == IPPROTO_TCP &&
		    !(pkt.tcp_flags & SY_TCP_SYN)) {
			bpf_map_delete_elem(&sy_conntrack, &key);
			return sy_reject(skb, &pkt);
		}
	}

	/* Step 4: is it a frontend at all? */
	skey.addr = pkt.daddr;
	skey.port = pkt.dport;
	skey.proto = pkt.proto;
	skey.scope = SY_SCOPE_EXTERNAL;
	svc = bpf_map_lookup_elem(&sy_services, &skey);
	if (!svc)
		return TC_ACT_OK;
	if (svc->count == 0) {
		/* kube-proxy: REJECT, or DROP for iTP=Local without a local
		 * endpoint. */
		if (svc->flags & SY_SVC_F_DROP_NO_EP)
			return TC_ACT_SHOT;
		return sy_reject(skb, &pkt);
	}
	svc_id = svc->id;

	/* Steps 5-6. */
	be = sy_select_backend(&pkt, svc, now, &backend_id);
	if (!be)
		return TC_ACT_SHOT;
	be_addr = be->addr;
	be_port = be->port;

	/* Step 7. */
	sy_ct_create(&pkt, be_addr, be_port, backend_id, svc_id, now);

	/* Step 8. */
	if (sy_dnat(skb, &pkt, be_addr, be_port) < 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
