// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Device roles and external traffic in tc: scope lookup order, NodePort
 * DNAT + SNAT to a remote backend and its reverse, externalTrafficPolicy=
 * Local without SNAT, loadBalancerSourceRanges, hairpin SNAT, counters and
 * per-frontend statistics, and idempotence on already translated packets.
 * Every expected frame is built from scratch (RFC 1071 checksums).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"

/* ---- fixture ------------------------------------------------------------ */

int fd_tc_pod, fd_tc_ext, fd_counters, fd_stats, fd_ranges;

int use_prog(int fd)
{
	int old = prog_fd;

	prog_fd = fd;
	return old;
}

static int add_backend_flags(uint32_t id, uint8_t proto, uint8_t flags)
{
	struct sy_backend b;

	memset(&b, 0, sizeof(b));
	b.addr = be_addr(id);
	b.port = htons(be_port(id));
	b.proto = proto;
	b.state = SY_BE_ACTIVE;
	b.flags = flags;
	return bpf_map_update_elem(fd_backends, &id, &b, BPF_ANY) ? -errno : 0;
}

static int table_of(uint32_t group, uint32_t id)
{
	uint32_t t[7];

	for (int i = 0; i < 7; i++)
		t[i] = id;
	return set_table(group, 7, t);
}

static int add_range(uint32_t fe, uint32_t addr, uint32_t len)
{
	struct sy_source_range_key k;
	uint8_t one = 1;

	memset(&k, 0, sizeof(k));
	k.prefixlen = 32 + len;
	k.frontend_id = fe;
	k.addr = addr;
	return bpf_map_update_elem(fd_ranges, &k, &one, BPF_ANY) ? -errno : 0;
}

uint64_t counter(uint32_t idx)
{
	int n = libbpf_num_possible_cpus();
	uint64_t *v = calloc(n, sizeof(*v)), sum = 0;

	if (v && bpf_map_lookup_elem(fd_counters, &idx, v) == 0)
		for (int i = 0; i < n; i++)
			sum += v[i];
	free(v);
	return sum;
}

void stats(uint32_t fe, uint32_t hook, uint64_t *pk, uint64_t *by)
{
	struct sy_svc_stats_key k = { .frontend_id = fe, .hook = hook };
	int n = libbpf_num_possible_cpus();
	struct sy_svc_stats *v = calloc(n, sizeof(*v));

	*pk = *by = 0;
	if (v && bpf_map_lookup_elem(fd_stats, &k, v) == 0)
		for (int i = 0; i < n; i++) {
			*pk += v[i].packets;
			*by += v[i].bytes;
		}
	free(v);
}

