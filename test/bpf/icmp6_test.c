/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPv6 REJECT (TCP reset, ICMPv6 port unreachable), ICMPv6 errors of
 * translated flows, ICMPv6 packet too big for too-big forwarded packets
 * and IPv6 fragments: sy_reject6.h, sy_icmp6.h, sy_frag6.h through the
 * test harness programs of test/bpf/progs/v6_harness.c, which share every
 * map with the main skeleton (counters, rate buckets, conntrack6, ...).
 * Expected frames are built here from scratch, checksums by a plain RFC
 * 1071 sum over the IPv6 pseudo-header; every byte is compared.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "sy_test.h"
#include "v6_harness.skel.h"

#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define NH_ICMP6 58
#define NH_HOP   0
#define NH_FRAG  44
#define NH_DEST  60
#define TC_REDIRECT 7
#define TC_SHOT 2
#define TC_OK 0

struct in6 {
	uint8_t b[16];
};

static struct in6 a6(uint16_t w0, uint16_t w1, uint16_t w7)
{
	struct in6 a = { { 0 } };

	put16(a.b, w0);
	put16(a.b + 2, w1);
	put16(a.b + 14, w7);
	return a;
}

#define CL6     a6(0xfd00, 0xc, 1)      /* client */
#define VIP6    a6(0xfd00, 0x96, 0x10)  /* frontend :80 (TCP), :53 (UDP) */
#define BE6     a6(0xfd00, 0xbe, 2)     /* backend :8080 / :5353 */
#define NODE6   a6(0xfd00, 0x1, 1)      /* SNAT address */
#define RTR6    a6(0xfd00, 0x99, 1)     /* a router sending errors */
#define MCAST6  a6(0xff02, 0, 1)

#define FE6_TCP 7001
#define FE6_UDP 7002
#define BE6_TCP 7101
#define BE6_UDP 7102

static const uint8_t mac_peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

static struct v6_harness *h6;
static int fd_ct6, fd_rate, fd_frag6;
static uint32_t i6a, i6b; /* sy-6a (clients), sy-6b (backends, MTU 1280) */

/* ---- frames ---------------------------------------------------------- */

/* A packet description: addresses, extension headers, L4. */
struct p6 {
	struct in6 src, dst;
	uint8_t proto;          /* IPPROTO_TCP_ / IPPROTO_UDP_ */
	uint16_t sport, dport;
	uint8_t flags;          /* TCP */
	uint32_t seq, ack;
	int payload;
	bool dest_opts;         /* an 8-byte destination options header */
	bool frag;              /* a fragment header */
	uint16_t frag_off;      /* host order: offset << 3 | M */
	uint32_t frag_id;
	bool no_l4;             /* later fragment: payload bytes only */
};

static uint32_t pseudo6(const uint8_t *src, const uint8_t *dst, uint32_t len,
			uint8_t nh)
{
	uint32_t s = sum16(src, 16, 0);

	s = sum16(dst, 16, s);
	s += len >> 16;
	s += len & 0xffff;
	return s + nh;
}

/* The IPv6 packet (no Ethernet) of d into b; returns its length. */
static size_t ip6_of(uint8_t *b, const struct p6 *d)
{
	size_t o = 40, l4, l4len;
	uint8_t *nh = &b[6];

	memset(b, 0, 40);
	b[0] = 0x60;
	b[7] = 64;
	memcpy(b + 8, d->src.b, 16);
	memcpy(b + 24, d->dst.b, 16);
	if (d->dest_opts) {
		*nh = NH_DEST;
		memset(b + o, 0, 8);
		b[o + 2] = 1; /* PadN of 4 bytes */
		b[o + 3] = 4;
		nh = &b[o];
		o += 8;
	}
	if (d->frag) {
		*nh = NH_FRAG;
		memset(b + o, 0, 8);
		put16(b + o + 2, d->frag_off);
		put32(b + o + 4, d->frag_id);
		nh = &b[o];
		o += 8;
	}
	*nh = d->proto;
	l4 = o;
	if (d->no_l4) {
		for (int i = 0; i < d->payload; i++)
			b[l4 + i] = (uint8_t)(i * 7 + 3);
		put16(b + 4, (uint16_t)(l4 + d->payload - 40));
		return l4 + d->payload;
	}
	l4len = (d->proto == IPPROTO_TCP_ ? 20 : 8) + d->payload;
	memset(b + l4, 0, l4len);
	put16(b + l4, d->sport);
	put16(b + l4 + 2, d->dport);
	for (int i = 0; i < d->payload; i++)
		b[l4 + l4len - d->payload + i] = (uint8_t)(i * 13 + 1);
	if (d->proto == IPPROTO_TCP_) {
		put32(b + l4 + 4, d->seq);
		put32(b + l4 + 8, d->ack);
		b[l4 + 12] = 5 << 4;
		b[l4 + 13] = d->flags;
		put16(b + l4 + 14, 65535);
		put16(b + l4 + 16, ~fold(sum16(b + l4, l4len,
			pseudo6(d->src.b, d->dst.b, l4len, d->proto))));
	} else {
		put16(b + l4 + 4, (uint16_t)l4len);
		uint16_t c = ~fold(sum16(b + l4, l4len,
			pseudo6(d->src.b, d->dst.b, l4len, d->proto)));
		put16(b + l4 + 6, c ? c : 0xffff);
	}
	put16(b + 4, (uint16_t)(l4 + l4len - 40));
	return l4 + l4len;
}

static size_t frame6(uint8_t *b, const struct p6 *d)
{
	return build_eth(b, ETHERTYPE_IPV6) + ip6_of(b + 14, d);
}

/* Ethernet (from the packet's destination MAC back to its source) + IPv6
 * + ICMPv6 type/code/data quoting q[0..qlen), checksum from scratch. The
 * Ethernet source/destination: answer = true swaps them (a generated
 * answer), else they are those of build_eth (a received error). */
static size_t icmp6_frame(uint8_t *b, bool answer, struct in6 src,
			  struct in6 dst, uint8_t type, uint8_t code,
			  uint32_t data, const uint8_t *q, size_t qlen,
			  uint8_t hops)
{
	uint8_t *ip = b + 14, *ic = b + 54;

	build_eth(b, ETHERTYPE_IPV6);
	if (answer) {
		memcpy(b, mac_peer, 6);
		memcpy(b + 6, eth_dst, 6);
	}
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)(8 + qlen));
	ip[6] = NH_ICMP6;
	ip[7] = hops;
	memcpy(ip + 8, src.b, 16);
	memcpy(ip + 24, dst.b, 16);
	ic[0] = type;
	ic[1] = code;
	put16(ic + 2, 0);
	put32(ic + 4, data);
	memcpy(ic + 8, q, qlen);
	put16(ic + 2, ~fold(sum16(ic, 8 + qlen,
				  pseudo6(src.b, dst.b, 8 + qlen, NH_ICMP6))));
	return 54 + 8 + qlen;
}

