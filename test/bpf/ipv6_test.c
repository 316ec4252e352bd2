// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN of the IPv6 datapath (sy_tc_ingress, sy_tc_external and
 * sy_xdp over the *6 maps), the same cases as the IPv4 tests: ClusterIP
 * DNAT and reverse NAT (TCP, UDP), the Maglev slot of the IPv6 flow hash,
 * NodePort with SNAT (NAT66) and reverse in tc external and XDP, eTP=Local,
 * loadBalancerSourceRanges, extension headers, malformed IPv6 untouched and
 * counted, CHECKSUM_COMPLETE skbs. Expected frames are built from scratch
 * (packets6.h: RFC 1071 sums over the IPv6 pseudo header) and compared
 * byte for byte; addresses are in fd00::/8.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"
#include "packets6.h"

static int fd_svc6, fd_be6, fd_rn6, fd_ct6, fd_aff6, fd_cfg6, fd_rng6, fd_xdp6;

#define CL6       ip6a(1, 1)        /* pod client */
#define VIP6      ip6a(0x96, 0x10)  /* ClusterIP: TCP :80, UDP :53 */
#define NODE6     ip6a(0x18, 1)     /* sy_config6.node_addr */
#define EXT6      ip6a(0x50, 9)     /* external client, inside the LB's range */
#define EXT6_OUT  ip6a(0x60, 7)     /* external client outside it */
#define LB6       ip6a(0x100, 0x10) /* LoadBalancer :443, source ranges */

#define G6_TCP 121 /* VIP6:80, M = 7, backends 2101..2107 */
#define G6_UDP 122 /* VIP6:53, M = 7, backends 2201..2207 */
#define G6_R1  126 /* every slot: remote TCP backend 2501 */
#define G6_R2  127 /* remote UDP backend 2502 */
#define G6_L   128 /* local TCP backend 2503 */

#define FE6_TCP   2700
#define FE6_UDP   2701
#define FE6_NP    2702 /* NODE6:30080 -> 2501 */
#define FE6_NPU   2703 /* NODE6:30053 -> 2502 (UDP) */
#define FE6_LOCAL 2704 /* NODE6:30081, eTP=Local -> 2503 */
#define FE6_LB    2705 /* LB6:443 -> 2501, source ranges */
#define FE6_NOEP  2706 /* VIP6:81, no endpoints */
#define FE6_NN    2707 /* LB6:8443 -> 2504 (no neighbour in the XDP test) */
#define G6_NN  129 /* remote TCP backend 2504 */
#define G6_AFF 130 /* AFF6:443 affinity, table as G6_TCP */
#define G6_RND 131 /* VIP6:83 random, table as G6_TCP */
#define G6_HP  132 /* HP6:80, every slot 2105 (the hairpin client) */
#define FE6_AFF   2708
#define FE6_RND   2709
#define FE6_HP    2710
#define FE6_DROP  2711 /* VIP6:82, no endpoints, DROP_NO_EP */
#define AFF6      ip6a(0x96, 0x20)
#define EIP6      ip6a(0x100, 0x20) /* ExternalIP :80: external table 2501, internal table 2101 */
#define FE6_EIP_EXT 2712
#define FE6_EIP_INT 2713
#define VIP6_INT  ip6a(0x96, 0x43)  /* SY_SCOPE_INTERNAL entry only */
#define FE6_INT   2714
#define G6_T1  133 /* every slot 2101 */
#define HP6       ip6a(0x96, 0x30)

static uint32_t tab6_tcp[7], tab6_udp[7];

static struct ip6 be6(uint32_t id)
{
	return ip6a(0x200, id);
}

static uint16_t be6_port(uint32_t id)
{
	return 9000 + id % 500;
}

static int add_svc6_scoped(struct ip6 a, uint16_t port, uint8_t proto,
			   uint8_t scope, uint32_t id, uint32_t group,
			   uint16_t count, uint16_t flags);

static int add_svc6(struct ip6 a, uint16_t port, uint8_t proto, uint32_t id,
		    uint32_t group, uint16_t count, uint16_t flags)
{
	return add_svc6_scoped(a, port, proto, SY_SCOPE_EXTERNAL, id, group,
			       count, flags);
}

