// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN of IPv4 fragments (sy_frag.h) and of frames for other
 * hosts (sy_pkt_type.h), in tc and XDP.
 *
 * A fragmented datagram is built whole from a pktdef (checksums by plain
 * RFC 1071 sums over the whole datagram), then cut into fragments; the
 * expected fragments are cut the same way from the translated datagram built
 * from scratch. Every byte of every fragment is compared: the first
 * fragment's L4 checksum must be the whole translated datagram's, the later
 * fragments keep their payload and get new addresses and a new IPv4 header
 * checksum only.
 *
 * pkt_type: BPF_PROG_TEST_RUN does not let ctx_in set __sk_buff.pkt_type
 * (the kernel rejects a non-zero field before mark), but it classifies the
 * frame with eth_type_trans() on the device of ctx_in.ifindex (loopback by
 * default, whose address and broadcast address are all zero). So a unicast
 * MAC other than the device's gives PACKET_OTHERHOST, a group MAC
 * PACKET_MULTICAST, and ff:ff:ff:ff:ff:ff on a veth PACKET_BROADCAST; the
 * tests below use that, each with a control frame addressed to the device
 * that is translated.
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

#define FRAG_PAYLOAD 600 /* UDP: 608 L4 bytes = fragments of 208, 208, 192 */
#define FRAG_CUT 208     /* a multiple of 8 */

/* Fragment [off, off + n) of the L4 bytes of the datagram d (IHL 5), IP id
 * id, MF unless it is the last one; IPv4 header checksum from scratch. */
static size_t build_frag(uint8_t *b, const struct pktdef *d, uint16_t id,
			 size_t off, size_t n)
{
	uint8_t full[BUF];
	size_t flen = build(full, d), l4len = flen - 34;
	uint8_t *ip = b + 14;
	bool mf;

	if (off + n >= l4len)
		n = l4len - off;
	mf = off + n < l4len;
	memcpy(b, full, 34);
	put16(ip + 2, 20 + n);
	put16(ip + 4, id);
	put16(ip + 6, (uint16_t)((off / 8) | (mf ? 0x2000 : 0) |
				 (get16(full + 14 + 6) & 0x4000)));
	put16(ip + 10, 0);
	put16(ip + 10, ~fold(sum16(ip, 20, 0)));
	memcpy(b + 34, full + 34 + off, n);
	return 34 + n;
}

/* A forwarded frame: MACs from the FIB, TTL - 1, IPv4 checksum again. */
static void forwarded(uint8_t *b, const uint8_t *dmac, const uint8_t *smac)
{
	uint8_t *ip = b + 14;

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	ip[8] -= 1;
	put16(ip + 10, 0);
	put16(ip + 10, ~fold(sum16(ip, 20, 0)));
}

static int run_prog(int fd, const uint8_t *in, size_t len, uint8_t *out,
		    size_t *olen, uint32_t *ret, uint32_t ifindex, bool xdp)
{
	struct __sk_buff skb = { .ifindex = ifindex };
	struct xdp_md xm = { .data_end = (uint32_t)len,
			     .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
		    .data_size_in = len, .data_out = out,
		    .data_size_out = BUF, .repeat = 1,
		    .flags = xdp ? 0 : run_flags);

	if (ifindex) {
		opts.ctx_in = xdp ? (void *)&xm : (void *)&skb;
		opts.ctx_size_in = xdp ? sizeof(xm) : sizeof(skb);
	}
	memset(out, 0xaa, BUF);
	if (bpf_prog_test_run_opts(fd, &opts))
		return -errno;
	*olen = opts.data_size_out;
	*ret = opts.retval;
	return 0;
}

/* Run in; expect want and, when exp is given, exactly exp. */
static bool expect_run(const char *name, int fd, bool xdp, uint32_t ifindex,
		       const uint8_t *in, size_t len, uint32_t want,
		       const uint8_t *exp, size_t elen)
{
	uint8_t out[BUF];
	size_t olen = 0;
	uint32_t ret = 0;
	const char *diff;
	int err;

	err = run_prog(fd, in, len, out, &olen, &ret, ifindex, xdp);
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	if (ret != want)
		return check(false, name, "returned %d, expected %d", (int)ret,
			     (int)want);
	if (exp) {
		diff = diff_bytes(out, olen, exp, elen);
		if (diff)
			return check(false, name, "%s", diff);
	}
	return check(true, name, "%s", "");
}

/* The three fragments (first, middle, last) of d, id, in the given order
 * (indices into {first, middle, last}), each expected translated to w, or
 * dropped where drop[i]. fwd: the frames are forwarded (MACs, TTL). */
