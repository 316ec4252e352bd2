// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN of the ICMP handling (bpf/include/sy_icmp.h,
 * sy_ratelimit.h), in tc (both device roles) and XDP:
 *   - ICMP errors quoting a packet of a tracked flow (port unreachable from
 *     a backend, fragmentation needed from a router on either side, time
 *     exceeded), DNATed and SNATed flows, both directions;
 *   - ICMP fragmentation needed generated for a DF packet too big for the
 *     egress of a real device (a veth of MTU 1280 in the suite's private
 *     network namespace), quoting the packet as the client sent it;
 *   - rate limits of the generated frag-needed and of REJECT.
 * Every expected frame is built from scratch with plain RFC 1071 sums and
 * compared byte for byte; the output's checksums are verified as well.
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
#include "packets.h"

#define ROUTER_B ip4(10, 201, 0, 1)   /* a router on the backends' side */
#define ROUTER_C ip4(198, 18, 50, 254) /* a router on the clients' side */

static int fd_xdp_prog, fd_rate;
static uint32_t i0, i1; /* sy-i0: clients; sy-i1: backends, MTU 1280 */

static const uint8_t MAC_I0[6] = { 0x02, 0, 0, 0, 0x20, 0x00 };
static const uint8_t MAC_I1[6] = { 0x02, 0, 0, 0, 0x20, 0x01 };
static const uint8_t MAC_BEND[6] = { 0x02, 0, 0, 0, 0xbe, 0x02 };
static const uint8_t MAC_CLNT[6] = { 0x02, 0, 0, 0, 0xc1, 0x02 };
/* build_eth()'s addresses, and swapped for answers. */
/* build() addresses frames to eth_dst (sy_test.h): all zero (lo's MAC) for
 * runs on lo, the device's own MAC for runs on sy-i0, so that the frame is
 * PACKET_HOST there (frames for other hosts are left untouched). */
