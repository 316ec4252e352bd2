/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level load balancing (cgroup sock_addr programs, IPv4): a socket of
 * a process in an attached cgroup that connects (connect4) or sends an
 * unconnected datagram (sendmsg4) to a frontend gets the backend's address
 * right away, so its packets never carry the frontend and no tc program has
 * to translate them; recvmsg4 and getpeername4 show the frontend again.
 * AF_INET6 sockets: sy_sock6.h (the same checks, sy_sock_admit(), and this
 * file's IPv4 step, sy_sock_xlate4(), for IPv4-mapped destinations).
 *
 * Frontends served here (scope INTERNAL first, then EXTERNAL, as for pods):
 *   - ClusterIP (SY_SVC_F_CLUSTERIP) at the address and port used;
 *   - NodePort (SY_SVC_F_NODEPORT) at sy_config.node_addr, or at 127.0.0.1
 *     (looked up as node_addr). Caveat: 127.0.0.1:<nodePort> is translated
 *     for every socket in the cgroup, also one in a pod's own namespace.
 * Left alone (for tc): frontends with source ranges, and frontends without
 * endpoints that drop (SY_SVC_F_DROP_NO_EP).
 *
 * Backend choice: ClientIP affinity if the frontend has it (sy_affinity,
 * as in tc), else the Maglev slot of
 *   jhash_3words(ntohl(client), ntohl(frontend addr),
 *                ntohs(frontend port) << 16 | proto,
 *                seed + (u32)cookie + (u32)(cookie >> 32)) % M
 * where cookie = bpf_get_socket_cookie() (every socket hashes on its own)
 * and client = the socket's bound source address (sendmsg4: the source
 * given with the message, if any), or, for an unbound socket (the usual
 * case), the low 32 bits of its network namespace cookie: one pod, one
 * namespace, one client. The same client value keys sy_affinity. With
 * SY_SVC_F_RANDOM the slot is random.
 *
 * Connected UDP in pods: with SY_CFG_F_POD_UDP_CONNECT_TC, connect() of a
 * UDP socket outside the node's own namespace is left alone and tc on the
 * pod's device translates each datagram. A connected socket keeps the
 * address connect() gave it; if that were the backend, deleting the backend
 * would leave the socket sending into the void until the application
 * reconnects (DNS resolvers do not). Per-packet translation reselects at
 * once. Still translated here: host sockets (no tc in their path),
 * 127.0.0.1 (the pod's own loopback, which tc never sees), and frontends
 * with an endpoint on the node's own address (SY_SVC_F_HOST_EP): replies
 * from the node to the pod leave on the pod device's egress, where no
 * program would restore the frontend.
 *
 * No endpoint (count 0, reject): the call fails with ECONNREFUSED
 * (bpf_set_retval(); returning 0 alone would make it EPERM).
 */
#ifndef SY_SOCK_H
#define SY_SOCK_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_structs.h"
#include "sy_maps.h"
#include "sy_jhash.h"
#include "sy_config.h"
#include "sy_frontend.h"
#include "sy_pick.h"
#include "sy_stats.h"
#include "sy_events.h"

#define SY_ECONNREFUSED 111
#define SY_LOOPBACK_ADDR 0x7f000001 /* 127.0.0.1, host order */

/* A connected UDP socket in a pod, when tc on the pod devices serves it. */
static __always_inline int sy_sock_udp_connect_for_tc(struct bpf_sock_addr *ctx,
						      const struct sy_config *cfg)
{
	return cfg && (cfg->flags & SY_CFG_F_POD_UDP_CONNECT_TC) &&
	       cfg->host_netns_cookie &&
	       bpf_get_netns_cookie(ctx) != cfg->host_netns_cookie;
}

/* The socket's protocol as the frontend maps key it; 0: not served. */
static __always_inline __u8 sy_sock_proto(struct bpf_sock_addr *ctx)
{
	if (ctx->protocol == IPPROTO_TCP)
		return IPPROTO_TCP;
	if (ctx->protocol == IPPROTO_UDP)
		return IPPROTO_UDP;
	return 0;
}

/* What a socket hook does with the frontend it found (both families). */
enum sy_sock_verdict {
	SY_SOCK_PASS = 0,   /* left alone: the call goes on unchanged */
	SY_SOCK_REFUSE = 1, /* the call fails (bpf_set_retval() set) */
	SY_SOCK_XLATE = 2,  /* translate to the selected backend */
};

/* The checks that do not depend on the address family (see above):
 * via_node: the destination is a node address (or loopback), so only a
 * NodePort serves; to_loopback: it is the loopback address. */
static __always_inline int sy_sock_admit(struct bpf_sock_addr *ctx,
					 const struct sy_config *cfg,
					 const struct sy_svc_value *svc,
					 const int sendmsg, __u8 proto,
					 int via_node, int to_loopback)
{
	__u16 flags = svc->flags;

	if (!(flags & (via_node ? SY_SVC_F_NODEPORT : SY_SVC_F_CLUSTERIP)))
		return SY_SOCK_PASS;
	if (flags & SY_SVC_F_SOURCE_RANGE)
		return SY_SOCK_PASS;
	if (!sendmsg && proto == IPPROTO_UDP && !to_loopback &&
	    !(flags & SY_SVC_F_HOST_EP) && sy_sock_udp_connect_for_tc(ctx, cfg))
		return SY_SOCK_PASS;
	if (svc->count == 0) {
		if (flags & SY_SVC_F_DROP_NO_EP)
			return SY_SOCK_PASS;
		sy_count(SY_CNT_SOCK_REJECT); /* both families */
		bpf_set_retval(-SY_ECONNREFUSED);
		return SY_SOCK_REFUSE;
	}
	return SY_SOCK_XLATE;
}

/* The client as the hash and sy_affinity see it (see above); msg_src is
 * the source given with a sendmsg(), else 0. */
static __always_inline __u32 sy_sock_client(struct bpf_sock_addr *ctx,
					    __be32 msg_src)
{
	struct bpf_sock *sk;
	__u32 client = msg_src;

	if (!client) {
		sk = ctx->sk;
		if (sk)
			client = sk->src_ip4;
	}
	if (!client)
		client = bpf_htonl((__u32)bpf_get_netns_cookie(ctx));
	return client;
}

/* The socket's flow hash (see above): every socket hashes on its own. */
static __always_inline __u32 sy_sock_hash(__u32 client, __be32 fe_addr,
					  __be16 fe_port, __u8 proto,
					  __u64 cookie)
{
	return sy_jhash_3words(bpf_ntohl(client), bpf_ntohl(fe_addr),
			       ((__u32)bpf_ntohs(fe_port) << 16) | proto,
			       sy_flow_hash_seed() + (__u32)cookie +
				       (__u32)(cookie >> 32));
}

/* The IPv4 step, for connect4/sendmsg4 (mapped 0: ctx->user_ip4) and for
 * the IPv4-mapped destinations of connect6/sendmsg6 (mapped 1, sy_sock6.h:
 * ctx->user_ip6[3], ::ffff:<backend> written back): daddr:dport is the
 * destination. msg_src: see sy_sock_client(). Returns the program's
 * verdict (1 = go on). */
static __always_inline int sy_sock_xlate4(struct bpf_sock_addr *ctx,
					  const int sendmsg, const int mapped,
					  __be32 msg_src, __be32 daddr,
					  __be16 dport)
{
	struct sy_sock_revnat_value rv = {};
	struct sy_sock_revnat_key rk = {};
	struct sy_affinity_key akey;
	const struct sy_config *cfg;
	struct sy_svc_value *svc;
	struct sy_backend *be;
	__be32 fe_addr, node;
	__u32 backend_id;
	__u64 cookie;
	int via_node = 0, to_loopback;
	__u8 proto;

	proto = sy_sock_proto(ctx);
	if (!proto)
		return 1;

	cfg = sy_config_get();
	node = cfg ? cfg->node_addr : 0;
	fe_addr = daddr;
	to_loopback = daddr == bpf_htonl(SY_LOOPBACK_ADDR);
	if (to_loopback) {
		if (!node)
			return 1;
		fe_addr = node;
		via_node = 1;
	} else if (node && daddr == node) {
		via_node = 1;
	}
	svc = sy_lookup_frontend(fe_addr, dport, proto, SY_ROLE_POD);
	if (!svc)
		return 1;
	switch (sy_sock_admit(ctx, cfg, svc, sendmsg, proto, via_node,
			      to_loopback)) {
	case SY_SOCK_PASS:
		return 1;
	case SY_SOCK_REFUSE:
		sy_event_sock_reject4(proto, fe_addr, dport, svc->id);
		return 0;
	}

	cookie = bpf_get_socket_cookie(ctx);
	akey.client = sy_sock_client(ctx, msg_src);
	akey.group = svc->group;
	/* A random-selection Service draws its slot; it needs no hash. */
	be = sy_select_backend(svc, &sy_affinity, &akey,
			       (svc->flags & SY_SVC_F_RANDOM) ? 0 :
			       sy_sock_hash(akey.client, fe_addr, dport, proto,
					    cookie),
			       bpf_ktime_get_ns(), &backend_id);
	if (!be)
		return 1; /* broken table: tc (if any) drops */

	rk.cookie = cookie;
	rk.addr = be->addr;
	rk.port = be->port;
	rv.addr = daddr;
	rv.port = dport;
	rv.rev_nat_id = svc->id;
	bpf_map_update_elem(&sy_sock_revnat, &rk, &rv, BPF_ANY);

	if (mapped)
		ctx->user_ip6[3] = be->addr;
	else
		ctx->user_ip4 = be->addr;
	ctx->user_port = (__u32)be->port;
	sy_count(sendmsg ? SY_CNT_SOCK_SENDMSG : SY_CNT_SOCK_CONNECT);
	sy_svc_account(svc->id, SY_HOOK_SOCK_LB, 0);
	sy_event_sock_trace4(proto, daddr, dport, svc->id, backend_id,
			     be->addr, be->port);
	return 1;
}

/* connect4 / sendmsg4. Returns the program's verdict (1 = go on). */
static __always_inline int sy_sock_xlate(struct bpf_sock_addr *ctx,
					 const int sendmsg)
{
	return sy_sock_xlate4(ctx, sendmsg, 0,
			      sendmsg ? ctx->msg_src_ip4 : 0, ctx->user_ip4,
			      (__be16)ctx->user_port);
}

/* The frontend a socket sent to backend addr:port as, if it did. */
static __always_inline struct sy_sock_revnat_value *
sy_sock_revnat_lookup(__u64 cookie, __be32 addr, __be16 port)
{
	struct sy_sock_revnat_key rk = {};

	rk.cookie = cookie;
	rk.addr = addr;
	rk.port = port;
	return bpf_map_lookup_elem(&sy_sock_revnat, &rk);
}

/* recvmsg4 / getpeername4: a backend address the socket was sent to shows
 * as the frontend. Must return 1. */
static __always_inline int sy_sock_show_frontend(struct bpf_sock_addr *ctx)
{
	struct sy_sock_revnat_value *rv;

	rv = sy_sock_revnat_lookup(bpf_get_socket_cookie(ctx), ctx->user_ip4,
				   (__be16)ctx->user_port);
	if (rv) {
		ctx->user_ip4 = rv->addr;
		ctx->user_port = (__u32)rv->port;
	}
	return 1;
}

#endif /* SY_SOCK_H */
