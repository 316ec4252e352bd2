// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Service CIDR of sy_config (svc_net/svc_mask, sy_service_cidr.h): a
 * packet to it skips the reply lookup of sy_lb_decide(). Proved with a
 * decoy: a REPLY entry keyed by a packet to a ClusterIP. Without the CIDR
 * the packet is taken for a reply (the lookup runs); with it, the packet
 * is a forward one and goes to its Maglev backend. And replies are still
 * reverse-translated with a CIDR set: ClusterIP (pod device), hairpin
 * (reply to the node address), NodePort (external device). Every
 * translated frame is compared byte for byte (expect_xlate/expect_dnat).
 */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <bpf/bpf.h>

#include "sy_test.h"

#define EST_F (SY_CT_F_SEEN_REPLY | SY_CT_F_ESTABLISHED)

static void set_service_cidr(uint32_t net, int prefix)
{
	struct sy_config cfg;
	uint32_t zero = 0;

	bpf_map_lookup_elem(fd_config, &zero, &cfg);
	cfg.svc_mask = prefix ? htonl(~0u << (32 - prefix)) : 0;
	cfg.svc_net = net & cfg.svc_mask;
	bpf_map_update_elem(fd_config, &zero, &cfg, BPF_ANY);
}

static void ct_drop(uint32_t saddr, uint32_t daddr, uint16_t sport,
		    uint16_t dport, uint8_t dir)
{
	struct sy_ct_key k;

	ct_key(&k, saddr, daddr, sport, dport, IPPROTO_TCP, dir);
	bpf_map_delete_elem(fd_ct, &k);
}

/* A REPLY entry keyed by CLIENT2:cp -> VIP_A:80 (as if VIP_A were a
 * client of some flow). */
static void test_decoy(void)
{
	uint16_t cp = 47600;
	uint32_t be = tab1[expected_slot(CLIENT2, VIP_A, cp, 80, IPPROTO_TCP, 7)];
	struct pktdef syn = tcp(CLIENT2, VIP_A, cp, 80, TH_SYN);
	struct sy_ct_value v;
	bool ok;

	plant_ct(CLIENT2, VIP_A, cp, 80, IPPROTO_TCP, SY_CT_REPLY, 101,
		 SVC_A_TCP, SY_CT_F_SEEN_REPLY, 0);
	set_service_cidr(0, 0);
	expect_xlate("service CIDR unset: a packet to a ClusterIP is looked up as a reply first (decoy reply entry wins)",
		     &syn, VIP_A, 80, VIP_A, 80);
	ct_drop(VIP_A, VIP_A, 80, 80, SY_CT_FORWARD); /* restored by the pair check */

	set_service_cidr(ip4(10, 96, 0, 0), 12);
	expect_dnat("service CIDR 10.96.0.0/12: the same packet skips the reply lookup, DNATed to its Maglev backend",
		    &syn, be_addr(be), be_port(be));
	ct_is("... forward entry to that backend",
	      CLIENT2, VIP_A, cp, 80, IPPROTO_TCP, SY_CT_FORWARD, be,
	      SVC_A_TCP, 0xffff, 0, 0, 0);
	ok = ct_get(CLIENT2, VIP_A, cp, 80, IPPROTO_TCP, SY_CT_REPLY, &v);
	check(ok && v.backend_id == 101 && v.flags == SY_CT_F_SEEN_REPLY,
	      "... the decoy entry is neither used nor changed",
	      "found=%d backend=%u flags=0x%x", ok, v.backend_id, v.flags);

	/* A destination just outside the CIDR is looked up as a reply. */
	set_service_cidr(ip4(10, 97, 0, 0), 16);
	ct_drop(CLIENT2, VIP_A, cp, 80, SY_CT_FORWARD);
	ct_drop(be_addr(be), CLIENT2, be_port(be), cp, SY_CT_REPLY);
	syn.tcp_flags = TH_ACK;
	expect_xlate("service CIDR 10.97.0.0/16 (VIP outside it): the reply lookup runs again",
		     &syn, VIP_A, 80, VIP_A, 80);
	ct_drop(VIP_A, VIP_A, 80, 80, SY_CT_FORWARD);
	ct_drop(CLIENT2, VIP_A, cp, 80, SY_CT_REPLY);
}

/* A whole ClusterIP handshake with the CIDR set: the reply (to the client
 * pod) is reverse-NATed and the handshake ACK establishes both entries. */