struct frag_case {
	int fd;
	bool xdp;
	uint32_t ifindex;
	uint32_t ok;           /* return of a translated fragment */
	uint32_t drop;         /* return of a dropped one */
	const uint8_t *dmac, *smac; /* forwarded: MACs; NULL: not forwarded */
};

static const char *const PART[3] = { "first", "middle", "last" };

static void run_frags(const char *what, const struct frag_case *c,
		      const struct pktdef *d, const struct pktdef *w,
		      uint16_t id, const int order[3], const bool drop[3])
{
	for (int k = 0; k < 3; k++) {
		int i = order[k];
		uint8_t in[BUF], exp[BUF];
		size_t len, elen;
		char name[256];

		len = build_frag(in, d, id, (size_t)i * FRAG_CUT, FRAG_CUT);
		if (drop[k]) {
			snprintf(name, sizeof(name),
				 "%s: %s fragment (%s of 3 to arrive) dropped",
				 what, PART[i], PART[k]);
			expect_run(name, c->fd, c->xdp, c->ifindex, in, len,
				   c->drop, NULL, 0);
			continue;
		}
		elen = build_frag(exp, w, id, (size_t)i * FRAG_CUT, FRAG_CUT);
		if (c->dmac)
			forwarded(exp, c->dmac, c->smac);
		if (c->ok == (uint32_t)TCX_NEXT)
			snprintf(name, sizeof(name),
				 "%s: %s fragment byte-identical", what,
				 PART[i]);
		else
			snprintf(name, sizeof(name),
				 "%s: %s fragment translated (every byte%s)",
				 what, PART[i],
				 i == 0 ? ", L4 checksum of the whole datagram" :
					  ", payload kept, IPv4 checksum only");
		expect_run(name, c->fd, c->xdp, c->ifindex, in, len, c->ok,
			   exp, elen);
	}
}

static const int IN_ORDER[3] = { 0, 1, 2 };
static const bool NONE[3] = { false, false, false };

static struct pktdef with(const struct pktdef *d, uint32_t saddr,
			  uint16_t sport, uint32_t daddr, uint16_t dport)
{
	struct pktdef w = *d;

	w.saddr = saddr;
	w.sport = sport;
	w.daddr = daddr;
	w.dport = dport;
	return w;
}

#define DELTA(c, base) ((unsigned long long)(counter(c) - (base)))

