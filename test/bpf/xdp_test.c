// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN of sy_xdp. The suite runs in a private network
 * namespace (main() unshares one), so the FIB lookups see only what is set
 * up here: first nothing (every lookup fails: translated packets are
 * XDP_PASS), then a veth pair with static neighbours for XDP_REDIRECT and
 * XDP_TX. Expected frames are built from scratch (RFC 1071 checksums), as in
 * the tc tests; the XDP program updates checksums incrementally by hand, so
 * every byte is compared.
 */
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

static int fd_xdp;

static int run_xdp(const uint8_t *in, size_t len, uint8_t *out, size_t *olen,
		   uint32_t *ret, uint32_t ifindex)
{
	return run_xdp_prog(fd_xdp, in, len, out, olen, ret, ifindex);
}

/* Run raw frame in, expect retval want and exactly exp (checksums of the
 * output verified independently as well). */
static bool xdp_expect(const char *name, const uint8_t *in, size_t len,
		       uint32_t ifindex, uint32_t want, const uint8_t *exp,
		       size_t elen)
{
	uint8_t out[BUF];
	size_t olen;
	uint32_t ret;
	const char *diff;
	char why[128];
	int err;

	err = run_xdp(in, len, out, &olen, &ret, ifindex);
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	if (ret != want)
		return check(false, name, "returned %u, expected %u", ret, want);
	if (elen >= 14 + 20 && !csums_valid(out, olen, why, sizeof(why)))
		return check(false, name, "%s", why);
	diff = diff_bytes(out, olen, exp, elen);
	if (diff)
		return check(false, name, "%s", diff);
	return check(true, name, "%s", "");
}

static bool xdp_untouched(const char *name, const struct pktdef *d,
			  uint32_t want)
{
	uint8_t in[BUF];
	size_t len = build(in, d);

	return xdp_expect(name, in, len, 0, want, in, len);
}

/* The frame d translated, forwarded: MACs from the FIB, TTL 63, the IPv4
 * checksum computed from scratch (dmac NULL: MACs as built). */
static size_t build_fwd(uint8_t *b, const struct pktdef *d,
			const uint8_t *dmac, const uint8_t *smac)
{
	size_t n = build(b, d);
	uint8_t *ip = b + 14;
	size_t ihl = (ip[0] & 0xf) * 4;

	if (dmac) {
		memcpy(b, dmac, 6);
		memcpy(b + 6, smac, 6);
	}
	ip[8] = 63;
	put16(ip + 10, 0);
	put16(ip + 10, ~fold(sum16(ip, ihl, 0)));
	return n;
}

/* ---- the private namespace's FIB ----------------------------------------
 * sy-x0: where clients and replies arrive (198.18.50.0/24, 198.18.60.0/24;
 * the clients are static neighbours); sy-x1: towards the backends
 * (10.200.0.0/16; backends 501, 502, 505 are static neighbours, 506 is not).
 */
static const uint8_t MAC_X0[6] = { 0x02, 0, 0, 0, 0x10, 0x00 };
static const uint8_t MAC_X1[6] = { 0x02, 0, 0, 0, 0x10, 0x01 };
static const uint8_t MAC_BE[6] = { 0x02, 0, 0, 0, 0xbe, 0x01 };
static const uint8_t MAC_CL[6] = { 0x02, 0, 0, 0, 0xc1, 0x01 };
static uint32_t x0, x1;

#define BE_NN     506   /* remote backend without a resolved neighbour */
#define NP_NN     30090
#define FE_NN     609

