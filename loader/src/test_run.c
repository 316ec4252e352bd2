// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* test_run: BPF_PROG_TEST_RUN of a loaded program on a caller's packet. It
 * runs against the live maps (conntrack entries it creates are real). */
#include <errno.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "handlers.h"
#include "log.h"

#define ETH_HLEN 14
#define MAX_PACKET 65535
#define MAX_REPEAT 1000000
#define OUT_SLACK 512 /* room for a program that grows the packet */

int handle_test_run(struct loader *L, const PB(TestRunRequest) *req,
		    struct reply *r)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	struct __sk_buff skb_ctx;
	struct xdp_md xdp_ctx;
	PB(TestRunResult) *res;
	struct bpf_program *prog;
	bool xdp;
	uint8_t *out;
	int err;

	if (!req->program || !req->program[0]) {
		return reply_err(r, CODE(INVALID), "test_run.program: required "
				 "(tc_ingress, tc_external or xdp)");
	} else if (!strcmp(req->program, "tc_ingress")) {
		prog = L->tc_prog;
		xdp = false;
	} else if (!strcmp(req->program, "tc_external")) {
		prog = L->tc_ext_prog;
		xdp = false;
	} else if (!strcmp(req->program, "xdp")) {
		prog = L->xdp_prog;
		xdp = true;
		if (!prog)
			return reply_err(r, CODE(UNSUPPORTED), "test_run: this "
					 "datapath build has no XDP program");
	} else {
		return reply_err(r, CODE(INVALID), "test_run.program: unknown "
				 "program '%s' (tc_ingress, tc_external or xdp)",
				 req->program);
	}
	if (req->data.len < ETH_HLEN || req->data.len > MAX_PACKET)
		return reply_err(r, CODE(INVALID), "test_run.data: %zu bytes; a "
				 "packet needs %d to %d bytes", req->data.len,
				 ETH_HLEN, MAX_PACKET);
	if (req->repeat > MAX_REPEAT)
		return reply_err(r, CODE(INVALID), "test_run.repeat: %u above "
				 "%d", req->repeat, MAX_REPEAT);

	out = arena_alloc(r->a, req->data.len + OUT_SLACK);
	opts.data_in = req->data.data;
	opts.data_size_in = (__u32)req->data.len;
	opts.data_out = out;
	opts.data_size_out = (__u32)req->data.len + OUT_SLACK;
	opts.repeat = req->repeat ? (int)req->repeat : 1;
	if (req->ifindex && !xdp) {
		memset(&skb_ctx, 0, sizeof(skb_ctx));
		skb_ctx.ifindex = req->ifindex;
		opts.ctx_in = &skb_ctx;
		opts.ctx_size_in = sizeof(skb_ctx);
	} else if (req->ifindex && xdp) {
		memset(&xdp_ctx, 0, sizeof(xdp_ctx));
		xdp_ctx.data_end = (__u32)req->data.len;
		xdp_ctx.ingress_ifindex = req->ifindex;
		opts.ctx_in = &xdp_ctx;
		opts.ctx_size_in = sizeof(xdp_ctx);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	if (err)
		return reply_err(r, CODE(KERNEL), "test_run %s: "
				 "BPF_PROG_TEST_RUN: %s", req->program,
				 sy_errstr(err));

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__test_run_result__init(res);
	res->retval = (int32_t)opts.retval;
	res->data.data = out;
	res->data.len = opts.data_size_out;
	res->duration_ns = opts.duration;
	r->resp->result_case = RES(TEST_RUN);
	r->resp->test_run = res;
	return CODE(OK);
}
