/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level load balancing for AF_INET6 sockets (cgroup connect6,
 * sendmsg6, recvmsg6, getpeername6): the IPv6 step of sy_sock.h, with the
 * same semantics over the IPv6 maps (sy_services6, sy_backends6,
 * sy_affinity6, sy_sock_revnat6, sy_config6):
 *
 *   - ClusterIP at the address and port used; NodePort at
 *     sy_config6.node_addr, or at ::1 (looked up as that node address);
 *   - the same checks (sy_sock_admit(): source ranges and DROP_NO_EP left
 *     to tc, POD_UDP_CONNECT_TC, ECONNREFUSED without endpoints), the same
 *     pick (sy_select_backend_fam(SY_AF6): affinity, Maglev or random,
 *     terminating backends never chosen by affinity);
 *   - the client (hash and sy_affinity6 key): the source given with a
 *     sendmsg(), else the socket's bound source, else, for an unbound
 *     socket, its network namespace cookie: words 0 and 1 zero, word 2
 *     the cookie's high 32 bits, word 3 its low 32 bits (network order);
 *   - the hash: sy_sock_hash()'s formula with each address folded to one
 *     word (the XOR of its four words); the socket cookie already makes
 *     every socket hash on its own, and no other component predicts it.
 *
 * IPv4-mapped destinations (::ffff:a.b.c.d on an AF_INET6 socket without
 * IPV6_V6ONLY) are IPv4 flows: the kernel runs connect6 for them (TCP and
 * UDP connect()), so connect6 translates them against the IPv4 maps
 * (sy_sock_xlate4()) and writes back the mapped backend, ::ffff:<backend>,
 * as Cilium does; recvmsg6 and getpeername6 see ::ffff:<backend> and show
 * ::ffff:<frontend> from sy_sock_revnat. An unconnected sendmsg() to a
 * mapped address never reaches sendmsg6: udpv6_sendmsg() hands it to the
 * IPv4 path first, where sendmsg4 translates it (and writes sy_sock_revnat,
 * which recvmsg6 reads; test/loader/loader-sock6.test.ts checks it).
 * sendmsg6 still handles a mapped destination the same way, should a
 * kernel run it.
 */
#ifndef SY_SOCK6_H
#define SY_SOCK6_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "sy_addr.h"
#include "sy_lb6.h" /* sy_config6_get(), sy_lookup_frontend6() */
#include "sy_sock.h"

/* ::ffff:0:0/96 */
static __always_inline int sy_a6_is_v4mapped(const __be32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == bpf_htonl(0x0000ffff);
}

/* ::1 */
static __always_inline int sy_a6_is_loopback(const __be32 *a)
{
	return a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == bpf_htonl(1);
}

/* One host-order word of an address, for the socket hash. */
static __always_inline __u32 sy_a6_fold(const __be32 *a)
{
	return bpf_ntohl(a[0] ^ a[1] ^ a[2] ^ a[3]);
}

/* The client as the hash and sy_affinity6 see it (see above). */
static __always_inline void sy_sock6_client(struct bpf_sock_addr *ctx,
					    const int sendmsg, __be32 *client)
{
	struct bpf_sock *sk;
	__u64 netns;

	if (sendmsg) {
		client[0] = ctx->msg_src_ip6[0];
		client[1] = ctx->msg_src_ip6[1];
		client[2] = ctx->msg_src_ip6[2];
		client[3] = ctx->msg_src_ip6[3];
		if (!sy_a6_is_zero(client))
			return;
	}
	sk = ctx->sk;
	if (sk) {
		client[0] = sk->src_ip6[0];
		client[1] = sk->src_ip6[1];
		client[2] = sk->src_ip6[2];
		client[3] = sk->src_ip6[3];
		if (!sy_a6_is_zero(client))
			return;
	}
	netns = bpf_get_netns_cookie(ctx);
	client[0] = 0;
	client[1] = 0;
	client[2] = bpf_htonl((__u32)(netns >> 32));
	client[3] = bpf_htonl((__u32)netns);
}

/* An IPv4-mapped destination of connect6/sendmsg6: the IPv4 step, the
 * backend written back as ::ffff:<backend>. */
static __always_inline int sy_sock6_xlate_mapped(struct bpf_sock_addr *ctx,
						 const int sendmsg,
						 __be32 addr4, __be16 port)
{
	__be32 msg_src = 0;

	if (sendmsg && ctx->msg_src_ip6[0] == 0 && ctx->msg_src_ip6[1] == 0 &&
	    ctx->msg_src_ip6[2] == bpf_htonl(0x0000ffff))
		msg_src = ctx->msg_src_ip6[3];
	return sy_sock_xlate4(ctx, sendmsg, 1, msg_src, addr4, port);
}