static int sh(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static int write_file(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");
	int r;

	if (!f)
		return -1;
	r = fputs(v, f) < 0 ? -1 : 0;
	return fclose(f) || r ? -1 : 0;
}

static bool fib_setup(void)
{
	uint32_t t[7] = { BE_NN, BE_NN, BE_NN, BE_NN, BE_NN, BE_NN, BE_NN };
	struct sy_backend be = { 0 };
	uint32_t id = BE_NN;
	char cmd[1024];
	int err = 0;

	err = err ?: sh("ip link add sy-x0 address 02:00:00:00:10:00 type veth "
			"peer name sy-x1 address 02:00:00:00:10:01");
	err = err ?: sh("ip link set sy-x0 up && ip link set sy-x1 up");
	err = err ?: sh("ip addr add 198.18.50.1/24 dev sy-x0 && "
			"ip addr add 198.18.60.1/24 dev sy-x0 && "
			"ip addr add 10.200.0.1/16 dev sy-x1");
	{
		const uint32_t bes[] = { be_addr(BE_R1), be_addr(BE_R2),
					 be_addr(BE_R3) };
		const uint32_t cls[] = { EXT_C1, EXT_C2, EXT_C3 };

		for (int i = 0; i < 3; i++) {
			snprintf(cmd, sizeof(cmd),
				 "ip neigh replace %s lladdr 02:00:00:00:be:01 dev sy-x1 nud permanent",
				 ipstr(bes[i]));
			err = err ?: sh(cmd);
			snprintf(cmd, sizeof(cmd),
				 "ip neigh replace %s lladdr 02:00:00:00:c1:01 dev sy-x0 nud permanent",
				 ipstr(cls[i]));
			err = err ?: sh(cmd);
		}
	}
	err = err ?: write_file("/proc/sys/net/ipv4/conf/all/forwarding", "1");
	x0 = if_nametoindex("sy-x0");
	x1 = if_nametoindex("sy-x1");

	be.addr = be_addr(BE_NN);
	be.port = htons(be_port(BE_NN));
	be.proto = IPPROTO_TCP;
	err = err ?: (bpf_map_update_elem(fd_backends, &id, &be, BPF_ANY) ? -1 : 0);
	err = err ?: set_table(67, 7, t);
	err = err ?: add_service(NODE, NP_NN, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_NN, 67, 1, SY_SVC_F_NODEPORT, 0, 7);
	return check(!err && x0 && x1,
		     "xdp: private netns: veth sy-x0/sy-x1, routes, static neighbours, forwarding on",
		     "setup failed (err %d, ifindex %u/%u)", err, x0, x1);
}

/* d arriving on sy-x0, translated to (saddr:sport -> daddr:dport) and
 * forwarded with ret; MACs of the egress side. */
static bool xdp_fwd(const char *name, const struct pktdef *d, uint32_t saddr,
		    uint16_t sport, uint32_t daddr, uint16_t dport,
		    uint32_t want)
{
	uint8_t in[BUF], exp[BUF];
	struct pktdef w = *d;
	size_t len, elen;

	w.saddr = saddr;
	w.sport = sport;
	w.daddr = daddr;
	w.dport = dport;
	len = build(in, d);
	if (want == XDP_TX)
		elen = build_fwd(exp, &w, MAC_CL, MAC_X0);
	else
		elen = build_fwd(exp, &w, MAC_BE, MAC_X1);
	return xdp_expect(name, in, len, x0, want, exp, elen);
}

static void test_xdp_forwarding(void)
{
	uint64_t dn = counter(SY_CNT_XDP_DNAT), rn = counter(SY_CNT_XDP_REVNAT);
	uint64_t sn = counter(SY_CNT_SNAT), rd = counter(SY_CNT_XDP_REDIRECT);
	uint64_t tx = counter(SY_CNT_XDP_TX), tcd = counter(SY_CNT_TC_DNAT);
	uint64_t pk0, by0, pk1, by1;
	struct pktdef d, r;

	stats(FE_NP, SY_HOOK_XDP, &pk0, &by0);
	d = tcp(EXT_C1, NODE, 50000, NP_TCP, TH_SYN);
	xdp_fwd("xdp: NodePort TCP SYN, remote backend: DNAT + SNAT (exact bytes, checksums), XDP_REDIRECT to sy-x1 with MACs from the FIB, TTL 63",
		&d, NODE, 50000, be_addr(BE_R1), be_port(BE_R1), XDP_REDIRECT);
	ct_is("xdp: ... forward CT entry with SNAT to node:50000",
	      EXT_C1, NODE, 50000, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_NP, 0xffff, SY_CT_F_SNAT, NODE, 50000);
	ct_is("xdp: ... reply CT entry restores client:50000",
	      be_addr(BE_R1), NODE, be_port(BE_R1), 50000, IPPROTO_TCP,
	      SY_CT_REPLY, BE_R1, FE_NP, 0xffff, SY_CT_F_SNAT, EXT_C1, 50000);
	r = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), 50000, TH_SYN | TH_ACK);
	xdp_fwd("xdp: reply of the SNATed flow (arriving on sy-x0): source -> node:nodePort, destination -> client, XDP_TX",
		&r, NODE, NP_TCP, EXT_C1, 50000, XDP_TX);
	d.tcp_flags = TH_ACK | TH_PSH;
	d.payload = 13;
	xdp_fwd("xdp: established packet with payload: same translation",
		&d, NODE, 50000, be_addr(BE_R1), be_port(BE_R1), XDP_REDIRECT);
	stats(FE_NP, SY_HOOK_XDP, &pk1, &by1);
	check(counter(SY_CNT_XDP_DNAT) == dn + 2 &&
		      counter(SY_CNT_XDP_REVNAT) == rn + 1 &&
		      counter(SY_CNT_SNAT) == sn + 2 &&
		      counter(SY_CNT_XDP_REDIRECT) == rd + 2 &&
		      counter(SY_CNT_XDP_TX) == tx + 1 &&
		      counter(SY_CNT_TC_DNAT) == tcd,
	      "xdp: counters XDP_DNAT +2, XDP_REVNAT +1, SNAT +2, XDP_REDIRECT +2, XDP_TX +1 (TC_DNAT +0)",
	      "dnat +%llu revnat +%llu snat +%llu redirect +%llu tx +%llu",
	      (unsigned long long)(counter(SY_CNT_XDP_DNAT) - dn),
	      (unsigned long long)(counter(SY_CNT_XDP_REVNAT) - rn),
	      (unsigned long long)(counter(SY_CNT_SNAT) - sn),
	      (unsigned long long)(counter(SY_CNT_XDP_REDIRECT) - rd),
	      (unsigned long long)(counter(SY_CNT_XDP_TX) - tx));
	check(pk1 == pk0 + 3, "xdp: sy_svc_stats {NodePort frontend, hook 1} +3 packets (2 forward, 1 reply)",
	      "%llu -> %llu", (unsigned long long)pk0,
	      (unsigned long long)pk1);

	d = udp(EXT_C1, NODE, 50001, NP_UDP);
	xdp_fwd("xdp: NodePort UDP: DNAT + SNAT", &d, NODE, 50001,
		be_addr(BE_R2), be_port(BE_R2), XDP_REDIRECT);
	d.sport = 50002;
	d.udp_zero_csum = true;
	xdp_fwd("xdp: NodePort UDP without checksum: DNAT + SNAT, checksum stays 0",
		&d, NODE, 50002, be_addr(BE_R2), be_port(BE_R2), XDP_REDIRECT);
	r = udp(be_addr(BE_R2), NODE, be_port(BE_R2), 50002);
	r.udp_zero_csum = true;
	xdp_fwd("xdp: UDP reply without checksum: reverse, checksum stays 0",
		&r, NODE, NP_UDP, EXT_C1, 50002, XDP_TX);
	d = tcp(EXT_C1, NODE, 50003, NP_TCP, TH_SYN);
	d.ihl = 6;
	xdp_fwd("xdp: IPv4 options (IHL 6): DNAT + SNAT, options kept", &d,
		NODE, 50003, be_addr(BE_R1), be_port(BE_R1), XDP_REDIRECT);
	d = tcp(EXT_C1, NODE, 50004, NP_LOCAL, TH_SYN);
	xdp_fwd("xdp: eTP=Local NodePort: DNAT only (client preserved)", &d,
		EXT_C1, 50004, be_addr(BE_R1), be_port(BE_R1), XDP_REDIRECT);
	d = tcp(EXT_C1, LB_IP, 50005, 443, TH_SYN);
	xdp_fwd("xdp: LoadBalancer, source in range: DNAT + SNAT", &d, NODE,
		50005, be_addr(BE_R1), be_port(BE_R1), XDP_REDIRECT);
	d = tcp(EXT_C1, EIP, 50006, 80, TH_SYN);
	xdp_fwd("xdp: ExternalIP: external table only (DNAT + SNAT)", &d,
		NODE, 50006, be_addr(BE_R3), be_port(BE_R3), XDP_REDIRECT);

	/* tc on the same device never translates again what XDP forwarded. */
	{
		uint8_t in[BUF], out[BUF];
		size_t len, olen;
		uint32_t ret;
		int old = use_prog(fd_tc_ext);
		char why[200];

		d = tcp(EXT_C1, NODE, 50000, NP_TCP, TH_ACK);
		len = build(in, &d);
		run_xdp(in, len, out, &olen, &ret, x0);
		check(ret == XDP_REDIRECT && raw_unchanged(out, olen, why, sizeof(why)),
		      "xdp: sy_tc_external leaves a packet sy_xdp translated untouched (forward)",
		      "ret %u: %s", ret, why);
		len = build(in, &r);
		run_xdp(in, len, out, &olen, &ret, x0);
		check(ret == XDP_TX && raw_unchanged(out, olen, why, sizeof(why)),
		      "xdp: ... and the reply", "ret %u: %s", ret, why);
		use_prog(old);
	}
}