static int ext_setup(void)
{
	int err = 0;

	fd_tc_pod = bpf_program__fd(skel->progs.sy_tc_ingress);
	fd_tc_ext = bpf_program__fd(skel->progs.sy_tc_external);
	fd_counters = bpf_map__fd(skel->maps.sy_counters);
	fd_stats = bpf_map__fd(skel->maps.sy_svc_stats);
	fd_ranges = bpf_map__fd(skel->maps.sy_source_ranges);

	err = err ?: add_backend_flags(BE_R1, IPPROTO_TCP, 0);
	err = err ?: add_backend_flags(BE_R2, IPPROTO_UDP, 0);
	err = err ?: add_backend_flags(BE_L, IPPROTO_TCP, SY_BE_F_LOCAL);
	err = err ?: add_backend_flags(BE_HP, IPPROTO_TCP, SY_BE_F_LOCAL);
	err = err ?: add_backend_flags(BE_R3, IPPROTO_TCP, 0);
	err = err ?: table_of(60, BE_R1);
	err = err ?: table_of(61, BE_R2);
	err = err ?: table_of(62, BE_L);
	err = err ?: table_of(63, BE_R3);
	err = err ?: table_of(66, BE_HP);

	err = err ?: add_service(NODE, NP_TCP, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_NP, 60, 1, SY_SVC_F_NODEPORT, 0, 7);
	err = err ?: add_service(NODE, NP_UDP, IPPROTO_UDP, SY_SCOPE_EXTERNAL,
				 FE_NP_UDP, 61, 1, SY_SVC_F_NODEPORT, 0, 7);
	/* eTP=Local over a table holding a backend without SY_BE_F_LOCAL:
	 * the frontend flag alone must prevent SNAT. */
	err = err ?: add_service(NODE, NP_LOCAL, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_LOCAL, 60, 1,
				 SY_SVC_F_NODEPORT | SY_SVC_F_LOCAL_EXT |
					 SY_SVC_F_DROP_NO_EP, 0, 7);
	err = err ?: add_service(NODE, NP_LBE, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_LBE, 62, 1, SY_SVC_F_NODEPORT, 0, 7);
	err = err ?: add_service(LB_IP, 443, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_LB, 60, 1,
				 SY_SVC_F_LOADBALANCER | SY_SVC_F_SOURCE_RANGE,
				 0, 7);
	err = err ?: add_range(FE_LB, ip4(198, 18, 50, 0), 24);
	err = err ?: add_range(FE_LB, ip4(198, 18, 60, 7), 32);
	/* A range of another frontend that would match EXT_C4. */
	err = err ?: add_range(FE_NP, ip4(198, 18, 60, 0), 24);
	err = err ?: add_service(EIP, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_EIP_EXT, 63, 1, SY_SVC_F_EXTERNALIP, 0, 7);
	err = err ?: add_service(EIP, 80, IPPROTO_TCP, SY_SCOPE_INTERNAL,
				 FE_EIP_INT, 60, 1, SY_SVC_F_EXTERNALIP, 0, 7);
	err = err ?: add_service(HP_VIP, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_HP, 66, 1, SY_SVC_F_CLUSTERIP, 0, 7);
	err = err ?: add_service(HP_VIP2, 80, IPPROTO_TCP, SY_SCOPE_EXTERNAL,
				 FE_HP2, 66, 1, SY_SVC_F_CLUSTERIP, 0, 7);
	return err;
}

/* Run d through the current program; expect TC_ACT_OK and exactly the frame
 * built from d with the given source and destination. */
bool expect_xlate(const char *name, const struct pktdef *d,
			 uint32_t saddr, uint16_t sport, uint32_t daddr,
			 uint16_t dport)
{
	struct pktdef want = *d;

	want.saddr = saddr;
	want.sport = sport;
	want.daddr = daddr;
	want.dport = dport;
	return expect_rewrite(name, d, &want);
}

bool ct_is(const char *name, uint32_t saddr, uint32_t daddr,
		  uint16_t sport, uint16_t dport, uint8_t proto, uint8_t dir,
		  uint32_t backend, uint32_t revnat, uint16_t flags_mask,
		  uint16_t flags, uint32_t nat_addr, uint16_t nat_port)
{
	struct sy_ct_value v;
	bool ok = ct_get(saddr, daddr, sport, dport, proto, dir, &v);

	return check(ok && v.backend_id == backend && v.rev_nat_id == revnat &&
			     (v.flags & flags_mask) == flags &&
			     v.nat_addr == nat_addr &&
			     ntohs(v.nat_port) == nat_port && v.pad == 0 &&
			     v.pad2 == 0,
		     name,
		     "found=%d backend=%u revnat=%u flags=0x%x nat=%s:%u",
		     ok, v.backend_id, v.rev_nat_id, v.flags,
		     ipstr(v.nat_addr), ntohs(v.nat_port));
}

/* ---- scope and roles ---------------------------------------------------- */

