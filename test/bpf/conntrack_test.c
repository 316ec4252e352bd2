// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Conntrack pairs and TCP close state (sy_ct_pair.h), through
 * BPF_PROG_TEST_RUN: half-close (a FIN closes one direction, the other keeps
 * its established lifetime), which RSTs may shorten a flow's lifetime, a
 * missing entry of a pair recreated by a packet of the other direction, and
 * the SNAT port range of sy_config. Every translated frame is compared byte
 * for byte with one built from scratch (checksums from a plain sum).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"
#include "packets.h"

#define SY_CT_F_FIN_BOTH_T (SY_CT_F_FIN_FORWARD | SY_CT_F_FIN_REPLY)
/* An established flow: reply seen, then the client's ACK. */
#define EST (SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED)

/* Run the NodePort SYN d (program: sy_tc_external); expect DNAT to BE_R1 and
 * SNAT to NODE with some port, returned in *port, every byte checked. */
static void expect_dnat_snat_port(const struct pktdef *d, uint16_t *port)
{
	uint8_t in[BUF], out[BUF], exp[BUF];
	struct pktdef want = *d;
	size_t len = build(in, d), olen, elen;
	uint32_t ret = 0;
	const char *diff = "run failed";
	char why[128] = "";

	*port = 0;
	if (run(in, len, out, &olen, &ret) == 0 && olen > 14 + 20 + 2) {
		*port = get16(out + 14 + 20);
		want.saddr = NODE;
		want.sport = *port;
		want.daddr = be_addr(BE_R1);
		want.dport = be_port(BE_R1);
		elen = build(exp, &want);
		diff = csums_valid(out, olen, why, sizeof(why)) ?
			       diff_bytes(out, olen, exp, elen) : why;
	}
	check(ret == TC_ACT_OK && !diff,
	      "snat range: NodePort SYN DNATed + SNATed to node:<port> (exact bytes)",
	      "ret=%u %s", ret, diff ? diff : "");
}

/* Make an entry look idle for age_ns (everything else kept). */
static bool ct_age(uint32_t saddr, uint32_t daddr, uint16_t sport,
		   uint16_t dport, uint8_t dir, uint64_t age_ns)
{
	struct sy_ct_key k;
	struct sy_ct_value v;

	ct_key(&k, saddr, daddr, sport, dport, IPPROTO_TCP, dir);
	if (bpf_map_lookup_elem(fd_ct, &k, &v))
		return false;
	v.last_seen = mono_ns() - age_ns;
	return bpf_map_update_elem(fd_ct, &k, &v, BPF_EXIST) == 0;
}

static bool ct_del(uint32_t saddr, uint32_t daddr, uint16_t sport,
		   uint16_t dport, uint8_t dir)
{
	struct sy_ct_key k;

	ct_key(&k, saddr, daddr, sport, dport, IPPROTO_TCP, dir);
	return bpf_map_delete_elem(fd_ct, &k) == 0;
}

static uint16_t ct_flags_of(uint32_t saddr, uint32_t daddr, uint16_t sport,
			    uint16_t dport, uint8_t dir)
{
	struct sy_ct_value v;

	if (!ct_get(saddr, daddr, sport, dport, IPPROTO_TCP, dir, &v))
		return 0xffff;
	return v.flags;
}

static void set_snat_range(uint16_t min, uint16_t max)
{
	struct sy_config cfg;
	uint32_t zero = 0;

	bpf_map_lookup_elem(fd_config, &zero, &cfg);
	cfg.snat_port_min = min;
	cfg.snat_port_max = max;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
}

/* Lifetimes by state, as docs/maps.md lists them. */
static void test_lifetimes(void)
{
	check(sy_ct_lifetime_ns(IPPROTO_TCP, EST | SY_CT_F_FIN_FORWARD) ==
		      SY_CT_LIFETIME_TCP_S * SEC_NS &&
		      sy_ct_lifetime_ns(IPPROTO_TCP, EST | SY_CT_F_FIN_REPLY) ==
			      SY_CT_LIFETIME_TCP_S * SEC_NS,
	      "lifetime: half-closed (one FIN) keeps the established lifetime",
	      "%s", "");
	check(sy_ct_lifetime_ns(IPPROTO_TCP, EST | SY_CT_F_FIN_FORWARD |
						     SY_CT_F_FIN_REPLY |
						     SY_CT_F_CLOSING) ==
		      SY_CT_LIFETIME_TCP_CLOSING_S * SEC_NS,
	      "lifetime: closed (both FINs) is the closing lifetime", "%s", "");
}