/* ---- running ------------------------------------------------------------ */

static int run6(int fd, bool xdp, uint32_t ifindex, const uint8_t *in,
		size_t len, uint8_t *out, size_t *olen, uint32_t *ret)
{
	if (xdp)
		return run_xdp_prog(fd, in, len, out, olen, ret, ifindex);
	{
		struct __sk_buff ctx = { .ifindex = ifindex };
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in,
			    .data_size_in = len, .data_out = out,
			    .data_size_out = BUF, .repeat = 1);

		if (ifindex) {
			opts.ctx_in = &ctx;
			opts.ctx_size_in = sizeof(ctx);
		}
		memset(out, 0xaa, BUF);
		if (bpf_prog_test_run_opts(fd, &opts))
			return -errno;
		*olen = opts.data_size_out;
		*ret = opts.retval;
		return 0;
	}
}

/* Run in through prog; expect verdict want and the frame exp (NULL: the
 * input unchanged). */
static bool expect6(const char *name, struct bpf_program *prog,
		    uint32_t ifindex, const uint8_t *in, size_t len,
		    uint32_t want, const uint8_t *exp, size_t elen)
{
	static uint8_t out[BUF];
	bool xdp = bpf_program__type(prog) == BPF_PROG_TYPE_XDP;
	size_t olen = 0;
	uint32_t ret = 0;
	int err;

	err = run6(bpf_program__fd(prog), xdp, ifindex, in, len, out, &olen,
		   &ret);
	if (!exp) {
		exp = in;
		elen = len;
	}
	return check(!err && ret == want && olen == elen &&
			     memcmp(out, exp, elen) == 0,
		     name, "err %d, verdict %d (want %d), %s", err, (int)ret,
		     (int)want, diff_bytes(out, olen, exp, elen));
}

static int bucket6(uint32_t idx, uint32_t n, uint64_t last_ns)
{
	struct sy_rate_bucket b;

	memset(&b, 0, sizeof(b));
	b.tokens = n;
	b.last_ns = last_ns;
	return bpf_map_update_elem(fd_rate, &idx, &b, BPF_ANY);
}

/* ---- REJECT ---------------------------------------------------------------- */

static void test_reject6(void)
{
	static uint8_t in[BUF], exp[BUF], q[BUF];
	struct bpf_program *p = h6->progs.v6h_reject;
	struct p6 d = { .src = CL6, .dst = VIP6, .proto = IPPROTO_TCP_,
			.sport = 40000, .dport = 80, .flags = TH_SYN,
			.seq = 1000 };
	struct p6 r = { .src = VIP6, .dst = CL6, .proto = IPPROTO_TCP_,
			.sport = 80, .dport = 40000 };
	uint64_t tcp0 = counter(SY_CNT_REJECT_TCP);
	uint64_t udp0 = counter(SY_CNT_REJECT_UDP);
	uint64_t rl0 = counter(SY_CNT_REJECT_RATE_LIMITED);
	size_t len, elen, qlen;

	bucket6(SY_RL_REJECT, 0, 0); /* long idle: a full burst */

	/* SYN: <SEQ=0><ACK=SEG.SEQ+1><CTL=RST,ACK>, window 0. */
	len = frame6(in, &d);
	r.flags = TH_RST | TH_ACK;
	r.ack = 1001;
	elen = frame6(exp, &r);
	memcpy(exp, mac_peer, 6);
	memcpy(exp + 6, eth_dst, 6);
	put16(exp + 14 + 40 + 14, 0);        /* window 0 */
	put16(exp + 14 + 40 + 16, 0);
	put16(exp + 14 + 40 + 16, ~fold(sum16(exp + 54, 20,
		pseudo6(VIP6.b, CL6.b, 20, IPPROTO_TCP_))));
	expect6("reject6: TCP SYN to a frontend without endpoints gets RST|ACK, ack = seq + 1, from the frontend",
		p, 0, in, len, TC_REDIRECT, exp, elen);

	/* With a destination options header and 10 bytes: ack = seq + 11. */
	d.dest_opts = true;
	d.payload = 10;
	len = frame6(in, &d);
	r.ack = 1011;
	elen = frame6(exp, &r);
	memcpy(exp, mac_peer, 6);
	memcpy(exp + 6, eth_dst, 6);
	put16(exp + 14 + 40 + 14, 0);
	put16(exp + 14 + 40 + 16, 0);
	put16(exp + 14 + 40 + 16, ~fold(sum16(exp + 54, 20,
		pseudo6(VIP6.b, CL6.b, 20, IPPROTO_TCP_))));
	expect6("reject6: SYN with payload behind a destination options header: ack = seq + payload + 1",
		p, 0, in, len, TC_REDIRECT, exp, elen);

	/* ACK segment: <SEQ=SEG.ACK><CTL=RST>. */
	d.dest_opts = false;
	d.payload = 0;
	d.flags = TH_ACK;
	d.ack = 0x11223344;
	len = frame6(in, &d);
	r.flags = TH_RST;
	r.ack = 0;
	r.seq = 0x11223344;
	elen = frame6(exp, &r);
	memcpy(exp, mac_peer, 6);
	memcpy(exp + 6, eth_dst, 6);
	put16(exp + 14 + 40 + 14, 0);
	put16(exp + 14 + 40 + 16, 0);
	put16(exp + 14 + 40 + 16, ~fold(sum16(exp + 54, 20,
		pseudo6(VIP6.b, CL6.b, 20, IPPROTO_TCP_))));
	expect6("reject6: TCP ACK segment gets RST with seq = its ack", p, 0,
		in, len, TC_REDIRECT, exp, elen);

	/* No answer to a reset, nor to a multicast source. */
	d.flags = TH_RST | TH_ACK;
	len = frame6(in, &d);
	expect6("reject6: no reset for a reset (dropped)", p, 0, in, len,
		TC_SHOT, in, len);
	d.flags = TH_SYN;
	d.src = MCAST6;
	len = frame6(in, &d);
	expect6("reject6: no reset to a multicast source (dropped)", p, 0, in,
		len, TC_SHOT, in, len);

	/* UDP: ICMPv6 port unreachable quoting the whole datagram. */
	d = (struct p6){ .src = CL6, .dst = VIP6, .proto = IPPROTO_UDP_,
			 .sport = 5353, .dport = 53, .payload = 100 };
	len = frame6(in, &d);
	qlen = ip6_of(q, &d);
	elen = icmp6_frame(exp, true, VIP6, CL6, 1, 4, 0, q, qlen, 64);
	expect6("reject6: UDP gets ICMPv6 port unreachable (1/4) quoting the whole datagram",
		p, 0, in, len, TC_REDIRECT, exp, elen);

	/* Trailing bytes after the IPv6 packet are not quoted. */
	len = frame6(in, &d);
	memset(in + len, 0xee, 6);
	expect6("reject6: bytes after the IPv6 packet (trailer) are not quoted",
		p, 0, in, len + 6, TC_REDIRECT, exp, elen);

	/* A 1448-byte datagram: quoted as far as 1280 bytes allow. */
	d.payload = 1400;
	len = frame6(in, &d);
	qlen = ip6_of(q, &d);
	elen = icmp6_frame(exp, true, VIP6, CL6, 1, 4, 0, q, 1232, 64);
	check(qlen == 1448 && elen == 14 + 1280, "reject6: big datagram fixture",
	      "qlen %zu elen %zu", qlen, elen);
	expect6("reject6: a 1448-byte datagram is quoted up to the IPv6 minimum MTU (answer of 1280 bytes)",
		p, 0, in, len, TC_REDIRECT, exp, elen);

	check(counter(SY_CNT_REJECT_TCP) == tcp0 + 3 &&
		      counter(SY_CNT_REJECT_UDP) == udp0 + 3,
	      "reject6: SY_CNT_REJECT_TCP +3, SY_CNT_REJECT_UDP +3",
	      "tcp +%llu udp +%llu",
	      (unsigned long long)(counter(SY_CNT_REJECT_TCP) - tcp0),
	      (unsigned long long)(counter(SY_CNT_REJECT_UDP) - udp0));

	/* An empty bucket: dropped without an answer, counted. */
	bucket6(SY_RL_REJECT, 0, mono_ns() + 3600 * SEC_NS);
	d.payload = 10;
	len = frame6(in, &d);
	expect6("reject6: rate limited (empty bucket): dropped, no answer", p,
		0, in, len, TC_SHOT, in, len);
	check(counter(SY_CNT_REJECT_RATE_LIMITED) == rl0 + 1,
	      "reject6: SY_CNT_REJECT_RATE_LIMITED +1", "+%llu",
	      (unsigned long long)(counter(SY_CNT_REJECT_RATE_LIMITED) - rl0));
	bucket6(SY_RL_REJECT, 0, 0);
}

