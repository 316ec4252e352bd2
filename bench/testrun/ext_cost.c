// Side-by-side per-packet cost of sy_xdp and sy_tc_external for NodePort flows
// with SNAT to a remote backend, forwarded by the program itself (the FIB
// lookup succeeds: a veth pair with static neighbours in a private network
// namespace of this process). Both objects are loaded and filled alike; flows
// alternate between them (and which goes first), so machine load hits both.
// A run whose packet is not translated as expected is counted and excluded.
// Usage: ext-cost OBJ_A OBJ_B [FLOWS]     (docs/benchmarks.md)
//        ext-cost family OBJ [FLOWS]     the same paths of one object for an
//        IPv4 and an IPv6 NodePort flow, the families alternating flow by
//        flow, and the IPv6/IPv4 ratio of the medians (issue #16).
//        ext-cost steps OBJ0 OBJ1 ... [-n FLOWS] [-r ROUNDS]   the first packet (SYN) of a
//        new IPv4 flow on each of the three paths (sy_tc_ingress to a
//        ClusterIP, sy_xdp and sy_tc_external to a NodePort with SNAT), up to
//        12 objects side by side (sharing OBJ0's maps, in a random order
//        each flow);
//        p50 and min per object, and each median's difference to OBJ0's
//        (the median over ROUNDS rounds, 3 by default, of 3,000 flows):
//        with OBJ1... the same build with one step taken out
//        (bench/testrun/step-variants.sh), the per-step cost of a new flow
//        (issue #17, docs/benchmarks.md). Runs are timed even when a
//        variant's packet is not translated (counted and printed).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include "sy_structs.h"
#include "testrun_frames.h"

#define NODE    0xc6123201U /* 198.18.50.1 (sy-x0) */
#define CLIENT  0xc6123202U /* 198.18.50.2 */
#define BE_ADDR 0xc613c802U /* 198.19.200.2 (via sy-x1) */
#define NPORT   30080
#define BPORT   8080
static const uint8_t MAC_X0[6] = { 0x02, 0, 0, 0, 0x10, 0x00 };
static const uint8_t MAC_X1[6] = { 0x02, 0, 0, 0, 0x10, 0x01 };
static const uint8_t MAC_CL[6] = { 0x02, 0, 0, 0, 0xc1, 0x01 };
static const uint8_t MAC_BE[6] = { 0x02, 0, 0, 0, 0xbe, 0x01 };
static uint32_t x0, x1;

struct dp { struct bpf_object *obj; int xdp, tc; };

/* out: translated frame; returns duration or -1 */
static long run1(int prog, int xdp, const uint8_t *pkt, size_t len, uint32_t ifindex, uint32_t *ret, uint8_t *out)
{
	struct xdp_md xctx = { .data_end = (uint32_t)len, .ingress_ifindex = ifindex };
	struct __sk_buff sctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .data_out = out, .data_size_out = 256, .repeat = 1);
	if (xdp) { o.ctx_in = &xctx; o.ctx_size_in = sizeof(xctx); }
	else { o.ctx_in = &sctx; o.ctx_size_in = sizeof(sctx); }
	if (bpf_prog_test_run_opts(prog, &o)) return -1;
	*ret = o.retval;
	return (long)o.duration;
}

