// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The datapath monitor for IPv6 translations (sy_trace6.h): with tracing
 * on and the filter matching (frontend, backend, an IPv6 client CIDR) a
 * translation emits one SY_EV_TRACE of family 6 with the tuple before and
 * after, in tc and in XDP; with tracing off, none; a new flow emits
 * SY_EV_CT_NEW when sampled. Runs on the IPv6 maps ipv6_test.c fills
 * (setup6()): the addresses and ids below are that file's. */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"
#include "packets6.h"

/* As ipv6_test.c sets them up. */
#define CL6     ip6a(1, 1)       /* pod client */
#define VIP6    ip6a(0x96, 0x10) /* ClusterIP TCP :80 -> FE6_TCP */
#define NODE6   ip6a(0x18, 1)    /* sy_config6.node_addr */
#define EXT6    ip6a(0x50, 9)    /* external client */
#define FE6_TCP 2700
#define FE6_NP  2702 /* NODE6:30080 -> backend 2501, remote: SNAT */
#define BE6_NP  2501

#define MAX6 8
static struct sy_event got6[MAX6];
static int n6, n6_extra;
static struct ring_buffer *rb6;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size != sizeof(struct sy_event) || n6 >= MAX6) {
		n6_extra++;
		return 0;
	}
	memcpy(&got6[n6++], data, sizeof(struct sy_event));
	return 0;
}

static int drain6(void)
{
	n6 = n6_extra = 0;
	ring_buffer__consume(rb6);
	return n6 + n6_extra;
}

/* Tracing (flags) for frontend fe, backend be, and the client CIDR
 * net/plen of family (0: any client). */
static int monitor6(uint32_t flags, uint32_t fe, uint32_t be, uint8_t family,
		    const uint8_t *net, uint8_t plen, uint32_t ct_sample)
{
	struct sy_monitor m = { .flags = flags, .ct_sample = ct_sample,
				.trace_frontend_id = fe,
				.trace_backend_id = be,
				.client_family = family,
				.client_prefix_len = plen };
	uint32_t zero = 0;

	if (net)
		memcpy(m.client_addr, net, family == 6 ? 16 : 4);
	return bpf_map_update_elem(bpf_map__fd(skel->maps.sy_monitor), &zero,
				   &m, BPF_ANY) ? -errno : 0;
}

static uint32_t run_tc6(int prog, const struct pktdef6 *d)
{
	uint8_t in[BUF], out[BUF];
	size_t olen;
	uint32_t ret = (uint32_t)-1000;
	int old = use_prog(prog);

	run(in, build6(in, d), out, &olen, &ret);
	use_prog(old);
	return ret;
}

static bool a6eq(const __be32 *w, struct ip6 a)
{
	return memcmp(w, a.b, 16) == 0;
}

static uint32_t ct6_backend(struct ip6 s, struct ip6 d, uint16_t sp,
			    uint16_t dp)
{
	struct sy_ct_key6 k;
	struct sy_ct_value6 v;

	memset(&k, 0, sizeof(k));
	memcpy(k.saddr, s.b, 16);
	memcpy(k.daddr, d.b, 16);
	k.sport = htons(sp);
	k.dport = htons(dp);
	k.proto = IPPROTO_TCP;
	k.dir = SY_CT_FORWARD;
	if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.sy_conntrack6), &k, &v))
		return 0;
	return v.backend_id;
}

/* A backend's address as the backends6 map holds it. */
static bool backend6(uint32_t id, struct sy_backend6 *b)
{
	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.sy_backends6), &id,
				   b) == 0;
}