/* ---- ICMPv6 errors of translated flows --------------------------------- */

static void ct6(struct in6 s, struct in6 d, uint16_t sp, uint16_t dp,
		uint8_t proto, uint8_t dir, uint32_t be, uint32_t rn,
		uint16_t flags, struct in6 nat, uint16_t nat_port)
{
	struct sy_ct_key6 k;
	struct sy_ct_value6 v;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	memcpy(k.saddr, s.b, 16);
	memcpy(k.daddr, d.b, 16);
	k.sport = htons(sp);
	k.dport = htons(dp);
	k.proto = proto;
	k.dir = dir;
	v.last_seen = mono_ns();
	v.backend_id = be;
	v.rev_nat_id = rn;
	v.flags = flags;
	memcpy(v.nat_addr, nat.b, 16);
	v.nat_port = htons(nat_port);
	bpf_map_update_elem(fd_ct6, &k, &v, BPF_ANY);
}

static void flows6_setup(void)
{
	struct sy_revnat6 rn;
	struct sy_backend6 be;
	uint32_t id;
	struct in6 z = { { 0 } };

	memset(&rn, 0, sizeof(rn));
	memcpy(rn.addr, VIP6.b, 16);
	rn.port = htons(80);
	id = FE6_TCP;
	bpf_map_update_elem(bpf_map__fd(skel->maps.sy_revnat6), &id, &rn, 0);
	rn.port = htons(53);
	id = FE6_UDP;
	bpf_map_update_elem(bpf_map__fd(skel->maps.sy_revnat6), &id, &rn, 0);
	memset(&be, 0, sizeof(be));
	memcpy(be.addr, BE6.b, 16);
	be.port = htons(8080);
	be.proto = IPPROTO_TCP_;
	id = BE6_TCP;
	bpf_map_update_elem(bpf_map__fd(skel->maps.sy_backends6), &id, &be, 0);
	be.port = htons(5353);
	be.proto = IPPROTO_UDP_;
	id = BE6_UDP;
	bpf_map_update_elem(bpf_map__fd(skel->maps.sy_backends6), &id, &be, 0);

	/* DNAT flow CL6:40001 -> VIP6:80 => BE6:8080. */
	ct6(CL6, VIP6, 40001, 80, IPPROTO_TCP_, SY_CT_FORWARD, BE6_TCP, FE6_TCP,
	    SY_CT_F_SEEN_REPLY, z, 0);
	ct6(BE6, CL6, 8080, 40001, IPPROTO_TCP_, SY_CT_REPLY, BE6_TCP, FE6_TCP,
	    SY_CT_F_SEEN_REPLY, z, 0);
	/* SNAT flow CL6:40002 -> VIP6:80 => NODE6:50000 -> BE6:8080. */
	ct6(CL6, VIP6, 40002, 80, IPPROTO_TCP_, SY_CT_FORWARD, BE6_TCP, FE6_TCP,
	    SY_CT_F_SNAT | SY_CT_F_SEEN_REPLY, NODE6, 50000);
	ct6(BE6, NODE6, 8080, 50000, IPPROTO_TCP_, SY_CT_REPLY, BE6_TCP,
	    FE6_TCP, SY_CT_F_SNAT | SY_CT_F_SEEN_REPLY, CL6, 40002);
	/* UDP DNAT flow CL6:40003 -> VIP6:53 => BE6:5353. */
	ct6(CL6, VIP6, 40003, 53, IPPROTO_UDP_, SY_CT_FORWARD, BE6_UDP, FE6_UDP,
	    0, z, 0);
	ct6(BE6, CL6, 5353, 40003, IPPROTO_UDP_, SY_CT_REPLY, BE6_UDP, FE6_UDP,
	    0, z, 0);
}

/* An error of type/code/data from osrc to odst quoting packet qd (whole),
 * and the expected translation: from nsrc to ndst quoting qn. */