static void test_clusterip_flow(void)
{
	uint16_t cp = 47610;
	uint32_t be = tab1[expected_slot(CLIENT, VIP_A, cp, 80, IPPROTO_TCP, 7)];
	uint32_t ba = be_addr(be);
	uint16_t bp = be_port(be);
	struct pktdef c = tcp(CLIENT, VIP_A, cp, 80, TH_SYN);
	struct pktdef s = tcp(ba, CLIENT, bp, cp, TH_SYN | TH_ACK);

	set_service_cidr(ip4(10, 96, 0, 0), 12);
	expect_dnat("service CIDR set: SYN to the ClusterIP DNATed", &c, ba, bp);
	expect_xlate("service CIDR set: the backend's SYN-ACK is still reverse-NATed to VIP:80",
		     &s, VIP_A, 80, CLIENT, cp);
	c.tcp_flags = TH_ACK;
	expect_dnat("service CIDR set: the handshake ACK DNATed", &c, ba, bp);
	ct_is("... forward entry established",
	      CLIENT, VIP_A, cp, 80, IPPROTO_TCP, SY_CT_FORWARD, be,
	      SVC_A_TCP, EST_F, EST_F, 0, 0);
	ct_is("... reply entry established",
	      ba, CLIENT, bp, cp, IPPROTO_TCP, SY_CT_REPLY, be, SVC_A_TCP,
	      EST_F, EST_F, 0, 0);
	c.tcp_flags = TH_ACK | TH_PSH;
	c.payload = 20;
	expect_dnat("service CIDR set: data of the established flow DNATed",
		    &c, ba, bp);
	s.tcp_flags = TH_ACK | TH_PSH;
	s.payload = 30;
	expect_xlate("service CIDR set: data from the backend reverse-NATed",
		     &s, VIP_A, 80, CLIENT, cp);
	ct_drop(CLIENT, VIP_A, cp, 80, SY_CT_FORWARD);
	ct_drop(ba, CLIENT, bp, cp, SY_CT_REPLY);
}

/* Hairpin (a pod reaching itself through its ClusterIP: SNAT to the node)
 * and NodePort (SNAT to the node) with the CIDR set: their replies go to
 * the node address, outside the CIDR, and are reverse-translated. */
static void test_snat_replies(void)
{
	uint32_t me = be_addr(BE_HP);
	uint16_t bp = be_port(BE_HP), cp = 41000;
	struct pktdef syn = tcp(me, HP_VIP, cp, 80, TH_SYN);
	struct pktdef rep = tcp(me, NODE, bp, cp, TH_SYN | TH_ACK);
	struct pktdef c = tcp(EXT_C1, NODE, 47620, NP_TCP, TH_SYN);
	struct pktdef s = tcp(be_addr(BE_R1), NODE, be_port(BE_R1), 47620,
			      TH_SYN | TH_ACK);
	int old = use_prog(fd_tc_pod);

	set_service_cidr(ip4(198, 18, 100, 0), 24); /* holds HP_VIP */
	expect_xlate("service CIDR set, hairpin: DNAT + SNAT to node",
		     &syn, NODE, cp, me, bp);
	expect_xlate("service CIDR set, hairpin reply (pod -> node) reverse-translated",
		     &rep, HP_VIP, 80, me, cp);
	syn.tcp_flags = TH_ACK;
	expect_xlate("service CIDR set, hairpin handshake ACK", &syn, NODE, cp,
		     me, bp);
	ct_is("... hairpin reply entry established",
	      me, NODE, bp, cp, IPPROTO_TCP, SY_CT_REPLY, BE_HP, FE_HP,
	      EST_F | SY_CT_F_SNAT, EST_F | SY_CT_F_SNAT, me, cp);
	ct_drop(me, HP_VIP, cp, 80, SY_CT_FORWARD);
	ct_drop(me, NODE, bp, cp, SY_CT_REPLY);

	use_prog(fd_tc_ext);
	expect_xlate("service CIDR set, NodePort: SYN DNATed + SNATed", &c,
		     NODE, 47620, be_addr(BE_R1), be_port(BE_R1));
	expect_xlate("service CIDR set, NodePort reply reverse-translated",
		     &s, NODE, NP_TCP, EXT_C1, 47620);
	ct_drop(EXT_C1, NODE, 47620, NP_TCP, SY_CT_FORWARD);
	ct_drop(be_addr(BE_R1), NODE, be_port(BE_R1), 47620, SY_CT_REPLY);
	use_prog(old);
}

void test_service_cidr(void)
{
	if (!fd_tc_ext)
		return;
	test_decoy();
	test_clusterip_flow();
	test_snat_replies();
	set_service_cidr(0, 0);
}