static int fill(struct dp *d)
{
	int svc = bpf_object__find_map_fd_by_name(d->obj, "sy_services");
	int be = bpf_object__find_map_fd_by_name(d->obj, "sy_backends");
	int rn = bpf_object__find_map_fd_by_name(d->obj, "sy_revnat");
	int mg = bpf_object__find_map_fd_by_name(d->obj, "sy_maglev");
	int cfg = bpf_object__find_map_fd_by_name(d->obj, "sy_config");
	int gen = bpf_object__find_map_fd_by_name(d->obj, "sy_fib_gen");
	LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
	struct sy_svc_key k = { .addr = htonl(NODE), .port = htons(NPORT), .proto = 6, .scope = SY_SCOPE_EXTERNAL };
	struct sy_svc_value v = { .id = 1, .group = 1, .count = 1, .flags = SY_SVC_F_NODEPORT, .table_size = 7 };
	struct sy_backend b = { .addr = htonl(BE_ADDR), .port = htons(BPORT), .proto = 6 };
	struct sy_revnat r = { .addr = htonl(NODE), .port = htons(NPORT) };
	struct sy_config c = { .flow_hash_seed = 1, .node_addr = htonl(NODE) };
	struct sy_maglev_slots slots = { { 1, 1 } };
	uint32_t one = 1, zero = 0, fib_gen;
	int inner;

	d->xdp = bpf_program__fd(bpf_object__find_program_by_name(d->obj, "sy_xdp"));
	d->tc = bpf_program__fd(bpf_object__find_program_by_name(d->obj, "sy_tc_external"));
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ext_cost_mg", 4, sizeof(slots), 4, &io);
	if (inner < 0) return -errno;
	for (uint32_t i = 0; i < 4; i++) bpf_map_update_elem(inner, &i, &slots, BPF_ANY);
	if (bpf_map_update_elem(be, &one, &b, BPF_ANY) || bpf_map_update_elem(mg, &one, &inner, BPF_ANY) ||
	    bpf_map_update_elem(rn, &one, &r, BPF_ANY) || bpf_map_update_elem(svc, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(cfg, &zero, &c, BPF_ANY))
		return -errno;
	/* The route-result cache is on once a loader watches routes (a
	 * nonzero sy_fib_gen); objects from before it have no such map. By
	 * default generation 1 with both families' short key, as a loader
	 * sets it where no rule or multipath hash looks at ports (an object
	 * from before the key mode reads 7 as just a generation);
	 * SY_EXT_COST_FIB_GEN=4 measures the full per-flow key. */
	fib_gen = getenv("SY_EXT_COST_FIB_GEN") ? (uint32_t)atol(getenv("SY_EXT_COST_FIB_GEN"))
						: 1u << SY_FIB_GEN_SHIFT | SY_FIB_SHORT_KEY_V4 | SY_FIB_SHORT_KEY_V6;
	if (gen >= 0 && bpf_map_update_elem(gen, &zero, &fib_gen, BPF_ANY))
		return -errno;
	close(inner);
	return 0;
}

static void report(const char *what, const char *obj, long *v, long n)
{
	long m = 0;
	for (long i = 0; i < n; i++) if (v[i] >= 0) v[m++] = v[i];
	qsort(v, (size_t)m, sizeof(long), cmp_long);
	printf("%-34s %-2s n=%-6ld p10=%-5ld median=%-5ld p90=%-5ld\n", what, obj, m, v[m / 10], v[m / 2], v[m * 9 / 10]);
}

/* ---- family: IPv6 beside IPv4 --------------------------------------------- */

static const uint8_t NODE6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 1 };
static const uint8_t CLIENT6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0x50, 0, 0, 0, 0, 0, 0, 0, 2 };
static const uint8_t BE6[16] = { 0xfd, 0, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 2 };

static int fill6(struct dp *d)
{
	int svc = bpf_object__find_map_fd_by_name(d->obj, "sy_services6");
	int be = bpf_object__find_map_fd_by_name(d->obj, "sy_backends6");
	int rn = bpf_object__find_map_fd_by_name(d->obj, "sy_revnat6");
	int mg = bpf_object__find_map_fd_by_name(d->obj, "sy_maglev");
	int cfg = bpf_object__find_map_fd_by_name(d->obj, "sy_config6");
	LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
	struct sy_svc_key6 k = { .port = htons(NPORT), .proto = 6, .scope = SY_SCOPE_EXTERNAL };
	struct sy_svc_value v = { .id = 2, .group = 2, .count = 1, .flags = SY_SVC_F_NODEPORT, .table_size = 7 };
	struct sy_backend6 b = { .port = htons(BPORT), .proto = 6 };
	struct sy_revnat6 r = { .port = htons(NPORT) };
	struct sy_config6 c = { { 0 } };
	struct sy_maglev_slots slots = { { 2, 2 } };
	uint32_t two = 2, zero = 0;
	int inner;

	if (svc < 0 || be < 0 || rn < 0 || cfg < 0) return -ENOENT;
	memcpy(k.addr, NODE6, 16);
	memcpy(b.addr, BE6, 16);
	memcpy(r.addr, NODE6, 16);
	memcpy(c.node_addr, NODE6, 16);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "ext_cost_mg6", 4, sizeof(slots), 4, &io);
	if (inner < 0) return -errno;
	for (uint32_t i = 0; i < 4; i++) bpf_map_update_elem(inner, &i, &slots, BPF_ANY);
	if (bpf_map_update_elem(be, &two, &b, BPF_ANY) || bpf_map_update_elem(mg, &two, &inner, BPF_ANY) ||
	    bpf_map_update_elem(rn, &two, &r, BPF_ANY) || bpf_map_update_elem(svc, &k, &v, BPF_ANY) ||
	    bpf_map_update_elem(cfg, &zero, &c, BPF_ANY))
		return -errno;
	close(inner);
	return 0;
}