static void expect_icmp6_xlate(const char *name, struct bpf_program *prog,
			       uint8_t type, uint8_t code, uint32_t data,
			       struct in6 osrc, struct in6 odst,
			       const struct p6 *qd, struct in6 nsrc,
			       struct in6 ndst, const struct p6 *qn,
			       uint32_t want)
{
	static uint8_t in[BUF], exp[BUF], q[BUF];
	size_t qlen, len, elen;

	qlen = ip6_of(q, qd);
	len = icmp6_frame(in, false, osrc, odst, type, code, data, q, qlen, 60);
	qlen = ip6_of(q, qn);
	elen = icmp6_frame(exp, false, nsrc, ndst, type, code, data, q, qlen,
			   60);
	expect6(name, prog, 0, in, len, want, exp, elen);
}

static void test_icmp6_xlate(void)
{
	struct bpf_program *tc = h6->progs.v6h_icmp;
	struct bpf_program *xdp = h6->progs.v6h_xdp_icmp;
	uint64_t rv0 = counter(SY_CNT_ICMP_ERR_REVNAT);
	uint64_t dn0 = counter(SY_CNT_ICMP_ERR_DNAT);
	uint64_t un0 = counter(SY_CNT_ICMP_ERR_UNTRACKED);
	uint64_t mf0 = counter(SY_CNT_ICMP_ERR_MALFORMED);
	/* The forward packet as the backend side saw it, and as the client
	 * sent it. */
	struct p6 fwd = { .src = CL6, .dst = BE6, .proto = IPPROTO_TCP_,
			  .sport = 40001, .dport = 8080, .flags = TH_ACK,
			  .seq = 5, .ack = 6, .payload = 64 };
	struct p6 fwd_c = fwd;
	struct p6 rep, rep_b;

	flows6_setup();

	fwd_c.dst = VIP6;
	fwd_c.dport = 80;
	expect_icmp6_xlate("icmp6: packet too big about a DNATed forward packet: outer VIP->client, quote client->VIP:80, MTU kept",
			   tc, 2, 0, 1400, RTR6, CL6, &fwd, VIP6, CL6, &fwd_c,
			   TC_OK);

	/* The reply as the client saw it, and as the backend sent it. */
	rep = (struct p6){ .src = VIP6, .dst = CL6, .proto = IPPROTO_TCP_,
			   .sport = 80, .dport = 40001, .flags = TH_ACK,
			   .seq = 9, .ack = 10, .payload = 64 };
	rep_b = rep;
	rep_b.src = BE6;
	rep_b.sport = 8080;
	expect_icmp6_xlate("icmp6: packet too big from the client about a DNATed reply: outer client->backend, quote backend:8080->client",
			   tc, 2, 0, 1300, CL6, VIP6, &rep, CL6, BE6, &rep_b,
			   TC_OK);

	/* SNAT flow: the forward packet left as NODE6:50000 -> BE6:8080. */
	fwd.src = NODE6;
	fwd.sport = 50000;
	fwd_c.sport = 40002;
	expect_icmp6_xlate("icmp6: packet too big about a SNATed forward packet: outer VIP->client, quote client:40002->VIP:80",
			   tc, 2, 0, 1280, RTR6, NODE6, &fwd, VIP6, CL6,
			   &fwd_c, TC_OK);
	rep.dport = 40002;
	rep_b.dst = NODE6;
	rep_b.dport = 50000;
	expect_icmp6_xlate("icmp6: packet too big from the client about a SNATed reply: outer node->backend, quote backend:8080->node:50000",
			   tc, 2, 0, 1300, CL6, VIP6, &rep, NODE6, BE6, &rep_b,
			   TC_OK);

	/* XDP takes errors of SNATed flows only, with the same bytes. */
	expect_icmp6_xlate("icmp6/xdp: packet too big about a SNATed forward packet, same translation as tc",
			   xdp, 2, 0, 1280, RTR6, NODE6, &fwd, VIP6, CL6,
			   &fwd_c, XDP_TX);
	expect_icmp6_xlate("icmp6/xdp: packet too big from the client about a SNATed reply, same translation as tc",
			   xdp, 2, 0, 1300, CL6, VIP6, &rep, NODE6, BE6, &rep_b,
			   XDP_TX);
	fwd.src = CL6;
	fwd.sport = 40001;
	expect_icmp6_xlate("icmp6/xdp: an error of a DNAT-only flow is left to tc (XDP_PASS, untouched)",
			   xdp, 2, 0, 1400, RTR6, CL6, &fwd, RTR6, CL6, &fwd,
			   XDP_PASS);

	/* UDP (embedded checksum at +6), time exceeded and destination
	 * unreachable, with a destination options header in the quote. */
	{
		struct p6 u = { .src = CL6, .dst = BE6, .proto = IPPROTO_UDP_,
				.sport = 40003, .dport = 5353, .payload = 30,
				.dest_opts = true };
		struct p6 uc = u;

		uc.dst = VIP6;
		uc.dport = 53;
		expect_icmp6_xlate("icmp6: time exceeded about a UDP forward packet (quote with a destination options header)",
				   tc, 3, 0, 0, RTR6, CL6, &u, VIP6, CL6, &uc,
				   TC_OK);
		expect_icmp6_xlate("icmp6: destination unreachable (1/3) about a UDP forward packet",
				   tc, 1, 3, 0, RTR6, CL6, &u, VIP6, CL6, &uc,
				   TC_OK);
	}

	/* Untracked: untouched and counted; an echo request is no error. */
	fwd.sport = 40999;
	expect_icmp6_xlate("icmp6: an error about an untracked flow is untouched (TCX_NEXT)",
			   tc, 2, 0, 1400, RTR6, CL6, &fwd, RTR6, CL6, &fwd,
			   (uint32_t)-1);
	{
		static uint8_t in[BUF];
		uint8_t q[8] = { 0 };
		size_t len = icmp6_frame(in, false, CL6, VIP6, 128, 0, 0x10001,
					 q, 8, 64);

		expect6("icmp6: an echo request is no error: untouched", tc, 0,
			in, len, (uint32_t)-1, NULL, 0);
	}
	/* A quoted later fragment has no ports: malformed, untouched. */
	{
		struct p6 lf = { .src = CL6, .dst = BE6, .proto = IPPROTO_UDP_,
				 .frag = true, .frag_off = 1448, .frag_id = 9,
				 .no_l4 = true, .payload = 32 };

		expect_icmp6_xlate("icmp6: an error quoting a later fragment is untouched (no ports to match)",
				   tc, 2, 0, 1280, RTR6, CL6, &lf, RTR6, CL6,
				   &lf, (uint32_t)-1);
	}
	check(counter(SY_CNT_ICMP_ERR_REVNAT) == rv0 + 5 &&
		      counter(SY_CNT_ICMP_ERR_DNAT) == dn0 + 3 &&
		      counter(SY_CNT_ICMP_ERR_UNTRACKED) == un0 + 1 &&
		      counter(SY_CNT_ICMP_ERR_MALFORMED) == mf0 + 1,
	      "icmp6: counters REVNAT +5, DNAT +3, UNTRACKED +1, MALFORMED +1",
	      "revnat +%llu dnat +%llu untracked +%llu malformed +%llu",
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_REVNAT) - rv0),
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_DNAT) - dn0),
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_UNTRACKED) - un0),
	      (unsigned long long)(counter(SY_CNT_ICMP_ERR_MALFORMED) - mf0));
}