/* The FIB cannot tell: XDP passes the packet untouched (after writing the
 * conntrack entries), and sy_tc_external translates it exactly once. */
static void test_xdp_no_route(void)
{
	uint64_t ps = counter(SY_CNT_XDP_PASS), dn = counter(SY_CNT_XDP_DNAT);
	uint64_t tcd = counter(SY_CNT_TC_DNAT);
	struct pktdef d = tcp(EXT_C2, NODE, 52000, NP_TCP, TH_SYN);
	uint8_t in[BUF];
	size_t len;
	int old;

	/* No route at all (before fib_setup()). */
	len = build(in, &d);
	xdp_expect("xdp: no FIB answer (no route in the namespace yet): XDP_PASS, packet untouched",
		   in, len, 0, XDP_PASS, in, len);
	ct_is("xdp: ... but the flow's CT entries are written (SNAT to node:52000)",
	      EXT_C2, NODE, 52000, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_NP, SY_CT_F_SNAT, SY_CT_F_SNAT, NODE, 52000);
	old = use_prog(fd_tc_ext);
	expect_xlate("xdp: ... sy_tc_external then translates it from them (once)",
		     &d, NODE, 52000, be_addr(BE_R1), be_port(BE_R1));
	check(counter(SY_CNT_XDP_PASS) == ps + 1 &&
		      counter(SY_CNT_XDP_DNAT) == dn &&
		      counter(SY_CNT_TC_DNAT) == tcd + 1,
	      "xdp: ... counted once: XDP_PASS +1, XDP_DNAT +0, TC_DNAT +1",
	      "pass +%llu xdp dnat +%llu tc dnat +%llu",
	      (unsigned long long)(counter(SY_CNT_XDP_PASS) - ps),
	      (unsigned long long)(counter(SY_CNT_XDP_DNAT) - dn),
	      (unsigned long long)(counter(SY_CNT_TC_DNAT) - tcd));
	use_prog(old);
}