#define MAC_IN_DST ((const uint8_t *)eth_dst)
static const uint8_t MAC_IN_SRC[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* ---- frames ------------------------------------------------------------- */

/* The first qlen bytes (0: all) of the IPv4 packet d, as an ICMP quote. */
static size_t quote_of(uint8_t *q, const struct pktdef *d, size_t qlen)
{
	uint8_t f[BUF];
	size_t n = build(f, d) - 14;

	if (qlen == 0 || qlen > n)
		qlen = n;
	memcpy(q, f + 14, qlen);
	return qlen;
}

struct icmpdef {
	const uint8_t *dmac, *smac;
	uint32_t saddr, daddr;
	uint8_t tos, ttl;
	uint16_t id;
	uint8_t type, code;
	uint32_t rest; /* bytes 4..7 of the ICMP header, host order */
};

static size_t build_icmp(uint8_t *b, const struct icmpdef *c,
			 const uint8_t *quote, size_t qlen)
{
	uint8_t *ip = b + 14, *ic = b + 34;

	memcpy(b, c->dmac, 6);
	memcpy(b + 6, c->smac, 6);
	put16(b + 12, ETHERTYPE_IPV4);
	memset(ip, 0, 28);
	ip[0] = 0x45;
	ip[1] = c->tos;
	put16(ip + 2, 20 + 8 + qlen);
	put16(ip + 4, c->id);
	ip[8] = c->ttl;
	ip[9] = IPPROTO_ICMP;
	memcpy(ip + 12, &c->saddr, 4);
	memcpy(ip + 16, &c->daddr, 4);
	put16(ip + 10, ~fold(sum16(ip, 20, 0)));
	ic[0] = c->type;
	ic[1] = c->code;
	put32(ic + 4, c->rest);
	memcpy(ic + 8, quote, qlen);
	put16(ic + 2, ~fold(sum16(ic, 8 + qlen, 0)));
	return 14 + 28 + qlen;
}

/* An error as a host or router sends it to us. */
static struct icmpdef err_in(uint32_t saddr, uint32_t daddr, uint8_t type,
			     uint8_t code, uint32_t rest)
{
	struct icmpdef c = { MAC_IN_DST, MAC_IN_SRC, saddr, daddr, 0, 64,
			     0x4321, type, code, rest };
	return c;
}

/* d with other addresses and ports. */
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

/* ICMP frame checks over the bytes received: IPv4 header sum, ICMP sum. */
static bool icmp_sums_ok(const uint8_t *out, size_t olen, char *why,
			 size_t wlen)
{
	size_t ihl, tot;

	if (olen < 14 + 28) {
		snprintf(why, wlen, "frame too short (%zu)", olen);
		return false;
	}
	ihl = (out[14] & 0xf) * 4;
	tot = get16(out + 16);
	if (fold(sum16(out + 14, ihl, 0)) != 0xffff) {
		snprintf(why, wlen, "IPv4 header checksum invalid");
		return false;
	}
	if (14 + tot > olen || fold(sum16(out + 14 + ihl, tot - ihl, 0)) != 0xffff) {
		snprintf(why, wlen, "ICMP checksum invalid");
		return false;
	}
	/* The embedded IPv4 header's checksum too. */
	if (out[14 + ihl] == 3 || out[14 + ihl] == 11) {
		const uint8_t *in = out + 14 + ihl + 8;
		size_t iihl = (in[0] & 0xf) * 4;

		if (14 + ihl + 8 + iihl <= olen && (in[0] >> 4) == 4 &&
		    fold(sum16(in, iihl, 0)) != 0xffff) {
			snprintf(why, wlen, "embedded IPv4 header checksum invalid");
			return false;
		}
	}
	return true;
}

static int run_xdp(const uint8_t *in, size_t len, uint8_t *out, size_t *olen,
		   uint32_t *ret, uint32_t ifindex)
{
	return run_xdp_prog(fd_xdp_prog, in, len, out, olen, ret, ifindex);
}

/* Run in through the current tc program (xdp: through sy_xdp, arriving on
 * ifindex), expect want and exactly exp (ICMP checksums verified too when
 * icmp, else TCP/UDP checksums). */
static bool expect(const char *name, bool xdp, uint32_t ifindex,
		   const uint8_t *in, size_t len, uint32_t want,
		   const uint8_t *exp, size_t elen, bool icmp)
{
	uint8_t out[BUF];
	size_t olen;
	uint32_t ret;
	const char *diff;
	char why[128];
	int err;

	if (xdp) {
		err = run_xdp(in, len, out, &olen, &ret, ifindex);
	} else {
		uint32_t old = run_ifindex;

		run_ifindex = ifindex;
		err = run(in, len, out, &olen, &ret);
		run_ifindex = old;
	}
	if (err)
		return check(false, name, "test run failed: %s", strerror(-err));
	if (ret != want)
		return check(false, name, "returned %u, expected %u", ret, want);
	if (icmp ? !icmp_sums_ok(out, olen, why, sizeof(why)) :
		   !csums_valid(out, olen, why, sizeof(why)))
		return check(false, name, "%s", why);
	diff = diff_bytes(out, olen, exp, elen);
	if (diff)
		return check(false, name, "%s", diff);
	return check(true, name, "%s", "");
}

/* Forwarded by us: MACs of the egress, TTL - 1, header sum from scratch. */
static void forwarded(uint8_t *b, const uint8_t *dmac, const uint8_t *smac)
{
	uint8_t *ip = b + 14;

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	ip[8]--;
	put16(ip + 10, 0);
	put16(ip + 10, ~fold(sum16(ip, (ip[0] & 0xf) * 4, 0)));
}

/* ---- the private namespace: a real MTU ---------------------------------- */

static int sh(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static bool icmp_net_setup(void)
{
	char cmd[512];
	int err = 0;

	err = err ?: sh("ip link add sy-i0 address 02:00:00:00:20:00 type veth "
			"peer name sy-i1 address 02:00:00:00:20:01");
	err = err ?: sh("ip link set sy-i1 mtu 1280");
	err = err ?: sh("ip link set sy-i0 up && ip link set sy-i1 up");
	err = err ?: sh("ip addr add 198.18.50.1/24 dev sy-i0 && "
			"ip addr add 10.200.0.1/16 dev sy-i1");
	snprintf(cmd, sizeof(cmd),
		 "ip neigh replace %s lladdr 02:00:00:00:c1:02 dev sy-i0 nud permanent",
		 ipstr(EXT_C1));
	err = err ?: sh(cmd);
	for (uint32_t id = BE_R1; id <= BE_R2; id++) {
		snprintf(cmd, sizeof(cmd),
			 "ip neigh replace %s lladdr 02:00:00:00:be:02 dev sy-i1 nud permanent",
			 ipstr(be_addr(id)));
		err = err ?: sh(cmd);
	}
	err = err ?: sh("echo 1 > /proc/sys/net/ipv4/conf/all/forwarding");
	i0 = if_nametoindex("sy-i0");
	i1 = if_nametoindex("sy-i1");
	return check(!err && i0 && i1,
		     "icmp: private netns: veth sy-i0 (clients) / sy-i1 (backends, MTU 1280), static neighbours",
		     "setup failed (err %d, ifindex %u/%u)", err, i0, i1);
}

/* ---- rate-limit buckets --------------------------------------------------- */

/* Bucket idx holds n tokens and earns none for an hour. */
static int bucket_set(uint32_t idx, uint32_t n, uint64_t last_ns)
{
	struct sy_rate_bucket b;

	memset(&b, 0, sizeof(b));
	b.tokens = n;
	b.last_ns = last_ns;
	return bpf_map_update_elem(fd_rate, &idx, &b, BPF_F_LOCK) ? -errno : 0;
}

static uint32_t bucket_tokens(uint32_t idx)
{
	struct sy_rate_bucket b;

	memset(&b, 0, sizeof(b));
	if (bpf_map_lookup_elem_flags(fd_rate, &idx, &b, BPF_F_LOCK))
		return 0xffffffff;
	return b.tokens;
}

/* ---- ICMP errors: tc, pod devices (ClusterIP, DNAT only) ---------------- */

static void test_icmp_tc_dnat(void)
{
	uint64_t rv = counter(SY_CNT_ICMP_ERR_REVNAT);
	uint64_t dn = counter(SY_CNT_ICMP_ERR_DNAT);
	uint8_t in[BUF], exp[BUF], q[BUF], qe[BUF];
	struct pktdef d, t;
	struct icmpdef c;
	size_t len, elen, ql;
	uint32_t be, slot;
	int old = use_prog(fd_tc_pod);

	/* A UDP flow to a ClusterIP, DNATed to backend be. */
	d = udp(CLIENT, VIP_A, 47001, 53);
	d.payload = 10;
	slot = expected_slot(CLIENT, VIP_A, 47001, 53, IPPROTO_UDP, 251);
	be = tab2[slot];
	expect_dnat("icmp tc: (a UDP flow to a ClusterIP is DNATed)", &d,
		    be_addr(be), be_port(be));

	/* The backend has no socket: port unreachable quoting the whole
	 * datagram it received (Linux quotes up to 576 bytes). */
	t = with(&d, CLIENT, 47001, be_addr(be), be_port(be));
	ql = quote_of(q, &t, 0);
	c = err_in(be_addr(be), CLIENT, 3, 3, 0);
	len = build_icmp(in, &c, q, ql);
	quote_of(qe, &d, 0);
	c.saddr = VIP_A;
	elen = build_icmp(exp, &c, qe, ql);
	expect("icmp tc: port unreachable from the backend -> from the VIP, quoting client -> VIP:53 (UDP checksum, embedded and outer IPv4 and ICMP checksums exact)",
	       false, 0, in, len, TC_ACT_OK, exp, elen, true);

	/* The same with CHECKSUM_COMPLETE: skb->csum must stay right. */
	run_flags = BPF_F_TEST_SKB_CHECKSUM_COMPLETE;
	expect("icmp tc: ... also with CHECKSUM_COMPLETE (skb->csum still matches the bytes)",
	       false, 0, in, len, TC_ACT_OK, exp, elen, true);
	run_flags = 0;

	/* A UDP datagram without checksum: the embedded one stays 0. */
	d.sport = 47002;
	d.udp_zero_csum = true;
	slot = expected_slot(CLIENT, VIP_A, 47002, 53, IPPROTO_UDP, 251);
	be = tab2[slot];
	expect_dnat("icmp tc: (a UDP flow without checksum)", &d, be_addr(be),
		    be_port(be));
	t = with(&d, CLIENT, 47002, be_addr(be), be_port(be));
	ql = quote_of(q, &t, 0);
	c = err_in(be_addr(be), CLIENT, 3, 3, 0);
	len = build_icmp(in, &c, q, ql);
	quote_of(qe, &d, 0);
	c.saddr = VIP_A;
	elen = build_icmp(exp, &c, qe, ql);
	expect("icmp tc: port unreachable quoting a UDP datagram without checksum: embedded checksum stays 0",
	       false, 0, in, len, TC_ACT_OK, exp, elen, true);

	/* TCP flow; a router behind the node (towards the backend) sends
	 * fragmentation needed quoting header + 8 bytes. */
	d = tcp(CLIENT, VIP_A, 47003, 80, TH_SYN);
	slot = expected_slot(CLIENT, VIP_A, 47003, 80, IPPROTO_TCP, 7);
	be = tab1[slot];
	expect_dnat("icmp tc: (a TCP flow to a ClusterIP is DNATed)", &d,
		    be_addr(be), be_port(be));
	d.tcp_flags = TH_ACK;
	d.payload = 1400;
	d.frag_off = 0x4000;
	t = with(&d, CLIENT, 47003, be_addr(be), be_port(be));
	quote_of(q, &t, 28);
	c = err_in(ROUTER_B, CLIENT, 3, 4, 1280);
	len = build_icmp(in, &c, q, 28);
	quote_of(qe, &d, 28);
	c.saddr = VIP_A;
	elen = build_icmp(exp, &c, qe, 28);
	expect("icmp tc: frag needed (MTU 1280) from a router towards the backend -> from the VIP, quoting client -> VIP:80 (IP + 8 bytes)",
	       false, 0, in, len, TC_ACT_OK, exp, elen, true);

	/* Time exceeded quoting the whole segment (TCP checksum inside). */
	d.payload = 0;
	t = with(&d, CLIENT, 47003, be_addr(be), be_port(be));
	ql = quote_of(q, &t, 0);
	c = err_in(ROUTER_B, CLIENT, 11, 0, 0);
	len = build_icmp(in, &c, q, ql);
	quote_of(qe, &d, 0);
	c.saddr = VIP_A;
	elen = build_icmp(exp, &c, qe, ql);
	expect("icmp tc: time exceeded quoting the whole TCP segment: embedded TCP checksum updated too",
	       false, 0, in, len, TC_ACT_OK, exp, elen, true);

	/* The other direction: the reply VIP:80 -> client met a router on
	 * the client's side; its error goes to the backend. */
	{
		struct pktdef r = tcp(VIP_A, CLIENT, 80, 47003, TH_ACK);
		struct pktdef rt = with(&r, be_addr(be), be_port(be), CLIENT,
					47003);

		r.payload = 1400;
		r.frag_off = 0x4000;
		rt.payload = 1400;
		rt.frag_off = 0x4000;
		quote_of(q, &r, 28);
		c = err_in(ROUTER_C, VIP_A, 3, 4, 1280);
		len = build_icmp(in, &c, q, 28);
		quote_of(qe, &rt, 28);
		c.daddr = be_addr(be);
		elen = build_icmp(exp, &c, qe, 28);
		expect("icmp tc: frag needed about a reply (VIP:80 -> client) -> to the backend, quoting backend -> client; router source kept",
		       false, 0, in, len, TC_ACT_OK, exp, elen, true);
	}
	check(counter(SY_CNT_ICMP_ERR_REVNAT) == rv + 5 &&
		      counter(SY_CNT_ICMP_ERR_DNAT) == dn + 1,
	      "icmp tc: counted: icmp_err_revnat +5, icmp_err_dnat +1",
	      "revnat +%llu dnat +%llu",
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_REVNAT) - rv),
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_DNAT) - dn));
	use_prog(old);
}

