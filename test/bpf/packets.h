/* Packet shapes and flows the BPF tests build again and again: a packet
 * with Don't Fragment set and a given payload, and a ClusterIP TCP flow of
 * CLIENT to VIP_A:80 with its backend as the Maglev table picks it. */
#ifndef SY_TEST_PACKETS_H
#define SY_TEST_PACKETS_H

#include "sy_test.h"

#define IP_DF 0x4000 /* host-order frag_off: Don't Fragment */

/* d carrying `payload` bytes, with DF set (a too-big candidate). */
static inline struct pktdef df_sized(struct pktdef d, int payload)
{
	d.payload = payload;
	d.frag_off = IP_DF;
	return d;
}

/* A TCP flow CLIENT:cp -> VIP_A:80 (group 1, M = 7): the backend the table
 * picks (be, at ba:bp), the other of the two first backends, the client's
 * SYN (c) and the backend's SYN-ACK (s). */
struct vip_a_flow {
	uint32_t be, other, ba;
	uint16_t bp;
	struct pktdef c, s;
};

static inline struct vip_a_flow vip_a_flow(uint16_t cp)
{
	struct vip_a_flow f;

	f.be = tab1[expected_slot(CLIENT, VIP_A, cp, 80, IPPROTO_TCP, 7)];
	f.other = f.be == 101 ? 102 : 101;
	f.ba = be_addr(f.be);
	f.bp = be_port(f.be);
	f.c = tcp(CLIENT, VIP_A, cp, 80, TH_SYN);
	f.s = tcp(f.ba, CLIENT, f.bp, cp, TH_SYN | TH_ACK);
	return f;
}

#endif
