// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ct-cost: per-packet cost of the tc datapath, and the conntrack LRU
 * flavour, measured with BPF_PROG_TEST_RUN (no lab needed; runs in a private
 * network namespace of its own).
 *
 *   ct-cost cost OBJ_A OBJ_B [FLOWS]
 *       Loads two builds of switchyard.bpf.o (e.g. before and after a change)
 *       with the same maps content and times, flow by flow and alternating
 *       between the two (so machine load hits both alike), single runs of
 *       sy_tc_ingress: a new flow (SYN to the VIP), the reply (SYN-ACK from
 *       the backend), the client's first ACK (completes the handshake; what
 *       bench/measure-testrun.ts times as "established") and a second ACK
 *       (a packet of an established flow). Prints median, p10 and p90 in ns
 *       per path and object.
 *
 *       The Service CIDR (10.96.0.0/12) is in sy_config (ignored by a build
 *       whose sy_config is shorter); "nocidr" after FLOWS leaves it out.
 *       CT_COST_PAYLOAD=N in the environment: the client's packets carry N
 *       bytes of TCP payload (DF set), and the backends are routed (a veth
 *       of MTU 1500 in the private namespace): the cost of a data
 *       packet of that size that the stack will forward (sy_pmtu.h asks the
 *       route of every DF packet over 68 bytes).
 *
 *   ct-cost family OBJ [FLOWS]
 *       One object, the same four paths for an IPv4 flow (10.96.0.10:80) and
 *       an IPv6 flow (fd00:0:0:96::10:80, sy_services6 and friends), the two
 *       families alternating flow by flow: the IPv6 per-packet cost beside
 *       IPv4's, and their ratio (issue #16: within 1.25x).
 *
 *   ct-cost bench OBJ_A OBJ_B [SERVICES] [ENDPOINTS] [FLOWS]
 *       The same paths at the benchmark's scale: both objects' maps filled
 *       as the agent fills them for SERVICES ClusterIP Services (default
 *       10,000) of ENDPOINTS endpoints each (default 10; a Maglev table of
 *       the agent's size, 1021 slots for 10), the flows spread over all
 *       Services, A and B alternating flow by flow in one process. Prints a
 *       Markdown table (bench/results/testrun-compare-*.md).
 *
 *   ct-cost lru OBJ [CT_MAX] [FLOOD] [EVERY]
 *       For sy_conntrack as a common LRU (flags 0) and as per-CPU LRU lists
 *       (BPF_F_NO_COMMON_LRU), with CT_MAX entries: 64 established flows
 *       (created and used half on CPU 0, half on CPU 1) exchange a request and a reply
 *       after every EVERY (default 1,000) new flows while FLOOD new flows (SYNs, on CPU 0)
 *       arrive. Prints the new-flow cost once the map is full, the
 *       established-packet cost, the replies that were not reverse-NATed
 *       (a broken flow) and the pair recreations the datapath counted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "sy_structs.h"
#include "testrun_frames.h"

#define VIP     0x0a60000aU /* 10.96.0.10 */
#define SVC_NET  0x0a600000U /* 10.96.0.0/12: the Service CIDR */
#define SVC_MASK 0xfff00000U
#define NODE_IP  0xc612000bU /* 198.18.0.11 */
#define BE_NET   0x0a800000U /* 10.128.0.0/9: bench backends */
#define BE_ADDR 0x0a010001U /* 10.1.0.1 */
#define VPORT   80
#define BPORT   8080

struct dp {
	struct bpf_object *obj;
	int prog, ct, counters;
	struct ring_buffer *events; /* CT_COST_TRACE: the monitor's reader */
};

static int drop_event(void *ctx, void *data, size_t size)
{
	(void)ctx; (void)data; (void)size;
	return 0;
}

/* CT_COST_TRACE=1 in the environment: a build with the datapath monitor
 * (sy_monitor, sy_events) traces every translation and samples every new
 * flow, and its events are read between flows (outside the timed runs), as
 * the loader reads them; a build without it runs as it is. */
static void monitor_on(struct dp *d)
{
	int mon = bpf_object__find_map_fd_by_name(d->obj, "sy_monitor");
	int ev = bpf_object__find_map_fd_by_name(d->obj, "sy_events");
	struct sy_monitor m = { .flags = SY_MON_F_TRACE, .ct_sample = 1 };
	uint32_t zero = 0;

	d->events = NULL;
	if (!getenv("CT_COST_TRACE") || mon < 0 || ev < 0)
		return;
	if (bpf_map_update_elem(mon, &zero, &m, BPF_ANY) == 0)
		d->events = ring_buffer__new(ev, drop_event, NULL, NULL);
}

/* One single run; returns the kernel's duration (ns), or -1. */
static long run1(int prog, const uint8_t *pkt, size_t len, uint32_t *ret)
{
	uint8_t out[2048];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(prog, &o))
		return -1;
	*ret = o.retval;
	/* A translated reply has the VIP as its source. */
	if (len >= 30 && o.data_size_out >= 30)
		*ret |= (*(uint32_t *)(out + 26) == htonl(VIP)) ? 0x10000 : 0;
	return (long)o.duration;
}