/* ---- ICMP errors that are not ours --------------------------------------- */

static void test_icmp_untouched(void)
{
	uint64_t un = counter(SY_CNT_ICMP_ERR_UNTRACKED);
	uint64_t mf = counter(SY_CNT_ICMP_ERR_MALFORMED);
	uint8_t in[BUF], q[BUF];
	struct pktdef d;
	struct icmpdef c;
	size_t len, ql;
	int old = use_prog(fd_tc_pod);

	d = udp(CLIENT, ip4(10, 9, 0, 1), 47100, 53);
	ql = quote_of(q, &d, 0);
	c = err_in(ip4(10, 9, 0, 1), CLIENT, 3, 3, 0);
	len = build_icmp(in, &c, q, ql);
	expect("icmp tc: port unreachable of an untracked flow: untouched, TCX_NEXT",
	       false, 0, in, len, (uint32_t)TCX_NEXT, in, len, true);
	use_prog(fd_tc_ext);
	expect("icmp tc external: ... untouched there too, TCX_NEXT", false, 0, in,
	       len, (uint32_t)TCX_NEXT, in, len, true);
	check(counter(SY_CNT_ICMP_ERR_UNTRACKED) == un + 2,
	      "icmp: counted in icmp_err_untracked (+2)", "+%llu",
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_UNTRACKED) - un));
	expect("xdp: port unreachable of an untracked flow: XDP_PASS untouched",
	       true, i0, in, len, XDP_PASS, in, len, true);

	/* Echo request to a VIP: no error, untouched, not counted. */
	d = udp(CLIENT, VIP_A, 0, 0);
	d.proto = IPPROTO_ICMP;
	d.payload = 16;
	len = build(in, &d);
	use_prog(fd_tc_pod);
	expect("icmp tc: echo request to a VIP: untouched, TCX_NEXT", false, 0, in, len,
	       (uint32_t)TCX_NEXT, in, len, true);

	/* Truncated quote: embedded header without its ports. */
	d = udp(CLIENT, VIP_A, 47101, 53);
	quote_of(q, &d, 22);
	c = err_in(ip4(10, 9, 0, 1), CLIENT, 3, 3, 0);
	len = build_icmp(in, &c, q, 22);
	expect("icmp tc: error quoting 2 bytes of UDP: untouched, TCX_NEXT", false, 0,
	       in, len, (uint32_t)TCX_NEXT, in, len, true);
	/* Embedded header with a bad version. */
	quote_of(q, &d, 0);
	q[0] = 0x65;
	len = build_icmp(in, &c, q, 28);
	expect("icmp tc: error quoting a non-IPv4 header: untouched, TCX_NEXT", false,
	       0, in, len, (uint32_t)TCX_NEXT, in, len, true);
	expect("xdp: ... XDP_PASS untouched, not counted there (tc counts what XDP passes)",
	       true, i0, in, len, XDP_PASS, in, len, true);
	check(counter(SY_CNT_ICMP_ERR_MALFORMED) == mf + 2,
	      "icmp: counted in icmp_err_malformed (+2)", "+%llu",
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_MALFORMED) - mf));
	use_prog(old);
}