void test_scope_roles(void)
{
	struct pktdef d = tcp(CLIENT, VIP_INT, 1234, 80, TH_SYN);
	uint32_t slot = expected_slot(CLIENT, VIP_INT, 1234, 80, IPPROTO_TCP, 7);
	int old;

	if (!check(ext_setup() == 0, "external fixture: NodePort, eTP=Local, LB with source ranges, ExternalIP with two scopes, hairpin",
		   "%s", strerror(errno)))
		return;
	old = use_prog(fd_tc_pod);
	expect_dnat("pod device (sy_tc_ingress): a frontend with only a SY_SCOPE_INTERNAL entry is matched",
		    &d, be_addr(tab1[slot]), be_port(tab1[slot]));
	use_prog(fd_tc_ext);
	d.sport = 1235;
	expect_unchanged("external device (sy_tc_external): a SY_SCOPE_INTERNAL-only frontend is not matched",
			 &d);

	/* EIP:80 has both: internal table -> 501, external table -> 505. */
	use_prog(fd_tc_pod);
	d = tcp(CLIENT, EIP, 2000, 80, TH_SYN);
	expect_dnat("pod device: SY_SCOPE_INTERNAL is preferred over SY_SCOPE_EXTERNAL (internal table, no SNAT)",
		    &d, be_addr(BE_R1), be_port(BE_R1));
	ct_is("... CT forward entry names the internal frontend, no SNAT",
	      CLIENT, EIP, 2000, 80, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_EIP_INT, SY_CT_F_SNAT, 0, 0, 0);
	use_prog(fd_tc_ext);
	d = tcp(EXT_C1, EIP, 42001, 80, TH_SYN);
	expect_xlate("external device: only SY_SCOPE_EXTERNAL (external table, remote backend: SNAT)",
		     &d, NODE, 42001, be_addr(BE_R3), be_port(BE_R3));
	use_prog(old);
}

/* ---- NodePort, eTP, source ranges, hairpin, counters -------------------- */

static void test_nodeport_snat(void)
{
	struct pktdef syn = tcp(EXT_C1, NODE, 45000, NP_TCP, TH_SYN);
	struct pktdef rep = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), 45000,
				TH_SYN | TH_ACK);
	struct pktdef ack = tcp(EXT_C1, NODE, 45000, NP_TCP, TH_ACK | TH_PSH);
	struct pktdef syn2 = tcp(EXT_C2, NODE, 45000, NP_TCP, TH_SYN);
	struct sy_ct_value v;
	uint16_t p2;
	bool ok;

	expect_xlate("NodePort TCP SYN to a remote backend: DNAT + SNAT to node:client port (both checksums)",
		     &syn, NODE, 45000, be_addr(BE_R1), be_port(BE_R1));
	ct_is("... forward entry {client, node, 45000, nodePort}: SNAT, nat = node:45000",
	      EXT_C1, NODE, 45000, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_NP, 0xffff, SY_CT_F_SNAT, NODE, 45000);
	ct_is("... reply entry {backend, node, bport, 45000}: SNAT, nat = client:45000",
	      be_addr(BE_R1), NODE, be_port(BE_R1), 45000, IPPROTO_TCP,
	      SY_CT_REPLY, BE_R1, FE_NP, 0xffff, SY_CT_F_SNAT, EXT_C1, 45000);

	expect_xlate("reply of the SNATed flow: source -> node:nodePort, destination -> client:port",
		     &rep, NODE, NP_TCP, EXT_C1, 45000);
	ct_is("... forward entry marked SEEN_REPLY",
	      EXT_C1, NODE, 45000, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_NP, SY_CT_F_SEEN_REPLY | SY_CT_F_SNAT,
	      SY_CT_F_SEEN_REPLY | SY_CT_F_SNAT, NODE, 45000);
	ct_is("... reply entry marked SEEN_REPLY",
	      be_addr(BE_R1), NODE, be_port(BE_R1), 45000, IPPROTO_TCP,
	      SY_CT_REPLY, BE_R1, FE_NP, SY_CT_F_SEEN_REPLY | SY_CT_F_SNAT,
	      SY_CT_F_SEEN_REPLY | SY_CT_F_SNAT, EXT_C1, 45000);
	expect_xlate("established packet of the flow: same DNAT + SNAT",
		     &ack, NODE, 45000, be_addr(BE_R1), be_port(BE_R1));

	/* Another client with the same source port: 45000 is taken on the
	 * node for this backend, so a port from 32768-60999 is chosen. */
	{
		uint8_t in[BUF], out[BUF];
		size_t len, olen;
		uint32_t ret;

		len = build(in, &syn2);
		run(in, len, out, &olen, &ret);
		ok = ct_get(EXT_C2, NODE, 45000, NP_TCP, IPPROTO_TCP,
			    SY_CT_FORWARD, &v);
		p2 = ntohs(v.nat_port);
		check(ok && ret == TC_ACT_OK && (v.flags & SY_CT_F_SNAT) &&
			      v.nat_addr == NODE && p2 != 45000 &&
			      p2 >= SY_SNAT_PORT_MIN && p2 <= SY_SNAT_PORT_MAX,
		      "second client with the same port: NAT port from 32768-60999",
		      "ret=%u found=%d nat=%s:%u", ret, ok, ipstr(v.nat_addr),
		      p2);
	}
	syn2.tcp_flags = TH_ACK;
	syn2.payload = 13;
	expect_xlate("... its packets carry that port (exact bytes)", &syn2,
		     NODE, p2, be_addr(BE_R1), be_port(BE_R1));
	rep = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), p2, TH_ACK);
	expect_xlate("... and its replies go back to the second client",
		     &rep, NODE, NP_TCP, EXT_C2, 45000);
	rep.dport = 45000;
	expect_xlate("... while the first client's replies still go to the first",
		     &rep, NODE, NP_TCP, EXT_C1, 45000);

	/* UDP, with and without checksum. */
	{
		struct pktdef u = udp(EXT_C1, NODE, 45000, NP_UDP);
		struct pktdef ur = udp(be_addr(BE_R2), NODE, be_port(BE_R2),
				       45000);

		expect_xlate("NodePort UDP: DNAT + SNAT", &u, NODE, 45000,
			     be_addr(BE_R2), be_port(BE_R2));
		expect_xlate("NodePort UDP reply: reverse", &ur, NODE, NP_UDP,
			     EXT_C1, 45000);
		u.sport = 45001;
		u.udp_zero_csum = true;
		ur.dport = 45001;
		ur.udp_zero_csum = true;
		expect_xlate("NodePort UDP without checksum: DNAT + SNAT, checksum stays 0",
			     &u, NODE, 45001, be_addr(BE_R2), be_port(BE_R2));
		expect_xlate("NodePort UDP reply without checksum: reverse, checksum stays 0",
			     &ur, NODE, NP_UDP, EXT_C1, 45001);
	}

	/* CHECKSUM_COMPLETE: skb->csum must follow all four rewrites. */
	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	syn = tcp(EXT_C1, NODE, 45100, NP_TCP, TH_SYN);
	expect_xlate("CHECKSUM_COMPLETE: DNAT + SNAT keeps skb->csum valid",
		     &syn, NODE, 45100, be_addr(BE_R1), be_port(BE_R1));
	rep = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), 45100, TH_SYN | TH_ACK);
	expect_xlate("CHECKSUM_COMPLETE: reverse of an SNATed flow keeps skb->csum valid",
		     &rep, NODE, NP_TCP, EXT_C1, 45100);
	run_flags = 0;
}