static void test_xdp_no_neigh(void)
{
	struct pktdef d, w;
	uint8_t in[BUF], exp[BUF];
	size_t len, elen;
	int old = use_prog(fd_tc_ext);

	/* Neighbour not resolved: XDP passes; tc translates, decrements the
	 * TTL and hands it to bpf_redirect_neigh() (MACs filled at xmit). */
	d = tcp(EXT_C1, NODE, 52001, NP_NN, TH_SYN);
	len = build(in, &d);
	xdp_expect("xdp: backend without a resolved neighbour (BPF_FIB_LKUP_RET_NO_NEIGH): XDP_PASS untouched",
		   in, len, x0, XDP_PASS, in, len);
	w = d;
	w.saddr = NODE;
	w.daddr = be_addr(BE_NN);
	w.dport = be_port(BE_NN);
	elen = build_fwd(exp, &w, NULL, NULL);
	run_ifindex = x0;
	memcpy(eth_dst, MAC_X0, 6); /* PACKET_HOST on sy-x0 */
	len = build(in, &d);
	elen = build_fwd(exp, &w, NULL, NULL);
	expect_frame("xdp: ... sy_tc_external translates it and forwards with bpf_redirect_neigh (TC_ACT_REDIRECT, TTL 63)",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);

	/* tc alone, neighbour known: bpf_redirect with the FIB's MACs. */
	d = tcp(EXT_C3, NODE, 52002, NP_TCP, TH_SYN);
	w = d;
	w.saddr = NODE;
	w.daddr = be_addr(BE_R1);
	w.dport = be_port(BE_R1);
	len = build(in, &d);
	elen = build_fwd(exp, &w, MAC_BE, MAC_X1);
	expect_frame("tc: SNATed packet forwarded past input routing: bpf_redirect to sy-x1, MACs from the FIB, TTL 63",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);
	d = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), 52002, TH_SYN | TH_ACK);
	w = d;
	w.saddr = NODE;
	w.sport = NP_TCP;
	w.daddr = EXT_C3;
	w.dport = 52002;
	len = build(in, &d);
	elen = build_fwd(exp, &w, MAC_CL, MAC_X0);
	expect_frame("tc: its reply (source = node:nodePort) forwarded back out of sy-x0",
		     in, len, exp, elen, TC_ACT_REDIRECT, false);
	d = tcp(EXT_C1, NODE, 52003, NP_LOCAL, TH_SYN);
	w = d;
	w.daddr = be_addr(BE_R1);
	w.dport = be_port(BE_R1);
	len = build(in, &d);
	elen = build(exp, &w);
	expect_frame("tc: eTP=Local DNAT (client source) goes to the stack (TC_ACT_OK)",
		     in, len, exp, elen, TC_ACT_OK, false);
	run_ifindex = 0;
	memset(eth_dst, 0, 6);

	/* TTL 1: XDP leaves it to the stack, untouched. */
	d = tcp(EXT_C1, NODE, 52004, NP_TCP, TH_SYN);
	len = build(in, &d);
	in[14 + 8] = 1;
	put16(in + 14 + 10, 0);
	put16(in + 14 + 10, ~fold(sum16(in + 14, 20, 0)));
	xdp_expect("xdp: TTL 1: XDP_PASS untouched (the stack answers time exceeded)",
		   in, len, x0, XDP_PASS, in, len);
	use_prog(old);
}