static int svc6(struct in6 a, uint16_t port, uint8_t proto, uint32_t id,
		uint32_t group, uint16_t count, uint16_t flags);

/* ---- packet too big for a too-big forwarded packet ----------------------- */

static int sh6(const char *cmd)
{
	return system(cmd) == 0 ? 0 : -1;
}

static bool net6_setup(void)
{
	int err = 0;

	err = err ?: sh6("ip link add sy-6a address 02:00:00:00:60:00 type veth "
			 "peer name sy-6b address 02:00:00:00:60:01");
	err = err ?: sh6("ip link set sy-6b mtu 1280");
	err = err ?: sh6("ip link set sy-6a up && ip link set sy-6b up");
	err = err ?: sh6("ip -6 addr add fd00:c::fe/64 dev sy-6a nodad && "
			 "ip -6 addr add fd00:be::fe/64 dev sy-6b nodad");
	err = err ?: sh6("ip -6 neigh replace fd00:be::2 lladdr 02:00:00:00:be:06 dev sy-6b nud permanent");
	err = err ?: sh6("ip -6 neigh replace fd00:c::1 lladdr 02:00:00:00:c1:06 dev sy-6a nud permanent");
	err = err ?: sh6("echo 1 > /proc/sys/net/ipv6/conf/all/forwarding");
	i6a = if_nametoindex("sy-6a");
	i6b = if_nametoindex("sy-6b");
	return check(!err && i6a && i6b,
		     "too-big6: private netns: veth sy-6a (clients) / sy-6b (backends, MTU 1280), IPv6 forwarding",
		     "setup failed (err %d, ifindex %u/%u)", err, i6a, i6b);
}

static void orig6(struct in6 s, struct in6 d, uint16_t sp, uint16_t dp)
{
	memcpy(h6->bss->v6h_o_saddr, s.b, 16);
	memcpy(h6->bss->v6h_o_daddr, d.b, 16);
	h6->bss->v6h_o_sport = htons(sp);
	h6->bss->v6h_o_dport = htons(dp);
}

/* A pod's packet to a ClusterIP, DNATed by sy_tc_ingress and handed to the
 * stack: the backend's route has `mtu lock 1280` on a 1500-byte device (as
 * between two nodes of the lab). Too big for the route: packet too big to
 * the pod from the frontend, quoting the packet as sent (the stack's own
 * answer would quote the backend). Uses the backend and table of the
 * NodePort case (7120: BE6:8080, table 7220). */
#define PVIP6 a6(0xfd00, 0x96, 0x60) /* ClusterIP :80 -> BE6:8080 */

static void too_big6_pod(void)
{
	static const uint8_t mac_6a[6] = { 0x02, 0, 0, 0, 0x60, 0x00 };
	static uint8_t in[BUF], exp[BUF], q[BUF];
	struct bpf_program *tc = skel->progs.sy_tc_ingress;
	uint64_t sent0 = counter(SY_CNT_FRAG_NEEDED_SENT);
	struct p6 c = { .src = CL6, .dst = PVIP6, .proto = IPPROTO_TCP_,
			.sport = 41200, .dport = 80, .flags = TH_ACK,
			.seq = 5, .ack = 6, .payload = 1400 - 60 };
	struct p6 t;
	uint8_t saved[6];
	size_t len, elen, qlen;

	if (!check(svc6(PVIP6, 80, IPPROTO_TCP_, 7021, 7220, 1,
			SY_SVC_F_CLUSTERIP) == 0 &&
			   sh6("ip link set sy-6b mtu 1500 && "
			       "ip -6 route replace fd00:be::2/128 dev sy-6b mtu lock 1280") == 0,
		   "too-big6 pod: ClusterIP [fd00:96::60]:80 -> [fd00:be::2]:8080, route with mtu lock 1280 on a 1500-byte device",
		   "%s", "setup failed"))
		return;
	memcpy(saved, eth_dst, 6);
	memcpy(eth_dst, mac_6a, 6); /* for this host */

	len = frame6(in, &c);
	qlen = ip6_of(q, &c);
	elen = icmp6_frame(exp, true, PVIP6, CL6, 2, 0, 1280, q,
			   qlen < 1232 ? qlen : 1232, 64);
	expect6("too-big6 pod: sy_tc_ingress: a pod's 1400-byte TCP packet to a ClusterIP whose backend's route has mtu lock 1280 -> packet too big (MTU 1280) from the ClusterIP, quoting the packet as sent, back out of the pod's device",
		tc, i6a, in, len, TC_REDIRECT, exp, elen);
	check(counter(SY_CNT_FRAG_NEEDED_SENT) == sent0 + 1,
	      "too-big6 pod: SY_CNT_FRAG_NEEDED_SENT +1", "+%llu",
	      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_SENT) - sent0));

	/* Exactly 1280 bytes: DNATed and handed to the stack. */
	c.payload = 1280 - 60;
	t = c;
	t.dst = BE6;
	t.dport = 8080;
	len = frame6(in, &c);
	elen = frame6(exp, &t);
	expect6("too-big6 pod: 1280 bytes fit the route: DNATed, TC_ACT_OK",
		tc, i6a, in, len, TC_OK, exp, elen);

	sh6("ip -6 route del fd00:be::2/128 dev sy-6b; ip link set sy-6b mtu 1280");
	memcpy(eth_dst, saved, 6);
}