/* tcp6_frame() with MACs. */
static size_t tcp6_mac(uint8_t *b, const uint8_t *dmac, const uint8_t *smac, const uint8_t *sa,
		       const uint8_t *da, uint16_t sp, uint16_t dp_, uint8_t flags)
{
	size_t n = tcp6_frame(b, sa, da, sp, dp_, flags);

	memcpy(b, dmac, 6);
	memcpy(b + 6, smac, 6);
	return n;
}

static int family(const char *path, long flows)
{
	static const char *names[8] = { "xdp new flow (SYN)", "xdp reply (SYN-ACK)", "xdp handshake ACK",
					"xdp established (next ACK)", "tc_ext new flow (SYN)", "tc_ext reply (SYN-ACK)",
					"tc_ext handshake ACK", "tc_ext established (next ACK)" };
	long *t[2][8], bad[2][8] = { { 0 } }, med[2][8];
	uint8_t pkt[128], out[256];
	struct dp d;
	cpu_set_t s;

	if (system("ip -6 addr add fd00:0:0:50::1/64 dev sy-x0 nodad && ip -6 addr add fd00:0:0:200::1/64 dev sy-x1 nodad && "
		   "ip -6 neigh replace fd00:0:0:200::2 lladdr 02:00:00:00:be:01 dev sy-x1 nud permanent && "
		   "ip -6 neigh replace fd00:0:0:50::2 lladdr 02:00:00:00:c1:01 dev sy-x0 nud permanent && "
		   "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding")) { fprintf(stderr, "IPv6 setup failed\n"); return 1; }
	d.obj = bpf_object__open_file(path, NULL);
	if (!d.obj || bpf_object__load(d.obj) || fill(&d) || fill6(&d)) { fprintf(stderr, "load %s failed\n", path); return 1; }
	for (int f = 0; f < 2; f++) for (int p = 0; p < 8; p++) t[f][p] = calloc((size_t)flows, sizeof(long));
	CPU_ZERO(&s); CPU_SET(0, &s); sched_setaffinity(0, sizeof(s), &s);
	for (long i = 0; i < flows; i++) {
		uint16_t cport = (uint16_t)(1024 + i % 60000);
		for (int k = 0; k < 2; k++) {
			int f = (int)((i + k) & 1); /* 0: IPv4, 1: IPv6; alternate which goes first */
			for (int h = 0; h < 2; h++) {
				int prog = h ? d.tc : d.xdp, xdp = !h, q = h * 4;
				uint16_t cp = h ? (uint16_t)(cport ^ 0x8000) : cport, natp;
				uint32_t ret;
				size_t len;
				int ok;

				len = f ? tcp6_mac(pkt, MAC_X0, MAC_CL, CLIENT6, NODE6, cp, NPORT, 0x02)
					: tcp_frame(pkt, MAC_X0, MAC_CL, CLIENT, NODE, cp, NPORT, 0x02);
				t[f][q][i] = run1(prog, xdp, pkt, len, x0, &ret, out);
				ok = f ? !memcmp(out + 38, BE6, 16) : *(uint32_t *)(out + 30) == htonl(BE_ADDR);
				if (!ok) { bad[f][q]++; t[f][q][i] = -1; }
				natp = ntohs(*(uint16_t *)(out + (f ? 54 : 34)));
				len = f ? tcp6_mac(pkt, MAC_X1, MAC_BE, BE6, NODE6, BPORT, natp, 0x12)
					: tcp_frame(pkt, MAC_X1, MAC_BE, BE_ADDR, NODE, BPORT, natp, 0x12);
				t[f][q + 1][i] = run1(prog, xdp, pkt, len, x1, &ret, out);
				ok = f ? !memcmp(out + 38, CLIENT6, 16) : *(uint32_t *)(out + 30) == htonl(CLIENT);
				if (!ok) { bad[f][q + 1]++; t[f][q + 1][i] = -1; }
				len = f ? tcp6_mac(pkt, MAC_X0, MAC_CL, CLIENT6, NODE6, cp, NPORT, 0x10)
					: tcp_frame(pkt, MAC_X0, MAC_CL, CLIENT, NODE, cp, NPORT, 0x10);
				for (int r = 2; r < 4; r++) {
					t[f][q + r][i] = run1(prog, xdp, pkt, len, x0, &ret, out);
					ok = f ? !memcmp(out + 38, BE6, 16) : *(uint32_t *)(out + 30) == htonl(BE_ADDR);
					if (!ok) { bad[f][q + r]++; t[f][q + r][i] = -1; }
				}
			}
		}
	}
	printf("# %ld flows per family, NodePort with SNAT to a remote backend, forwarded by the program, %s\n", flows, path);
	for (int p = 0; p < 8; p++)
		for (int f = 0; f < 2; f++) {
			long m = 0;

			report(names[p], f ? "v6" : "v4", t[f][p], flows);
			for (long i = 0; i < flows; i++) if (t[f][p][i] >= 0) m++;
			med[f][p] = m ? t[f][p][m / 2] : 0; /* report() sorted the kept runs first */
		}
	for (int p = 0; p < 8; p++)
		printf("%-34s IPv6/IPv4 median ratio %.2f\n", names[p], med[0][p] ? (double)med[1][p] / (double)med[0][p] : 0.0);
	for (int f = 0; f < 2; f++) for (int p = 0; p < 8; p++) if (bad[f][p]) printf("# %s path %d: %ld runs not translated (excluded)\n", f ? "IPv6" : "IPv4", p, bad[f][p]);
	return 0;
}

