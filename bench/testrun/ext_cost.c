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

int main(int argc, char **argv)
{
	long flows = argc > 3 ? atol(argv[3]) : 20000;
	struct dp d[2];
	long *t[2][8];
	uint8_t pkt[128], out[256];
	long bad[2][8] = { { 0 } };
	cpu_set_t s;

	if (argc < 3) { fprintf(stderr, "usage: ext-cost A.o B.o [FLOWS] | ext-cost family OBJ [FLOWS]\n"); return 2; }
	if (unshare(CLONE_NEWNET)) { perror("unshare"); return 1; }
	if (system("ip link set lo up && ip link add sy-x0 address 02:00:00:00:10:00 type veth peer name sy-x1 address 02:00:00:00:10:01 && "
		   "ip link set sy-x0 up && ip link set sy-x1 up && ip addr add 198.18.50.1/24 dev sy-x0 && ip addr add 198.19.200.1/24 dev sy-x1 && "
		   "ip neigh replace 198.19.200.2 lladdr 02:00:00:00:be:01 dev sy-x1 nud permanent && "
		   "ip neigh replace 198.18.50.2 lladdr 02:00:00:00:c1:01 dev sy-x0 nud permanent && "
		   "echo 1 > /proc/sys/net/ipv4/conf/all/forwarding")) { fprintf(stderr, "setup failed\n"); return 1; }
	x0 = if_nametoindex("sy-x0"); x1 = if_nametoindex("sy-x1");
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