static int add_svc6_scoped(struct ip6 a, uint16_t port, uint8_t proto,
			   uint8_t scope, uint32_t id, uint32_t group,
			   uint16_t count, uint16_t flags)
{
	struct sy_svc_key6 k;
	struct sy_svc_value v;
	struct sy_revnat6 rn;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	memset(&rn, 0, sizeof(rn));
	memcpy(k.addr, a.b, 16);
	k.port = htons(port);
	k.proto = proto;
	k.scope = scope;
	v.id = id;
	v.group = group;
	v.count = count;
	v.flags = flags;
	v.affinity_timeout = 10800;
	v.table_size = 7;
	memcpy(rn.addr, a.b, 16);
	rn.port = htons(port);
	if (bpf_map_update_elem(fd_svc6, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(fd_rn6, &id, &rn, BPF_ANY))
		return -errno;
	return 0;
}

static int add_be6(uint32_t id, uint8_t proto, uint8_t flags)
{
	struct sy_backend6 b;

	memset(&b, 0, sizeof(b));
	memcpy(b.addr, be6(id).b, 16);
	b.port = htons(be6_port(id));
	b.proto = proto;
	b.state = SY_BE_ACTIVE;
	b.flags = flags;
	return bpf_map_update_elem(fd_be6, &id, &b, BPF_ANY) ? -errno : 0;
}

static int table6_of(uint32_t group, uint32_t id)
{
	uint32_t t[7];

	for (int i = 0; i < 7; i++)
		t[i] = id;
	return set_table(group, 7, t);
}

static int setup6(void)
{
	struct sy_config6 cfg;
	struct sy_source_range_key6 rk;
	struct ip6 n = NODE6, net = ip6a(0x50, 0);
	uint32_t zero = 0;
	uint8_t one = 1;
	int err = 0;

	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.node_addr, n.b, 16);
	if (bpf_map_update_elem(fd_cfg6, &zero, &cfg, BPF_ANY))
		return -errno;
	for (int i = 0; i < 7; i++) {
		tab6_tcp[i] = 2101 + i;
		tab6_udp[i] = 2201 + i;
		err = err ?: add_be6(tab6_tcp[i], IPPROTO_TCP, 0);
		err = err ?: add_be6(tab6_udp[i], IPPROTO_UDP, 0);
	}
	err = err ?: add_be6(2501, IPPROTO_TCP, 0);
	err = err ?: add_be6(2502, IPPROTO_UDP, 0);
	err = err ?: add_be6(2503, IPPROTO_TCP, SY_BE_F_LOCAL);
	err = err ?: add_be6(2504, IPPROTO_TCP, 0);
	err = err ?: table6_of(G6_NN, 2504);
	err = err ?: set_table(G6_TCP, 7, tab6_tcp);
	err = err ?: set_table(G6_UDP, 7, tab6_udp);
	err = err ?: table6_of(G6_R1, 2501);
	err = err ?: table6_of(G6_R2, 2502);
	err = err ?: table6_of(G6_L, 2503);
	err = err ?: add_svc6(VIP6, 80, IPPROTO_TCP, FE6_TCP, G6_TCP, 7,
			      SY_SVC_F_CLUSTERIP);
	err = err ?: add_svc6(VIP6, 53, IPPROTO_UDP, FE6_UDP, G6_UDP, 7,
			      SY_SVC_F_CLUSTERIP);
	err = err ?: add_svc6(VIP6, 81, IPPROTO_TCP, FE6_NOEP, G6_TCP, 0,
			      SY_SVC_F_CLUSTERIP);
	err = err ?: add_svc6(NODE6, 30080, IPPROTO_TCP, FE6_NP, G6_R1, 1,
			      SY_SVC_F_NODEPORT);
	err = err ?: add_svc6(NODE6, 30053, IPPROTO_UDP, FE6_NPU, G6_R2, 1,
			      SY_SVC_F_NODEPORT);
	err = err ?: add_svc6(NODE6, 30081, IPPROTO_TCP, FE6_LOCAL, G6_L, 1,
			      SY_SVC_F_NODEPORT | SY_SVC_F_LOCAL_EXT);
	err = err ?: add_svc6(LB6, 8443, IPPROTO_TCP, FE6_NN, G6_NN, 1,
			      SY_SVC_F_LOADBALANCER);
	err = err ?: add_svc6(LB6, 443, IPPROTO_TCP, FE6_LB, G6_R1, 1,
			      SY_SVC_F_LOADBALANCER | SY_SVC_F_SOURCE_RANGE);
	err = err ?: set_table(G6_AFF, 7, tab6_tcp);
	err = err ?: set_table(G6_RND, 7, tab6_tcp);
	err = err ?: table6_of(G6_HP, 2105);
	err = err ?: add_svc6(AFF6, 443, IPPROTO_TCP, FE6_AFF, G6_AFF, 7,
			      SY_SVC_F_CLUSTERIP | SY_SVC_F_AFFINITY);
	err = err ?: add_svc6(VIP6, 83, IPPROTO_TCP, FE6_RND, G6_RND, 7,
			      SY_SVC_F_CLUSTERIP | SY_SVC_F_RANDOM);
	err = err ?: add_svc6(HP6, 80, IPPROTO_TCP, FE6_HP, G6_HP, 1,
			      SY_SVC_F_CLUSTERIP);
	err = err ?: add_svc6(VIP6, 82, IPPROTO_TCP, FE6_DROP, G6_TCP, 0,
			      SY_SVC_F_CLUSTERIP | SY_SVC_F_DROP_NO_EP);
	err = err ?: table6_of(G6_T1, 2101);
	err = err ?: add_svc6_scoped(EIP6, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				     FE6_EIP_EXT, G6_R1, 1, SY_SVC_F_EXTERNALIP);
	err = err ?: add_svc6_scoped(EIP6, 80, IPPROTO_TCP, SY_SCOPE_INTERNAL,
				     FE6_EIP_INT, G6_T1, 1, SY_SVC_F_EXTERNALIP);
	err = err ?: add_svc6_scoped(VIP6_INT, 80, IPPROTO_TCP,
				     SY_SCOPE_INTERNAL, FE6_INT, G6_T1, 1,
				     SY_SVC_F_CLUSTERIP);
	/* fd00:0:0:50::/64 may reach FE6_LB. */
	memset(&rk, 0, sizeof(rk));
	rk.prefixlen = 32 + 64;
	rk.frontend_id = FE6_LB;
	memcpy(rk.addr, net.b, 16);
	if (!err && bpf_map_update_elem(fd_rng6, &rk, &one, BPF_ANY))
		err = -errno;
	return err;
}

/* ---- running frames ------------------------------------------------------ */

/* Run in through prog (tc programs through run(), sy_xdp with ifindex). */
static int run6(int prog, const uint8_t *in, size_t len, uint8_t *out,
		size_t *olen, uint32_t *ret, uint32_t ifindex)
{
	if (prog == fd_xdp6)
		return run_xdp_prog(prog, in, len, out, olen, ret, ifindex);
	{
		int old = use_prog(prog), err;

		err = run(in, len, out, olen, ret);
		use_prog(old);
		return err;
	}
}

/* d through prog: verdict want and exactly the frame exp (whose L4
 * checksum is also verified over the bytes received unless it is the
 * input, untouched). */
static bool expect6_frame(const char *name, int prog, const uint8_t *in,
			  size_t len, uint32_t ifindex, uint32_t want,
			  const uint8_t *exp, size_t elen)
{
	uint8_t out[BUF];
	size_t olen;
	uint32_t ret;
	const char *diff;
	char why[160];
	int err;

	err = run6(prog, in, len, out, &olen, &ret, ifindex);
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	if (ret != want)
		return check(false, name, "returned %d, expected %d", (int)ret,
			     (int)want);
	if (exp != in && !csums_valid6(out, olen, why, sizeof(why)))
		return check(false, name, "%s", why);
	diff = diff_bytes(out, olen, exp, elen);
	if (diff)
		return check(false, name, "%s", diff);
	return check(true, name, "%s", "");
}

/* d translated to w by a tc program (TC_ACT_OK). */
static bool expect6_xlate(const char *name, int prog, const struct pktdef6 *d,
			  const struct pktdef6 *w)
{
	uint8_t in[BUF], exp[BUF];
	size_t len = build6(in, d), elen = build6(exp, w);

	return expect6_frame(name, prog, in, len, 0, TC_ACT_OK, exp, elen);
}

static bool expect6_dnat(const char *name, int prog, const struct pktdef6 *d,
			 struct ip6 a, uint16_t port)
{
	struct pktdef6 w = *d;

	w.daddr = a;
	w.dport = port;
	return expect6_xlate(name, prog, d, &w);
}

/* Raw frame untouched with verdict want. */
static bool expect6_raw_untouched(const char *name, int prog,
				  const uint8_t *in, size_t len, uint32_t want)
{
	return expect6_frame(name, prog, in, len, 0, want, in, len);
}

static bool ct6_get(struct ip6 s, struct ip6 d, uint16_t sp, uint16_t dp,
		    uint8_t proto, uint8_t dir, struct sy_ct_value6 *v)
{
	struct sy_ct_key6 k;

	memset(&k, 0, sizeof(k));
	memcpy(k.saddr, s.b, 16);
	memcpy(k.daddr, d.b, 16);
	k.sport = htons(sp);
	k.dport = htons(dp);
	k.proto = proto;
	k.dir = dir;
	return bpf_map_lookup_elem(fd_ct6, &k, v) == 0;
}

/* ---- ClusterIP ----------------------------------------------------------- */