/* ---- ICMP errors: SNATed NodePort flows, tc and XDP ---------------------- */

/* One SNATed NodePort flow from EXT_C1:cport (created by sy_tc_external
 * or sy_xdp); returns its NAT port (host order), 0 on failure. */
static uint16_t snat_flow(uint16_t cport)
{
	struct sy_ct_value v;
	struct pktdef d = tcp(EXT_C1, NODE, cport, NP_TCP, TH_SYN);
	uint8_t in[BUF], out[BUF];
	size_t len = build(in, &d), olen;
	uint32_t ret, old_if = run_ifindex;
	int old = use_prog(fd_tc_ext);

	run_ifindex = i0;
	run(in, len, out, &olen, &ret);
	run_ifindex = old_if;
	use_prog(old);
	if (!ct_get(EXT_C1, NODE, cport, NP_TCP, IPPROTO_TCP, SY_CT_FORWARD,
		    &v) || !(v.flags & SY_CT_F_SNAT))
		return 0;
	return ntohs(v.nat_port);
}

static void icmp_snat_case(bool xdp, uint16_t cport)
{
	const char *hook = xdp ? "xdp" : "icmp tc external";
	uint8_t in[BUF], exp[BUF], q[BUF], qe[BUF];
	struct pktdef d, t, r, rt;
	struct icmpdef c;
	size_t len, elen;
	uint16_t nport = snat_flow(cport);
	char name[256];
	int old = use_prog(fd_tc_ext);

	if (!check(nport != 0, xdp ? "xdp: (a SNATed NodePort flow)" :
				     "icmp tc external: (a SNATed NodePort flow)",
		   "%s", "no SNAT entry"))
		return;

	/* Direction 1: the forward packet node:nport -> backend met a
	 * router on the backends' side (arrives on sy-i1). */
	d = tcp(EXT_C1, NODE, cport, NP_TCP, TH_ACK);
	d.payload = 1400;
	d.frag_off = 0x4000;
	t = with(&d, NODE, nport, be_addr(BE_R1), be_port(BE_R1));
	quote_of(q, &t, 28);
	c = err_in(ROUTER_B, NODE, 3, 4, 1280);
	len = build_icmp(in, &c, q, 28);
	quote_of(qe, &d, 28);
	c.saddr = NODE;
	c.daddr = EXT_C1;
	elen = build_icmp(exp, &c, qe, 28);
	forwarded(exp, MAC_CLNT, MAC_I0);
	snprintf(name, sizeof(name),
		 "%s: frag needed about the SNATed forward packet -> node to client, quoting client -> node:nodePort; forwarded out of sy-i0 (MACs, TTL 63)",
		 hook);
	expect(name, xdp, i1, in, len, xdp ? XDP_REDIRECT : TC_ACT_REDIRECT,
	       exp, elen, true);

	/* Time exceeded, same direction. */
	c = err_in(ROUTER_B, NODE, 11, 0, 0);
	len = build_icmp(in, &c, q, 28);
	c.saddr = NODE;
	c.daddr = EXT_C1;
	elen = build_icmp(exp, &c, qe, 28);
	forwarded(exp, MAC_CLNT, MAC_I0);
	snprintf(name, sizeof(name), "%s: time exceeded, same direction",
		 hook);
	expect(name, xdp, i1, in, len, xdp ? XDP_REDIRECT : TC_ACT_REDIRECT,
	       exp, elen, true);

	/* Direction 2: the reply node:nodePort -> client met a router on
	 * the clients' side (arrives on sy-i0); to the backend, from the
	 * node (the SNAT address), quoting backend -> node:nport. */
	r = tcp(NODE, EXT_C1, NP_TCP, cport, TH_ACK);
	r.payload = 1400;
	r.frag_off = 0x4000;
	rt = with(&r, be_addr(BE_R1), be_port(BE_R1), NODE, nport);
	quote_of(q, &r, 28);
	c = err_in(ROUTER_C, NODE, 3, 4, 1280);
	len = build_icmp(in, &c, q, 28);
	quote_of(qe, &rt, 28);
	c.saddr = NODE;
	c.daddr = be_addr(BE_R1);
	elen = build_icmp(exp, &c, qe, 28);
	forwarded(exp, MAC_BEND, MAC_I1);
	snprintf(name, sizeof(name),
		 "%s: frag needed about the reply -> node to backend, quoting backend -> node:NAT port; forwarded out of sy-i1",
		 hook);
	expect(name, xdp, i0, in, len, xdp ? XDP_REDIRECT : TC_ACT_REDIRECT,
	       exp, elen, true);
	use_prog(old);
}