static void test_etp_local(void)
{
	struct pktdef syn = tcp(EXT_C1, NODE, 46000, NP_LOCAL, TH_SYN);
	struct pktdef rep = tcp(be_addr(BE_R1), EXT_C1, be_port(BE_R1), 46000,
				TH_SYN | TH_ACK);

	expect_dnat("eTP=Local NodePort: DNAT only, the client address is preserved (no SNAT)",
		    &syn, be_addr(BE_R1), be_port(BE_R1));
	ct_is("... CT entries without SY_CT_F_SNAT, nat fields 0",
	      EXT_C1, NODE, 46000, NP_LOCAL, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_LOCAL, 0xffff, 0, 0, 0);
	{
		int old = use_prog(fd_tc_pod);

		expect_xlate("eTP=Local reply (from the pod device, sy_tc_ingress): source -> node:nodePort",
			     &rep, NODE, NP_LOCAL, EXT_C1, 46000);
		use_prog(old);
	}

	syn = tcp(EXT_C1, NODE, 46001, NP_LBE, TH_SYN);
	expect_dnat("eTP=Cluster NodePort whose backend is local: no SNAT",
		    &syn, be_addr(BE_L), be_port(BE_L));
}

static void test_source_ranges(void)
{
	struct pktdef d;
	uint64_t drops = counter(SY_CNT_DROP_SOURCE_RANGE);

	d = tcp(EXT_C1, LB_IP, 47000, 443, TH_SYN);
	expect_xlate("LoadBalancer with source ranges: client in 198.18.50.0/24 accepted",
		     &d, NODE, 47000, be_addr(BE_R1), be_port(BE_R1));
	d = tcp(EXT_C3, LB_IP, 47001, 443, TH_SYN);
	expect_xlate("LoadBalancer with source ranges: client matching 198.18.60.7/32 accepted",
		     &d, NODE, 47001, be_addr(BE_R1), be_port(BE_R1));
	d = tcp(EXT_C4, LB_IP, 47002, 443, TH_SYN);
	expect_ret("LoadBalancer with source ranges: 198.18.60.8 (only in another frontend's range) dropped",
		   &d, TC_ACT_SHOT);
	check(ct_absent(EXT_C4, LB_IP, 47002, 443, IPPROTO_TCP),
	      "... no CT entry for the dropped flow", "%s", "entry found");
	d = udp(EXT_C4, LB_IP, 47003, 443);
	expect_unchanged("... (UDP to the TCP-only LoadBalancer port is no frontend: untouched)",
			 &d);
	check(counter(SY_CNT_DROP_SOURCE_RANGE) == drops + 1,
	      "SY_CNT_DROP_SOURCE_RANGE counted the drop", "%llu -> %llu",
	      (unsigned long long)drops,
	      (unsigned long long)counter(SY_CNT_DROP_SOURCE_RANGE));
}