static void test_xdp_untouched(void)
{
	uint64_t drops = counter(SY_CNT_DROP_SOURCE_RANGE);
	uint64_t mf = counter(SY_CNT_MALFORMED);
	struct pktdef d;

	d = tcp(EXT_C1, ip4(198, 18, 9, 9), 50100, 80, TH_SYN);
	xdp_untouched("xdp: non-service TCP: XDP_PASS, byte-identical", &d,
		      XDP_PASS);
	d = udp(EXT_C1, NODE, 50101, 9999);
	xdp_untouched("xdp: UDP to the node on a non-NodePort port: XDP_PASS, byte-identical",
		      &d, XDP_PASS);
	d = tcp(CLIENT, VIP_A, 50102, 80, TH_SYN);
	xdp_untouched("xdp: ClusterIP frontend: XDP_PASS untouched (left to tc)",
		      &d, XDP_PASS);
	check(ct_absent(CLIENT, VIP_A, 50102, 80, IPPROTO_TCP),
	      "xdp: ... and no CT entry for it", "%s", "entry found");
	{
		/* Reply of a non-SNATed (ClusterIP) flow: tc's business. */
		uint32_t slot = expected_slot(CLIENT, VIP_A, 50103, 80,
					      IPPROTO_TCP, 7);
		uint32_t be = tab1[slot];
		struct pktdef syn = tcp(CLIENT, VIP_A, 50103, 80, TH_SYN);

		expect_dnat("xdp: (tc creates a ClusterIP flow)", &syn,
			    be_addr(be), be_port(be));
		d = tcp(be_addr(be), CLIENT, be_port(be), 50103, TH_ACK);
		xdp_untouched("xdp: reply of a non-SNATed flow: XDP_PASS untouched",
			      &d, XDP_PASS);
	}
	d = tcp(EXT_C4, LB_IP, 50104, 443, TH_SYN);
	xdp_untouched("xdp: LoadBalancer, source outside its ranges: XDP_DROP",
		      &d, XDP_DROP);
	check(counter(SY_CNT_DROP_SOURCE_RANGE) == drops + 1,
	      "xdp: ... counted in SY_CNT_DROP_SOURCE_RANGE", "%llu -> %llu",
	      (unsigned long long)drops,
	      (unsigned long long)counter(SY_CNT_DROP_SOURCE_RANGE));
	d = tcp(CLIENT, VIP_NOEP, 50105, 80, TH_SYN);
	xdp_untouched("xdp: frontend without endpoints: XDP_PASS untouched (tc rejects)",
		      &d, XDP_PASS);
	/* Fragments and broadcast frames: frag_test.c. */

	/* Malformed / truncated: every cut of the headers. */
	{
		static const struct {
			const char *name;
			int udp, ihl;
		} cases[] = {
			{ "xdp: truncated TCP SYN to a NodePort (every cut 14..53): XDP_PASS untouched", 0, 5 },
			{ "xdp: truncated UDP to a NodePort (every cut 14..41): XDP_PASS untouched", 1, 5 },
			{ "xdp: truncated IHL-6 TCP SYN (every cut 14..57): XDP_PASS untouched", 0, 6 },
		};

		for (unsigned int c = 0; c < 3; c++) {
			uint8_t b[BUF], out[BUF];
			size_t hdr, cut, olen;
			int bad = 0, ran = 0;
			char first[200] = "";

			d = cases[c].udp ? udp(EXT_C1, NODE, 50110 + c, NP_UDP) :
					   tcp(EXT_C1, NODE, 50110 + c, NP_TCP,
					       TH_SYN);
			d.ihl = cases[c].ihl;
			build(b, &d);
			hdr = 14 + cases[c].ihl * 4 + (cases[c].udp ? 8 : 20);
			for (cut = 14; cut < hdr; cut++) {
				uint32_t ret;
				const char *diff;

				if (run_xdp(b, cut, out, &olen, &ret, 0))
					continue; /* refused by test_run */
				ran++;
				diff = diff_bytes(out, olen, b, cut);
				if (ret != XDP_PASS || diff) {
					if (!bad++)
						snprintf(first, sizeof(first),
							 "cut %zu: ret %u %s",
							 cut, ret,
							 diff ? diff : "");
				}
			}
			check(!bad && ran > 0, cases[c].name, "%d bad, first %s",
			      bad, first);
		}
		d = tcp(EXT_C1, NODE, 50120, NP_TCP, TH_SYN);
		{
			uint8_t b[BUF], out[BUF];
			size_t n = build(b, &d), olen;
			uint32_t ret;

			b[14] = 0x44; /* IHL 4 */
			run_xdp(b, n, out, &olen, &ret, 0);
			check(ret == XDP_PASS && !diff_bytes(out, olen, b, n),
			      "xdp: IPv4 with IHL 4: XDP_PASS untouched",
			      "ret %u", ret);
			b[14] = 0x65; /* version 6 in an IPv4 frame */
			run_xdp(b, n, out, &olen, &ret, 0);
		}
		check(counter(SY_CNT_MALFORMED) > mf,
		      "xdp: malformed IPv4 counted in SY_CNT_MALFORMED",
		      "%llu -> %llu", (unsigned long long)mf,
		      (unsigned long long)counter(SY_CNT_MALFORMED));
	}
}