/* Half-close through a ClusterIP (tc on the pod device, no SNAT). */
static void test_half_close_clusterip(void)
{
	uint16_t cp = 47100;
	struct vip_a_flow f = vip_a_flow(cp);
	uint32_t ba = f.ba;
	uint16_t bp = f.bp;
	struct pktdef c = f.c, s = f.s;
	uint64_t closed0 = counter(SY_CNT_CT_CLOSED);
	uint64_t half0 = counter(SY_CNT_CT_HALF_CLOSE);
	uint16_t ff, rf;

	expect_dnat("half-close/ClusterIP: SYN DNATed", &c, ba, bp);
	expect_xlate("half-close/ClusterIP: SYN-ACK reverse-NATed", &s, VIP_A,
		     80, CLIENT, cp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(ba, CLIENT, bp, cp, SY_CT_REPLY);
	check(ff == SY_CT_F_SEEN_REPLY && rf == SY_CT_F_SEEN_REPLY &&
		      sy_ct_lifetime_ns(IPPROTO_TCP, ff) ==
			      SY_CT_LIFETIME_TCP_SYN_S * SEC_NS,
	      "half-open (SYN, SYN-ACK): reply seen but not established, short lifetime (a spoofed SYN flood does not hold entries for 6 h)",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);
	c.tcp_flags = TH_ACK;
	expect_dnat("half-close/ClusterIP: ACK DNATed", &c, ba, bp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(ba, CLIENT, bp, cp, SY_CT_REPLY);
	check(ff == EST && rf == EST,
	      "the client's ACK after the reply establishes the flow on both entries (6 h lifetime)",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);

	/* shutdown(SHUT_WR) on the client. */
	c.tcp_flags = TH_FIN | TH_ACK;
	expect_dnat("half-close/ClusterIP: client FIN DNATed", &c, ba, bp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(ba, CLIENT, bp, cp, SY_CT_REPLY);
	check(ff == (EST | SY_CT_F_FIN_FORWARD) &&
		      rf == (EST | SY_CT_F_FIN_FORWARD),
	      "half-close/ClusterIP: client FIN marks FIN_FORWARD on both entries, not CLOSING",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);
	check(counter(SY_CNT_CT_HALF_CLOSE) == half0 + 1,
	      "half-close/ClusterIP: counted in ct_half_close", "%llu -> %llu",
	      (unsigned long long)half0,
	      (unsigned long long)counter(SY_CNT_CT_HALF_CLOSE));

	/* The server answers 20 s later (both entries idle for 20 s, more
	 * than the 10 s closing lifetime). */
	ct_age(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD, 20 * SEC_NS);
	ct_age(ba, CLIENT, bp, cp, SY_CT_REPLY, 20 * SEC_NS);
	s.tcp_flags = TH_ACK | TH_PSH;
	s.payload = 100;
	expect_xlate("half-close/ClusterIP: server data 20 s after the client's FIN is reverse-NATed (exact bytes)",
		     &s, VIP_A, 80, CLIENT, cp);
	c.tcp_flags = TH_ACK;
	expect_dnat("half-close/ClusterIP: the client's ACK of it still goes to the same backend",
		    &c, ba, bp);

	/* The server closes too: now the flow is closed. */
	s.tcp_flags = TH_FIN | TH_ACK;
	s.payload = 0;
	expect_xlate("half-close/ClusterIP: server FIN reverse-NATed", &s,
		     VIP_A, 80, CLIENT, cp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(ba, CLIENT, bp, cp, SY_CT_REPLY);
	check((ff & SY_CT_F_CLOSING) && (rf & SY_CT_F_CLOSING) &&
		      (ff & SY_CT_F_FIN_BOTH_T) == SY_CT_F_FIN_BOTH_T,
	      "half-close/ClusterIP: second FIN sets CLOSING on both entries",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);
	check(counter(SY_CNT_CT_CLOSED) == closed0 + 1,
	      "half-close/ClusterIP: counted in ct_closed", "%llu -> %llu",
	      (unsigned long long)closed0,
	      (unsigned long long)counter(SY_CNT_CT_CLOSED));
	expect_dnat("half-close/ClusterIP: last ACK still DNATed", &c, ba, bp);
}

/* Half-close through a NodePort with SNAT (tc on the external device). */
static void test_half_close_nodeport(void)
{
	int old = use_prog(fd_tc_ext);
	uint16_t cp = 47200;
	struct pktdef c = tcp(EXT_C1, NODE, cp, NP_TCP, TH_SYN);
	struct pktdef s = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), cp,
			      TH_SYN | TH_ACK);

	expect_xlate("half-close/NodePort: SYN DNATed + SNATed", &c, NODE, cp,
		     be_addr(BE_R1), be_port(BE_R1));
	expect_xlate("half-close/NodePort: SYN-ACK reversed", &s, NODE, NP_TCP,
		     EXT_C1, cp);
	c.tcp_flags = TH_FIN | TH_ACK;
	expect_xlate("half-close/NodePort: client FIN", &c, NODE, cp,
		     be_addr(BE_R1), be_port(BE_R1));
	ct_age(EXT_C1, NODE, cp, NP_TCP, SY_CT_FORWARD, 20 * SEC_NS);
	ct_age(be_addr(BE_R1), NODE, be_port(BE_R1), cp, SY_CT_REPLY,
	       20 * SEC_NS);
	s.tcp_flags = TH_ACK | TH_PSH;
	s.payload = 37;
	expect_xlate("half-close/NodePort: server data 20 s after the client's FIN reaches the client (exact bytes)",
		     &s, NODE, NP_TCP, EXT_C1, cp);
	use_prog(old);
}

/* Which RSTs shorten a flow. */
static void test_rst(void)
{
	uint16_t cp = 47300;
	struct vip_a_flow f = vip_a_flow(cp);
	uint32_t be = f.be, other = f.other, ba = f.ba;
	uint16_t bp = f.bp;
	struct pktdef c = f.c, s = f.s;
	struct pktdef r;
	uint64_t ign0;
	uint16_t ff, rf;

	expect_dnat("rst: SYN DNATed", &c, ba, bp);
	expect_xlate("rst: SYN-ACK reversed", &s, VIP_A, 80, CLIENT, cp);

	/* A reply entry of an older flow of the same client port, to another
	 * backend, still live: its RST must not close the current flow. */
	plant_ct(be_addr(other), CLIENT, be_port(other), cp, IPPROTO_TCP,
		 SY_CT_REPLY, other, SVC_A_TCP, SY_CT_F_SEEN_REPLY, 0);
	r = tcp(be_addr(other), CLIENT, be_port(other), cp, TH_RST | TH_ACK);
	ign0 = counter(SY_CNT_CT_RST_IGNORED);
	expect_xlate("rst: RST of another flow's tuple (old backend) is still reverse-NATed",
		     &r, VIP_A, 80, CLIENT, cp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(ba, CLIENT, bp, cp, SY_CT_REPLY);
	check(ff == SY_CT_F_SEEN_REPLY && rf == SY_CT_F_SEEN_REPLY,
	      "rst: an RST with a non-matching tuple does not shorten the flow's entries",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);
	check(counter(SY_CNT_CT_RST_IGNORED) == ign0 + 1,
	      "rst: ... counted in ct_rst_ignored", "%llu -> %llu",
	      (unsigned long long)ign0,
	      (unsigned long long)counter(SY_CNT_CT_RST_IGNORED));
	ct_del(be_addr(other), CLIENT, be_port(other), cp, SY_CT_REPLY);

	/* An RST from another client port: another tuple, nothing shortened. */
	r = tcp(CLIENT, VIP_A, cp + 1, 80, TH_RST);
	run_flags = 0;
	{
		uint8_t in[BUF], out[BUF];
		size_t len = build(in, &r), olen;
		uint32_t ret;

		run(in, len, out, &olen, &ret);
	}
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	check(ff == SY_CT_F_SEEN_REPLY,
	      "rst: an RST from another client port leaves the flow alone",
	      "forward flags 0x%x", ff);

	/* The flow's own RST, established: closes both entries. */
	c.tcp_flags = TH_RST | TH_ACK;
	expect_dnat("rst: the client's RST of the flow is DNATed", &c, ba, bp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(ba, CLIENT, bp, cp, SY_CT_REPLY);
	check((ff & SY_CT_F_CLOSING) && (rf & SY_CT_F_CLOSING),
	      "rst: the flow's own RST on an established flow sets CLOSING on both entries",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);

	/* A client RST before any reply (not established): no shortening. */
	cp = 47301;
	be = tab1[expected_slot(CLIENT, VIP_A, cp, 80, IPPROTO_TCP, 7)];
	c = tcp(CLIENT, VIP_A, cp, 80, TH_SYN);
	expect_dnat("rst: second flow SYN DNATed", &c, be_addr(be),
		    be_port(be));
	c.tcp_flags = TH_RST;
	expect_dnat("rst: client RST before any reply DNATed", &c,
		    be_addr(be), be_port(be));
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	check(!(ff & SY_CT_F_CLOSING),
	      "rst: a client RST on a flow not established does not shorten it",
	      "forward flags 0x%x", ff);
	/* The backend refusing the SYN: its RST closes the flow. */
	s = tcp(be_addr(be), CLIENT, be_port(be), cp, TH_RST | TH_ACK);
	expect_xlate("rst: backend RST answering the SYN reversed", &s, VIP_A,
		     80, CLIENT, cp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	rf = ct_flags_of(be_addr(be), CLIENT, be_port(be), cp, SY_CT_REPLY);
	check((ff & SY_CT_F_CLOSING) && (rf & SY_CT_F_CLOSING) &&
		      !(rf & SY_CT_F_SEEN_REPLY),
	      "rst: the backend's RST to the SYN closes both entries (and does not establish the flow)",
	      "forward flags 0x%x, reply flags 0x%x", ff, rf);
}

/* A pair with one entry missing is made whole by the other direction (on
 * the first packet of an entry in a new 67 ms period, or after a pause). */
static void test_pair_restore(void)
{
	uint16_t cp = 47400;
	struct vip_a_flow f = vip_a_flow(cp);
	uint32_t be = f.be, ba = f.ba;
	uint16_t bp = f.bp;
	struct pktdef c = f.c, s = f.s;
	uint64_t rr0 = counter(SY_CNT_CT_REPLY_RESTORED);
	uint64_t fr0 = counter(SY_CNT_CT_FORWARD_RESTORED);
	struct sy_ct_value v;
	bool ok;

	expect_dnat("pair/ClusterIP: SYN DNATed", &c, ba, bp);
	expect_xlate("pair/ClusterIP: SYN-ACK reversed", &s, VIP_A, 80,
		     CLIENT, cp);

	/* Reply entry lost (LRU eviction, restart). The next packet of the
	 * flow in a new 67 ms period looks at its pair. */
	check(ct_del(ba, CLIENT, bp, cp, SY_CT_REPLY),
	      "pair/ClusterIP: reply entry deleted", "%s", strerror(errno));
	usleep(70 * 1000);
	c.tcp_flags = TH_ACK | TH_PSH;
	c.payload = 20;
	expect_dnat("pair/ClusterIP: forward packet with its reply entry missing is DNATed",
		    &c, ba, bp);
	ok = ct_get(ba, CLIENT, bp, cp, IPPROTO_TCP, SY_CT_REPLY, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == SVC_A_TCP &&
		      v.flags == EST && v.nat_addr == 0 &&
		      v.nat_port == 0 && v.pad == 0 && v.pad2 == 0,
	      "pair/ClusterIP: ... and the reply entry is back (backend, frontend, flags)",
	      "found=%d backend=%u revnat=%u flags=0x%x", ok, v.backend_id,
	      v.rev_nat_id, v.flags);
	check(counter(SY_CNT_CT_REPLY_RESTORED) == rr0 + 1,
	      "pair/ClusterIP: counted in ct_reply_restored", "%llu -> %llu",
	      (unsigned long long)rr0,
	      (unsigned long long)counter(SY_CNT_CT_REPLY_RESTORED));
	s.tcp_flags = TH_ACK | TH_PSH;
	s.payload = 50;
	expect_xlate("pair/ClusterIP: the reply is reverse-NATed again (exact bytes)",
		     &s, VIP_A, 80, CLIENT, cp);

	/* Forward entry lost: the reply recreates it, and the next forward
	 * packet keeps its backend even though the Maglev table now names
	 * another one for this tuple. */
	check(ct_del(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD),
	      "pair/ClusterIP: forward entry deleted", "%s", strerror(errno));
	ct_age(ba, CLIENT, bp, cp, SY_CT_REPLY, SEC_NS); /* after a pause */
	expect_xlate("pair/ClusterIP: reply with its forward entry missing is reverse-NATed",
		     &s, VIP_A, 80, CLIENT, cp);
	ok = ct_get(CLIENT, VIP_A, cp, 80, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && v.backend_id == be && v.rev_nat_id == SVC_A_TCP &&
		      v.flags == EST && v.nat_addr == 0,
	      "pair/ClusterIP: ... and the forward entry is back",
	      "found=%d backend=%u revnat=%u flags=0x%x", ok, v.backend_id,
	      v.rev_nat_id, v.flags);
	check(counter(SY_CNT_CT_FORWARD_RESTORED) == fr0 + 1,
	      "pair/ClusterIP: counted in ct_forward_restored", "%llu -> %llu",
	      (unsigned long long)fr0,
	      (unsigned long long)counter(SY_CNT_CT_FORWARD_RESTORED));
	{
		uint32_t alt[7];
		int i;

		for (i = 0; i < 7; i++)
			alt[i] = be == 101 ? 102 : 101;
		set_table(1, 7, alt);
		expect_dnat("pair/ClusterIP: the next forward packet keeps the flow's backend",
			    &c, ba, bp);
		set_table(1, 7, tab1);
	}
}

static void test_pair_restore_snat(void)
{
	int old = use_prog(fd_tc_ext);
	uint16_t cp = 47500;
	struct pktdef c = tcp(EXT_C1, NODE, cp, NP_TCP, TH_SYN);
	struct pktdef s = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), cp,
			      TH_SYN | TH_ACK);

	expect_xlate("pair/NodePort: SYN DNATed + SNATed", &c, NODE, cp,
		     be_addr(BE_R1), be_port(BE_R1));
	expect_xlate("pair/NodePort: SYN-ACK reversed", &s, NODE, NP_TCP,
		     EXT_C1, cp);
	ct_del(be_addr(BE_R1), NODE, be_port(BE_R1), cp, SY_CT_REPLY);
	ct_age(EXT_C1, NODE, cp, NP_TCP, SY_CT_FORWARD, SEC_NS);
	c.tcp_flags = TH_ACK;
	expect_xlate("pair/NodePort: forward packet with its reply entry missing",
		     &c, NODE, cp, be_addr(BE_R1), be_port(BE_R1));
	ct_is("pair/NodePort: ... reply entry back, restoring client:port",
	      be_addr(BE_R1), NODE, be_port(BE_R1), cp, IPPROTO_TCP,
	      SY_CT_REPLY, BE_R1, FE_NP, 0xffff,
	      EST | SY_CT_F_SNAT, EXT_C1, cp);
	s.tcp_flags = TH_ACK | TH_PSH;
	s.payload = 9;
	expect_xlate("pair/NodePort: ... the reply reaches the client (exact bytes)",
		     &s, NODE, NP_TCP, EXT_C1, cp);
	ct_del(EXT_C1, NODE, cp, NP_TCP, SY_CT_FORWARD);
	ct_age(be_addr(BE_R1), NODE, be_port(BE_R1), cp, SY_CT_REPLY, SEC_NS);
	expect_xlate("pair/NodePort: reply with its forward entry missing", &s,
		     NODE, NP_TCP, EXT_C1, cp);
	ct_is("pair/NodePort: ... forward entry back, with SNAT to node:port",
	      EXT_C1, NODE, cp, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD, BE_R1,
	      FE_NP, 0xffff, EST | SY_CT_F_SNAT, NODE, cp);
	use_prog(old);
}

/* SNAT ports come from sy_config's range; candidates are a function of the
 * tuple, so a flow that lost both entries gets its port again. */
static void test_snat_range(void)
{
	int old = use_prog(fd_tc_ext);
	uint16_t cp = 47600, p1, p2;
	struct pktdef c = tcp(EXT_C1, NODE, cp, NP_TCP, TH_SYN);
	struct sy_ct_value v;
	bool ok;

	set_snat_range(61000, 61099);
	expect_dnat_snat_port(&c, &p1);
	ok = ct_get(EXT_C1, NODE, cp, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD, &v);
	check(ok && p1 >= 61000 && p1 <= 61099 && ntohs(v.nat_port) == p1,
	      "snat range: the client's port outside sy_config's range is not kept; the NAT port is in it",
	      "found=%d port=%u", ok, p1);
	ct_del(EXT_C1, NODE, cp, NP_TCP, SY_CT_FORWARD);
	ct_del(be_addr(BE_R1), NODE, be_port(BE_R1), p1, SY_CT_REPLY);
	expect_dnat_snat_port(&c, &p2);
	check(p2 == p1,
	      "snat range: a flow that lost both entries gets the same NAT port again",
	      "first %u, then %u", p1, p2);
	ct_del(EXT_C1, NODE, cp, NP_TCP, SY_CT_FORWARD);
	ct_del(be_addr(BE_R1), NODE, be_port(BE_R1), p2, SY_CT_REPLY);
	set_snat_range(0, 0);
	use_prog(old);
}

/* The handshake ACK (client ACK after the reply) marks both entries
 * established in one step (sy_ct_pair_follow's lean path) only when the
 * reply key holds this flow's entry. Another flow's entry there (an older
 * flow of the same client port, planted here with another backend) gets
 * nothing: a half-open entry must not be given the 6 h lifetime by a
 * different flow's ACK. */
static void test_handshake_ack_mismatch(void)
{
	uint16_t cp = 47500;
	struct vip_a_flow f = vip_a_flow(cp);
	uint32_t other = f.other, ba = f.ba;
	uint16_t bp = f.bp;
	struct pktdef c = f.c, s = f.s;
	struct sy_ct_value v;
	uint64_t mm0;
	uint16_t ff;
	bool ok;

	expect_dnat("handshake/mismatch: SYN DNATed", &c, ba, bp);
	expect_xlate("handshake/mismatch: SYN-ACK reversed", &s, VIP_A, 80,
		     CLIENT, cp);
	plant_ct(ba, CLIENT, bp, cp, IPPROTO_TCP, SY_CT_REPLY, other,
		 SVC_A_TCP, SY_CT_F_SEEN_REPLY, 0);
	mm0 = counter(SY_CNT_CT_PAIR_MISMATCH);
	c.tcp_flags = TH_ACK;
	expect_dnat("handshake/mismatch: the client's ACK is DNATed to its backend",
		    &c, ba, bp);
	ff = ct_flags_of(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	ok = ct_get(ba, CLIENT, bp, cp, IPPROTO_TCP, SY_CT_REPLY, &v);
	check(ff == EST && ok && v.backend_id == other &&
		      v.flags == SY_CT_F_SEEN_REPLY,
	      "handshake/mismatch: the forward entry is established, the other flow's reply entry is left as it was",
	      "forward flags 0x%x, reply found=%d backend=%u flags=0x%x", ff,
	      ok, v.backend_id, v.flags);
	check(counter(SY_CNT_CT_PAIR_MISMATCH) == mm0 + 1,
	      "handshake/mismatch: ... counted in ct_pair_mismatch",
	      "%llu -> %llu", (unsigned long long)mm0,
	      (unsigned long long)counter(SY_CNT_CT_PAIR_MISMATCH));
	ct_del(ba, CLIENT, bp, cp, SY_CT_REPLY);
	ct_del(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
}

void test_conntrack(void)
{
	if (!fd_tc_ext)
		return;
	test_lifetimes();
	test_half_close_clusterip();
	test_half_close_nodeport();
	test_rst();
	test_handshake_ack_mismatch();
	test_pair_restore();
	test_pair_restore_snat();
	test_snat_range();
}