static void test_trace6_tc(int fd_pod)
{
	struct ip6 net1 = ip6a(1, 0), net2 = ip6a(2, 0);
	struct pktdef6 d, r;
	struct sy_backend6 b;
	uint32_t ret, be;
	uint32_t v4net = ip4(10, 0, 0, 0);

	drain6();
	monitor6(0, 0, 0, 0, NULL, 0, 0);
	d = tcp6(CL6, VIP6, 41000, 80, TH_SYN);
	ret = run_tc6(fd_pod, &d);
	check(ret == TC_ACT_OK && drain6() == 0,
	      "monitor6: tracing off: an IPv6 DNAT emits no event",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);

	/* Client CIDR fd00:0:0:1::/64 (CL6 is inside). */
	monitor6(SY_MON_F_TRACE, 0, 0, 6, net1.b, 64, 0);
	d = tcp6(CL6, VIP6, 41001, 80, TH_SYN);
	ret = run_tc6(fd_pod, &d);
	be = ct6_backend(CL6, VIP6, 41001, 80);
	check(ret == TC_ACT_OK && be && backend6(be, &b) && drain6() == 1 &&
		      got6[0].type == SY_EV_TRACE && got6[0].family == 6 &&
		      got6[0].hook == SY_HOOK_TC_INGRESS &&
		      got6[0].proto == IPPROTO_TCP &&
		      got6[0].frontend_id == FE6_TCP && got6[0].backend_id == be &&
		      a6eq(got6[0].saddr, CL6) && a6eq(got6[0].daddr, VIP6) &&
		      a6eq(got6[0].nat_saddr, CL6) &&
		      memcmp(got6[0].nat_daddr, b.addr, 16) == 0 &&
		      got6[0].sport == htons(41001) && got6[0].dport == htons(80) &&
		      got6[0].nat_sport == htons(41001) &&
		      got6[0].nat_dport == b.port && got6[0].flags == 0,
	      "monitor6: tc, tracing on for client fd00:0:0:1::/64: one SY_EV_TRACE, family 6, frontend, backend, tuple before and after the DNAT",
	      "ret %d be %u, %d events, type %u family %u hook %u fe %u be %u flags %u",
	      (int)ret, be, n6 + n6_extra, got6[0].type, got6[0].family,
	      got6[0].hook, got6[0].frontend_id, got6[0].backend_id,
	      got6[0].flags);

	/* The backend's reply: the client is its (restored) destination. */
	r = tcp6(ip6a(0, 0), CL6, 0, 41001, TH_SYN | TH_ACK);
	memcpy(r.saddr.b, b.addr, 16);
	r.sport = ntohs(b.port);
	ret = run_tc6(fd_pod, &r);
	check(ret == TC_ACT_OK && drain6() == 1 && got6[0].type == SY_EV_TRACE &&
		      got6[0].family == 6 && (got6[0].flags & SY_EV_F_REPLY) &&
		      got6[0].frontend_id == FE6_TCP &&
		      got6[0].backend_id == be && a6eq(got6[0].nat_saddr, VIP6) &&
		      got6[0].nat_sport == htons(80) &&
		      a6eq(got6[0].nat_daddr, CL6),
	      "monitor6: ... its reply is traced too: SY_EV_F_REPLY, source restored to the ClusterIP",
	      "ret %d, %d events, flags %u fe %u be %u", (int)ret, n6 + n6_extra,
	      got6[0].flags, got6[0].frontend_id, got6[0].backend_id);

	monitor6(SY_MON_F_TRACE, 0, 0, 6, net2.b, 64, 0);
	d = tcp6(CL6, VIP6, 41002, 80, TH_SYN);
	ret = run_tc6(fd_pod, &d);
	check(ret == TC_ACT_OK && drain6() == 0,
	      "monitor6: ... a client outside the filter's IPv6 CIDR (fd00:0:0:2::/64): no event",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);
	monitor6(SY_MON_F_TRACE, 0, 0, 4, (const uint8_t *)&v4net, 8, 0);
	d = tcp6(CL6, VIP6, 41003, 80, TH_SYN);
	ret = run_tc6(fd_pod, &d);
	check(ret == TC_ACT_OK && drain6() == 0,
	      "monitor6: ... an IPv4 client filter never matches an IPv6 client",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);
	monitor6(SY_MON_F_TRACE, FE6_NP, 0, 0, NULL, 0, 0);
	d = tcp6(CL6, VIP6, 41004, 80, TH_SYN);
	ret = run_tc6(fd_pod, &d);
	check(ret == TC_ACT_OK && drain6() == 0,
	      "monitor6: ... a filter naming another frontend: no event",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);
	monitor6(SY_MON_F_TRACE, FE6_TCP, be, 6, CL6.b, 128, 0);
	d = tcp6(CL6, VIP6, 41001, 80, TH_ACK);
	ret = run_tc6(fd_pod, &d);
	check(ret == TC_ACT_OK && drain6() == 1 && got6[0].backend_id == be,
	      "monitor6: ... frontend, backend and client/128 all named: the flow's next packet is traced",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);
	monitor6(SY_MON_F_TRACE, 0, be + 1, 0, NULL, 0, 0);
	ret = run_tc6(fd_pod, &d);
	check(ret == TC_ACT_OK && drain6() == 0,
	      "monitor6: ... a filter naming another backend: no event",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);

	/* Conntrack sampling: a new IPv6 flow, not its established packets. */
	monitor6(0, 0, 0, 0, NULL, 0, 1);
	d = tcp6(CL6, VIP6, 41005, 80, TH_SYN);
	ret = run_tc6(fd_pod, &d);
	be = ct6_backend(CL6, VIP6, 41005, 80);
	check(ret == TC_ACT_OK && drain6() == 1 && got6[0].type == SY_EV_CT_NEW &&
		      got6[0].family == 6 && got6[0].frontend_id == FE6_TCP &&
		      got6[0].backend_id == be && be != 0 &&
		      a6eq(got6[0].saddr, CL6),
	      "monitor6: ct_sample 1: a new IPv6 flow emits SY_EV_CT_NEW, family 6, frontend and backend",
	      "ret %d, %d events, type %u family %u", (int)ret, n6 + n6_extra,
	      got6[0].type, got6[0].family);
	d.tcp_flags = TH_ACK;
	ret = run_tc6(fd_pod, &d);
	check(drain6() == 0, "monitor6: ... its established packets do not",
	      "%d events", n6 + n6_extra);
	monitor6(0, 0, 0, 0, NULL, 0, 0);
}

