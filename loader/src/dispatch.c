// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Routes a decoded Request to its handler. Handlers fill the Response through
 * struct reply (reply.c); everything they allocate lives in the request's
 * arena. */
#include "handlers.h"
#include "log.h"

static const char *op_name(int op)
{
	switch (op) {
	case REQ_OP(PROBE): return "probe";
	case REQ_OP(ATTACH): return "attach";
	case REQ_OP(DETACH): return "detach";
	case REQ_OP(APPLY): return "apply";
	case REQ_OP(DUMP): return "dump";
	case REQ_OP(CLEANUP): return "cleanup";
	case REQ_OP(STATUS): return "status";
	case REQ_OP(TEST_RUN): return "test_run";
	case REQ_OP(LOOKUP): return "lookup";
	case REQ_OP(GC_CONNTRACK): return "gc_conntrack";
	case REQ_OP(MONITOR): return "monitor";
	default: return "none";
	}
}

void dispatch(struct loader *L, const sy_request *req, struct reply *r)
{
	int code;

	switch (req->op_case) {
	case REQ_OP(PROBE):
		code = handle_probe(L, req->probe, r);
		break;
	case REQ_OP(ATTACH):
		code = handle_attach(L, req->attach, r);
		break;
	case REQ_OP(DETACH):
		code = handle_detach(L, req->detach, r);
		break;
	case REQ_OP(APPLY):
		code = handle_apply(L, req->apply, r);
		break;
	case REQ_OP(DUMP):
		code = handle_dump(L, req->dump, r);
		break;
	case REQ_OP(CLEANUP):
		code = handle_cleanup(L, req->cleanup, r);
		break;
	case REQ_OP(STATUS):
		code = handle_status(L, req->status, r);
		break;
	case REQ_OP(TEST_RUN):
		code = handle_test_run(L, req->test_run, r);
		break;
	case REQ_OP(LOOKUP):
		code = handle_lookup(L, req->lookup, r);
		break;
	case REQ_OP(GC_CONNTRACK):
		code = handle_gc_conntrack(L, req->gc_conntrack, r);
		break;
	default:
		code = reply_err(r, CODE(INVALID),
				 "op: request has no operation set");
		break;
	}
	r->resp->code = code;
	if (code != CODE(OK))
		log_warn("seq %llu %s: code %d: %s",
			 (unsigned long long)req->seq, op_name(req->op_case),
			 code, r->resp->error);
	else
		log_debug("seq %llu %s: ok", (unsigned long long)req->seq,
			  op_name(req->op_case));
}