static void test_hairpin(void)
{
	uint32_t me = be_addr(BE_HP);
	uint16_t bp = be_port(BE_HP), p2;
	struct pktdef syn = tcp(me, HP_VIP, 40000, 80, TH_SYN);
	struct pktdef rep = tcp(me, NODE, bp, 40000, TH_SYN | TH_ACK);
	struct pktdef syn2 = tcp(me, HP_VIP2, 40000, 80, TH_SYN);
	struct sy_ct_value v;
	bool ok;
	int old = use_prog(fd_tc_pod);

	expect_xlate("hairpin (pod reaches itself via a ClusterIP): DNAT + SNAT to node, port kept",
		     &syn, NODE, 40000, me, bp);
	ct_is("... forward entry: SNAT to node:40000",
	      me, HP_VIP, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD, BE_HP, FE_HP,
	      SY_CT_F_SNAT, SY_CT_F_SNAT, NODE, 40000);
	expect_xlate("hairpin reply (pod -> node:40000): source -> VIP:80, destination -> pod:40000",
		     &rep, HP_VIP, 80, me, 40000);
	/* Same client port to another VIP of the same backend: the reply
	 * key {pod, node, bport, 40000} belongs to the first flow. */
	{
		uint8_t in[BUF], out[BUF];
		size_t len, olen;
		uint32_t ret;

		len = build(in, &syn2);
		run(in, len, out, &olen, &ret);
		ok = ct_get(me, HP_VIP2, 40000, 80, IPPROTO_TCP, SY_CT_FORWARD,
			    &v);
		p2 = ntohs(v.nat_port);
		check(ok && ret == TC_ACT_OK && p2 != 40000 &&
			      p2 >= SY_SNAT_PORT_MIN && p2 <= SY_SNAT_PORT_MAX,
		      "hairpin: client port taken by another flow -> a port from 32768-60999",
		      "ret=%u found=%d nat port %u", ret, ok, p2);
	}
	rep.dport = p2;
	expect_xlate("... whose replies go back from the second VIP",
		     &rep, HP_VIP2, 80, me, 40000);
	rep.dport = 40000;
	expect_xlate("... and the first flow is intact", &rep, HP_VIP, 80, me,
		     40000);
	use_prog(old);
}

/* sy_xdp may translate a packet and still hand it to the stack (FIB lookup
 * did not succeed): tc on the same device then sees the new addresses. */
static void test_idempotent(void)
{
	struct pktdef d;

	d = tcp(NODE, be_addr(BE_R1), 45000, be_port(BE_R1), TH_ACK);
	expect_unchanged("tc_external on an already DNATed+SNATed forward packet: untouched",
			 &d);
	d = tcp(NODE, EXT_C1, NP_TCP, 45000, TH_ACK);
	expect_unchanged("tc_external on an already reverse-NATed reply: untouched",
			 &d);
	d = tcp(EXT_C1, be_addr(BE_R1), 46000, be_port(BE_R1), TH_ACK);
	expect_unchanged("tc_external on an already DNATed eTP=Local packet: untouched",
			 &d);
}