static void test6_clusterip_tcp(void)
{
	uint32_t be = tab6_tcp[expected_slot6(CL6, VIP6, 40000, 80,
					      IPPROTO_TCP, 7)];
	struct pktdef6 syn = tcp6(CL6, VIP6, 40000, 80, TH_SYN), rep, want;
	struct sy_ct_value6 v;
	bool ok;

	expect6_dnat("ipv6: TCP SYN to a ClusterIP is DNATed to the Maglev backend of the IPv6 flow hash (exact bytes, L4 checksum from scratch)",
		     fd_tc_pod, &syn, be6(be), be6_port(be));
	ok = ct6_get(CL6, VIP6, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == FE6_TCP &&
		      v.tcp_flags == TH_SYN && v.flags == 0 && v.nat_port == 0,
	      "ipv6: forward entry in sy_conntrack6 {client, VIP, 40000, 80, TCP, FORWARD}",
	      "found=%d backend=%u rev_nat=%u tcp_flags=0x%x flags=0x%x", ok,
	      v.backend_id, v.rev_nat_id, v.tcp_flags, v.flags);
	ok = ct6_get(be6(be), CL6, be6_port(be), 40000, IPPROTO_TCP,
		     SY_CT_REPLY, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == FE6_TCP,
	      "ipv6: reply entry in sy_conntrack6 {backend, client, bport, 40000, TCP, REPLY}",
	      "found=%d backend=%u rev_nat=%u", ok, v.backend_id,
	      v.rev_nat_id);

	rep = tcp6(be6(be), CL6, be6_port(be), 40000, TH_SYN | TH_ACK);
	want = rep;
	want.saddr = VIP6;
	want.sport = 80;
	expect6_xlate("ipv6: TCP SYN-ACK from the backend is reverse-NATed to VIP:80",
		      fd_tc_pod, &rep, &want);
	ok = ct6_get(CL6, VIP6, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && (v.flags & SY_CT_F_SEEN_REPLY),
	      "ipv6: forward entry marked SEEN_REPLY by the reply (pairing shared with IPv4)",
	      "found=%d flags=0x%x", ok, v.flags);

	syn.tcp_flags = TH_ACK;
	syn.payload = 13;
	expect6_dnat("ipv6: TCP ACK with data goes to the same backend",
		     fd_tc_pod, &syn, be6(be), be6_port(be));
	ok = ct6_get(CL6, VIP6, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && (v.flags & SY_CT_F_ESTABLISHED),
	      "ipv6: the handshake ACK marks the flow ESTABLISHED",
	      "found=%d flags=0x%x", ok, v.flags);
	/* The reply entry lost (LRU, restart): the next packet that checks
	 * the pair (a FIN always does) recreates it in sy_conntrack6. */
	{
		struct sy_ct_key6 k;
		uint64_t rr = counter(SY_CNT_CT_REPLY_RESTORED);

		memset(&k, 0, sizeof(k));
		memcpy(k.saddr, be6(be).b, 16);
		memcpy(k.daddr, CL6.b, 16);
		k.sport = htons(be6_port(be));
		k.dport = htons(40000);
		k.proto = IPPROTO_TCP;
		k.dir = SY_CT_REPLY;
		bpf_map_delete_elem(fd_ct6, &k);
		syn.tcp_flags = TH_FIN | TH_ACK;
		expect6_dnat("ipv6: TCP FIN goes to the same backend", fd_tc_pod,
			     &syn, be6(be), be6_port(be));
		ok = ct6_get(be6(be), CL6, be6_port(be), 40000, IPPROTO_TCP,
			     SY_CT_REPLY, &v);
		check(ok && v.backend_id == be && v.rev_nat_id == FE6_TCP &&
			      (v.flags & SY_CT_F_FIN_FORWARD) &&
			      (v.flags & SY_CT_F_ESTABLISHED) && v.nat_port == 0 &&
			      counter(SY_CNT_CT_REPLY_RESTORED) == rr + 1,
		      "ipv6: a lost reply entry is recreated by the FIN (flow flags, no NAT), SY_CNT_CT_REPLY_RESTORED +1",
		      "found=%d backend=%u flags=0x%x restored +%llu", ok,
		      v.backend_id, v.flags,
		      (unsigned long long)(counter(SY_CNT_CT_REPLY_RESTORED) - rr));
	}
	ok = ct6_get(CL6, VIP6, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && (v.flags & SY_CT_F_FIN_FORWARD) &&
		      !(v.flags & SY_CT_F_CLOSING),
	      "ipv6: FIN is a half-close (FIN_FORWARD, not CLOSING)",
	      "found=%d flags=0x%x", ok, v.flags);
}

static void test6_slots(void)
{
	char detail[256] = "";
	int bad = 0;

	for (int i = 0; i < 200 && !bad; i++) {
		struct ip6 s = ip6a(1 + i % 5, 0x10000 * (i % 7) + i * 37 + 1);
		uint16_t sp = 1024 + i * 211;
		struct pktdef6 d = tcp6(s, VIP6, sp, 80, TH_SYN);
		uint32_t want = tab6_tcp[expected_slot6(s, VIP6, sp, 80,
							IPPROTO_TCP, 7)];
		uint8_t in[BUF], out[BUF];
		size_t len = build6(in, &d), olen;
		uint32_t ret;
		struct ip6 got;

		if (run6(fd_tc_pod, in, len, out, &olen, &ret, 0) ||
		    ret != TC_ACT_OK) {
			bad = 1;
			snprintf(detail, sizeof(detail), "%s:%u not DNATed",
				 ip6str(s), sp);
			break;
		}
		memcpy(got.b, out + 14 + 24, 16);
		if (!ip6eq(got, be6(want)) ||
		    get16(out + 14 + 40 + 2) != be6_port(want)) {
			bad = 1;
			snprintf(detail, sizeof(detail),
				 "%s:%u -> %s, expected backend %u", ip6str(s),
				 sp, ip6str(got), want);
		}
	}
	check(!bad, "ipv6: slot = jhash_3words(fold(saddr), fold(daddr), sport << 16 | dport, seed + proto) % 7 for 200 tuples (fold: XOR of the four words)",
	      "%s", detail);
}

static void test6_clusterip_udp(void)
{
	uint32_t be = tab6_udp[expected_slot6(CL6, VIP6, 5353, 53,
					      IPPROTO_UDP, 7)];
	struct pktdef6 d = udp6(CL6, VIP6, 5353, 53), rep, want;
	uint8_t in[BUF];
	uint64_t m0 = counter(SY_CNT_MALFORMED6);
	uint32_t s;

	expect6_dnat("ipv6: UDP to a ClusterIP is DNATed", fd_tc_pod, &d,
		     be6(be), be6_port(be));
	rep = udp6(be6(be), CL6, be6_port(be), 5353);
	want = rep;
	want.saddr = VIP6;
	want.sport = 53;
	expect6_xlate("ipv6: UDP reply is reverse-NATed to VIP:53", fd_tc_pod,
		      &rep, &want);

	/* A payload word that makes the translated datagram's checksum come
	 * out 0: it must leave as 0xffff (0 means none, forbidden in IPv6). */
	d = udp6(CL6, VIP6, 5354, 53);
	be = tab6_udp[expected_slot6(CL6, VIP6, 5354, 53, IPPROTO_UDP, 7)];
	want = d;
	want.daddr = be6(be);
	want.dport = be6_port(be);
	want.pw_set = true;
	want.pw = 0;
	{
		uint8_t e[BUF];
		size_t off = 14 + 40;

		build6(e, &want);
		put16(e + off + 6, 0);
		s = sum16(e + off, 8 + want.payload,
			  pseudo6(e + 14, 8 + want.payload, IPPROTO_UDP));
		want.pw = (uint16_t)~fold(s);
		build6(e, &want);
		check(get16(e + off + 6) == 0xffff,
		      "ipv6: (fixture) a UDP datagram whose checksum computes to 0 is built with 0xffff",
		      "checksum 0x%04x", get16(e + off + 6));
	}
	d.pw_set = true;
	d.pw = want.pw;
	expect6_xlate("ipv6: UDP DNAT whose new checksum computes to 0 sends 0xffff",
		      fd_tc_pod, &d, &want);

	d = udp6(CL6, VIP6, 5355, 53);
	d.udp_zero_csum = true;
	expect6_raw_untouched("ipv6: UDP with checksum 0 (forbidden over IPv6) to a ClusterIP passes untouched",
			      fd_tc_pod, in, build6(in, &d), TCX_NEXT);
	check(counter(SY_CNT_MALFORMED6) == m0 + 1,
	      "ipv6: ... counted in SY_CNT_MALFORMED6", "+%llu",
	      (unsigned long long)(counter(SY_CNT_MALFORMED6) - m0));
}