/* ---- steps: the new-flow SYN of each path, many builds side by side ------ */

#define VIP      0x0a60000aU /* 10.96.0.10 + o: object o's ClusterIP (sy_tc_ingress) */
#define VPORT    80
#define SVC_NET  0x0a600000U /* 10.96.0.0/12: the Service CIDR */
#define SVC_MASK 0xfff00000U
#define STEPS_MAX_OBJS 12
#define STEPS_PATHS 3
#define STEPS_ID(o) (10 + (uint32_t)(o)) /* object o's frontend, group and backend ids */
#define STEPS_NPORT(o) (30100 + (o))
#define STEPS_BE(o) (0xc613c80aU + (uint32_t)(o)) /* 198.19.200.10 + o (via sy-x1) */

/* The objects share object 0's maps (one conntrack, one set of Services):
 * separate 30 MB conntrack maps differ by hundreds of ns per insert from
 * where the kernel happened to place them, which drowned the steps. A map a
 * variant defines differently (lru-percpu's conntrack) stays its own. */
static int share_maps(struct bpf_object *obj, struct bpf_object *obj0, int *own)
{
	struct bpf_map *m;

	*own = 0;
	bpf_object__for_each_map(m, obj) {
		struct bpf_map *m0 = bpf_object__find_map_by_name(obj0, bpf_map__name(m));

		if (bpf_map__is_internal(m) || !m0)
			continue;
		if (bpf_map__type(m) != bpf_map__type(m0) || bpf_map__map_flags(m) != bpf_map__map_flags(m0) ||
		    bpf_map__key_size(m) != bpf_map__key_size(m0) || bpf_map__value_size(m) != bpf_map__value_size(m0) ||
		    bpf_map__max_entries(m) != bpf_map__max_entries(m0)) {
			(*own)++;
			continue;
		}
		if (bpf_map__reuse_fd(m, bpf_map__fd(m0)))
			return -1;
	}
	return 0;
}