static void test_too_big6(void)
{
	static uint8_t in[BUF], exp[BUF], q[BUF];
	struct bpf_program *tc = h6->progs.v6h_too_big;
	struct bpf_program *xdp = h6->progs.v6h_xdp_too_big;
	uint64_t sent0 = counter(SY_CNT_FRAG_NEEDED_SENT);
	uint64_t rl0 = counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED);
	/* As sent by the client, and as translated (DNAT). */
	struct p6 c = { .src = CL6, .dst = VIP6, .proto = IPPROTO_TCP_,
			.sport = 40001, .dport = 80, .flags = TH_ACK,
			.seq = 77, .ack = 78, .payload = 1300 };
	struct p6 t = c;
	size_t len, elen, qlen;

	if (!net6_setup())
		return;
	bucket6(SY_RL_FRAG_NEEDED, 0, 0);

	t.dst = BE6;
	t.dport = 8080;
	/* Small enough: forwarded (the lookup succeeds). */
	t.payload = 1000;
	len = frame6(in, &t);
	orig6(CL6, VIP6, 40001, 80);
	expect6("too-big6: a translated packet that fits the egress MTU is forwarded (no answer)",
		tc, i6a, in, len, TC_OK, NULL, 0);

	t.payload = 1300;
	len = frame6(in, &t);
	qlen = ip6_of(q, &c); /* the quote is the packet as the client sent it */
	elen = icmp6_frame(exp, true, VIP6, CL6, 2, 0, 1280, q, 1232, 64);
	expect6("too-big6: DNATed TCP packet of 1360 bytes to a 1280 egress: ICMPv6 packet too big (MTU 1280) from the frontend, quoting the client's packet un-translated",
		tc, i6a, in, len, TC_REDIRECT, exp, elen);

	/* SNATed flow: source node:50000 in the packet, client:40002 in the
	 * quote. UDP. */
	c = (struct p6){ .src = CL6, .dst = VIP6, .proto = IPPROTO_UDP_,
			 .sport = 40002, .dport = 53, .payload = 1250 };
	t = c;
	t.src = NODE6;
	t.sport = 50000;
	t.dst = BE6;
	t.dport = 5353;
	len = frame6(in, &t);
	orig6(CL6, VIP6, 40002, 53);
	qlen = ip6_of(q, &c);
	elen = icmp6_frame(exp, true, VIP6, CL6, 2, 0, 1280, q,
			   qlen < 1232 ? qlen : 1232, 64);
	expect6("too-big6: SNATed UDP packet too big: packet too big to the client, quote with client address, port and UDP checksum restored",
		tc, i6a, in, len, TC_REDIRECT, exp, elen);

	/* XDP: the frame is untouched; it is quoted as it is. */
	c = (struct p6){ .src = CL6, .dst = BE6, .proto = IPPROTO_TCP_,
			 .sport = 40005, .dport = 8080, .flags = TH_ACK,
			 .payload = 1300 };
	len = frame6(in, &c);
	orig6(CL6, BE6, 40005, 8080);
	qlen = ip6_of(q, &c);
	elen = icmp6_frame(exp, true, BE6, CL6, 2, 0, 1280, q, 1232, 64);
	expect6("too-big6/xdp: packet too big (MTU 1280) written over the frame, XDP_TX",
		xdp, i6a, in, len, XDP_TX, exp, elen);

	check(counter(SY_CNT_FRAG_NEEDED_SENT) == sent0 + 3,
	      "too-big6: SY_CNT_FRAG_NEEDED_SENT +3", "+%llu",
	      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_SENT) - sent0));

	/* Rate limited: dropped, counted, no answer. */
	bucket6(SY_RL_FRAG_NEEDED, 0, mono_ns() + 3600 * SEC_NS);
	expect6("too-big6/xdp: rate limited: XDP_DROP", xdp, i6a, in, len,
		XDP_DROP, in, len);
	c.dst = VIP6;
	t = c;
	t.dst = BE6;
	len = frame6(in, &t);
	expect6("too-big6: rate limited: TC_ACT_SHOT", tc, i6a, in, len,
		TC_SHOT, in, len);
	check(counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED) == rl0 + 2,
	      "too-big6: SY_CNT_FRAG_NEEDED_RATE_LIMITED +2", "+%llu",
	      (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_RATE_LIMITED) - rl0));
	bucket6(SY_RL_FRAG_NEEDED, 0, 0);

	/* Through the datapath: a NodePort flow SNATed to a backend behind
	 * the 1280-byte device, forwarded by sy_tc_external itself. */
	{
		struct sy_config6 cfg;
		struct sy_backend6 b;
		struct in6 node;
		uint32_t zero = 0, id = 7120, tt[7];
		int err;

		err = bpf_map_lookup_elem(bpf_map__fd(skel->maps.sy_config6),
					  &zero, &cfg);
		memcpy(node.b, cfg.node_addr, 16);
		memset(&b, 0, sizeof(b));
		memcpy(b.addr, BE6.b, 16);
		b.port = htons(8080);
		b.proto = IPPROTO_TCP_;
		b.state = SY_BE_ACTIVE;
		err = err ?: bpf_map_update_elem(bpf_map__fd(skel->maps.sy_backends6),
						 &id, &b, 0);
		for (int i = 0; i < 7; i++)
			tt[i] = id;
		err = err ?: set_table(7220, 7, tt);
		err = err ?: svc6(node, 31080, IPPROTO_TCP_, 7020, 7220, 1,
				  SY_SVC_F_NODEPORT);
		if (check(err == 0 && node.b[0] == 0xfd,
			  "too-big6: NodePort node:31080 -> fd00:be::2:8080 (node address from sy_config6)",
			  "err %d", err)) {
			static const uint8_t mac_6a[6] = { 0x02, 0, 0, 0, 0x60, 0x00 };
			uint8_t saved[6];

			/* Addressed to sy-6a's MAC: for this host. */
			memcpy(saved, eth_dst, 6);
			memcpy(eth_dst, mac_6a, 6);
			sent0 = counter(SY_CNT_FRAG_NEEDED_SENT);
			c = (struct p6){ .src = CL6, .dst = node,
					 .proto = IPPROTO_TCP_, .sport = 41100,
					 .dport = 31080, .flags = TH_SYN,
					 .seq = 1, .payload = 1300 };
			len = frame6(in, &c);
			qlen = ip6_of(q, &c);
			elen = icmp6_frame(exp, true, node, CL6, 2, 0, 1280, q,
					   1232, 64);
			expect6("too-big6: sy_tc_external: a NodePort packet SNATed to a backend behind a 1280 MTU gets ICMPv6 packet too big from node:31080, quoting the client's packet as sent",
				skel->progs.sy_tc_external, i6a, in, len,
				TC_REDIRECT, exp, elen);
			check(counter(SY_CNT_FRAG_NEEDED_SENT) == sent0 + 1,
			      "too-big6: sy_tc_external: SY_CNT_FRAG_NEEDED_SENT +1",
			      "+%llu", (unsigned long long)(counter(SY_CNT_FRAG_NEEDED_SENT) - sent0));
			memcpy(eth_dst, saved, 6);
		}
	}
	too_big6_pod();

	sh6("ip link del sy-6a");
}

/* ---- fragments ---------------------------------------------------------- */