static void test6_noep(void)
{
	struct pktdef6 d = tcp6(CL6, VIP6, 40100, 81, TH_SYN);
	uint64_t n0 = counter(SY_CNT_REJECT_TCP);
	uint8_t in[BUF], out[BUF];
	size_t olen;
	uint32_t ret;
	char why[160] = "";

	/* The answer's every byte: icmp6_test.c (reject6 through sy_tc_ingress). */
	run6(fd_tc_pod, in, build6(in, &d), out, &olen, &ret, 0);
	check(ret == TC_ACT_REDIRECT && olen == 14 + 40 + 20 &&
		      out[14 + 6] == IPPROTO_TCP &&
		      out[14 + 40 + 13] == (TH_RST | TH_ACK) &&
		      csums_valid6(out, olen, why, sizeof(why)) &&
		      counter(SY_CNT_REJECT_TCP) == n0 + 1,
	      "ipv6: frontend without endpoints: REJECT answers with a TCP reset (sy_reject6.h)",
	      "ret %d, len %zu, %s, counter +%llu", (int)ret, olen, why,
	      (unsigned long long)(counter(SY_CNT_REJECT_TCP) - n0));
}

/* ---- affinity, terminating backends, random, hairpin, iTP drop ----------- */

static void test6_affinity_terminating(void)
{
	struct ip6 c = ip6a(1, 0x77);
	uint32_t be = tab6_tcp[expected_slot6(c, AFF6, 0, 443, IPPROTO_TCP, 7)];
	struct sy_affinity_key6 ak;
	struct sy_affinity_value av;
	struct sy_backend6 b;
	struct pktdef6 est;
	uint32_t t2[7], other = 0;
	char detail[200] = "";
	bool same = true, ok;

	for (int i = 0; i < 20 && same; i++) {
		struct pktdef6 d = tcp6(c, AFF6, 41000 + i * 17, 443, TH_SYN);
		struct pktdef6 w = d;
		uint8_t in[BUF], out[BUF], exp[BUF];
		size_t len = build6(in, &d), olen, elen;
		uint32_t ret;

		w.daddr = be6(be);
		w.dport = be6_port(be);
		elen = build6(exp, &w);
		if (run6(fd_tc_pod, in, len, out, &olen, &ret, 0) ||
		    ret != TC_ACT_OK || diff_bytes(out, olen, exp, elen)) {
			same = false;
			snprintf(detail, sizeof(detail),
				 "sport %u not DNATed to backend %u (ret %d)",
				 41000 + i * 17, be, (int)ret);
		}
	}
	check(same, "ipv6: ClientIP affinity: 20 connections of one client go to the slot of the hash with sport 0",
	      "%s", detail);
	memset(&ak, 0, sizeof(ak));
	memcpy(ak.client, c.b, 16);
	ak.group = G6_AFF;
	ok = bpf_map_lookup_elem(fd_aff6, &ak, &av) == 0;
	check(ok && av.backend_id == be,
	      "ipv6: affinity entry in sy_affinity6 {client, group} holds the backend",
	      "found=%d backend=%u", ok, av.backend_id);

	/* The backend terminates: the control plane takes it out of the
	 * table and marks it. Its flow keeps it; new ones (even sticky) go
	 * to the table's backend. */
	for (int i = 0; i < 7; i++) {
		t2[i] = tab6_tcp[i] == be ? tab6_tcp[(i + 1) % 7] : tab6_tcp[i];
		if (i == (int)expected_slot6(c, AFF6, 0, 443, IPPROTO_TCP, 7))
			other = t2[i];
	}
	set_table(G6_AFF, 7, t2);
	memset(&b, 0, sizeof(b));
	bpf_map_lookup_elem(fd_be6, &be, &b);
	b.state = SY_BE_TERMINATING;
	bpf_map_update_elem(fd_be6, &be, &b, BPF_ANY);
	est = tcp6(c, AFF6, 41000, 443, TH_ACK);
	expect6_dnat("ipv6: terminating backend keeps its established flow",
		     fd_tc_pod, &est, be6(be), be6_port(be));
	est = tcp6(c, AFF6, 42000, 443, TH_SYN);
	expect6_dnat("ipv6: a new flow of the sticky client skips the terminating backend (the table's backend instead)",
		     fd_tc_pod, &est, be6(other), be6_port(other));
	b.state = SY_BE_ACTIVE;
	bpf_map_update_elem(fd_be6, &be, &b, BPF_ANY);
	set_table(G6_AFF, 7, tab6_tcp);
}

static void test6_random_hairpin_drop(void)
{
	uint64_t nb = counter(SY_CNT_DROP_NO_BACKEND);
	bool seen[7] = { false };
	int distinct = 0, bad = 0;
	struct pktdef6 d, w;
	uint8_t in[BUF], out[BUF];
	size_t olen;
	uint32_t ret;

	for (int i = 0; i < 50; i++) {
		struct ip6 got;

		d = tcp6(CL6, VIP6, 43000 + i, 83, TH_SYN);
		if (run6(fd_tc_pod, in, build6(in, &d), out, &olen, &ret, 0) ||
		    ret != TC_ACT_OK) {
			bad++;
			continue;
		}
		memcpy(got.b, out + 14 + 24, 16);
		for (int k = 0; k < 7; k++)
			if (ip6eq(got, be6(tab6_tcp[k])) &&
			    get16(out + 14 + 40 + 2) == be6_port(tab6_tcp[k]) &&
			    !seen[k]) {
				seen[k] = true;
				distinct++;
			}
	}
	check(!bad && distinct >= 2,
	      "ipv6: random selection: 50 SYNs all DNATed to table backends, spread over several",
	      "%d not DNATed, %d distinct backends", bad, distinct);

	d = tcp6(be6(2105), HP6, 40900, 80, TH_SYN);
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2105);
	w.dport = be6_port(2105);
	expect6_xlate("ipv6: hairpin (a pod reaching itself through its Service) is SNATed to the node's IPv6 address",
		      fd_tc_pod, &d, &w);
	d = tcp6(be6(2105), NODE6, be6_port(2105), 40900, TH_SYN | TH_ACK);
	w = d;
	w.saddr = HP6;
	w.sport = 80;
	w.daddr = be6(2105);
	w.dport = 40900;
	expect6_xlate("ipv6: hairpin reply: source -> ClusterIP:80, destination -> the pod",
		      fd_tc_pod, &d, &w);

	d = tcp6(CL6, VIP6, 43100, 82, TH_SYN);
	run6(fd_tc_pod, in, build6(in, &d), out, &olen, &ret, 0);
	check(ret == TC_ACT_SHOT && counter(SY_CNT_DROP_NO_BACKEND) == nb + 1,
	      "ipv6: no endpoints with DROP_NO_EP (iTP=Local): dropped, SY_CNT_DROP_NO_BACKEND +1",
	      "ret %d, counter +%llu", (int)ret,
	      (unsigned long long)(counter(SY_CNT_DROP_NO_BACKEND) - nb));
}

/* ---- extension headers and malformed frames ------------------------------ */