/* The route-result cache for an IPv4 NodePort flow (fib_cache_test.c). */
static void test_xdp_fib_cache(void)
{
	struct pktdef d = tcp(EXT_C1, NODE, 50200, NP_TCP, TH_SYN), w;
	uint8_t in1[BUF], exp1[BUF], in2[BUF], exp2[BUF], in3[BUF], exp3[BUF];
	struct fib_cache_case c = {
		.family = "IPv4", .af = 2, .fd_xdp = fd_xdp, .ifindex = x0,
		.egress = x1, .first = in1, .first_exp = exp1, .next = in2,
		.next_exp = exp2, .other = in3, .other_exp = exp3,
	};

	w = d;
	w.saddr = NODE;
	w.daddr = be_addr(BE_R1);
	w.dport = be_port(BE_R1);
	c.first_len = build(in1, &d);
	c.first_exp_len = build_fwd(exp1, &w, MAC_BE, MAC_X1);
	d.tcp_flags = w.tcp_flags = TH_ACK | TH_PSH;
	d.payload = w.payload = 13;
	c.next_len = build(in2, &d);
	c.next_exp_len = build_fwd(exp2, &w, MAC_BE, MAC_X1);
	d.tcp_flags = w.tcp_flags = TH_SYN;
	d.payload = w.payload = 0;
	d.sport = w.sport = 50201;
	c.other_len = build(in3, &d);
	c.other_exp_len = build_fwd(exp3, &w, MAC_BE, MAC_X1);
	test_fib_cache(&c);
}

void test_xdp(void)
{
	fd_xdp = bpf_program__fd(skel->progs.sy_xdp);
	if (!check(fd_xdp > 0, "xdp: sy_xdp loaded", "%s", "no program"))
		return;
	test_xdp_no_route();
	if (!fib_setup())
		return;
	test_xdp_forwarding();
	test_xdp_fib_cache();
	test_xdp_no_neigh();
	test_xdp_untouched();
	test_frag_xdp(fd_xdp, x0, MAC_X0, MAC_X1, MAC_BE, MAC_CL);
	sh("ip link del sy-x0");
}