static void test_icmp_snat(void)
{
	uint64_t rv = counter(SY_CNT_ICMP_ERR_REVNAT);
	uint64_t dn = counter(SY_CNT_ICMP_ERR_DNAT);

	memcpy(eth_dst, MAC_I0, 6); /* PACKET_HOST on sy-i0 */

	icmp_snat_case(false, 47200);
	icmp_snat_case(true, 47201);
	check(counter(SY_CNT_ICMP_ERR_REVNAT) == rv + 4 &&
		      counter(SY_CNT_ICMP_ERR_DNAT) == dn + 2,
	      "icmp: SNATed flows counted: icmp_err_revnat +4, icmp_err_dnat +2",
	      "revnat +%llu dnat +%llu",
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_REVNAT) - rv),
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_DNAT) - dn));

	/* XDP leaves errors of flows that are not SNATed to tc. */
	{
		uint8_t in[BUF], q[BUF];
		struct pktdef d = tcp(CLIENT, VIP_A, 47003, 80, TH_ACK);
		uint32_t slot = expected_slot(CLIENT, VIP_A, 47003, 80,
					      IPPROTO_TCP, 7);
		uint32_t be = tab1[slot];
		struct pktdef t = with(&d, CLIENT, 47003, be_addr(be),
				       be_port(be));
		struct icmpdef c = err_in(ROUTER_B, CLIENT, 3, 4, 1280);
		size_t len;

		quote_of(q, &t, 28);
		len = build_icmp(in, &c, q, 28);
		expect("xdp: frag needed of a DNAT-only (ClusterIP) flow: XDP_PASS untouched (tc translates it)",
		       true, i1, in, len, XDP_PASS, in, len, true);
	}
	memset(eth_dst, 0, 6);
}

/* ---- generated fragmentation needed -------------------------------------- */

/* The answer to a too-big DF packet d: from its destination to its source,
 * MACs swapped, quoting its header + 8 bytes as sent. */
static size_t too_big_answer(uint8_t *b, const struct pktdef *d)
{
	struct icmpdef c = { MAC_IN_SRC, MAC_IN_DST, d->daddr, d->saddr, 0xc0,
			     64, 0, 3, 4, 1280 };
	uint8_t q[BUF];
	size_t ql = quote_of(q, d, (d->ihl ? d->ihl : 5) * 4 + 8);

	return build_icmp(b, &c, q, ql);
}