static void test6_ext_headers(void)
{
	struct pktdef6 d = tcp6(CL6, VIP6, 40200, 80, TH_SYN), rep, want;
	uint32_t be = tab6_tcp[expected_slot6(CL6, VIP6, 40200, 80,
					      IPPROTO_TCP, 7)];
	uint64_t n0 = counter(SY_CNT_IP6_NOT_HANDLED);
	uint8_t in[BUF];

	d.ext[0] = X6_HOP;
	d.ext[1] = X6_DEST;
	d.n_ext = 2;
	expect6_dnat("ipv6: TCP SYN with hop-by-hop (8 B) + destination options (16 B) headers is DNATed, headers kept",
		     fd_tc_pod, &d, be6(be), be6_port(be));
	rep = tcp6(be6(be), CL6, be6_port(be), 40200, TH_SYN | TH_ACK);
	rep.ext[0] = X6_DEST;
	rep.n_ext = 1;
	want = rep;
	want.saddr = VIP6;
	want.sport = 80;
	expect6_xlate("ipv6: reply with a destination options header is reverse-NATed",
		      fd_tc_pod, &rep, &want);

	d = udp6(CL6, VIP6, 40201, 53);
	be = tab6_udp[expected_slot6(CL6, VIP6, 40201, 53, IPPROTO_UDP, 7)];
	d.ext[0] = X6_HOP;
	d.ext[1] = X6_RT; /* segments left 0: the destination is final */
	d.ext[2] = X6_DEST;
	d.n_ext = 3;
	expect6_dnat("ipv6: UDP with hop-by-hop + routing (segments left 0) + destination options is DNATed",
		     fd_tc_pod, &d, be6(be), be6_port(be));

	/* 6 headers: the most that is walked. */
	d = tcp6(CL6, VIP6, 40202, 80, TH_SYN);
	be = tab6_tcp[expected_slot6(CL6, VIP6, 40202, 80, IPPROTO_TCP, 7)];
	d.ext[0] = X6_HOP;
	for (int i = 1; i < 6; i++)
		d.ext[i] = X6_DEST;
	d.n_ext = 6;
	expect6_dnat("ipv6: 6 extension headers (the most walked) are DNATed",
		     fd_tc_pod, &d, be6(be), be6_port(be));

	d.n_ext = 7;
	d.ext[6] = X6_DEST;
	expect6_raw_untouched("ipv6: 7 extension headers (too many) to a ClusterIP pass untouched",
			      fd_tc_pod, in, build6(in, &d), TCX_NEXT);
	d = tcp6(CL6, VIP6, 40203, 80, TH_SYN);
	d.ext[0] = X6_RT;
	d.rt_left = 1;
	d.n_ext = 1;
	expect6_raw_untouched("ipv6: routing header with segments left 1 (destination not final) passes untouched",
			      fd_tc_pod, in, build6(in, &d), TCX_NEXT);
	d.ext[0] = X6_AH;
	expect6_raw_untouched("ipv6: authentication header (not walked) passes untouched",
			      fd_tc_pod, in, build6(in, &d), TCX_NEXT);
	d.ext[0] = X6_FRAG;
	d.frag_off = 1; /* first fragment: offset 0, M (sy_frag6.h) */
	be = tab6_tcp[expected_slot6(CL6, VIP6, 40203, 80, IPPROTO_TCP, 7)];
	expect6_dnat("ipv6: first fragment to a ClusterIP is DNATed (its ports recorded in sy_frag6)",
		     fd_tc_pod, &d, be6(be), be6_port(be));
	check(counter(SY_CNT_IP6_NOT_HANDLED) == n0 + 3,
	      "ipv6: the 3 untouched frames above counted in SY_CNT_IP6_NOT_HANDLED",
	      "+%llu",
	      (unsigned long long)(counter(SY_CNT_IP6_NOT_HANDLED) - n0));

	d.frag_off = 0; /* atomic fragment (RFC 6946): a whole packet */
	be = tab6_tcp[expected_slot6(CL6, VIP6, 40203, 80, IPPROTO_TCP, 7)];
	expect6_dnat("ipv6: atomic fragment (offset 0, M clear) is a whole packet: DNATed",
		     fd_tc_pod, &d, be6(be), be6_port(be));
}

static void test6_malformed(void)
{
	struct pktdef6 d = tcp6(CL6, VIP6, 40300, 80, TH_SYN);
	uint64_t m0 = counter(SY_CNT_MALFORMED6);
	uint8_t b[BUF];
	size_t n, cut;
	int bad = 0, ran = 0, refused = 0, expect_cnt = 0;
	char why[200] = "";

	/* Truncated: every length from the Ethernet header to the end of the
	 * TCP header (hop-by-hop in between). */
	d.ext[0] = X6_HOP;
	d.n_ext = 1;
	n = build6(b, &d);
	for (cut = 14; cut < n; cut++) {
		uint8_t out[BUF];
		size_t olen;
		uint32_t ret;
		const char *diff;

		if (run6(fd_tc_pod, b, cut, out, &olen, &ret, 0) == -EINVAL &&
		    cut < 14 + 40) {
			refused++; /* test_run refuses IPv6 < 40 bytes */
			continue;
		}
		ran++;
		expect_cnt++;
		diff = diff_bytes(out, olen, b, cut);
		if (ret != (uint32_t)TCX_NEXT || diff) {
			if (!bad++)
				snprintf(why, sizeof(why), "cut at %zu: ret %d %s",
					 cut, (int)ret, diff ? diff : "");
		}
	}
	check(!bad && ran > 0, "ipv6: truncated TCP SYN with hop-by-hop to a ClusterIP (every cut) passes untouched",
	      "%d bad, first %s (%d run, %d refused)", bad, why, ran, refused);
	check(counter(SY_CNT_MALFORMED6) == m0 + expect_cnt,
	      "ipv6: ... each counted in SY_CNT_MALFORMED6", "+%llu, expected +%d",
	      (unsigned long long)(counter(SY_CNT_MALFORMED6) - m0), expect_cnt);

	d = tcp6(CL6, VIP6, 40301, 80, TH_SYN);
	n = build6(b, &d);
	put16(b + 14 + 4, get16(b + 14 + 4) + 1);
	expect6_raw_untouched("ipv6: payload length 1 beyond the frame passes untouched",
			      fd_tc_pod, b, n, TCX_NEXT);
	n = build6(b, &d);
	put16(b + 14 + 4, 0);
	expect6_raw_untouched("ipv6: payload length 0 (jumbogram) passes untouched",
			      fd_tc_pod, b, n, TCX_NEXT);
	n = build6(b, &d);
	put16(b + 14 + 4, 10); /* ends inside the TCP header */
	expect6_raw_untouched("ipv6: payload length ending inside the TCP header passes untouched",
			      fd_tc_pod, b, n, TCX_NEXT);
	n = build6(b, &d);
	b[14] = 0x45;
	expect6_raw_untouched("ipv6: ethertype IPv6 with IP version 4 passes untouched",
			      fd_tc_pod, b, n, TCX_NEXT);
	check(counter(SY_CNT_MALFORMED6) == m0 + expect_cnt + 4,
	      "ipv6: the 4 frames above counted in SY_CNT_MALFORMED6", "+%llu",
	      (unsigned long long)(counter(SY_CNT_MALFORMED6) - m0 - expect_cnt));

	/* Trailing bytes after the payload (Ethernet padding) are no error. */
	d = tcp6(CL6, VIP6, 40302, 80, TH_SYN);
	{
		uint8_t e[BUF];
		uint32_t be = tab6_tcp[expected_slot6(CL6, VIP6, 40302, 80,
						      IPPROTO_TCP, 7)];
		struct pktdef6 w = d;
		size_t el;

		n = build6(b, &d);
		memset(b + n, 0, 6);
		w.daddr = be6(be);
		w.dport = be6_port(be);
		el = build6(e, &w);
		memset(e + el, 0, 6);
		expect6_frame("ipv6: frame with 6 bytes of padding after the payload is DNATed, padding kept",
			      fd_tc_pod, b, n + 6, 0, TC_ACT_OK, e, el + 6);
	}
}