/* Object o's Services (in object 0's maps): a NodePort and a ClusterIP, one
 * backend of their own (so each object's SNAT ports have a reply key space
 * of their own), and the node's settings. */
static int fill_steps(struct bpf_object *obj0, int o)
{
	int svc = bpf_object__find_map_fd_by_name(obj0, "sy_services");
	int be = bpf_object__find_map_fd_by_name(obj0, "sy_backends");
	int rn = bpf_object__find_map_fd_by_name(obj0, "sy_revnat");
	int mg = bpf_object__find_map_fd_by_name(obj0, "sy_maglev");
	int cfg = bpf_object__find_map_fd_by_name(obj0, "sy_config");
	LIBBPF_OPTS(bpf_map_create_opts, io, .map_flags = BPF_F_INNER_MAP);
	uint32_t id = STEPS_ID(o), fe = id + 100, zero = 0;
	struct sy_svc_key np = { .addr = htonl(NODE), .port = htons(STEPS_NPORT(o)), .proto = 6, .scope = SY_SCOPE_EXTERNAL };
	/* One entry of scope external, as the agent writes a ClusterIP: from a pod the internal scope is looked up first and misses. */
	struct sy_svc_key ci = { .addr = htonl(VIP + (uint32_t)o), .port = htons(VPORT), .proto = 6, .scope = SY_SCOPE_EXTERNAL };
	struct sy_svc_value npv = { .id = id, .group = id, .count = 1, .flags = SY_SVC_F_NODEPORT, .table_size = 7 };
	struct sy_svc_value civ = { .id = fe, .group = id, .count = 1, .flags = SY_SVC_F_CLUSTERIP, .table_size = 7 };
	struct sy_backend b = { .addr = htonl(STEPS_BE(o)), .port = htons(BPORT), .proto = 6 };
	struct sy_revnat npr = { .addr = htonl(NODE), .port = htons(STEPS_NPORT(o)) };
	struct sy_revnat cir = { .addr = htonl(VIP + (uint32_t)o), .port = htons(VPORT) };
	/* The Service CIDR, as the lab's node has it: the reply lookup of a packet to a ClusterIP is skipped. */
	struct sy_config c = { .flow_hash_seed = 1, .node_addr = htonl(NODE), .svc_net = htonl(SVC_NET), .svc_mask = htonl(SVC_MASK) };
	struct sy_maglev_slots slots = { { id, id } };
	char cmd[160];
	int inner;

	snprintf(cmd, sizeof(cmd), "ip neigh replace 198.19.200.%d lladdr 02:00:00:00:be:01 dev sy-x1 nud permanent", 10 + o);
	if (system(cmd))
		return -1;
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "steps_mg", 4, sizeof(slots), 4, &io);
	if (inner < 0)
		return -1;
	for (uint32_t i = 0; i < 4; i++) bpf_map_update_elem(inner, &i, &slots, BPF_ANY);
	if (bpf_map_update_elem(be, &id, &b, BPF_ANY) || bpf_map_update_elem(mg, &id, &inner, BPF_ANY) ||
	    bpf_map_update_elem(rn, &id, &npr, BPF_ANY) || bpf_map_update_elem(rn, &fe, &cir, BPF_ANY) ||
	    bpf_map_update_elem(svc, &np, &npv, BPF_ANY) || bpf_map_update_elem(svc, &ci, &civ, BPF_ANY) ||
	    bpf_map_update_elem(cfg, &zero, &c, BPF_ANY))
		return -1;
	close(inner);
	return 0;
}

