// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The datapath monitor (sy_events.h): drops and rejects emit an event with
 * their reason and frontend; translations emit SY_EV_TRACE only while
 * sy_monitor enables tracing and the filter matches; sampled new flows
 * emit SY_EV_CT_NEW; a full ring buffer loses events, counted. The events
 * are read from the sy_events ring buffer as the loader reads them
 * (libbpf ring_buffer__consume). */
#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_test.h"

#define MAX_EVENTS 8

static struct sy_event got[MAX_EVENTS];
static int n_got, n_extra;
static struct ring_buffer *rb;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size != sizeof(struct sy_event) || n_got >= MAX_EVENTS) {
		n_extra++;
		return 0;
	}
	memcpy(&got[n_got++], data, sizeof(struct sy_event));
	return 0;
}

/* Events written since the last call. */
static int drain(void)
{
	n_got = n_extra = 0;
	ring_buffer__consume(rb);
	return n_got + n_extra;
}

static int set_monitor(uint32_t flags, uint32_t fe, uint32_t be,
		       uint32_t client, uint8_t plen, uint32_t ct_sample)
{
	struct sy_monitor m = { .flags = flags, .ct_sample = ct_sample,
				.trace_frontend_id = fe,
				.trace_backend_id = be };
	uint32_t zero = 0;

	if (client) {
		m.client_family = 4;
		m.client_prefix_len = plen;
		m.client_addr[0] = client;
	}
	return bpf_map_update_elem(bpf_map__fd(skel->maps.sy_monitor), &zero,
				   &m, BPF_ANY) ? -errno : 0;
}

static void run_one(const struct pktdef *d, uint32_t *ret)
{
	uint8_t in[BUF], out[BUF];
	size_t len = build(in, d), olen;

	*ret = (uint32_t)-1000;
	run(in, len, out, &olen, ret);
}

static void test_drop_and_reject_events(void)
{
	struct pktdef d;
	uint32_t ret, rl = (uint32_t)counter(SY_CNT_REJECT_RATE_LIMITED);
	int old = use_prog(fd_tc_ext);

	drain();
	d = tcp(EXT_C4, LB_IP, 47102, 443, TH_SYN);
	run_one(&d, &ret);
	check(ret == TC_ACT_SHOT && drain() == 1 && got[0].type == SY_EV_DROP,
	      "monitor: a source-range drop emits one SY_EV_DROP",
	      "ret %u, %d events, type %u", ret, n_got + n_extra, got[0].type);
	check(got[0].reason == SY_CNT_DROP_SOURCE_RANGE &&
		      got[0].frontend_id == FE_LB && got[0].family == 4 &&
		      got[0].proto == IPPROTO_TCP &&
		      got[0].saddr[0] == EXT_C4 && got[0].daddr[0] == LB_IP &&
		      ntohs(got[0].sport) == 47102 && ntohs(got[0].dport) == 443,
	      "... reason SY_CNT_DROP_SOURCE_RANGE, frontend, tuple",
	      "reason %u fe %u family %u proto %u %s:%u -> port %u",
	      got[0].reason, got[0].frontend_id, got[0].family, got[0].proto,
	      ipstr(got[0].saddr[0]), ntohs(got[0].sport), ntohs(got[0].dport));
	use_prog(old);

	d = tcp(CLIENT, VIP_NOEP, 4711, 80, TH_SYN);
	run_one(&d, &ret);
	check(drain() == 1 && got[0].type == SY_EV_REJECT &&
		      got[0].frontend_id == 10 &&
		      got[0].reason == (counter(SY_CNT_REJECT_RATE_LIMITED) > rl ?
						SY_CNT_REJECT_RATE_LIMITED :
						SY_CNT_REJECT_TCP),
	      "monitor: a Service without endpoints emits SY_EV_REJECT with its frontend and reason",
	      "%d events, type %u fe %u reason %u", n_got + n_extra,
	      got[0].type, got[0].frontend_id, got[0].reason);

	d = tcp(CLIENT, VIP_DROP, 4712, 80, TH_SYN);
	run_one(&d, &ret);
	check(drain() == 1 && got[0].type == SY_EV_DROP &&
		      got[0].reason == SY_CNT_DROP_NO_BACKEND &&
		      got[0].frontend_id == 16,
	      "monitor: DROP_NO_EP emits SY_EV_DROP reason SY_CNT_DROP_NO_BACKEND",
	      "%d events, type %u fe %u reason %u", n_got + n_extra,
	      got[0].type, got[0].frontend_id, got[0].reason);
}