/* The too-big DF packet d arriving on sy-i0 is answered with frag needed
 * (too_big_answer), back out of the arrival device: redirected by tc or
 * sent back by XDP (XDP_TX). */
static bool expect_too_big(const char *name, bool xdp, const struct pktdef *d)
{
	uint8_t in[BUF], exp[BUF];
	size_t len = build(in, d);
	size_t elen = too_big_answer(exp, d);

	return expect(name, xdp, i0, in, len, xdp ? XDP_TX : TC_ACT_REDIRECT,
		      exp, elen, true);
}

static void test_too_big(void)
{
	uint64_t sent = counter(SY_CNT_FRAG_NEEDED_SENT);
	uint64_t nodf = counter(SY_CNT_TOO_BIG_NO_DF);
	uint8_t in[BUF], exp[BUF];
	struct pktdef d;
	size_t len, elen;
	int old = use_prog(fd_tc_ext);

	memcpy(eth_dst, MAC_I0, 6); /* PACKET_HOST on sy-i0 */

	bucket_set(SY_RL_FRAG_NEEDED, 0, 0); /* fresh: full burst */

	/* tc: NodePort TCP, SNAT to a backend behind the 1280 link. */
	d = df_sized(tcp(EXT_C1, NODE, 47300, NP_TCP, TH_ACK), 1500 - 40);
	expect_too_big("too big tc: 1500-byte DF TCP to a NodePort whose backend is behind MTU 1280 -> frag needed (MTU 1280) from node:nodePort's address, quoting the packet as sent (not the SNATed one), back out of the arrival device",
		       false, &d);

	d = df_sized(udp(EXT_C1, NODE, 47301, NP_UDP), 1400);
	expect_too_big("too big tc: 1428-byte DF UDP -> frag needed quoting the original UDP header (its checksum restored)",
		       false, &d);

	d = df_sized(tcp(EXT_C1, NODE, 47302, NP_TCP, TH_ACK), 1500 - 44);
	d.ihl = 6;
	expect_too_big("too big tc: with IPv4 options (IHL 6): options quoted",
		       false, &d);

	d = df_sized(tcp(EXT_C1, NODE, 47303, NP_TCP, TH_ACK), 1280 - 40);
	{
		struct pktdef w = with(&d, NODE, 47303, be_addr(BE_R1),
				       be_port(BE_R1));

		len = build(in, &d);
		elen = build(exp, &w);
		forwarded(exp, MAC_BEND, MAC_I1);
		expect("too big tc: exactly 1280 bytes fits: translated and forwarded",
		       false, i0, in, len, TC_ACT_REDIRECT, exp, elen, false);
	}

	/* Without DF: no answer; the packet goes on (here the device would
	 * not take it either, so the stack gets it: TC_ACT_OK). */
	d = tcp(EXT_C1, NODE, 47304, NP_TCP, TH_ACK);
	d.payload = 1460;
	{
		struct pktdef w = with(&d, NODE, 47304, be_addr(BE_R1),
				       be_port(BE_R1));

		len = build(in, &d);
		elen = build(exp, &w);
		expect("too big tc: without DF: no ICMP, translated packet to the stack (TC_ACT_OK)",
		       false, i0, in, len, TC_ACT_OK, exp, elen, false);
	}

	/* XDP: the same before any rewrite. */
	d = df_sized(tcp(EXT_C1, NODE, 47305, NP_TCP, TH_ACK), 1460);
	expect_too_big("too big xdp: 1500-byte DF TCP to the NodePort -> frag needed written over the frame, XDP_TX",
		       true, &d);
	d = df_sized(udp(EXT_C1, NODE, 47306, NP_UDP), 1472);
	expect_too_big("too big xdp: 1500-byte DF UDP -> frag needed, XDP_TX",
		       true, &d);
	d.frag_off = 0;
	d.sport = 47307;
	len = build(in, &d);
	expect("too big xdp: without DF: XDP_PASS untouched (tc and the stack decide)",
	       true, i0, in, len, XDP_PASS, in, len, false);

	check(counter(SY_CNT_FRAG_NEEDED_SENT) == sent + 5 &&
		      counter(SY_CNT_TOO_BIG_NO_DF) == nodf + 2,
	      "too big: counted: frag_needed_sent +5, too_big_no_df +2",
	      "sent +%llu no_df +%llu",
	      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_SENT) - sent),
	      (unsigned long long)(counter(SY_CNT_TOO_BIG_NO_DF) - nodf));
	use_prog(old);
	memset(eth_dst, 0, 6);
}

/* ---- a pod's DNATed packet that the stack forwards ------------------------ */

/* sy_tc_ingress DNATs a pod's packet to a ClusterIP and hands it to the
 * stack (TC_ACT_OK). The backend's route (a host route on sy-i1, whose
 * device MTU is 1280) has `mtu lock 1100`: a DF packet too big for it is
 * answered here, as the stack's own answer would quote the backend and the
 * pod's socket (connected to the VIP) would never match it. */