static int with_cidr = 1;

static int fill(struct dp *d)
{
	int svc = bpf_object__find_map_fd_by_name(d->obj, "sy_services");
	int be = bpf_object__find_map_fd_by_name(d->obj, "sy_backends");
	int rn = bpf_object__find_map_fd_by_name(d->obj, "sy_revnat");
	int mg = bpf_object__find_map_fd_by_name(d->obj, "sy_maglev");
	int cfg = bpf_object__find_map_fd_by_name(d->obj, "sy_config");
	LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
	struct sy_svc_key k = { .addr = htonl(VIP), .port = htons(VPORT), .proto = 6 };
	struct sy_svc_value v = { .id = 1, .group = 1, .count = 1, .flags = SY_SVC_F_CLUSTERIP, .table_size = 7 };
	struct sy_backend b = { .addr = htonl(BE_ADDR), .port = htons(BPORT), .proto = 6 };
	struct sy_revnat r = { .addr = htonl(VIP), .port = htons(VPORT) };
	struct sy_config c = { .flow_hash_seed = 1 };
	struct sy_maglev_slots slots = { { 1, 1 } };

	if (with_cidr) {
		c.svc_net = htonl(SVC_NET);
		c.svc_mask = htonl(SVC_MASK);
	}
	uint32_t one = 1, zero = 0;
	int inner;

	d->prog = bpf_program__fd(bpf_object__find_program_by_name(d->obj, "sy_tc_ingress"));
	d->ct = bpf_object__find_map_fd_by_name(d->obj, "sy_conntrack");
	d->counters = bpf_object__find_map_fd_by_name(d->obj, "sy_counters");
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ct_cost_mg", 4, sizeof(slots), 4, &io);
	if (inner < 0)
		return -errno;
	for (uint32_t i = 0; i < 4; i++)
		bpf_map_update_elem(inner, &i, &slots, BPF_ANY);
	if (bpf_map_update_elem(be, &one, &b, BPF_ANY) ||
	    bpf_map_update_elem(mg, &one, &inner, BPF_ANY) ||
	    bpf_map_update_elem(rn, &one, &r, BPF_ANY) ||
	    bpf_map_update_elem(svc, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(cfg, &zero, &c, BPF_ANY))
		return -errno;
	close(inner);
	return 0;
}

static int open_dp(struct dp *d, const char *path, int ct_max, int ct_flags)
{
	struct bpf_map *m;
	int err;

	d->obj = bpf_object__open_file(path, NULL);
	if (!d->obj)
		return -errno;
	m = bpf_object__find_map_by_name(d->obj, "sy_conntrack");
	if (ct_max > 0)
		bpf_map__set_max_entries(m, (uint32_t)ct_max);
	if (ct_flags >= 0)
		bpf_map__set_map_flags(m, (uint32_t)ct_flags);
	err = bpf_object__load(d->obj);
	if (err)
		return err;
	return fill(d);
}

static void report(const char *what, const char *obj, long *v, long n)
{
	qsort(v, (size_t)n, sizeof(long), cmp_long);
	printf("%-34s %-10s n=%-6ld p10=%-5ld median=%-5ld p90=%-5ld\n", what, obj, n,
	       v[n / 10], v[n / 2], v[n * 9 / 10]);
}

static void pin_cpu(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	sched_setaffinity(0, sizeof(s), &s);
}

static uint64_t counter(int fd, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[512] = { 0 }, t = 0;

	if (ncpu > 512 || bpf_map_lookup_elem(fd, &idx, v))
		return 0;
	for (int i = 0; i < ncpu; i++)
		t += v[i];
	return t;
}

/* The IPv4 TCP frame of tcp_frame() (len bytes) with n more bytes of
 * payload, lengths and checksums redone. Returns the new length. */
static size_t with_payload(uint8_t *b, size_t len, int n)
{
	uint8_t *ip = b + 14, *th = b + 34, ph[12];
	uint16_t tcp_len = (uint16_t)(len - 34 + n);

	if (n <= 0)
		return len;
	for (int i = 0; i < n; i++)
		b[len + i] = (uint8_t)(i * 13 + 1);
	*(uint16_t *)(ip + 2) = htons((uint16_t)(20 + tcp_len));
	*(uint16_t *)(ip + 10) = 0;
	*(uint16_t *)(ip + 10) = htons(fold(sum16(ip, 20, 0)));
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = 6;
	ph[10] = (uint8_t)(tcp_len >> 8);
	ph[11] = (uint8_t)tcp_len;
	*(uint16_t *)(th + 16) = 0;
	*(uint16_t *)(th + 16) = htons(fold(sum16(th, tcp_len, sum16(ph, 12, 0))));
	return len + (size_t)n;
}

static int cost(const char *a, const char *b, long flows)
{
	struct dp d[2];
	const char *name[2] = { "A", "B" };
	long *t[2][4];
	uint8_t pkt[64 + 1500];
	int payload = getenv("CT_COST_PAYLOAD") ? atoi(getenv("CT_COST_PAYLOAD")) : 0;

	if (payload < 0 || payload > 1400) {
		fprintf(stderr, "ct-cost: CT_COST_PAYLOAD must be 0..1400\n");
		return 2;
	}
	/* Routed backends (this process's own network namespace). */
	if (payload && system("ip link add ctc0 mtu 1500 type veth peer name ctc1 && "
			      "ip link set ctc0 up && ip link set ctc1 up && "
			      "ip route add 10.0.0.0/8 dev ctc0") != 0) {
		fprintf(stderr, "ct-cost: cannot set up the route to the backends\n");
		return 1;
	}

	for (int o = 0; o < 2; o++) {
		int err = open_dp(&d[o], o ? b : a, 0, -1);
		if (err) {
			fprintf(stderr, "ct-cost: %s: %s\n", o ? b : a, strerror(-err));
			return 1;
		}
		for (int p = 0; p < 4; p++)
			t[o][p] = calloc((size_t)flows, sizeof(long));
	}
	pin_cpu(0);
	for (long i = 0; i < flows; i++) {
		uint32_t client = 0x0a000000U | (uint32_t)(1 + (i / 50000));
		uint16_t cport = (uint16_t)(10000 + i % 50000);

		for (int k = 0; k < 2; k++) {
			int o = (int)((i + k) & 1); /* alternate which goes first */
			uint32_t ret;
			size_t len;

			len = with_payload(pkt, tcp_frame(pkt, NULL, NULL, client, VIP, cport, VPORT, 0x02), payload);
			t[o][0][i] = run1(d[o].prog, pkt, len, &ret);
			len = tcp_frame(pkt, NULL, NULL, BE_ADDR, client, BPORT, cport, 0x12);
			t[o][1][i] = run1(d[o].prog, pkt, len, &ret);
			len = with_payload(pkt, tcp_frame(pkt, NULL, NULL, client, VIP, cport, VPORT, 0x10), payload);
			t[o][2][i] = run1(d[o].prog, pkt, len, &ret);
			t[o][3][i] = run1(d[o].prog, pkt, len, &ret);
		}
	}
	printf("# %ld flows, single runs of sy_tc_ingress, A=%s B=%s, client packets with %d bytes of TCP payload\n",
	       flows, a, b, payload);
	for (int p = 0; p < 4; p++)
		for (int o = 0; o < 2; o++)
			report(p == 0 ? "tc new flow (SYN to the VIP)" :
			       p == 1 ? "tc reply reverse NAT (SYN-ACK)" :
			       p == 2 ? "tc handshake ACK (bench's 'established')" :
					"tc established (next ACK)",
			       name[o], t[o][p], flows);
	return 0;
}

/* ---- family: IPv6 beside IPv4 in one object ----------------------------- */

static const uint8_t VIP6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0x96, 0, 0, 0, 0, 0, 0, 0, 0x10 };
static const uint8_t BE6[16] = { 0xfd, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

/* The IPv6 twin of fill(): one ClusterIP, one backend (id 2, group 2),
 * the IPv6 Service CIDR fd00:0:0:96::/64 as the IPv4 one is set. */
static int fill6(struct dp *d)
{
	int svc = bpf_object__find_map_fd_by_name(d->obj, "sy_services6");
	int be = bpf_object__find_map_fd_by_name(d->obj, "sy_backends6");
	int rn = bpf_object__find_map_fd_by_name(d->obj, "sy_revnat6");
	int mg = bpf_object__find_map_fd_by_name(d->obj, "sy_maglev");
	int cfg = bpf_object__find_map_fd_by_name(d->obj, "sy_config6");
	LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
	struct sy_svc_key6 k = { .port = htons(VPORT), .proto = 6 };
	struct sy_svc_value v = { .id = 2, .group = 2, .count = 1, .flags = SY_SVC_F_CLUSTERIP, .table_size = 7 };
	struct sy_backend6 b = { .port = htons(BPORT), .proto = 6 };
	struct sy_revnat6 r = { .port = htons(VPORT) };
	struct sy_config6 c = { { 0 } };
	struct sy_maglev_slots slots = { { 2, 2 } };
	uint32_t two = 2, zero = 0;
	int inner;

	if (svc < 0 || be < 0 || rn < 0 || cfg < 0)
		return -ENOENT;
	memcpy(k.addr, VIP6, 16);
	memcpy(b.addr, BE6, 16);
	memcpy(r.addr, VIP6, 16);
	if (with_cidr) {
		memcpy(c.svc_net, VIP6, 8);
		memset(c.svc_mask, 0xff, 8);
	}
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ct_cost_mg6", 4, sizeof(slots), 4, &io);
	if (inner < 0)
		return -errno;
	for (uint32_t i = 0; i < 4; i++)
		bpf_map_update_elem(inner, &i, &slots, BPF_ANY);
	if (bpf_map_update_elem(be, &two, &b, BPF_ANY) ||
	    bpf_map_update_elem(mg, &two, &inner, BPF_ANY) ||
	    bpf_map_update_elem(rn, &two, &r, BPF_ANY) ||
	    bpf_map_update_elem(svc, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(cfg, &zero, &c, BPF_ANY))
		return -errno;
	close(inner);
	return 0;
}

static int family(const char *path, long flows)
{
	const char *name[2] = { "IPv4", "IPv6" };
	static const char *what[4] = { "tc new flow (SYN to the VIP)",
				       "tc reply reverse NAT (SYN-ACK)",
				       "tc handshake ACK (bench's 'established')",
				       "tc established (next ACK)" };
	long *t[2][4], med[2][4];
	uint8_t pkt[128];
	struct dp d;
	int err;

	err = open_dp(&d, path, 0, -1);
	err = err ?: fill6(&d);
	if (err) {
		fprintf(stderr, "ct-cost: %s: %s\n", path, strerror(-err));
		return 1;
	}
	for (int f = 0; f < 2; f++)
		for (int p = 0; p < 4; p++)
			t[f][p] = calloc((size_t)flows, sizeof(long));
	pin_cpu(0);
	for (long i = 0; i < flows; i++) {
		uint32_t client = 0x0a000000U | (uint32_t)(1 + (i / 50000));
		uint16_t cport = (uint16_t)(10000 + i % 50000);
		uint8_t c6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 1 };

		c6[12] = (uint8_t)(client >> 24);
		c6[13] = (uint8_t)(client >> 16);
		c6[14] = (uint8_t)(client >> 8);
		c6[15] = (uint8_t)client;
		for (int k = 0; k < 2; k++) {
			int f = (int)((i + k) & 1); /* alternate which goes first */
			uint32_t ret;
			size_t len;

			if (f == 0) {
				len = tcp_frame(pkt, NULL, NULL, client, VIP, cport, VPORT, 0x02);
				t[0][0][i] = run1(d.prog, pkt, len, &ret);
				len = tcp_frame(pkt, NULL, NULL, BE_ADDR, client, BPORT, cport, 0x12);
				t[0][1][i] = run1(d.prog, pkt, len, &ret);
				len = tcp_frame(pkt, NULL, NULL, client, VIP, cport, VPORT, 0x10);
			} else {
				len = tcp6_frame(pkt, c6, VIP6, cport, VPORT, 0x02);
				t[1][0][i] = run1(d.prog, pkt, len, &ret);
				len = tcp6_frame(pkt, BE6, c6, BPORT, cport, 0x12);
				t[1][1][i] = run1(d.prog, pkt, len, &ret);
				len = tcp6_frame(pkt, c6, VIP6, cport, VPORT, 0x10);
			}
			t[f][2][i] = run1(d.prog, pkt, len, &ret);
			t[f][3][i] = run1(d.prog, pkt, len, &ret);
			if ((ret & 0xffff) != TC_ACT_OK) {
				fprintf(stderr, "ct-cost: %s packet not translated (verdict %d)\n",
					name[f], (int)(ret & 0xffff));
				return 1;
			}
		}
	}
	printf("# %ld flows per family, single runs of sy_tc_ingress, %s\n", flows, path);
	for (int p = 0; p < 4; p++)
		for (int f = 0; f < 2; f++) {
			report(what[p], name[f], t[f][p], flows);
			med[f][p] = t[f][p][flows / 2];
		}
	for (int p = 0; p < 4; p++)
		printf("%-40s IPv6/IPv4 median ratio %.2f\n", what[p],
		       med[0][p] ? (double)med[1][p] / (double)med[0][p] : 0.0);
	return 0;
}

/* ---- bench: 10,000 Services x 10 endpoints ---------------------------- */

static uint32_t table_size(int endpoints)
{
	static const uint32_t primes[] = { 251, 509, 1021, 2039, 4093, 8191,
					   16381, 32749, 65521, 131071 };
	uint32_t want = (uint32_t)(endpoints > 0 ? endpoints : 1) * 100;

	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		if (primes[i] >= want)
			return primes[i];
	return 131071;
}

/* The Maglev inner maps, shared by both objects (read-only to them). */
static int *bench_tables(int services, int endpoints, uint32_t m)
{
	LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
	int *fds = calloc((size_t)services, sizeof(int));
	uint32_t n = (m + 1) / 2;
	struct sy_maglev_slots *v = calloc(n, sizeof(*v));
	uint32_t *keys = calloc(n, sizeof(*keys));

	for (int i = 0; i < services; i++) {
		uint32_t base = (uint32_t)i * (uint32_t)endpoints + 1;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);
		uint32_t cnt = n;

		fds[i] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ct_cost_mg", 4,
					sizeof(*v), n, &io);
		if (fds[i] < 0)
			return NULL;
		for (uint32_t e = 0; e < n; e++) {
			keys[e] = e;
			for (int k = 0; k < 2; k++) {
				uint32_t slot = 2 * e + (uint32_t)k;

				v[e].ids[k] = slot < m ?
					base + (slot * 31u + (uint32_t)i) % (uint32_t)endpoints : 0;
			}
		}
		if (bpf_map_update_batch(fds[i], keys, v, &cnt, &bo))
			return NULL;
	}
	free(v);
	free(keys);
	return fds;
}

