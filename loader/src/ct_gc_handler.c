// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* gc_conntrack: the request that garbage-collects sy_conntrack (ct_gc.c). */
#include "handlers.h"
#include "ct_gc.h"

int handle_gc_conntrack(struct loader *L, const PB(GcConntrackRequest) *req,
			struct reply *r)
{
	PB(GcConntrackResult) *res = arena_alloc(r->a, sizeof(*res));
	struct ct_gc_stats st;
	struct sy_err e;
	uint64_t next = 0;
	int err;

	switchyard__loader__v1__gc_conntrack_result__init(res);
	r->resp->result_case = RES(GC_CONNTRACK);
	r->resp->gc_conntrack = res;
	/* A whole walk logs its line; slices would log one line each. */
	if (!req->budget_us && !req->cursor)
		err = ct_gc(L, "gc_conntrack", &st, &e);
	else
		err = ct_gc_slice(L, req->cursor,
				  (uint64_t)req->budget_us * 1000, &st, &next,
				  &e);
	res->next_cursor = next;
	/* Also on failure: what was removed before it. */
	res->deleted = (uint32_t)ct_gc_deleted(&st);
	res->scanned = (uint32_t)st.scanned;
	res->expired = (uint32_t)st.expired;
	res->orphaned_backend = (uint32_t)st.orphaned_backend;
	res->orphaned_frontend = (uint32_t)st.orphaned_frontend;
	if (err)
		return reply_sy_err_at(r, "gc_conntrack", &e);
	return CODE(OK);
}