static void test_too_big_pod(void)
{
	uint64_t sent = counter(SY_CNT_FRAG_NEEDED_SENT);
	uint64_t limited = counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED);
	uint8_t in[BUF], exp[BUF], q[BUF];
	struct vip_a_flow f;
	struct pktdef d, t;
	struct icmpdef c;
	size_t len, elen, ql;
	char cmd[160];
	int old = use_prog(fd_tc_pod);
	uint32_t ube;

	memcpy(eth_dst, MAC_I0, 6); /* PACKET_HOST on sy-i0 */
	bucket_set(SY_RL_FRAG_NEEDED, 0, 0); /* fresh: full burst */

	f = vip_a_flow(47600);
	ube = tab2[expected_slot(CLIENT, VIP_A, 47600, 53, IPPROTO_UDP, 251)];
	snprintf(cmd, sizeof(cmd),
		 "ip route replace %s/32 dev sy-i1 mtu lock 1100 && "
		 "ip route replace %s/32 dev sy-i1 mtu lock 1100",
		 ipstr(f.ba), ipstr(be_addr(ube)));
	if (!check(sh(cmd) == 0,
		   "too big pod: routes to the TCP and UDP backends with mtu lock 1100 (device MTU 1280)",
		   "%s failed", cmd))
		goto out;

	/* 1200 bytes, DF: fits the device, not the route. */
	d = df_sized(tcp(CLIENT, VIP_A, 47600, 80, TH_ACK), 1200 - 40);
	len = build(in, &d);
	c = (struct icmpdef){ MAC_IN_SRC, MAC_IN_DST, VIP_A, CLIENT, 0xc0, 64,
			      0, 3, 4, 1100 };
	ql = quote_of(q, &d, 20 + 8);
	elen = build_icmp(exp, &c, q, ql);
	expect("too big pod: 1200-byte DF TCP from a pod to a ClusterIP whose backend's route has mtu lock 1100 -> frag needed (MTU 1100) from the VIP, quoting client -> VIP:80 as sent, back out of the pod's device",
	       false, i0, in, len, TC_ACT_REDIRECT, exp, elen, true);

	/* UDP: the quote's checksum is the one the pod sent. */
	d = df_sized(udp(CLIENT, VIP_A, 47600, 53), 1200 - 28);
	len = build(in, &d);
	ql = quote_of(q, &d, 20 + 8);
	elen = build_icmp(exp, &c, q, ql);
	expect("too big pod: 1200-byte DF UDP to the VIP:53 -> frag needed quoting the UDP header as sent (checksum restored)",
	       false, i0, in, len, TC_ACT_REDIRECT, exp, elen, true);

	/* Exactly the route's MTU: DNATed and handed to the stack as before. */
	d = df_sized(tcp(CLIENT, VIP_A, 47600, 80, TH_ACK), 1100 - 40);
	t = with(&d, CLIENT, 47600, f.ba, f.bp);
	len = build(in, &d);
	elen = build(exp, &t);
	expect("too big pod: 1100 bytes (the route's MTU) fits: DNATed, TC_ACT_OK, untouched otherwise",
	       false, i0, in, len, TC_ACT_OK, exp, elen, false);

	/* Without DF: the stack fragments it; no answer. */
	d = tcp(CLIENT, VIP_A, 47600, 80, TH_ACK);
	d.payload = 1200 - 40;
	t = with(&d, CLIENT, 47600, f.ba, f.bp);
	len = build(in, &d);
	elen = build(exp, &t);
	expect("too big pod: 1200 bytes without DF: DNATed, TC_ACT_OK, no ICMP",
	       false, i0, in, len, TC_ACT_OK, exp, elen, false);

	check(counter(SY_CNT_FRAG_NEEDED_SENT) == sent + 2,
	      "too big pod: counted in frag_needed_sent (one per answer)",
	      "+%llu, expected +2",
	      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_SENT) - sent));

	/* Rate limited like every frag needed: dropped, counted, no answer. */
	bucket_set(SY_RL_FRAG_NEEDED, 0, mono_ns() + 3600 * SEC_NS);
	d = df_sized(tcp(CLIENT, VIP_A, 47600, 80, TH_ACK), 1200 - 40);
	len = build(in, &d);
	{
		uint8_t out[BUF];
		size_t olen;
		uint32_t ret, oif = run_ifindex;
		int err;

		run_ifindex = i0;
		err = run(in, len, out, &olen, &ret);
		run_ifindex = oif;
		check(err == 0 && ret == TC_ACT_SHOT &&
			      counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED) == limited + 1,
		      "too big pod: over the frag-needed rate limit: TC_ACT_SHOT, frag_needed_rate_limited +1",
		      "err %d ret %u limited +%llu", err, ret,
		      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED) - limited));
	}
	bucket_set(SY_RL_FRAG_NEEDED, 0, 0);
	snprintf(cmd, sizeof(cmd),
		 "ip route del %s/32 dev sy-i1; ip route del %s/32 dev sy-i1",
		 ipstr(f.ba), ipstr(be_addr(ube)));
	sh(cmd);
out:
	use_prog(old);
	memset(eth_dst, 0, 6);
}

/* ---- rate limits ----------------------------------------------------------- */