/* ---- checksum offload states --------------------------------------------- */

static void test6_checksum_complete(void)
{
	struct pktdef6 d = tcp6(CL6, VIP6, 40400, 80, TH_SYN), rep, want;
	uint32_t be = tab6_tcp[expected_slot6(CL6, VIP6, 40400, 80,
					      IPPROTO_TCP, 7)];

	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	expect6_dnat("ipv6: CHECKSUM_COMPLETE: TCP DNAT keeps skb->csum valid",
		     fd_tc_pod, &d, be6(be), be6_port(be));
	rep = tcp6(be6(be), CL6, be6_port(be), 40400, TH_SYN | TH_ACK);
	want = rep;
	want.saddr = VIP6;
	want.sport = 80;
	expect6_xlate("ipv6: CHECKSUM_COMPLETE: TCP reverse NAT keeps skb->csum valid",
		      fd_tc_pod, &rep, &want);
	d = udp6(CL6, VIP6, 40401, 53);
	be = tab6_udp[expected_slot6(CL6, VIP6, 40401, 53, IPPROTO_UDP, 7)];
	expect6_dnat("ipv6: CHECKSUM_COMPLETE: UDP DNAT keeps skb->csum valid",
		     fd_tc_pod, &d, be6(be), be6_port(be));
	run_flags = 0;
}

/* ---- NodePort, eTP=Local, source ranges (tc external) -------------------- */

static void test6_nodeport_tc(void)
{
	struct pktdef6 d = tcp6(EXT6, NODE6, 40500, 30080, TH_SYN), r, w;
	struct sy_ct_value6 v;
	uint64_t sn = counter(SY_CNT_SNAT);
	bool ok;

	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	expect6_xlate("ipv6: tc external: NodePort TCP to a remote backend: DNAT + SNAT to sy_config6.node_addr:40500 (client port in range)",
		      fd_tc_ext, &d, &w);
	ok = ct6_get(EXT6, NODE6, 40500, 30080, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && (v.flags & SY_CT_F_SNAT) && v.backend_id == 2501 &&
		      v.rev_nat_id == FE6_NP &&
		      !memcmp(v.nat_addr, NODE6.b, 16) &&
		      v.nat_port == htons(40500),
	      "ipv6: ... forward entry with SNAT to node:40500",
	      "found=%d flags=0x%x backend=%u nat_port=%u", ok, v.flags,
	      v.backend_id, ntohs(v.nat_port));
	ok = ct6_get(be6(2501), NODE6, be6_port(2501), 40500, IPPROTO_TCP,
		     SY_CT_REPLY, &v);
	check(ok && (v.flags & SY_CT_F_SNAT) &&
		      !memcmp(v.nat_addr, EXT6.b, 16) &&
		      v.nat_port == htons(40500),
	      "ipv6: ... reply entry restores the client", "found=%d flags=0x%x",
	      ok, v.flags);
	check(counter(SY_CNT_SNAT) == sn + 1, "ipv6: ... SY_CNT_SNAT +1", "+%llu",
	      (unsigned long long)(counter(SY_CNT_SNAT) - sn));
	r = tcp6(be6(2501), NODE6, be6_port(2501), 40500, TH_SYN | TH_ACK);
	w = r;
	w.saddr = NODE6;
	w.sport = 30080;
	w.daddr = EXT6;
	w.dport = 40500;
	expect6_xlate("ipv6: tc external: reply of the SNATed flow: source -> node:30080, destination -> client",
		      fd_tc_ext, &r, &w);

	d = udp6(EXT6, NODE6, 40501, 30053);
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2502);
	w.dport = be6_port(2502);
	expect6_xlate("ipv6: tc external: NodePort UDP: DNAT + SNAT", fd_tc_ext,
		      &d, &w);
	r = udp6(be6(2502), NODE6, be6_port(2502), 40501);
	w = r;
	w.saddr = NODE6;
	w.sport = 30053;
	w.daddr = EXT6;
	w.dport = 40501;
	expect6_xlate("ipv6: tc external: UDP reply of the SNATed flow", fd_tc_ext,
		      &r, &w);

	d = tcp6(EXT6, NODE6, 40502, 30081, TH_SYN);
	expect6_dnat("ipv6: tc external: eTP=Local NodePort: DNAT to the local backend only, client address kept",
		     fd_tc_ext, &d, be6(2503), be6_port(2503));
	ok = ct6_get(EXT6, NODE6, 40502, 30081, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && !(v.flags & SY_CT_F_SNAT), "ipv6: ... no SNAT in conntrack",
	      "found=%d flags=0x%x", ok, v.flags);

	/* The pod role does not SNAT a NodePort flow to a remote backend. */
	d = tcp6(CL6, NODE6, 40503, 30080, TH_SYN);
	expect6_dnat("ipv6: tc pod role: NodePort from a pod: DNAT only (no SNAT)",
		     fd_tc_pod, &d, be6(2501), be6_port(2501));
}

/* Device roles and scopes (sy_lookup_scoped() over the 20-byte IPv6 key). */
static void test6_scopes(void)
{
	struct pktdef6 d = tcp6(CL6, EIP6, 40800, 80, TH_SYN), w;
	uint8_t in[BUF];

	expect6_dnat("ipv6: ExternalIP from a pod: the SY_SCOPE_INTERNAL table (iTP), no SNAT",
		     fd_tc_pod, &d, be6(2101), be6_port(2101));
	d = tcp6(EXT6, EIP6, 40801, 80, TH_SYN);
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	expect6_xlate("ipv6: ExternalIP from outside: the SY_SCOPE_EXTERNAL table (eTP), DNAT + SNAT",
		      fd_tc_ext, &d, &w);
	d = tcp6(CL6, VIP6_INT, 40802, 80, TH_SYN);
	expect6_dnat("ipv6: a frontend with an internal entry only: DNATed from a pod",
		     fd_tc_pod, &d, be6(2101), be6_port(2101));
	d = tcp6(EXT6, VIP6_INT, 40803, 80, TH_SYN);
	expect6_raw_untouched("ipv6: ... and untouched from outside (the external role sees no internal scope)",
			      fd_tc_ext, in, build6(in, &d), TCX_NEXT);
}

/* The monitor (sy_events6.h): IPv6 drops emit an event like IPv4's. */
static int ev6_drops, ev6_other;
static uint32_t ev6_hook;

static int on_event6(void *ctx, void *data, size_t size)
{
	const struct sy_event *e = data;

	(void)ctx;
	if (size == sizeof(*e) && e->type == SY_EV_DROP && e->family == 6 &&
	    e->reason == SY_CNT_DROP_SOURCE_RANGE && e->frontend_id == FE6_LB &&
	    e->dport == htons(443)) {
		ev6_drops++;
		ev6_hook = e->hook;
	} else {
		ev6_other++;
		if (getenv("SY_DEBUG_EV6"))
			fprintf(stderr, "ev6: size %zu type %u family %u reason %u fe %u dport %u hook %u\n",
				size, e->type, e->family, e->reason, e->frontend_id, ntohs(e->dport), e->hook);
	}
	return 0;
}