static void test_frag6(void)
{
	static uint8_t in[BUF], exp[BUF];
	struct bpf_program *p = h6->progs.v6h_frag;
	uint64_t first0 = counter(SY_CNT_FRAG_FIRST);
	uint64_t x0 = counter(SY_CNT_FRAG_XLATE);
	uint64_t nf0 = counter(SY_CNT_DROP_FRAG_NO_FIRST);
	struct p6 first = { .src = CL6, .dst = VIP6, .proto = IPPROTO_UDP_,
			    .sport = 40005, .dport = 53, .payload = 1000,
			    .frag = true, .frag_off = 0x0001,
			    .frag_id = 0x12345678 };
	struct p6 later = { .src = CL6, .dst = VIP6, .proto = IPPROTO_UDP_,
			    .frag = true, .frag_off = (1008 / 8) << 3,
			    .frag_id = 0x12345678, .no_l4 = true,
			    .payload = 400 };
	struct p6 want;
	struct sy_frag_key6 k;
	struct sy_frag_value v;
	size_t len, elen;

	memcpy(h6->bss->v6h_frag_addrs, CL6.b, 16);
	memcpy(&h6->bss->v6h_frag_addrs[4], BE6.b, 16);

	len = frame6(in, &first);
	expect6("frag6: first fragment (offset 0, M) passes and records its ports",
		p, 0, in, len, TC_OK, NULL, 0);
	memset(&k, 0, sizeof(k));
	memcpy(k.saddr, CL6.b, 16);
	memcpy(k.daddr, VIP6.b, 16);
	k.id = htonl(0x12345678);
	k.proto = IPPROTO_UDP_;
	check(bpf_map_lookup_elem(fd_frag6, &k, &v) == 0 &&
		      v.sport == htons(40005) && v.dport == htons(53),
	      "frag6: sy_frag6 holds {client, frontend, id, UDP} -> 40005/53",
	      "entry missing or wrong");

	len = frame6(in, &later);
	want = later;
	want.dst = BE6;
	elen = frame6(exp, &want);
	expect6("frag6: later fragment gets its first fragment's flow: destination rewritten to the backend",
		p, 0, in, len, TC_OK, exp, elen);
	check(h6->bss->v6h_frag_sport == htons(40005) &&
		      h6->bss->v6h_frag_dport == htons(53),
	      "frag6: the later fragment got the first fragment's ports",
	      "ports %u/%u", ntohs(h6->bss->v6h_frag_sport),
	      ntohs(h6->bss->v6h_frag_dport));

	later.frag_id = 0x12345679;
	len = frame6(in, &later);
	expect6("frag6: later fragment whose first was not seen is dropped",
		p, 0, in, len, TC_SHOT, in, len);
	later.frag_id = 0x12345678;
	later.proto = IPPROTO_TCP_;
	len = frame6(in, &later);
	expect6("frag6: same id, another upper-layer protocol: no first fragment, dropped",
		p, 0, in, len, TC_SHOT, in, len);

	check(counter(SY_CNT_FRAG_FIRST) == first0 + 1 &&
		      counter(SY_CNT_FRAG_XLATE) == x0 + 1 &&
		      counter(SY_CNT_DROP_FRAG_NO_FIRST) == nf0 + 2,
	      "frag6: counters FRAG_FIRST +1, FRAG_XLATE +1, DROP_FRAG_NO_FIRST +2",
	      "first +%llu xlate +%llu nofirst +%llu",
	      (unsigned long long)(counter(SY_CNT_FRAG_FIRST) - first0),
	      (unsigned long long)(counter(SY_CNT_FRAG_XLATE) - x0),
	      (unsigned long long)(counter(SY_CNT_DROP_FRAG_NO_FIRST) - nf0));
}

/* ---- through sy_tc_ingress (sy_hooks6.h) ---------------------------------- */

#define RVIP6  a6(0xfd00, 0x96, 0x40)  /* TCP :80, UDP :53: no endpoints */
#define FVIP6  a6(0xfd00, 0x96, 0x50)  /* UDP :53 -> FBE6:5353 only */
#define FBE6   a6(0xfd00, 0xbe, 0x50)
#define FE6_R_TCP 7010
#define FE6_R_UDP 7011
#define FE6_F     7012
#define BE6_F     7110
#define G6_F      7210

static int svc6(struct in6 a, uint16_t port, uint8_t proto, uint32_t id,
		uint32_t group, uint16_t count, uint16_t flags)
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
	k.scope = SY_SCOPE_EXTERNAL;
	v.id = id;
	v.group = group;
	v.count = count;
	v.flags = flags;
	v.affinity_timeout = 10800;
	v.table_size = 7;
	memcpy(rn.addr, a.b, 16);
	rn.port = htons(port);
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.sy_services6), &k, &v, 0) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.sy_revnat6), &id, &rn, 0))
		return -errno;
	return 0;
}