static void test_rate_limits(void)
{
	uint64_t fl = counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED);
	uint64_t rl = counter(SY_CNT_REJECT_RATE_LIMITED);
	uint64_t rej = counter(SY_CNT_REJECT_UDP);
	uint64_t far = mono_ns() + 3600 * SEC_NS;
	uint8_t in[BUF], exp[BUF];
	struct pktdef d;
	size_t len, elen;
	int ok = 0, old = use_prog(fd_tc_ext);
	char name[200];

	memcpy(eth_dst, MAC_I0, 6); /* PACKET_HOST on sy-i0 */

	/* Frag needed: 3 tokens, no refill for an hour. */
	check(bucket_set(SY_RL_FRAG_NEEDED, 3, far) == 0,
	      "rate: sy_icmp_rate[frag needed] = 3 tokens (BPF_F_LOCK update)",
	      "%s", strerror(errno));
	for (int i = 0; i < 3; i++) {
		d = df_sized(tcp(EXT_C1, NODE, 47400 + i, NP_TCP, TH_ACK), 1460);
		snprintf(name, sizeof(name),
			 "rate: too-big DF packet %d of 3 within the budget: answered (%s)",
			 i + 1, i == 1 ? "xdp" : "tc");
		ok += expect_too_big(name, i == 1, &d);
	}
	{
		uint8_t out[BUF];
		size_t olen;
		uint32_t ret = 0;

		d = df_sized(tcp(EXT_C1, NODE, 47403, NP_TCP, TH_ACK), 1460);
		len = build(in, &d);
		run_ifindex = i0;
		run(in, len, out, &olen, &ret);
		run_ifindex = 0;
		check(ret == TC_ACT_SHOT,
		      "rate: the 4th too-big DF packet within the window, in tc: no answer, dropped (TC_ACT_SHOT)",
		      "returned %u", ret);
		d.sport = 47404;
		len = build(in, &d);
		ret = 0;
		run_xdp(in, len, out, &olen, &ret, i0);
		check(ret == XDP_DROP,
		      "rate: the 5th, in XDP (same bucket): no answer, XDP_DROP",
		      "returned %u", ret);
	}
	check(counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED) == fl + 2 &&
		      bucket_tokens(SY_RL_FRAG_NEEDED) == 0,
	      "rate: frag_needed_rate_limited +2, bucket empty",
	      "+%llu, %u tokens",
	      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED) - fl),
	      bucket_tokens(SY_RL_FRAG_NEEDED));

	/* REJECT: 2 tokens; the 3rd UDP datagram and a TCP SYN to a frontend
	 * without endpoints are dropped unanswered. */
	use_prog(fd_tc_pod);
	memset(eth_dst, 0, 6); /* runs on lo */
	bucket_set(SY_RL_REJECT, 2, far);
	for (int i = 0; i < 2; i++) {
		d = udp(CLIENT, VIP_NOEP, 47410 + i, 53);
		len = build(in, &d);
		elen = build_icmp_unreach(exp, VIP_NOEP, CLIENT, in + 14, 28);
		snprintf(name, sizeof(name),
			 "rate: REJECT %d of 2 within the budget: port unreachable sent",
			 i + 1);
		expect(name, false, 0, in, len, TC_ACT_REDIRECT, exp, elen,
		       true);
	}
	d = udp(CLIENT, VIP_NOEP, 47412, 53);
	expect_ret("rate: the 3rd REJECT within the window: dropped unanswered (TC_ACT_SHOT)",
		   &d, TC_ACT_SHOT);
	d = tcp(CLIENT, VIP_NOEP, 47413, 80, TH_SYN);
	expect_ret("rate: ... a TCP SYN too (no reset)", &d, TC_ACT_SHOT);
	check(counter(SY_CNT_REJECT_RATE_LIMITED) == rl + 2 &&
		      counter(SY_CNT_REJECT_UDP) == rej + 2,
	      "rate: reject_rate_limited +2, reject_udp +2 (only the answered ones)",
	      "limited +%llu udp +%llu",
	      (unsigned long long)(counter(SY_CNT_REJECT_RATE_LIMITED) - rl),
	      (unsigned long long)(counter(SY_CNT_REJECT_UDP) - rej));

	/* A fresh bucket (as after load: zero) grants the whole burst. */
	bucket_set(SY_RL_REJECT, 0, 0);
	ok = 0;
	for (int i = 0; i < SY_RL_BURST; i++) {
		uint8_t out[BUF];
		size_t olen;
		uint32_t ret = 0;

		d = udp(CLIENT, VIP_NOEP, 47500 + i, 53);
		len = build(in, &d);
		if (run(in, len, out, &olen, &ret) == 0 &&
		    ret == TC_ACT_REDIRECT)
			ok++;
	}
	check(ok == SY_RL_BURST,
	      "rate: a fresh REJECT bucket answers a burst of SY_RL_BURST (50) at once",
	      "%d answered", ok);
	bucket_set(SY_RL_REJECT, 0, 0);
	bucket_set(SY_RL_FRAG_NEEDED, 0, 0);
	use_prog(old);
	memset(eth_dst, 0, 6);
}

void test_icmp(void)
{
	fd_xdp_prog = bpf_program__fd(skel->progs.sy_xdp);
	fd_rate = bpf_map__fd(skel->maps.sy_icmp_rate);
	if (!check(fd_xdp_prog > 0 && fd_rate > 0,
		   "icmp: sy_xdp and sy_icmp_rate present", "%s", "missing"))
		return;
	if (!icmp_net_setup())
		return;
	test_icmp_tc_dnat();
	test_icmp_untouched();
	test_icmp_snat();
	test_too_big();
	test_too_big_pod();
	test_rate_limits();
	sh("ip link del sy-i0");
}