static void test_trace_events(void)
{
	uint32_t ret, slot, be;
	struct pktdef d;

	/* Tracing off (the default): a translation emits nothing. */
	set_monitor(0, 0, 0, 0, 0, 0);
	d = tcp(CLIENT, VIP_A, 5100, 80, TH_SYN);
	run_one(&d, &ret);
	check(ret == TC_ACT_OK && drain() == 0,
	      "monitor: tracing off: a DNAT emits no event", "ret %u, %d events",
	      ret, n_got + n_extra);

	/* Tracing for frontend SVC_A_TCP and client 10.0.0.1/32. */
	set_monitor(SY_MON_F_TRACE, SVC_A_TCP, 0, CLIENT, 32, 0);
	slot = expected_slot(CLIENT, VIP_A, 5101, 80, IPPROTO_TCP, 7);
	be = tab1[slot];
	d = tcp(CLIENT, VIP_A, 5101, 80, TH_SYN);
	run_one(&d, &ret);
	check(ret == TC_ACT_OK && drain() == 1 && got[0].type == SY_EV_TRACE &&
		      got[0].frontend_id == SVC_A_TCP && got[0].backend_id == be &&
		      got[0].nat_daddr[0] == be_addr(be) &&
		      got[0].nat_dport == htons(be_port(be)) &&
		      got[0].daddr[0] == VIP_A && !(got[0].flags & SY_EV_F_REPLY),
	      "monitor: tracing on, filter matches: SY_EV_TRACE with frontend, backend and the DNAT",
	      "ret %u, %d events, type %u fe %u be %u (want %u) nat %s",
	      ret, n_got + n_extra, got[0].type, got[0].frontend_id,
	      got[0].backend_id, be, ipstr(got[0].nat_daddr[0]));
	d.tcp_flags = TH_ACK;
	run_one(&d, &ret);
	check(drain() == 1 && got[0].type == SY_EV_TRACE && got[0].backend_id == be,
	      "... an established packet of the flow is traced too", "%d events",
	      n_got + n_extra);

	d = tcp(CLIENT, VIP_AFF, 5102, 443, TH_SYN);
	run_one(&d, &ret);
	check(ret == TC_ACT_OK && drain() == 0,
	      "... another frontend: no event", "ret %u, %d events", ret,
	      n_got + n_extra);
	d = tcp(CLIENT2, VIP_A, 5103, 80, TH_SYN);
	run_one(&d, &ret);
	check(ret == TC_ACT_OK && drain() == 0,
	      "... a client outside the filter's CIDR: no event",
	      "ret %u, %d events", ret, n_got + n_extra);
	set_monitor(SY_MON_F_TRACE, 0, 0, ip4(10, 0, 0, 0), 24, 0);
	d = tcp(CLIENT2, VIP_A, 5104, 80, TH_SYN);
	run_one(&d, &ret);
	check(drain() == 1 && got[0].type == SY_EV_TRACE &&
		      got[0].saddr[0] == CLIENT2,
	      "... any frontend, client in 10.0.0.0/24: traced", "%d events",
	      n_got + n_extra);
	set_monitor(SY_MON_F_TRACE, 0, be == 1 ? 2 : 1, 0, 0, 0);
	d = tcp(CLIENT, VIP_A, 5101, 80, TH_ACK);
	run_one(&d, &ret);
	check(drain() == 0, "... a backend filter naming another backend: no event",
	      "%d events", n_got + n_extra);

	/* Conntrack sampling: every new flow (1 in 1), not established ones. */
	set_monitor(0, 0, 0, 0, 0, 1);
	d = tcp(CLIENT, VIP_A, 5105, 80, TH_SYN);
	run_one(&d, &ret);
	check(drain() == 1 && got[0].type == SY_EV_CT_NEW &&
		      got[0].frontend_id == SVC_A_TCP && got[0].backend_id != 0,
	      "monitor: ct_sample 1: a new flow emits SY_EV_CT_NEW", "%d events, type %u",
	      n_got + n_extra, got[0].type);
	d.tcp_flags = TH_ACK;
	run_one(&d, &ret);
	check(drain() == 0, "... its established packets do not", "%d events",
	      n_got + n_extra);
	set_monitor(0, 0, 0, 0, 0, 0);
}