static void test_counters(void)
{
	uint64_t dn = counter(SY_CNT_TC_DNAT), rn = counter(SY_CNT_TC_REVNAT);
	uint64_t sn = counter(SY_CNT_SNAT), mf = counter(SY_CNT_MALFORMED);
	uint64_t rj = counter(SY_CNT_REJECT_TCP);
	uint64_t nb = counter(SY_CNT_DROP_NO_BACKEND);
	uint64_t pk0, by0, pk1, by1;
	struct pktdef d = tcp(EXT_C1, NODE, 48000, NP_TCP, TH_SYN);
	struct pktdef r = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), 48000,
			      TH_SYN | TH_ACK);
	uint8_t b[BUF], out[BUF];
	size_t n, olen, l1, l2;
	uint32_t ret;

	stats(FE_NP, SY_HOOK_TC_INGRESS, &pk0, &by0);
	l1 = build(b, &d);
	run(b, l1, out, &olen, &ret);
	l2 = build(b, &r);
	run(b, l2, out, &olen, &ret);
	stats(FE_NP, SY_HOOK_TC_INGRESS, &pk1, &by1);
	check(counter(SY_CNT_TC_DNAT) == dn + 1 &&
		      counter(SY_CNT_TC_REVNAT) == rn + 1 &&
		      counter(SY_CNT_SNAT) == sn + 1,
	      "counters: one DNAT (with SNAT) and one reverse NAT counted",
	      "dnat +%llu revnat +%llu snat +%llu",
	      (unsigned long long)(counter(SY_CNT_TC_DNAT) - dn),
	      (unsigned long long)(counter(SY_CNT_TC_REVNAT) - rn),
	      (unsigned long long)(counter(SY_CNT_SNAT) - sn));
	check(pk1 == pk0 + 2 && by1 == by0 + l1 + l2,
	      "sy_svc_stats {NodePort frontend, tc}: +2 packets, + both frame lengths",
	      "packets %llu -> %llu, bytes %llu -> %llu (frames %zu + %zu)",
	      (unsigned long long)pk0, (unsigned long long)pk1,
	      (unsigned long long)by0, (unsigned long long)by1, l1, l2);

	d = tcp(CLIENT, VIP_A, 48001, 80, TH_SYN);
	n = build(b, &d);
	run(b, 30, out, &olen, &ret); /* Ethernet + 16 bytes of IPv4 */
	if (counter(SY_CNT_MALFORMED) == mf)
		run(b, 14 + 20 + 4, out, &olen, &ret); /* TCP header cut */
	check(counter(SY_CNT_MALFORMED) == mf + 1,
	      "SY_CNT_MALFORMED counts a truncated IPv4 packet",
	      "%llu -> %llu", (unsigned long long)mf,
	      (unsigned long long)counter(SY_CNT_MALFORMED));
	(void)n;

	d = tcp(CLIENT, VIP_NOEP, 48002, 80, TH_SYN);
	n = build(b, &d);
	run(b, n, out, &olen, &ret);
	d = tcp(CLIENT, VIP_DROP, 48003, 80, TH_SYN);
	n = build(b, &d);
	run(b, n, out, &olen, &ret);
	check(counter(SY_CNT_REJECT_TCP) == rj + 1 &&
		      counter(SY_CNT_DROP_NO_BACKEND) == nb + 1,
	      "SY_CNT_REJECT_TCP and SY_CNT_DROP_NO_BACKEND count a reset and a DROP_NO_EP drop",
	      "reject +%llu drop +%llu",
	      (unsigned long long)(counter(SY_CNT_REJECT_TCP) - rj),
	      (unsigned long long)(counter(SY_CNT_DROP_NO_BACKEND) - nb));
}

void test_external(void)
{
	int old = use_prog(fd_tc_ext);

	if (!fd_tc_ext)
		return;
	test_nodeport_snat();
	test_etp_local();
	test_source_ranges();
	test_idempotent();
	test_counters();
	use_prog(old);
	test_hairpin();
}