static int bench_fill(struct dp *d, int services, int endpoints, uint32_t m,
		      const int *tables)
{
	int svc = bpf_object__find_map_fd_by_name(d->obj, "sy_services");
	int be = bpf_object__find_map_fd_by_name(d->obj, "sy_backends");
	int rn = bpf_object__find_map_fd_by_name(d->obj, "sy_revnat");
	int mg = bpf_object__find_map_fd_by_name(d->obj, "sy_maglev");
	int cfg = bpf_object__find_map_fd_by_name(d->obj, "sy_config");
	struct sy_config c = { .flow_hash_seed = 0x5317c4d1,
			       .node_addr = htonl(NODE_IP),
			       .svc_net = with_cidr ? htonl(SVC_NET) : 0,
			       .svc_mask = with_cidr ? htonl(SVC_MASK) : 0 };
	uint32_t zero = 0;

	d->prog = bpf_program__fd(bpf_object__find_program_by_name(d->obj, "sy_tc_ingress"));
	d->ct = bpf_object__find_map_fd_by_name(d->obj, "sy_conntrack");
	d->counters = bpf_object__find_map_fd_by_name(d->obj, "sy_counters");
	if (bpf_map_update_elem(cfg, &zero, &c, BPF_ANY))
		return -errno;
	/* The agent's write order: backends, table, reverse NAT, service. */
	for (int i = 0; i < services; i++) {
		uint32_t id = (uint32_t)i + 1, vip = VIP + (uint32_t)i;
		struct sy_svc_key k = { .addr = htonl(vip), .port = htons(VPORT), .proto = 6 };
		struct sy_svc_value v = { .id = id, .group = id, .count = (uint16_t)endpoints,
					  .flags = SY_SVC_F_CLUSTERIP, .table_size = m };
		struct sy_revnat r = { .addr = htonl(vip), .port = htons(VPORT) };

		for (int e = 0; e < endpoints; e++) {
			uint32_t bid = (uint32_t)i * (uint32_t)endpoints + (uint32_t)e + 1;
			struct sy_backend b = { .addr = htonl(BE_NET + bid), .port = htons(BPORT), .proto = 6 };

			if (bpf_map_update_elem(be, &bid, &b, BPF_ANY))
				return -errno;
		}
		if (bpf_map_update_elem(mg, &id, &tables[i], BPF_ANY) ||
		    bpf_map_update_elem(rn, &id, &r, BPF_ANY) ||
		    bpf_map_update_elem(svc, &k, &v, BPF_ANY))
			return -errno;
	}
	return 0;
}