static void test_frag_tc(void)
{
	struct frag_case pod = { .fd = prog_fd, .ok = TC_ACT_OK,
				 .drop = TC_ACT_SHOT };
	uint64_t first = counter(SY_CNT_FRAG_FIRST);
	uint64_t later = counter(SY_CNT_FRAG_XLATE);
	uint64_t nofirst = counter(SY_CNT_DROP_FRAG_NO_FIRST);
	struct pktdef d, w, r, rw;
	uint32_t slot, be;

	/* In order, then the reply in fragments. */
	d = udp(CLIENT, VIP_A, 44000, 53);
	d.payload = FRAG_PAYLOAD;
	slot = expected_slot(CLIENT, VIP_A, 44000, 53, IPPROTO_UDP, 251);
	be = tab2[slot];
	w = with(&d, CLIENT, 44000, be_addr(be), be_port(be));
	run_frags("frag tc UDP to a ClusterIP, in order", &pod, &d, &w, 0x4001,
		  IN_ORDER, NONE);
	ct_is("frag tc: the first fragment created the flow's forward entry",
	      CLIENT, VIP_A, 44000, 53, IPPROTO_UDP, SY_CT_FORWARD, be,
	      SVC_A_UDP, 0, 0, 0, 0);
	r = udp(be_addr(be), CLIENT, be_port(be), 44000);
	r.payload = FRAG_PAYLOAD;
	rw = with(&r, VIP_A, 53, CLIENT, 44000);
	run_frags("frag tc UDP reply from the backend, reverse NAT", &pod, &r,
		  &rw, 0x7001, IN_ORDER, NONE);
	check(counter(SY_CNT_FRAG_FIRST) == first + 2 &&
		      counter(SY_CNT_FRAG_XLATE) == later + 4,
	      "frag tc: counters frag_first +2, frag_xlate +4",
	      "frag_first +%llu frag_xlate +%llu",
	      DELTA(SY_CNT_FRAG_FIRST, first), DELTA(SY_CNT_FRAG_XLATE, later));

	/* The last fragment first: dropped and counted, never sent with the
	 * ClusterIP; the rest of the datagram is translated. */
	{
		static const int order[3] = { 2, 0, 1 };
		static const bool drop[3] = { true, false, false };

		d.sport = 44001;
		slot = expected_slot(CLIENT, VIP_A, 44001, 53, IPPROTO_UDP, 251);
		be = tab2[slot];
		w = with(&d, CLIENT, 44001, be_addr(be), be_port(be));
		run_frags("frag tc UDP, last fragment first", &pod, &d, &w,
			  0x4002, order, drop);
		check(counter(SY_CNT_DROP_FRAG_NO_FIRST) == nofirst + 1,
		      "frag tc: ... counted in drop_frag_no_first (+1)",
		      "+%llu", DELTA(SY_CNT_DROP_FRAG_NO_FIRST, nofirst));
	}

	/* CHECKSUM_COMPLETE skbs (an underlay NIC's): the kernel fails the run
	 * unless skb->csum still matches every fragment afterwards. */
	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	d.sport = 44005;
	slot = expected_slot(CLIENT, VIP_A, 44005, 53, IPPROTO_UDP, 251);
	be = tab2[slot];
	w = with(&d, CLIENT, 44005, be_addr(be), be_port(be));
	run_frags("frag tc UDP, CHECKSUM_COMPLETE skbs", &pod, &d, &w, 0x4007,
		  IN_ORDER, NONE);
	r = udp(be_addr(be), CLIENT, be_port(be), 44005);
	r.payload = FRAG_PAYLOAD;
	rw = with(&r, VIP_A, 53, CLIENT, 44005);
	run_frags("frag tc UDP reply, CHECKSUM_COMPLETE skbs", &pod, &r, &rw,
		  0x7007, IN_ORDER, NONE);
	run_flags = 0;

	/* TCP in fragments: the ports and the TCP checksum are in the first. */
	d = tcp(CLIENT, VIP_A, 44002, 80, TH_ACK | TH_PSH);
	d.payload = FRAG_PAYLOAD;
	slot = expected_slot(CLIENT, VIP_A, 44002, 80, IPPROTO_TCP, 7);
	be = tab1[slot];
	w = with(&d, CLIENT, 44002, be_addr(be), be_port(be));
	run_frags("frag tc TCP segment to a ClusterIP", &pod, &d, &w, 0x4003,
		  IN_ORDER, NONE);

	/* Not a service: every fragment untouched and to the next program. */
	{
		struct frag_case other = pod;

		other.ok = (uint32_t)TCX_NEXT;
		d = udp(CLIENT, CLIENT2, 44003, 53);
		d.payload = FRAG_PAYLOAD;
		run_frags("frag tc UDP between two pods (no service): untouched, TCX_NEXT",
			  &other, &d, &d, 0x4004, IN_ORDER, NONE);
	}

	/* A frontend without endpoints: the first fragment gets the ICMP
	 * port unreachable; the later ones are dropped. */
	{
		uint64_t rj = counter(SY_CNT_DROP_FRAG_REJECT);
		uint8_t in[BUF];
		size_t len;

		d = udp(CLIENT, VIP_NOEP, 44004, 53);
		d.payload = FRAG_PAYLOAD;
		len = build_frag(in, &d, 0x4005, 0, FRAG_CUT);
		expect_run("frag tc: first fragment to a frontend without endpoints gets the REJECT (TC_ACT_REDIRECT)",
			   prog_fd, false, 0, in, len, TC_ACT_REDIRECT, NULL, 0);
		len = build_frag(in, &d, 0x4005, FRAG_CUT, FRAG_CUT);
		expect_run("frag tc: ... its later fragment is dropped, not answered again",
			   prog_fd, false, 0, in, len, TC_ACT_SHOT, NULL, 0);
		check(counter(SY_CNT_DROP_FRAG_REJECT) == rj + 1,
		      "frag tc: ... counted in drop_frag_reject (+1)", "+%llu",
		      DELTA(SY_CNT_DROP_FRAG_REJECT, rj));
	}

	/* SNAT (NodePort, remote backend) on the external device, and the
	 * SNATed reply back (FIB has no route here: TC_ACT_OK). */
	{
		int old = use_prog(fd_tc_ext);
		struct frag_case ext = pod;

		ext.fd = fd_tc_ext;
		d = udp(EXT_C4, NODE, 44100, NP_UDP);
		d.payload = FRAG_PAYLOAD;
		w = with(&d, NODE, 44100, be_addr(BE_R2), be_port(BE_R2));
		run_frags("frag tc NodePort UDP, remote backend: DNAT + SNAT",
			  &ext, &d, &w, 0x4006, IN_ORDER, NONE);
		r = udp(be_addr(BE_R2), NODE, be_port(BE_R2), 44100);
		r.payload = FRAG_PAYLOAD;
		rw = with(&r, NODE, NP_UDP, EXT_C4, 44100);
		run_frags("frag tc NodePort UDP reply: SNAT and DNAT reversed",
			  &ext, &r, &rw, 0x7006, IN_ORDER, NONE);
		use_prog(old);
	}
}

