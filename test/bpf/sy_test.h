/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared fixture of the BPF_PROG_TEST_RUN suite (tc_ingress_test.c holds
 * main(), the helpers and the original tc tests; the other files add test
 * groups). Expected packets are always built from scratch with checksums
 * from a plain RFC 1071 sum, never by incremental update.
 */
#ifndef SY_TEST_H
#define SY_TEST_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sy_structs.h"
#include "switchyard.skel.h"

#define SEED 0x5eed1234u

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_ARP  0x0806
#define ETHERTYPE_VLAN 0x8100

/* XDP verdicts (uapi enum xdp_action), for headers that lack them. */
#ifndef XDP_PASS
#define XDP_ABORTED 0
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define XDP_REDIRECT 4
#endif

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

struct pktdef {
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* host order */
	uint8_t proto;
	uint8_t ihl;           /* 0 means 5 */
	uint16_t frag_off;     /* host order value of the field */
	uint8_t tcp_flags;
	bool udp_zero_csum;
	int payload;           /* payload bytes */
};

#define BUF 2048

/* tcx: continue with the next program (uapi enum tcx_action_base, absent
 * from older headers). */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#endif

extern uint8_t eth_dst[6]; /* destination MAC of built frames */

#define CLIENT   ip4(10, 0, 0, 1)
#define CLIENT2  ip4(10, 0, 0, 7)
#define VIP_A    ip4(10, 96, 0, 10) /* TCP :80 group 1 (M=7), UDP :53 group 2 (M=251) */
#define VIP_AFF  ip4(10, 96, 0, 20) /* TCP :443 affinity, group 3 (M=251) */
#define VIP_RND  ip4(10, 96, 0, 30) /* TCP :80 random, group 4 (M=7) */
#define VIP_NOEP ip4(10, 96, 0, 40) /* count 0 */
#define VIP_NOTB ip4(10, 96, 0, 41) /* count 3, no table */
#define VIP_ZERO ip4(10, 96, 0, 42) /* table_size 0 */
#define VIP_INT  ip4(10, 96, 0, 43) /* SY_SCOPE_INTERNAL entry only */
#define VIP_SMALL ip4(10, 96, 0, 44) /* table_size 11 but inner map of 7 */
#define VIP_DROP ip4(10, 96, 0, 45) /* count 0, SY_SVC_F_DROP_NO_EP */

#define SVC_A_TCP 1
#define SVC_A_UDP 2
#define SVC_AFF   3
#define SVC_RND   4

#define SEC_NS 1000000000ull

extern int n_pass, n_fail, n_check;
extern struct switchyard *skel;
/* prog_fd is the program run() runs (sy_tc_ingress unless a test switches). */
extern int prog_fd, fd_services, fd_backends, fd_revnat, fd_maglev, fd_ct,
	fd_aff, fd_config;
extern uint32_t run_flags, run_ifindex;
extern uint32_t tab1[7], tab2[251], tab3[251], tab4[7];

bool check(bool cond, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum);
uint16_t fold(uint32_t sum);
uint32_t rotl(uint32_t x, int k);
uint32_t ref_jhash_3words(uint32_t a, uint32_t b, uint32_t c,
				 uint32_t initval);
uint32_t ip4(int a, int b, int c, int d);
const char *ipstr(uint32_t addr);
uint32_t expected_slot(uint32_t saddr, uint32_t daddr, uint16_t sport,
			      uint16_t dport, uint8_t proto, uint32_t size);
void put16(uint8_t *p, uint16_t v);
void put32(uint8_t *p, uint32_t v);
uint16_t get16(const uint8_t *p);
size_t build_eth(uint8_t *b, uint16_t ethertype);
size_t build(uint8_t *b, const struct pktdef *d);
bool csums_valid(const uint8_t *b, size_t len, char *why, size_t wlen);
int run_xdp_prog(int prog_fd_xdp, const uint8_t *in, size_t len, uint8_t *out,
		 size_t *olen, uint32_t *ret, uint32_t ifindex);
int run(const uint8_t *in, size_t len, uint8_t *out, size_t *outlen,
	       uint32_t *retval);
const char *diff_bytes(const uint8_t *got, size_t glen,
			      const uint8_t *exp, size_t elen);
uint64_t mono_ns(void);
int add_service(uint32_t addr, uint16_t port, uint8_t proto,
		       uint8_t scope, uint32_t id, uint32_t group,
		       uint16_t count, uint16_t flags, uint32_t aff_timeout,
		       uint32_t table_size);
uint32_t be_addr(uint32_t id);
uint16_t be_port(uint32_t id);
int add_backend(uint32_t id, uint8_t proto, uint8_t state);
int backend_of(uint32_t addr, uint16_t port_host);
int set_table(uint32_t group, uint32_t m, const uint32_t *ids);
void ct_key(struct sy_ct_key *k, uint32_t saddr, uint32_t daddr,
		   uint16_t sport, uint16_t dport, uint8_t proto, uint8_t dir);
bool ct_get(uint32_t saddr, uint32_t daddr, uint16_t sport,
		   uint16_t dport, uint8_t proto, uint8_t dir,
		   struct sy_ct_value *v);
bool expect_rewrite(const char *name, const struct pktdef *d,
			   const struct pktdef *want);
bool expect_dnat(const char *name, const struct pktdef *d,
			uint32_t addr, uint16_t port);
bool raw_unchanged(const uint8_t *in, size_t len, char *why,
			  size_t wlen);
bool expect_unchanged_raw(const char *name, const uint8_t *in,
				 size_t len);