static void pct(long *v, long n, long out[3])
{
	qsort(v, (size_t)n, sizeof(long), cmp_long);
	out[0] = v[n / 10];
	out[1] = v[n / 2];
	out[2] = v[n * 9 / 10];
}

static int bench(const char *a, const char *b, int services, int endpoints,
		 long flows)
{
	static const char *paths[] = {
		"tc new flow (SYN to a ClusterIP)",
		"tc reply reverse NAT (SYN-ACK)",
		"tc established: the handshake ACK (what measure-testrun times)",
		"tc established: the next ACK",
	};
	struct dp d[2];
	uint32_t m = table_size(endpoints);
	int *tables = bench_tables(services, endpoints, m);
	long *t[2][4], bad[2] = { 0, 0 };
	uint8_t pkt[64];

	if (!tables) {
		fprintf(stderr, "ct-cost: creating %d Maglev tables: %s\n", services, strerror(errno));
		return 1;
	}
	for (int o = 0; o < 2; o++) {
		const char *path = o ? b : a;
		struct bpf_map *mp;
		int err;

		d[o].obj = bpf_object__open_file(path, NULL);
		if (!d[o].obj) {
			fprintf(stderr, "ct-cost: %s: %s\n", path, strerror(errno));
			return 1;
		}
		/* Room for SERVICES x ENDPOINTS backends, as --map-max-entries gives the agent. */
		mp = bpf_object__find_map_by_name(d[o].obj, "sy_backends");
		if ((long)services * endpoints > (long)bpf_map__max_entries(mp))
			bpf_map__set_max_entries(mp, (uint32_t)(services * endpoints));
		err = bpf_object__load(d[o].obj);
		err = err ?: bench_fill(&d[o], services, endpoints, m, tables);
		if (!err)
			monitor_on(&d[o]);
		if (err) {
			fprintf(stderr, "ct-cost: %s: %s\n", path, strerror(-err));
			return 1;
		}
		for (int p = 0; p < 4; p++)
			t[o][p] = calloc((size_t)flows, sizeof(long));
	}
	pin_cpu(0);
	for (long i = 0; i < flows; i++) {
		/* Flows spread over the Services (a stride prime to their count). */
		uint32_t s = (uint32_t)((i * 7919) % services);
		uint32_t vip = VIP + s;
		uint32_t client = 0x0a000000U | (uint32_t)(1 + (i / 50000));
		uint16_t cport = (uint16_t)(10000 + i % 50000);

		for (int k = 0; k < 2; k++) {
			int o = (int)((i + k) & 1); /* alternate which goes first */
			uint8_t out[256];
			uint32_t bk;
			size_t len = tcp_frame(pkt, NULL, NULL, client, vip, cport, VPORT, 0x02);
			LIBBPF_OPTS(bpf_test_run_opts, to, .data_in = pkt, .data_size_in = len,
				    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

			/* The SYN: its output names the backend of the flow. */
			if (bpf_prog_test_run_opts(d[o].prog, &to) || to.data_size_out < 54) {
				bad[o]++;
				continue;
			}
			t[o][0][i] = (long)to.duration;
			bk = ntohl(*(uint32_t *)(out + 30));
			if (bk - BE_NET < 1 || bk - BE_NET > (uint32_t)(services * endpoints))
				bad[o]++;
			/* The reply: its source must come back as the VIP. */
			len = tcp_frame(pkt, NULL, NULL, bk, client, BPORT, cport, 0x12);
			to.data_size_in = (uint32_t)len;
			to.data_size_out = sizeof(out);
			if (bpf_prog_test_run_opts(d[o].prog, &to) || to.data_size_out < 54 ||
			    *(uint32_t *)(out + 26) != htonl(vip))
				bad[o]++;
			t[o][1][i] = (long)to.duration;
			len = tcp_frame(pkt, NULL, NULL, client, vip, cport, VPORT, 0x10);
			{
				uint32_t ret;

				t[o][2][i] = run1(d[o].prog, pkt, len, &ret);
				t[o][3][i] = run1(d[o].prog, pkt, len, &ret);
			}
			if (d[o].events)
				ring_buffer__consume(d[o].events);
		}
	}
	printf("| path | A p10 / median / p90 ns | B p10 / median / p90 ns | median B/A |\n|---|---|---|---|\n");
	for (int p = 0; p < 4; p++) {
		long pa[3], pb[3];

		pct(t[0][p], flows, pa);
		pct(t[1][p], flows, pb);
		printf("| %s | %ld / %ld / %ld | %ld / %ld / %ld | %+.1f %% |\n", paths[p],
		       pa[0], pa[1], pa[2], pb[0], pb[1], pb[2],
		       100.0 * ((double)pb[1] - (double)pa[1]) / (double)pa[1]);
	}
	printf("\n%d Services x %d endpoints (Maglev M=%u), %ld flows, single runs of sy_tc_ingress, "
	       "A and B alternating flow by flow; Service CIDR %s;%s SYNs not DNATed to a backend or replies not reverse-NATed: A %ld, B %ld.\n"
	       "A=%s\nB=%s\n", services, endpoints, m, flows, with_cidr ? "10.96.0.0/12 in sy_config" : "not set",
	       getenv("CT_COST_TRACE") ? " CT_COST_TRACE: the monitor traces every translation and samples every new flow (builds that have it);" : "",
	       bad[0], bad[1], a, b);
	return bad[0] || bad[1] ? 1 : 0;
}

static int lru(const char *path, int ct_max, long flood, long EVERY)
{
	static const struct { const char *name; int flags; } kinds[] = {
		{ "common LRU", 0 },
		{ "per-CPU LRU (BPF_F_NO_COMMON_LRU)", BPF_F_NO_COMMON_LRU },
	};
	enum { EST = 64 };
	uint8_t pkt[64];

	printf("# sy_conntrack max_entries=%d, %d established flows (half on CPU 0, half on CPU 1),\n"
	       "# a request and a reply each after every %ld new flows; %ld new flows (SYNs) on CPU 0\n",
	       ct_max, EST, EVERY, flood);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		struct dp d;
		long n_new = 0, n_est = 0, broken = 0;
		long *tn = calloc((size_t)flood, sizeof(long));
		long *te = calloc((size_t)(flood / EVERY + 1) * EST, sizeof(long));
		int err = open_dp(&d, path, ct_max, kinds[k].flags);
		uint32_t ret;
		size_t len;

		if (err) {
			fprintf(stderr, "ct-cost: %s: %s\n", path, strerror(-err));
			return 1;
		}
		for (int e = 0; e < EST; e++) {
			pin_cpu(e < EST / 2 ? 0 : 1);
			len = tcp_frame(pkt, NULL, NULL, 0x0b000001U, VIP, (uint16_t)(20000 + e), VPORT, 0x02);
			run1(d.prog, pkt, len, &ret);
			len = tcp_frame(pkt, NULL, NULL, BE_ADDR, 0x0b000001U, BPORT, (uint16_t)(20000 + e), 0x12);
			run1(d.prog, pkt, len, &ret);
		}
		pin_cpu(0);
		for (long i = 0; i < flood; i++) {
			uint32_t client = 0x0c000000U | (uint32_t)(i / 60000);

			len = tcp_frame(pkt, NULL, NULL, client, VIP, (uint16_t)(1024 + i % 60000), VPORT, 0x02);
			tn[n_new++] = run1(d.prog, pkt, len, &ret);
			if ((i + 1) % EVERY)
				continue;
			for (int e = 0; e < EST; e++) {
				/* Flows 0..EST/2-1 on CPU 0, the rest on CPU 1
				 * (one migration per round, not per packet). */
				if (e == 0 || e == EST / 2)
					pin_cpu(e == 0 ? 0 : 1);
				len = tcp_frame(pkt, NULL, NULL, 0x0b000001U, VIP, (uint16_t)(20000 + e), VPORT, 0x10);
				te[n_est++] = run1(d.prog, pkt, len, &ret);
				len = tcp_frame(pkt, NULL, NULL, BE_ADDR, 0x0b000001U, BPORT, (uint16_t)(20000 + e), 0x10);
				run1(d.prog, pkt, len, &ret);
				if (!(ret & 0x10000))
					broken++;
			}
			pin_cpu(0);
		}
		printf("%s:\n", kinds[k].name);
		report("  new flow, map full (eviction)", "", tn + n_new / 2, n_new - n_new / 2);
		report("  established packet under flood", "", te, n_est);
		printf("  replies not reverse-NATed: %ld of %ld; reply entries recreated %llu, forward %llu, failed %llu\n",
		       broken, n_est, (unsigned long long)counter(d.counters, SY_CNT_CT_REPLY_RESTORED),
		       (unsigned long long)counter(d.counters, SY_CNT_CT_FORWARD_RESTORED),
		       (unsigned long long)counter(d.counters, SY_CNT_CT_RESTORE_FAILED));
		bpf_object__close(d.obj);
		free(tn);
		free(te);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (unshare(CLONE_NEWNET)) {
		perror("ct-cost: unshare(CLONE_NEWNET)");
		return 1;
	}
	libbpf_set_print(NULL);
	if (argc >= 4 && !strcmp(argv[1], "cost")) {
		with_cidr = !(argc > 5 && !strcmp(argv[5], "nocidr"));
		return cost(argv[2], argv[3], argc > 4 ? atol(argv[4]) : 20000);
	}
	if (argc >= 3 && !strcmp(argv[1], "family"))
		return family(argv[2], argc > 3 ? atol(argv[3]) : 20000);
	if (argc >= 4 && !strcmp(argv[1], "bench"))
		return bench(argv[2], argv[3], argc > 4 ? atoi(argv[4]) : 10000,
			     argc > 5 ? atoi(argv[5]) : 10, argc > 6 ? atol(argv[6]) : 20000);
	if (argc >= 3 && !strcmp(argv[1], "lru"))
		return lru(argv[2], argc > 3 ? atoi(argv[3]) : 65536, argc > 4 ? atol(argv[4]) : 400000,
			   argc > 5 ? atol(argv[5]) : 1000);
	fprintf(stderr, "usage: ct-cost cost OBJ_A OBJ_B [FLOWS [nocidr]] | ct-cost family OBJ [FLOWS] | ct-cost bench OBJ_A OBJ_B [SERVICES] [ENDPOINTS] [FLOWS]"
		" | ct-cost lru OBJ [CT_MAX] [FLOOD] [EVERY]\n");
	return 2;
}