/* Every CPU's event budget back to a fresh window (window_ns 0). */
static int reset_budget(void)
{
	int ncpu = libbpf_num_possible_cpus();
	struct sy_events_budget zero[512];
	uint32_t key = 0;

	if (ncpu <= 0 || ncpu > 512)
		return -1;
	memset(zero, 0, sizeof(zero));
	return bpf_map_update_elem(bpf_map__fd(skel->maps.sy_events_budget),
				   &key, zero, BPF_ANY);
}

/* A flood of drops writes at most SY_EVENTS_PER_CPU_PER_SEC events per CPU
 * and second; the rest are counted, and every drop is still counted by its
 * reason. */
static void test_events_budget(void)
{
	enum { N = 8 * SY_EVENTS_PER_CPU_PER_SEC };
	uint8_t in[BUF], out[BUF];
	struct pktdef d = tcp(CLIENT, VIP_DROP, 4801, 80, TH_SYN);
	size_t len = build(in, &d);
	uint64_t lost = counter(SY_CNT_EVENTS_LOST);
	uint64_t limited = counter(SY_CNT_EVENTS_RATE_LIMITED);
	uint64_t drops = counter(SY_CNT_DROP_NO_BACKEND);
	uint64_t admitted, dl;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = BUF, .repeat = N);
	int err, written;

	drain();
	check(reset_budget() == 0, "monitor: reset the per-CPU event budget", "errno %d", errno);
	/* One run: one CPU, well under a second unless the machine stalls (then
	 * a second window may admit up to another budget). */
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	written = drain();
	admitted = (uint64_t)written + (counter(SY_CNT_EVENTS_LOST) - lost);
	dl = counter(SY_CNT_EVENTS_RATE_LIMITED) - limited;
	check(!err && opts.retval == TC_ACT_SHOT &&
		      counter(SY_CNT_DROP_NO_BACKEND) - drops == N &&
		      admitted >= SY_EVENTS_PER_CPU_PER_SEC &&
		      admitted <= 2 * SY_EVENTS_PER_CPU_PER_SEC &&
		      admitted + dl == N,
	      "monitor: 8 x SY_EVENTS_PER_CPU_PER_SEC drops at once: every drop counted, one budget of events admitted (written or lost), the rest counted as SY_CNT_EVENTS_RATE_LIMITED",
	      "err %d ret %u drops +%llu written %d lost +%llu rate limited +%llu",
	      err, opts.retval,
	      (unsigned long long)(counter(SY_CNT_DROP_NO_BACKEND) - drops), written,
	      (unsigned long long)(counter(SY_CNT_EVENTS_LOST) - lost),
	      (unsigned long long)dl);
	reset_budget();
}

/* A full ring buffer: events are lost and counted, packets are not. */
static void test_events_lost(void)
{
	uint8_t in[BUF], out[BUF];
	struct pktdef d = tcp(CLIENT, VIP_DROP, 4800, 80, TH_SYN);
	size_t len = build(in, &d);
	uint64_t lost = counter(SY_CNT_EVENTS_LOST);
	uint64_t drops = counter(SY_CNT_DROP_NO_BACKEND);
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out, .data_size_out = BUF, .repeat = 5000);
	int err;

	drain();
	reset_budget(); /* the budget (4096) admits more than the ring holds */
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	check(!err && opts.retval == TC_ACT_SHOT &&
		      counter(SY_CNT_DROP_NO_BACKEND) - drops == 5000 &&
		      counter(SY_CNT_EVENTS_LOST) > lost,
	      "monitor: 5000 drops unread: every packet dropped and counted, the events beyond the ring buffer counted as SY_CNT_EVENTS_LOST",
	      "err %d ret %u drops +%llu lost +%llu", err, opts.retval,
	      (unsigned long long)(counter(SY_CNT_DROP_NO_BACKEND) - drops),
	      (unsigned long long)(counter(SY_CNT_EVENTS_LOST) - lost));
	drain();
}

void test_events(void)
{
	rb = ring_buffer__new(bpf_map__fd(skel->maps.sy_events), on_event,
			      NULL, NULL);
	if (!check(rb != NULL, "monitor: open the sy_events ring buffer", "%s",
		   strerror(errno)))
		return;
	test_drop_and_reject_events();
	test_trace_events();
	test_events_lost();
	test_events_budget();
	ring_buffer__free(rb);
}