/* connect6 / sendmsg6. Returns the program's verdict (1 = go on). */
static __always_inline int sy_sock6_xlate(struct bpf_sock_addr *ctx,
					  const int sendmsg)
{
	struct sy_sock_revnat_value6 rv = {};
	struct sy_sock_revnat_key6 rk = {};
	struct sy_affinity_key6 akey = {};
	const struct sy_config6 *cfg6;
	const struct sy_config *cfg;
	struct sy_svc_value *svc;
	struct sy_backend6 *be;
	__be16 dport = (__be16)ctx->user_port;
	__be32 daddr[4], fe[4];
	int via_node = 0, to_loopback, verdict;
	__u32 backend_id;
	__u64 cookie;
	__u8 proto;

	daddr[0] = ctx->user_ip6[0];
	daddr[1] = ctx->user_ip6[1];
	daddr[2] = ctx->user_ip6[2];
	daddr[3] = ctx->user_ip6[3];
	if (sy_a6_is_v4mapped(daddr))
		return sy_sock6_xlate_mapped(ctx, sendmsg, daddr[3], dport);

	proto = sy_sock_proto(ctx);
	if (!proto)
		return 1;

	cfg = sy_config_get();
	cfg6 = sy_config6_get();
	sy_a6_copy(fe, daddr);
	to_loopback = sy_a6_is_loopback(daddr);
	if (to_loopback) {
		if (!cfg6 || sy_a6_is_zero(cfg6->node_addr))
			return 1;
		sy_a6_copy(fe, cfg6->node_addr);
		via_node = 1;
	} else if (cfg6 && !sy_a6_is_zero(cfg6->node_addr) &&
		   sy_a6_eq(daddr, cfg6->node_addr)) {
		via_node = 1;
	}
	svc = sy_lookup_frontend6(fe, dport, proto, SY_ROLE_POD);
	if (!svc)
		return 1;
	verdict = sy_sock_admit(ctx, cfg, svc, sendmsg, proto, via_node,
				to_loopback);
	if (verdict == SY_SOCK_REFUSE)
		sy_event_sock_reject6(proto, daddr, dport, svc->id);
	if (verdict != SY_SOCK_XLATE)
		return verdict != SY_SOCK_REFUSE;

	cookie = bpf_get_socket_cookie(ctx);
	sy_sock6_client(ctx, sendmsg, akey.client);
	akey.group = svc->group;
	/* A random-selection Service draws its slot; it needs no hash. */
	be = sy_select_backend_fam(SY_AF6, svc, &sy_affinity6, &akey,
				   (svc->flags & SY_SVC_F_RANDOM) ? 0 :
				   sy_sock_hash(bpf_htonl(sy_a6_fold(akey.client)),
						bpf_htonl(sy_a6_fold(fe)), dport,
						proto, cookie),
				   bpf_ktime_get_ns(), &backend_id);
	if (!be)
		return 1; /* broken table: tc (if any) drops */

	rk.cookie = cookie;
	sy_a6_copy(rk.addr, be->addr);
	rk.port = be->port;
	sy_a6_copy(rv.addr, daddr);
	rv.port = dport;
	rv.rev_nat_id = svc->id;
	bpf_map_update_elem(&sy_sock_revnat6, &rk, &rv, BPF_ANY);

	ctx->user_ip6[0] = be->addr[0];
	ctx->user_ip6[1] = be->addr[1];
	ctx->user_ip6[2] = be->addr[2];
	ctx->user_ip6[3] = be->addr[3];
	ctx->user_port = (__u32)be->port;
	sy_count(sendmsg ? SY_CNT_SOCK_SENDMSG : SY_CNT_SOCK_CONNECT);
	sy_svc_account(svc->id, SY_HOOK_SOCK_LB, 0);
	sy_event_sock_trace6(proto, daddr, dport, svc->id, backend_id,
			     be->addr, be->port);
	return 1;
}

/* recvmsg6 / getpeername6: a backend address the socket was sent to shows
 * as the frontend; an IPv4-mapped one from sy_sock_revnat, as
 * ::ffff:<frontend>. Must return 1. */
static __always_inline int sy_sock6_show_frontend(struct bpf_sock_addr *ctx)
{
	struct sy_sock_revnat_value6 *rv6;
	struct sy_sock_revnat_value *rv;
	struct sy_sock_revnat_key6 rk = {};
	__be16 port = (__be16)ctx->user_port;

	rk.cookie = bpf_get_socket_cookie(ctx);
	rk.addr[0] = ctx->user_ip6[0];
	rk.addr[1] = ctx->user_ip6[1];
	rk.addr[2] = ctx->user_ip6[2];
	rk.addr[3] = ctx->user_ip6[3];
	if (sy_a6_is_v4mapped(rk.addr)) {
		rv = sy_sock_revnat_lookup(rk.cookie, rk.addr[3], port);
		if (rv) {
			ctx->user_ip6[3] = rv->addr;
			ctx->user_port = (__u32)rv->port;
		}
		return 1;
	}
	rk.port = port;
	rv6 = bpf_map_lookup_elem(&sy_sock_revnat6, &rk);
	if (rv6) {
		ctx->user_ip6[0] = rv6->addr[0];
		ctx->user_ip6[1] = rv6->addr[1];
		ctx->user_ip6[2] = rv6->addr[2];
		ctx->user_ip6[3] = rv6->addr[3];
		ctx->user_port = (__u32)rv6->port;
	}
	return 1;
}

#endif /* SY_SOCK6_H */