/* tc: frames that are not PACKET_HOST on loopback. */
static void test_not_for_host_tc(void)
{
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 0x99 };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x01 };
	uint64_t nfh = counter(SY_CNT_NOT_FOR_HOST);
	struct pktdef d = tcp(CLIENT, VIP_A, 44200, 80, TH_SYN);
	uint8_t in[BUF];
	size_t len;

	memcpy(eth_dst, other, 6);
	len = build(in, &d);
	expect_unchanged_raw("tc: TCP SYN to a ClusterIP for another MAC (PACKET_OTHERHOST): untouched, TCX_NEXT",
			     in, len);
	check(ct_absent(CLIENT, VIP_A, 44200, 80, IPPROTO_TCP),
	      "tc: ... no conntrack entry", "%s", "");
	memcpy(eth_dst, mcast, 6);
	len = build(in, &d);
	expect_unchanged_raw("tc: ... to a multicast MAC (PACKET_MULTICAST): untouched, TCX_NEXT",
			     in, len);
	d.frag_off = 0x0010;
	len = build(in, &d);
	expect_unchanged_raw("tc: ... a later fragment to a multicast MAC: untouched (not dropped)",
			     in, len);
	memset(eth_dst, 0, 6);
	check(counter(SY_CNT_NOT_FOR_HOST) == nfh + 3,
	      "tc: counted in not_for_host (+3)", "+%llu",
	      DELTA(SY_CNT_NOT_FOR_HOST, nfh));
	{
		uint32_t slot = expected_slot(CLIENT, VIP_A, 44200, 80,
					      IPPROTO_TCP, 7);

		d.frag_off = 0;
		expect_dnat("tc: control: the same SYN to the device's MAC is DNATed",
			    &d, be_addr(tab1[slot]), be_port(tab1[slot]));
	}
}

void test_frag(void)
{
	test_frag_tc();
	test_not_for_host_tc();
}