bool expect_unchanged(const char *name, const struct pktdef *d);
bool expect_ret(const char *name, const struct pktdef *d,
		       uint32_t want);
size_t build_rst(uint8_t *b, uint32_t saddr, uint32_t daddr,
			uint16_t sport, uint16_t dport, uint32_t seq,
			uint32_t ack, uint8_t flags);
size_t build_icmp_unreach(uint8_t *b, uint32_t saddr, uint32_t daddr,
				 const uint8_t *quote, size_t qlen);
bool expect_frame(const char *name, const uint8_t *in, size_t len,
			 const uint8_t *exp, size_t elen, uint32_t want,
			 bool icmp);
int dnat_target(const struct pktdef *d, uint32_t *ret_out);
struct pktdef tcp(uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport, uint8_t flags);
struct pktdef udp(uint32_t saddr, uint32_t daddr, uint16_t sport,
			 uint16_t dport);
bool ct_absent(uint32_t saddr, uint32_t daddr, uint16_t sport,
		      uint16_t dport, uint8_t proto);
void plant_ct(uint32_t saddr, uint32_t daddr, uint16_t sport,
		     uint16_t dport, uint8_t proto, uint8_t dir,
		     uint32_t backend, uint32_t revnat, uint16_t flags,
		     uint64_t age_ns);

/* ---- external fixture (external_test.c, also used by xdp_test.c) ---- */
#define NODE      ip4(192, 168, 0, 1)      /* sy_config.node_addr (setup()) */
#define EXT_C1    ip4(198, 18, 50, 9)      /* external clients */
#define EXT_C2    ip4(198, 18, 50, 10)
#define EXT_C3    ip4(198, 18, 60, 7)
#define EXT_C4    ip4(198, 18, 60, 8)
#define LB_IP     ip4(198, 18, 100, 10)    /* LoadBalancer, source ranges */
#define EIP       ip4(198, 18, 100, 20)    /* ExternalIP, internal + external tables */
#define HP_VIP    ip4(198, 18, 100, 30)    /* ClusterIP of the hairpin test */
#define HP_VIP2   ip4(198, 18, 100, 31)

#define NP_TCP    30080  /* NodePort -> remote 501, SNAT */
#define NP_UDP    30053  /* NodePort -> remote 502 (UDP), SNAT */
#define NP_LOCAL  30081  /* eTP=Local NodePort (table: 501) */
#define NP_LBE    30082  /* eTP=Cluster NodePort -> local backend 503 */

#define BE_R1 501 /* remote TCP */
#define BE_R2 502 /* remote UDP */
#define BE_L  503 /* local TCP (SY_BE_F_LOCAL) */
#define BE_HP 504 /* the hairpin client itself */
#define BE_R3 505 /* remote TCP, external table of EIP */

#define FE_NP      600
#define FE_NP_UDP  601
#define FE_LOCAL   602
#define FE_LBE     603
#define FE_LB      604
#define FE_EIP_EXT 605
#define FE_EIP_INT 606
#define FE_HP      607
#define FE_HP2     608


extern int fd_tc_pod, fd_tc_ext, fd_counters, fd_stats, fd_ranges;
int use_prog(int fd); /* returns the previous prog_fd */
uint64_t counter(uint32_t idx);  /* sy_counters[idx] summed over CPUs */
void stats(uint32_t fe, uint32_t hook, uint64_t *pk, uint64_t *by);
bool expect_xlate(const char *name, const struct pktdef *d, uint32_t saddr,
		  uint16_t sport, uint32_t daddr, uint16_t dport);
bool ct_is(const char *name, uint32_t saddr, uint32_t daddr, uint16_t sport,
	   uint16_t dport, uint8_t proto, uint8_t dir, uint32_t backend,
	   uint32_t revnat, uint16_t flags_mask, uint16_t flags,
	   uint32_t nat_addr, uint16_t nat_port);

/* Test groups in other files. */
void test_scope_roles(void);
void test_external(void);
void test_events(void); /* events_test.c */
void test_xdp(void);
void test_icmp(void);
void test_icmp6(void); /* icmp6_test.c: IPv6 REJECT, ICMPv6, fragments */
void test_frag(void);
void test_frag_xdp(int fd_xdp, uint32_t x0, const uint8_t *mac_x0,
		   const uint8_t *mac_x1, const uint8_t *mac_be,
		   const uint8_t *mac_cl);
void test_conntrack(void);
void test_service_cidr(void);
void test_ipv6(void);
void test_maglev_in_place(void); /* maglev_inplace_test.c */
/* fib_cache_test.c: the route-result cache for one family's NodePort flow
 * forwarded by sy_xdp (XDP_REDIRECT): its first and a next packet, each
 * with the frame the FIB's answer gives. */
struct fib_cache_case {
	const char *family;   /* "IPv4" / "IPv6", for the check names */
	uint8_t af;           /* AF_INET / AF_INET6 */
	int fd_xdp;
	uint32_t ifindex, egress;
	const uint8_t *first, *first_exp, *next, *next_exp;
	size_t first_len, first_exp_len, next_len, next_exp_len;
	/* The first packet of another new flow from the same client to the
	 * same backend (another source port; IPv6: and a flow label). */
	const uint8_t *other, *other_exp;
	size_t other_len, other_exp_len;
};
void test_fib_cache(const struct fib_cache_case *c);
void fib_cache_set_gen(uint32_t gen);
void test_events6(int fd_pod); /* events6_test.c, after test_ipv6's setup */
void test_events6_xdp(int fd_xdp, uint32_t ifindex);

#endif /* SY_TEST_H */