static void events6_drain(struct ring_buffer *rb)
{
	ev6_drops = ev6_other = 0;
	ring_buffer__consume(rb);
}

static void test6_source_ranges(void)
{
	struct pktdef6 d = tcp6(EXT6, LB6, 40600, 443, TH_SYN), w;
	uint64_t sr = counter(SY_CNT_DROP_SOURCE_RANGE);
	uint8_t in[BUF], out[BUF];
	size_t olen;
	uint32_t ret;

	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	expect6_xlate("ipv6: LoadBalancer, source inside fd00:0:0:50::/64: DNAT + SNAT",
		      fd_tc_ext, &d, &w);
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.sy_events),
						  on_event6, NULL, NULL);

	check(rb != NULL, "ipv6: open the sy_events ring buffer", "errno %d", errno);
	if (rb)
		events6_drain(rb);
	d = tcp6(EXT6_OUT, LB6, 40601, 443, TH_SYN);
	run6(fd_tc_ext, in, build6(in, &d), out, &olen, &ret, 0);
	check(ret == TC_ACT_SHOT && counter(SY_CNT_DROP_SOURCE_RANGE) == sr + 1,
	      "ipv6: LoadBalancer, source outside its ranges: dropped (tc), SY_CNT_DROP_SOURCE_RANGE +1",
	      "ret %d, counter +%llu", (int)ret,
	      (unsigned long long)(counter(SY_CNT_DROP_SOURCE_RANGE) - sr));
	if (rb) {
		events6_drain(rb);
		check(ev6_drops == 1 && ev6_hook == SY_HOOK_TC_INGRESS,
		      "ipv6: ... and the monitor gets one IPv6 drop event (reason, frontend, port; tc)",
		      "%d matching, %d other, hook %u", ev6_drops, ev6_other, ev6_hook);
	}
	d.sport = 40602;
	run6(fd_xdp6, in, build6(in, &d), out, &olen, &ret, 0);
	check(ret == XDP_DROP && counter(SY_CNT_DROP_SOURCE_RANGE) == sr + 2,
	      "ipv6: ... and XDP_DROP in sy_xdp", "ret %d", (int)ret);
	if (rb) {
		events6_drain(rb);
		check(ev6_drops == 1 && ev6_hook == SY_HOOK_XDP,
		      "ipv6: ... and the monitor gets one IPv6 drop event from XDP",
		      "%d matching, %d other, hook %u", ev6_drops, ev6_other, ev6_hook);
		ring_buffer__free(rb);
	}
}

/* ---- XDP ------------------------------------------------------------------ */

static const uint8_t MAC_V0[6] = { 0x02, 0, 0, 0, 0x20, 0x00 };
static const uint8_t MAC_V1[6] = { 0x02, 0, 0, 0, 0x20, 0x01 };
static const uint8_t MAC_BE6[6] = { 0x02, 0, 0, 0, 0xbe, 0x06 };
static const uint8_t MAC_CL6[6] = { 0x02, 0, 0, 0, 0xc1, 0x06 };
static uint32_t v0;