/* With the veth pair of xdp_test.c: x0 receives, MACs of both sides. */
void test_frag_xdp(int fd_xdp, uint32_t x0, const uint8_t *mac_x0,
		   const uint8_t *mac_x1, const uint8_t *mac_be,
		   const uint8_t *mac_cl)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x01 };
	struct frag_case fwd = { .fd = fd_xdp, .xdp = true, .ifindex = x0,
				 .ok = XDP_REDIRECT, .drop = XDP_DROP,
				 .dmac = mac_be, .smac = mac_x1 };
	struct frag_case back = fwd;
	uint64_t nofirst = counter(SY_CNT_DROP_FRAG_NO_FIRST);
	uint64_t nfh = counter(SY_CNT_NOT_FOR_HOST);
	uint64_t later = counter(SY_CNT_FRAG_XLATE);
	struct pktdef d, w, r, rw;
	uint8_t in[BUF];
	size_t len;

	back.ok = XDP_TX;
	back.dmac = mac_cl;
	back.smac = mac_x0;

	memcpy(eth_dst, mac_x0, 6);
	d = udp(EXT_C2, NODE, 44300, NP_UDP);
	d.payload = FRAG_PAYLOAD;
	w = with(&d, NODE, 44300, be_addr(BE_R2), be_port(BE_R2));
	run_frags("frag xdp NodePort UDP, remote backend: DNAT + SNAT, XDP_REDIRECT",
		  &fwd, &d, &w, 0x5001, IN_ORDER, NONE);
	r = udp(be_addr(BE_R2), NODE, be_port(BE_R2), 44300);
	r.payload = FRAG_PAYLOAD;
	rw = with(&r, NODE, NP_UDP, EXT_C2, 44300);
	run_frags("frag xdp NodePort UDP reply: reversed, XDP_TX", &back, &r,
		  &rw, 0x8001, IN_ORDER, NONE);
	{
		static const int order[3] = { 2, 0, 1 };
		static const bool drop[3] = { true, false, false };

		d.sport = 44301;
		w = with(&d, NODE, 44301, be_addr(BE_R2), be_port(BE_R2));
		run_frags("frag xdp NodePort UDP, last fragment first", &fwd,
			  &d, &w, 0x5002, order, drop);
	}
	check(counter(SY_CNT_DROP_FRAG_NO_FIRST) == nofirst + 1 &&
		      counter(SY_CNT_FRAG_XLATE) == later + 5,
	      "frag xdp: counters drop_frag_no_first +1, frag_xlate +5 (2 forward, 2 reply, 1 after the reordering)",
	      "+%llu, +%llu", DELTA(SY_CNT_DROP_FRAG_NO_FIRST, nofirst),
	      DELTA(SY_CNT_FRAG_XLATE, later));

	/* Broadcast and multicast frames to a NodePort: XDP passes them
	 * untouched, and tc on the same device (skb pkt_type
	 * PACKET_BROADCAST / PACKET_MULTICAST) leaves them untouched too. */
	d = udp(EXT_C2, NODE, 44302, NP_UDP);
	memcpy(eth_dst, bcast, 6);
	len = build(in, &d);
	expect_run("xdp: UDP to a NodePort in a broadcast frame: XDP_PASS untouched",
		   fd_xdp, true, x0, in, len, XDP_PASS, in, len);
	expect_run("tc: ... and sy_tc_external (PACKET_BROADCAST on sy-x0): untouched, TCX_NEXT",
		   fd_tc_ext, false, x0, in, len, (uint32_t)TCX_NEXT, in, len);
	memcpy(eth_dst, mcast, 6);
	len = build(in, &d);
	expect_run("xdp: ... in a multicast frame: XDP_PASS untouched",
		   fd_xdp, true, x0, in, len, XDP_PASS, in, len);
	check(ct_absent(EXT_C2, NODE, 44302, NP_UDP, IPPROTO_UDP),
	      "xdp: ... no conntrack entry for them", "%s", "");
	check(counter(SY_CNT_NOT_FOR_HOST) == nfh + 3,
	      "xdp/tc: counted in not_for_host (+3)", "+%llu",
	      DELTA(SY_CNT_NOT_FOR_HOST, nfh));
	/* Unicast to another MAC: XDP knows the device's own address from
	 * sy_dev_mac (the loader writes it at attach); without an entry it
	 * cannot tell (tc then sees PACKET_OTHERHOST). */
	{
		static const uint8_t other[6] = { 0x02, 0, 0, 0, 0x10, 0x99 };
		int fd_mac = bpf_map__fd(skel->maps.sy_dev_mac);
		struct sy_dev_mac dm = { .set = 1 };
		uint64_t n0 = counter(SY_CNT_NOT_FOR_HOST);

		memcpy(dm.addr, mac_x0, 6);
		check(bpf_map_update_elem(fd_mac, &x0, &dm, BPF_ANY) == 0,
		      "xdp: sy_dev_mac[sy-x0] = its MAC", "%s", strerror(errno));
		memcpy(eth_dst, other, 6);
		len = build(in, &d);
		expect_run("xdp: UDP to a NodePort in a frame for another MAC (sy_dev_mac known): XDP_PASS untouched",
			   fd_xdp, true, x0, in, len, XDP_PASS, in, len);
		expect_run("tc: ... and sy_tc_external (PACKET_OTHERHOST on sy-x0): untouched, TCX_NEXT",
			   fd_tc_ext, false, x0, in, len, (uint32_t)TCX_NEXT, in, len);
		check(counter(SY_CNT_NOT_FOR_HOST) == n0 + 2 &&
			      ct_absent(EXT_C2, NODE, 44302, NP_UDP, IPPROTO_UDP),
		      "xdp/tc: counted in not_for_host (+2), no conntrack entry",
		      "+%llu", DELTA(SY_CNT_NOT_FOR_HOST, n0));
		memcpy(eth_dst, mac_x0, 6);
		w = with(&d, NODE, 44302, be_addr(BE_R2), be_port(BE_R2));
		{
			uint8_t exp[BUF];
			size_t elen;

			len = build(in, &d);
			elen = build(exp, &w);
			forwarded(exp, mac_be, mac_x1);
			expect_run("xdp: control: the same datagram to the device's MAC is translated (XDP_REDIRECT)",
				   fd_xdp, true, x0, in, len, XDP_REDIRECT, exp,
				   elen);
		}
		memset(&dm, 0, sizeof(dm));
		bpf_map_update_elem(fd_mac, &x0, &dm, BPF_ANY);
	}
	memset(eth_dst, 0, 6);
}