static uint32_t xorshift(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* One round's figures of a path and object. */
struct steps_fig { long p50, min, p10, p90, bad; };

static void sort_longs(long *v, long n)
{
	qsort(v, (size_t)n, sizeof(long), cmp_long);
}

static long median_of(long *v, int n)
{
	sort_longs(v, n);
	return v[n / 2];
}

/* One round: the objects loaded afresh (new maps), FLOWS new flows each. */
static int steps_round(int nobj, char **paths, long flows, uint32_t *rng, int *own,
		       struct steps_fig f[STEPS_MAX_OBJS][STEPS_PATHS])
{
	struct bpf_object *obj[STEPS_MAX_OBJS];
	int prog[STEPS_MAX_OBJS][STEPS_PATHS], order[STEPS_MAX_OBJS];
	long *t[STEPS_MAX_OBJS][STEPS_PATHS];
	uint8_t pkt[128], out[256];

	for (int o = 0; o < nobj; o++) {
		obj[o] = bpf_object__open_file(paths[o], NULL);
		if (!obj[o] || (o > 0 && share_maps(obj[o], obj[0], &own[o])) || bpf_object__load(obj[o]) || fill_steps(obj[0], o)) {
			fprintf(stderr, "load %s failed\n", paths[o]);
			return 1;
		}
		prog[o][0] = bpf_program__fd(bpf_object__find_program_by_name(obj[o], "sy_tc_ingress"));
		prog[o][1] = bpf_program__fd(bpf_object__find_program_by_name(obj[o], "sy_xdp"));
		prog[o][2] = bpf_program__fd(bpf_object__find_program_by_name(obj[o], "sy_tc_external"));
		for (int p = 0; p < STEPS_PATHS; p++) {
			t[o][p] = calloc((size_t)flows, sizeof(long));
			f[o][p].bad = 0;
		}
		order[o] = o;
	}
	for (long i = 0; i < flows; i++) {
		uint16_t cport = (uint16_t)(1024 + i % 30000); /* < 0x8000: tc_external takes cport ^ 0x8000 */

		/* A fresh random order each flow: no object always follows the
		 * same one (what the one before leaves in the caches differs). */
		for (int k = nobj - 1; k > 0; k--) {
			int j = (int)(xorshift(rng) % (uint32_t)(k + 1)), tmp = order[k];

			order[k] = order[j];
			order[j] = tmp;
		}
		for (int k = 0; k < nobj; k++) {
			int o = order[k];

			for (int p = 0; p < STEPS_PATHS; p++) {
				uint32_t ret;
				size_t len;

				len = p == 0 ? tcp_frame(pkt, MAC_X0, MAC_CL, CLIENT, VIP + (uint32_t)o, cport, VPORT, 0x02)
					     : tcp_frame(pkt, MAC_X0, MAC_CL, CLIENT, NODE, p == 2 ? cport ^ 0x8000 : cport, STEPS_NPORT(o), 0x02);
				t[o][p][i] = run1(prog[o][p], p == 1, pkt, len, x0, &ret, out);
				if (*(uint32_t *)(out + 30) != htonl(STEPS_BE(o)))
					f[o][p].bad++; /* still timed: a variant without a step may not translate */
			}
		}
	}
	for (int o = 0; o < nobj; o++)
		for (int p = 0; p < STEPS_PATHS; p++) {
			long *v = t[o][p], m = 0;

			for (long i = 0; i < flows; i++) if (v[i] >= 0) v[m++] = v[i];
			if (!m) { fprintf(stderr, "%s: no run\n", paths[o]); return 1; }
			sort_longs(v, m);
			f[o][p] = (struct steps_fig){ v[m / 2], v[0], v[m / 10], v[m * 9 / 10], f[o][p].bad };
			free(v);
		}
	for (int o = nobj - 1; o >= 0; o--)
		bpf_object__close(obj[o]);
	return 0;
}

static int steps(int nobj, char **paths, long flows, int rounds)
{
	static const char *names[STEPS_PATHS] = { "tc_ingress new flow (ClusterIP SYN)", "xdp new flow (NodePort SYN)",
						  "tc_external new flow (NodePort SYN)" };
	static struct steps_fig f[16][STEPS_MAX_OBJS][STEPS_PATHS];
	int own[STEPS_MAX_OBJS] = { 0 };
	uint32_t rng = 2463534242U;
	cpu_set_t s;

	/* 2 entries per flow, path and object must fit sy_conntrack (262,144): no eviction while timing. */
	if (nobj < 1 || nobj > STEPS_MAX_OBJS || flows < 1 || flows * STEPS_PATHS * 2 * nobj > 240000 || rounds < 1 || rounds > 16) {
		fprintf(stderr, "steps: 1 to %d objects, FLOWS x 6 x objects at most 240000, 1 to 16 rounds\n", STEPS_MAX_OBJS);
		return 2;
	}
	CPU_ZERO(&s); CPU_SET(0, &s); sched_setaffinity(0, sizeof(s), &s);
	for (int r = 0; r < rounds; r++)
		if (steps_round(nobj, paths, flows, &rng, own, f[r]))
			return 1;
	printf("# %d rounds (objects and maps loaded afresh each) of %ld new flows per path and object; in a round the objects share\n"
	       "# object 0's maps and run in a random order each flow. Per round: p50, min, p10, p90 (ns, single runs); below, the\n"
	       "# median over the rounds of each, the smallest min, and the median of (p50 - obj0's p50) with each round's value.\n", rounds, flows);
	for (int o = 0; o < nobj; o++) printf("# obj%d %s%s\n", o, paths[o], own[o] ? " (maps of its own: those it defines differently)" : "");
	printf("| path | object | p50 | min | p10 | p90 | p50 - obj0 p50 | each round | not translated |\n|---|---|---|---|---|---|---|---|---|\n");
	for (int p = 0; p < STEPS_PATHS; p++)
		for (int o = 0; o < nobj; o++) {
			long p50[16], p10[16], p90[16], d[16], mn = f[0][o][p].min, bad = 0;
			char each[16 * 8] = "", *e = each;

			for (int r = 0; r < rounds; r++) {
				p50[r] = f[r][o][p].p50; p10[r] = f[r][o][p].p10; p90[r] = f[r][o][p].p90;
				d[r] = f[r][o][p].p50 - f[r][0][p].p50;
				if (f[r][o][p].min < mn) mn = f[r][o][p].min;
				bad += f[r][o][p].bad;
				e += snprintf(e, sizeof(each) - (size_t)(e - each), "%s%+ld", r ? " " : "", d[r]);
			}
			printf("| %s | obj%d | %ld | %ld | %ld | %ld | %+ld | %s | %ld |\n", names[p], o, median_of(p50, rounds), mn,
			       median_of(p10, rounds), median_of(p90, rounds), median_of(d, rounds), each, bad);
		}
	return 0;
}

int main(int argc, char **argv)
{
	long flows = argc > 3 ? atol(argv[3]) : 20000;
	struct dp d[2];
	long *t[2][8];
	uint8_t pkt[128], out[256];
	long bad[2][8] = { { 0 } };
	cpu_set_t s;

	if (argc < 3) { fprintf(stderr, "usage: ext-cost A.o B.o [FLOWS] | ext-cost family OBJ [FLOWS] | ext-cost steps OBJ0 [OBJ1 ...] [-n FLOWS] [-r ROUNDS]\n"); return 2; }
	if (unshare(CLONE_NEWNET)) { perror("unshare"); return 1; }
	if (system("ip link set lo up && ip link add sy-x0 address 02:00:00:00:10:00 type veth peer name sy-x1 address 02:00:00:00:10:01 && "
		   "ip link set sy-x0 up && ip link set sy-x1 up && ip addr add 198.18.50.1/24 dev sy-x0 && ip addr add 198.19.200.1/24 dev sy-x1 && "
		   "ip neigh replace 198.19.200.2 lladdr 02:00:00:00:be:01 dev sy-x1 nud permanent && "
		   "ip neigh replace 198.18.50.2 lladdr 02:00:00:00:c1:01 dev sy-x0 nud permanent && "
		   "echo 1 > /proc/sys/net/ipv4/conf/all/forwarding")) { fprintf(stderr, "setup failed\n"); return 1; }
	x0 = if_nametoindex("sy-x0"); x1 = if_nametoindex("sy-x1");
	if (!strcmp(argv[1], "steps")) {
		long n = 3000;
		int nobj = argc - 2, rounds = 3;

		for (int k = 0; k < 2; k++) {
			if (nobj >= 2 && !strcmp(argv[2 + nobj - 2], "-n")) { n = atol(argv[2 + nobj - 1]); nobj -= 2; }
			else if (nobj >= 2 && !strcmp(argv[2 + nobj - 2], "-r")) { rounds = atoi(argv[2 + nobj - 1]); nobj -= 2; }
		}
		return steps(nobj, argv + 2, n, rounds);
	}
	if (!strcmp(argv[1], "family"))
		return family(argv[2], argc > 3 ? atol(argv[3]) : 20000);
	for (int o = 0; o < 2; o++) {
		d[o].obj = bpf_object__open_file(argv[1 + o], NULL);
		if (!d[o].obj || bpf_object__load(d[o].obj) || fill(&d[o])) { fprintf(stderr, "load %s failed\n", argv[1 + o]); return 1; }
		for (int p = 0; p < 8; p++) t[o][p] = calloc((size_t)flows, sizeof(long));
	}
	CPU_ZERO(&s); CPU_SET(0, &s); sched_setaffinity(0, sizeof(s), &s);
	for (long i = 0; i < flows; i++) {
		uint16_t cport = (uint16_t)(1024 + i % 60000);
		for (int k = 0; k < 2; k++) {
			int o = (int)((i + k) & 1);
			uint32_t ret;
			size_t len;
			for (int h = 0; h < 2; h++) { /* h=0: xdp (flows i), h=1: tc_external (same client, port + 0x8000 region) */
				int prog = h ? d[o].tc : d[o].xdp, xdp = !h;
				uint16_t cp = h ? (uint16_t)(cport ^ 0x8000) : cport;
				uint16_t natp;
				len = tcp_frame(pkt, MAC_X0, MAC_CL, CLIENT, NODE, cp, NPORT, 0x02);
				t[o][h * 4 + 0][i] = run1(prog, xdp, pkt, len, x0, &ret, out);
				/* expect: dst BE, src NODE; redirect */
				if (*(uint32_t *)(out + 30) != htonl(BE_ADDR)) { bad[o][h * 4]++; t[o][h * 4][i] = -1; }
				natp = ntohs(*(uint16_t *)(out + 34));
				len = tcp_frame(pkt, MAC_X1, MAC_BE, BE_ADDR, NODE, BPORT, natp, 0x12);
				t[o][h * 4 + 1][i] = run1(prog, xdp, pkt, len, x1, &ret, out);
				if (*(uint32_t *)(out + 30) != htonl(CLIENT) || *(uint32_t *)(out + 26) != htonl(NODE)) { bad[o][h * 4 + 1]++; t[o][h * 4 + 1][i] = -1; }
				len = tcp_frame(pkt, MAC_X0, MAC_CL, CLIENT, NODE, cp, NPORT, 0x10);
				t[o][h * 4 + 2][i] = run1(prog, xdp, pkt, len, x0, &ret, out);
				if (*(uint32_t *)(out + 30) != htonl(BE_ADDR)) { bad[o][h * 4 + 2]++; t[o][h * 4 + 2][i] = -1; }
				t[o][h * 4 + 3][i] = run1(prog, xdp, pkt, len, x0, &ret, out);
				if (*(uint32_t *)(out + 30) != htonl(BE_ADDR)) { bad[o][h * 4 + 3]++; t[o][h * 4 + 3][i] = -1; }
			}
		}
	}
	printf("# %ld flows, NodePort with SNAT to a remote backend, forwarded by the program, A=%s B=%s\n", flows, argv[1], argv[2]);
	const char *names[8] = { "xdp new flow (SYN)", "xdp reply (SYN-ACK)", "xdp handshake ACK", "xdp established (next ACK)",
				 "tc_ext new flow (SYN)", "tc_ext reply (SYN-ACK)", "tc_ext handshake ACK", "tc_ext established (next ACK)" };
	for (int p = 0; p < 8; p++)
		for (int o = 0; o < 2; o++)
			report(names[p], o ? "B" : "A", t[o][p], flows);
	for (int o = 0; o < 2; o++) for (int p = 0; p < 8; p++) if (bad[o][p]) printf("# %s path %d: %ld runs not translated (excluded)\n", o ? "B" : "A", p, bad[o][p]);
	return 0;
}