static void test_datapath6(void)
{
	static uint8_t in[BUF], exp[BUF], q[BUF];
	struct bpf_program *tc = skel->progs.sy_tc_ingress;
	struct sy_backend6 b;
	uint32_t id = BE6_F, t[7];
	size_t len, elen, qlen;
	int err = 0;

	memset(&b, 0, sizeof(b));
	memcpy(b.addr, FBE6.b, 16);
	b.port = htons(5353);
	b.proto = IPPROTO_UDP_;
	b.state = SY_BE_ACTIVE;
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.sy_backends6), &id,
				  &b, 0);
	for (int i = 0; i < 7; i++)
		t[i] = BE6_F;
	err = err ?: set_table(G6_F, 7, t);
	err = err ?: svc6(RVIP6, 80, IPPROTO_TCP_, FE6_R_TCP, G6_F, 0, SY_SVC_F_CLUSTERIP);
	err = err ?: svc6(RVIP6, 53, IPPROTO_UDP_, FE6_R_UDP, G6_F, 0, SY_SVC_F_CLUSTERIP);
	err = err ?: svc6(FVIP6, 53, IPPROTO_UDP_, FE6_F, G6_F, 7, SY_SVC_F_CLUSTERIP);
	if (!check(err == 0, "datapath6: IPv6 frontends (no endpoints; one UDP backend)",
		   "%s", strerror(-err)))
		return;
	bucket6(SY_RL_REJECT, 0, 0);

	/* REJECT: exactly the frames the harness test expects. */
	{
		struct p6 d = { .src = CL6, .dst = RVIP6, .proto = IPPROTO_TCP_,
				.sport = 41000, .dport = 80, .flags = TH_SYN,
				.seq = 7, .payload = 3 };
		struct p6 r = { .src = RVIP6, .dst = CL6, .proto = IPPROTO_TCP_,
				.sport = 80, .dport = 41000,
				.flags = TH_RST | TH_ACK, .ack = 11 };

		len = frame6(in, &d);
		elen = frame6(exp, &r);
		memcpy(exp, mac_peer, 6);
		memcpy(exp + 6, eth_dst, 6);
		put16(exp + 14 + 40 + 14, 0);
		put16(exp + 14 + 40 + 16, 0);
		put16(exp + 14 + 40 + 16, ~fold(sum16(exp + 54, 20,
			pseudo6(RVIP6.b, CL6.b, 20, IPPROTO_TCP_))));
		expect6("datapath6: sy_tc_ingress answers a TCP SYN to an IPv6 frontend without endpoints with RST|ACK (every byte)",
			tc, 0, in, len, TC_REDIRECT, exp, elen);

		d = (struct p6){ .src = CL6, .dst = RVIP6, .proto = IPPROTO_UDP_,
				 .sport = 41001, .dport = 53, .payload = 40,
				 .dest_opts = true };
		len = frame6(in, &d);
		qlen = ip6_of(q, &d);
		elen = icmp6_frame(exp, true, RVIP6, CL6, 1, 4, 0, q, qlen, 64);
		expect6("datapath6: sy_tc_ingress answers a UDP datagram to an IPv6 frontend without endpoints with ICMPv6 port unreachable (every byte)",
			tc, 0, in, len, TC_REDIRECT, exp, elen);
	}

	/* ICMPv6 packet too big of the DNATed flow (planted entries of
	 * test_icmp6_xlate), through the datapath. */
	{
		struct p6 fwd = { .src = CL6, .dst = BE6, .proto = IPPROTO_TCP_,
				  .sport = 40001, .dport = 8080, .flags = TH_ACK,
				  .seq = 5, .ack = 6, .payload = 64 };
		struct p6 fwd_c = fwd;

		flows6_setup(); /* fresh last_seen */
		fwd_c.dst = VIP6;
		fwd_c.dport = 80;
		expect_icmp6_xlate("datapath6: sy_tc_ingress translates ICMPv6 packet too big of a DNATed flow (outer and quote)",
				   tc, 2, 0, 1400, RTR6, CL6, &fwd, VIP6, CL6,
				   &fwd_c, TC_OK);
	}

	/* Fragments: the first one DNATed with its ports recorded, a later
	 * one to the same backend; replies in fragments reverse-NATed. */
	{
		uint64_t nf0 = counter(SY_CNT_DROP_FRAG_NO_FIRST);
		struct p6 first = { .src = CL6, .dst = FVIP6,
				    .proto = IPPROTO_UDP_, .sport = 41005,
				    .dport = 53, .payload = 1000, .frag = true,
				    .frag_off = 0x0001, .frag_id = 0xabcdef01 };
		struct p6 later = { .src = CL6, .dst = FVIP6,
				    .proto = IPPROTO_UDP_, .frag = true,
				    .frag_off = (1008 / 8) << 3,
				    .frag_id = 0xabcdef01, .no_l4 = true,
				    .payload = 300 };
		struct p6 w;

		len = frame6(in, &first);
		w = first;
		w.dst = FBE6;
		w.dport = 5353;
		elen = frame6(exp, &w);
		expect6("datapath6: first UDP fragment (offset 0, M) to a ClusterIP is DNATed (address, port, checksum)",
			tc, 0, in, len, TC_OK, exp, elen);
		len = frame6(in, &later);
		w = later;
		w.dst = FBE6;
		elen = frame6(exp, &w);
		expect6("datapath6: later fragment of that datagram goes to the same backend (address only)",
			tc, 0, in, len, TC_OK, exp, elen);

		/* The backend's reply, in two fragments. */
		first = (struct p6){ .src = FBE6, .dst = CL6,
				     .proto = IPPROTO_UDP_, .sport = 5353,
				     .dport = 41005, .payload = 1000,
				     .frag = true, .frag_off = 0x0001,
				     .frag_id = 0x11 };
		len = frame6(in, &first);
		w = first;
		w.src = FVIP6;
		w.sport = 53;
		elen = frame6(exp, &w);
		expect6("datapath6: first fragment of the reply is reverse-NATed",
			tc, 0, in, len, TC_OK, exp, elen);
		later = (struct p6){ .src = FBE6, .dst = CL6,
				     .proto = IPPROTO_UDP_, .frag = true,
				     .frag_off = (1008 / 8) << 3, .frag_id = 0x11,
				     .no_l4 = true, .payload = 200 };
		len = frame6(in, &later);
		w = later;
		w.src = FVIP6;
		elen = frame6(exp, &w);
		expect6("datapath6: later fragment of the reply is reverse-NATed (source address)",
			tc, 0, in, len, TC_OK, exp, elen);

		later = (struct p6){ .src = CL6, .dst = FVIP6,
				     .proto = IPPROTO_UDP_, .frag = true,
				     .frag_off = (1008 / 8) << 3,
				     .frag_id = 0xabcdef02, .no_l4 = true,
				     .payload = 300 };
		len = frame6(in, &later);
		expect6("datapath6: later fragment whose first was not seen is dropped",
			tc, 0, in, len, TC_SHOT, in, len);
		check(counter(SY_CNT_DROP_FRAG_NO_FIRST) == nf0 + 1,
		      "datapath6: SY_CNT_DROP_FRAG_NO_FIRST +1", "+%llu",
		      (unsigned long long)(counter(SY_CNT_DROP_FRAG_NO_FIRST) - nf0));
	}
}

/* ---- entry ---------------------------------------------------------------- */

/* The harness uses the main skeleton's maps (same names). */
static int share_maps(void)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, h6->obj) {
		struct bpf_map *main_m =
			bpf_object__find_map_by_name(skel->obj, bpf_map__name(m));
		int err;

		if (!main_m || bpf_map__is_internal(m))
			continue;
		err = bpf_map__reuse_fd(m, bpf_map__fd(main_m));
		if (err)
			return err;
	}
	return 0;
}

void test_icmp6(void)
{
	int err;

	h6 = v6_harness__open();
	if (!check(h6 != NULL, "v6 harness: open", "%s", strerror(errno)))
		return;
	err = share_maps();
	err = err ?: v6_harness__load(h6);
	if (!check(err == 0,
		   "v6 harness: load (verifier accepts sy_reject6.h, sy_icmp6.h, sy_frag6.h callers; maps shared)",
		   "%s", strerror(-err)))
		goto out;
	fd_ct6 = bpf_map__fd(skel->maps.sy_conntrack6);
	fd_rate = bpf_map__fd(skel->maps.sy_icmp_rate);
	fd_frag6 = bpf_map__fd(skel->maps.sy_frag6);

	test_reject6();
	test_icmp6_xlate();
	test_frag6();
	test_datapath6();
	test_too_big6();
out:
	v6_harness__destroy(h6);
}