/* XDP: called by ipv6_test.c's XDP test once sy-v0 routes to the backends
 * (ifindex: sy-v0's). A NodePort SYN translated and forwarded by XDP. */
void test_events6_xdp(int fd_xdp, uint32_t ifindex)
{
	struct ip6 ext = EXT6;
	uint8_t in[BUF], out[BUF];
	struct pktdef6 d;
	struct sy_backend6 b;
	size_t olen;
	uint32_t ret;

	rb6 = ring_buffer__new(bpf_map__fd(skel->maps.sy_events), on_event,
			       NULL, NULL);
	if (!check(rb6 != NULL, "monitor6: xdp: open the sy_events ring buffer",
		   "%s", strerror(errno)))
		return;
	drain6();
	monitor6(0, 0, 0, 0, NULL, 0, 0);
	d = tcp6(EXT6, NODE6, 41100, 30080, TH_SYN);
	run_xdp_prog(fd_xdp, in, build6(in, &d), out, &olen, &ret, ifindex);
	check(ret == XDP_REDIRECT && drain6() == 0,
	      "monitor6: xdp, tracing off: a NodePort DNAT + SNAT emits no event",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);

	monitor6(SY_MON_F_TRACE, 0, 0, 6, ext.b, 128, 0);
	d = tcp6(EXT6, NODE6, 41101, 30080, TH_SYN);
	run_xdp_prog(fd_xdp, in, build6(in, &d), out, &olen, &ret, ifindex);
	check(ret == XDP_REDIRECT && backend6(BE6_NP, &b) && drain6() == 1 &&
		      got6[0].type == SY_EV_TRACE && got6[0].family == 6 &&
		      got6[0].hook == SY_HOOK_XDP &&
		      got6[0].frontend_id == FE6_NP &&
		      got6[0].backend_id == BE6_NP &&
		      (got6[0].flags & SY_EV_F_SNAT) &&
		      a6eq(got6[0].saddr, EXT6) && a6eq(got6[0].daddr, NODE6) &&
		      a6eq(got6[0].nat_saddr, NODE6) &&
		      memcmp(got6[0].nat_daddr, b.addr, 16) == 0 &&
		      got6[0].nat_dport == b.port &&
		      got6[0].dport == htons(30080),
	      "monitor6: xdp, tracing on for the client/128: one SY_EV_TRACE, family 6, hook XDP, frontend, backend, DNAT + SNAT",
	      "ret %d, %d events, type %u family %u hook %u fe %u be %u flags %u",
	      (int)ret, n6 + n6_extra, got6[0].type, got6[0].family,
	      got6[0].hook, got6[0].frontend_id, got6[0].backend_id,
	      got6[0].flags);
	monitor6(SY_MON_F_TRACE, 0, 0, 6, ip6a(0x51, 0).b, 64, 0);
	d = tcp6(EXT6, NODE6, 41102, 30080, TH_SYN);
	run_xdp_prog(fd_xdp, in, build6(in, &d), out, &olen, &ret, ifindex);
	check(ret == XDP_REDIRECT && drain6() == 0,
	      "monitor6: xdp, a client outside the filter's IPv6 CIDR: no event",
	      "ret %d, %d events", (int)ret, n6 + n6_extra);
	monitor6(0, 0, 0, 0, NULL, 0, 1);
	d = tcp6(EXT6, NODE6, 41103, 30080, TH_SYN);
	run_xdp_prog(fd_xdp, in, build6(in, &d), out, &olen, &ret, ifindex);
	check(ret == XDP_REDIRECT && drain6() == 1 &&
		      got6[0].type == SY_EV_CT_NEW && got6[0].family == 6 &&
		      got6[0].hook == SY_HOOK_XDP && got6[0].backend_id == BE6_NP,
	      "monitor6: xdp, ct_sample 1: the new flow emits SY_EV_CT_NEW (hook XDP)",
	      "ret %d, %d events, type %u hook %u", (int)ret, n6 + n6_extra,
	      got6[0].type, got6[0].hook);
	monitor6(0, 0, 0, 0, NULL, 0, 0);
	ring_buffer__free(rb6);
	rb6 = NULL;
}

/* tc: after ipv6_test.c's setup6(). */
void test_events6(int fd_pod)
{
	rb6 = ring_buffer__new(bpf_map__fd(skel->maps.sy_events), on_event,
			       NULL, NULL);
	if (!check(rb6 != NULL, "monitor6: open the sy_events ring buffer", "%s",
		   strerror(errno)))
		return;
	test_trace6_tc(fd_pod);
	ring_buffer__free(rb6);
	rb6 = NULL;
}