static int sh6(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

/* sy-v0: clients (fd00:0:0:50::/64); sy-v1: backends (fd00:0:0:200::/64;
 * 2501..2503 are static neighbours, 2504 is not). */
static bool fib6_setup(void)
{
	int err = 0;

	err = err ?: sh6("ip link add sy-v0 address 02:00:00:00:20:00 type veth "
			 "peer name sy-v1 address 02:00:00:00:20:01");
	err = err ?: sh6("ip link set sy-v0 up && ip link set sy-v1 up");
	err = err ?: sh6("ip -6 addr add fd00:0:0:50::1/64 dev sy-v0 nodad && "
			 "ip -6 addr add fd00:0:0:200::1/64 dev sy-v1 nodad");
	err = err ?: sh6("ip -6 neigh replace fd00:0:0:200::9c5 lladdr 02:00:00:00:be:06 dev sy-v1 nud permanent && "
			 "ip -6 neigh replace fd00:0:0:200::9c6 lladdr 02:00:00:00:be:06 dev sy-v1 nud permanent && "
			 "ip -6 neigh replace fd00:0:0:200::9c7 lladdr 02:00:00:00:be:06 dev sy-v1 nud permanent && "
			 "ip -6 neigh replace fd00:0:0:50::9 lladdr 02:00:00:00:c1:06 dev sy-v0 nud permanent");
	err = err ?: sh6("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	v0 = if_nametoindex("sy-v0");
	return check(!err && v0,
		     "ipv6: xdp: private netns: veth sy-v0/sy-v1, IPv6 routes, static neighbours, forwarding on",
		     "setup failed (err %d)", err);
}

/* d arriving on sy-v0 translated to w and forwarded: MACs of the egress
 * side, hop limit 63. */
static bool xdp6_fwd(const char *name, const struct pktdef6 *d,
		     struct pktdef6 w, uint32_t want)
{
	uint8_t in[BUF], exp[BUF];
	size_t len = build6(in, d), elen;

	w.hop = 63;
	elen = build6(exp, &w);
	if (want == XDP_TX) {
		memcpy(exp, MAC_CL6, 6);
		memcpy(exp + 6, MAC_V0, 6);
	} else {
		memcpy(exp, MAC_BE6, 6);
		memcpy(exp + 6, MAC_V1, 6);
	}
	return expect6_frame(name, fd_xdp6, in, len, v0, want, exp, elen);
}

/* The route-result cache for an IPv6 NodePort flow (fib_cache_test.c). */
static void test6_xdp_fib_cache(void)
{
	struct pktdef6 d = tcp6(EXT6, NODE6, 40750, 30080, TH_SYN), w;
	uint8_t in1[BUF], exp1[BUF], in2[BUF], exp2[BUF], in3[BUF], exp3[BUF];
	struct fib_cache_case c = {
		.family = "IPv6", .af = 10, .fd_xdp = fd_xdp6, .ifindex = v0,
		.egress = if_nametoindex("sy-v1"), .first = in1,
		.first_exp = exp1, .next = in2, .next_exp = exp2,
		.other = in3, .other_exp = exp3,
	};

	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	w.hop = 63;
	c.first_len = build6(in1, &d);
	c.first_exp_len = build6(exp1, &w);
	d.tcp_flags = w.tcp_flags = TH_ACK | TH_PSH;
	d.payload = w.payload = 13;
	c.next_len = build6(in2, &d);
	c.next_exp_len = build6(exp2, &w);
	d.tcp_flags = w.tcp_flags = TH_SYN;
	d.payload = w.payload = 0;
	d.sport = w.sport = 40751;
	c.other_len = build6(in3, &d);
	c.other_exp_len = build6(exp3, &w);
	/* Another flow label (Linux sets one per connection; build6 gives
	 * 0x12345), kept; the traffic class (0x0a) stays. */
	for (int i = 0; i < 2; i++) {
		uint8_t *f = (i ? exp3 : in3) + 14;

		f[1] = (uint8_t)((f[1] & 0xf0) | 0x06);
		f[2] = 0x78;
		f[3] = 0x9a;
	}
	for (int i = 0; i < 3; i++) {
		uint8_t *e = i == 2 ? exp3 : i ? exp2 : exp1;

		memcpy(e, MAC_BE6, 6);
		memcpy(e + 6, MAC_V1, 6);
	}
	test_fib_cache(&c);
}

static void test6_xdp(void)
{
	uint64_t dn = counter(SY_CNT_XDP_DNAT), rn = counter(SY_CNT_XDP_REVNAT);
	struct pktdef6 d, r, w;
	uint8_t in[BUF];

	/* No route yet: a NodePort SYN passes untouched, tc external then
	 * translates it from the entries XDP wrote. */
	d = tcp6(EXT6, NODE6, 40700, 30080, TH_SYN);
	expect6_frame("ipv6: xdp: NodePort SYN without a route passes untouched (XDP_PASS)",
		      fd_xdp6, in, build6(in, &d), 0, XDP_PASS, in,
		      build6(in, &d));
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	expect6_xlate("ipv6: ... tc external translates it from XDP's conntrack entries",
		      fd_tc_ext, &d, &w);

	d = tcp6(CL6, VIP6, 40701, 80, TH_SYN);
	expect6_frame("ipv6: xdp: ClusterIP traffic is left to tc (XDP_PASS, untouched)",
		      fd_xdp6, in, build6(in, &d), 0, XDP_PASS, in,
		      build6(in, &d));

	if (!fib6_setup())
		goto out;
	d = tcp6(EXT6, NODE6, 40702, 30080, TH_SYN);
	d.ext[0] = X6_HOP;
	d.n_ext = 1;
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	xdp6_fwd("ipv6: xdp: NodePort TCP SYN (with hop-by-hop), remote backend: DNAT + SNAT, XDP_REDIRECT to sy-v1, MACs from the FIB, hop limit 63 (exact bytes)",
		 &d, w, XDP_REDIRECT);
	r = tcp6(be6(2501), NODE6, be6_port(2501), 40702, TH_SYN | TH_ACK);
	w = r;
	w.saddr = NODE6;
	w.sport = 30080;
	w.daddr = EXT6;
	w.dport = 40702;
	xdp6_fwd("ipv6: xdp: reply of the SNATed flow (arriving on sy-v0): source -> node:30080, destination -> client, XDP_TX",
		 &r, w, XDP_TX);
	d = udp6(EXT6, NODE6, 40703, 30053);
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2502);
	w.dport = be6_port(2502);
	xdp6_fwd("ipv6: xdp: NodePort UDP: DNAT + SNAT (checksum by hand)", &d, w,
		 XDP_REDIRECT);
	d = tcp6(EXT6, NODE6, 40704, 30081, TH_SYN);
	w = d;
	w.daddr = be6(2503);
	w.dport = be6_port(2503);
	xdp6_fwd("ipv6: xdp: eTP=Local NodePort: DNAT only (client address kept), XDP_REDIRECT",
		 &d, w, XDP_REDIRECT);
	test_events6_xdp(fd_xdp6, v0); /* the monitor's XDP traces (4 NodePort DNATs) */
	d = tcp6(EXT6, LB6, 40706, 8443, TH_SYN);
	expect6_frame("ipv6: xdp: a backend without a resolved neighbour: XDP_PASS untouched (tc forwards it with bpf_redirect_neigh)",
		      fd_xdp6, in, build6(in, &d), v0, XDP_PASS, in,
		      build6(in, &d));
	check(counter(SY_CNT_XDP_DNAT) == dn + 3 + 4 &&
		      counter(SY_CNT_XDP_REVNAT) == rn + 1,
	      "ipv6: xdp: counters XDP_DNAT +3 (+4 of the monitor's test), XDP_REVNAT +1",
	      "dnat +%llu revnat +%llu",
	      (unsigned long long)(counter(SY_CNT_XDP_DNAT) - dn),
	      (unsigned long long)(counter(SY_CNT_XDP_REVNAT) - rn));
	/* tc external forwards what it translated to a node source itself. */
	memcpy(eth_dst, MAC_V0, 6); /* PACKET_HOST on sy-v0 */
	d = tcp6(EXT6, NODE6, 40707, 30080, TH_SYN);
	w = d;
	w.saddr = NODE6;
	w.daddr = be6(2501);
	w.dport = be6_port(2501);
	w.hop = 63;
	{
		uint8_t exp[BUF];
		size_t elen = build6(exp, &w);

		memcpy(exp, MAC_BE6, 6);
		memcpy(exp + 6, MAC_V1, 6);
		run_ifindex = v0;
		expect6_frame("ipv6: tc external: NodePort SYN with a route: DNAT + SNAT, FIB lookup, hop limit 63, MACs, TC_ACT_REDIRECT to sy-v1",
			      fd_tc_ext, in, build6(in, &d), 0, TC_ACT_REDIRECT,
			      exp, elen);
		run_ifindex = 0;
	}
	memset(eth_dst, 0, 6);
	d = tcp6(EXT6, NODE6, 40705, 30080, TH_SYN);
	d.hop = 1;
	expect6_frame("ipv6: xdp: hop limit 1: XDP_PASS untouched (the stack answers)",
		      fd_xdp6, in, build6(in, &d), v0, XDP_PASS, in,
		      build6(in, &d));
	test6_xdp_fib_cache();
out:
	sh6("ip link del sy-v0 2>/dev/null");
}

/* ---- IPv4 unchanged ------------------------------------------------------- */

static void test6_ipv4_unchanged(void)
{
	struct pktdef d = tcp(CLIENT, VIP_A, 40800, 80, TH_SYN);
	uint32_t be = tab1[expected_slot(CLIENT, VIP_A, 40800, 80, IPPROTO_TCP,
					 7)];

	/* The IPv6 state above changes nothing for IPv4 (maps apart). */
	expect_dnat("ipv6: an IPv4 SYN to the IPv4 ClusterIP is still DNATed byte for byte as before",
		    &d, be_addr(be), be_port(be));
}

void test_ipv6(void)
{
	int err;

	fd_svc6 = bpf_map__fd(skel->maps.sy_services6);
	fd_be6 = bpf_map__fd(skel->maps.sy_backends6);
	fd_rn6 = bpf_map__fd(skel->maps.sy_revnat6);
	fd_ct6 = bpf_map__fd(skel->maps.sy_conntrack6);
	fd_aff6 = bpf_map__fd(skel->maps.sy_affinity6);
	fd_cfg6 = bpf_map__fd(skel->maps.sy_config6);
	fd_rng6 = bpf_map__fd(skel->maps.sy_source_ranges6);
	fd_xdp6 = bpf_program__fd(skel->progs.sy_xdp);
	fd_tc_pod = bpf_program__fd(skel->progs.sy_tc_ingress);
	fd_tc_ext = bpf_program__fd(skel->progs.sy_tc_external);
	fd_counters = bpf_map__fd(skel->maps.sy_counters);
	err = setup6();
	if (!check(err == 0, "ipv6: fill the IPv6 maps (services6, backends6, revnat6, config6, source_ranges6; shared sy_maglev)",
		   "%s", strerror(-err)))
		return;
	test6_clusterip_tcp();
	test6_slots();
	test6_clusterip_udp();
	test6_noep();
	test6_affinity_terminating();
	test6_random_hairpin_drop();
	test6_ext_headers();
	test6_malformed();
	test6_checksum_complete();
	test6_nodeport_tc();
	test6_scopes();
	test6_source_ranges();
	test_events6(fd_tc_pod);
	test6_xdp();
	test6_ipv4_unchanged();
}
