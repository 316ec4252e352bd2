// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach and detach requests, and the attachments status lists: requests
 * checked and turned into calls of tc_attach.c, xdp_attach.c,
 * cgroup_attach.c and detach.c, whose errors become the reply.
 *
 * Every attachment is recorded in sy_attach (attach_records.c). Re-attaching
 * updates the pinned link to the currently loaded program (bpf_link_update):
 * that is the upgrade path after a loader restart with a new datapath. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "handlers.h"
#include "attach_records.h"
#include "cgroup_attach.h"
#include "detach.h"
#include "link_pins.h"
#include "log.h"
#include "tc_attach.h"
#include "xdp_attach.h"

static int check_ifname(struct reply *r, const char *op, const char *name)
{
	size_t len = name ? strlen(name) : 0;

	if (len == 0)
		return reply_err(r, CODE(INVALID), "%s.ifname: required", op);
	if (len >= IF_NAMESIZE)
		return reply_err(r, CODE(INVALID), "%s.ifname: '%s' longer than "
				 "%d characters", op, name, IF_NAMESIZE - 1);
	if (!strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/') ||
	    strpbrk(name, " \t\n:"))
		return reply_err(r, CODE(INVALID), "%s.ifname: '%s' is not a "
				 "valid device name", op, name);
	return 0;
}

static int check_hook(struct reply *r, const char *op, int hook)
{
	if (hook != HOOK(TC_INGRESS) && hook != HOOK(XDP) &&
	    hook != HOOK(SOCK_LB))
		return reply_err(r, CODE(INVALID), "%s.hook: unknown hook %d",
				 op, hook);
	return 0;
}

static int attach_result(struct reply *r, uint32_t ifindex, uint32_t mode,
			 uint32_t prog_id)
{
	PB(AttachResult) *res = arena_alloc(r->a, sizeof(*res));

	switchyard__loader__v1__attach_result__init(res);
	res->ifindex = ifindex;
	res->mode = arena_strdup(r->a, attach_mode_name(mode));
	res->prog_id = prog_id;
	r->resp->result_case = RES(ATTACH);
	r->resp->attach = res;
	return CODE(OK);
}

static int attach_cgroup(struct loader *L, const PB(AttachRequest) *req,
			 struct reply *r)
{
	char canon[PATH_MAX];
	uint32_t cgid = 0, prog_id = 0;
	struct sy_err e;
	bool exists;

	if (cgroup_path_check("attach", req->cgroup_path, canon, true, &exists,
			      &e) ||
	    cgroup_attach(L, canon, &cgid, &prog_id, &e))
		return reply_sy_err(r, &e);
	return attach_result(r, cgid, SY_ATTACH_CGROUP, prog_id);
}

static int detach_cgroup(struct loader *L, const PB(DetachRequest) *req,
			 struct reply *r)
{
	char canon[PATH_MAX];
	bool exists, found;
	struct sy_err e;

	if (cgroup_path_check("detach", req->cgroup_path, canon, false,
			      &exists, &e) ||
	    cgroup_detach(L, canon, exists, &found, &e))
		return reply_sy_err(r, &e);
	if (!found && !exists)
		return reply_err(r, CODE(NOT_FOUND), "detach.cgroup_path: no "
				 "cgroup '%s' and nothing attached for it",
				 req->cgroup_path);
	return CODE(OK);
}

int handle_attach(struct loader *L, const PB(AttachRequest) *req,
		  struct reply *r)
{
	struct sy_attach_key key = { 0 };
	struct sy_attach_value val = { 0 };
	struct bpf_program *prog;
	uint32_t ifindex, mode = 0, prog_id = 0;
	struct sy_err e;
	int code, err, prog_fd;

	if ((code = check_hook(r, "attach", req->hook)))
		return code;
	if (req->hook == HOOK(SOCK_LB))
		return attach_cgroup(L, req, r);
	if ((code = check_ifname(r, "attach", req->ifname)))
		return code;
	if (req->role != ROLE(POD) && req->role != ROLE(EXTERNAL))
		return reply_err(r, CODE(INVALID), "attach.role: unknown role "
				 "%d (POD or EXTERNAL)", req->role);
	if (req->hook == HOOK(XDP))
		prog = L->xdp_prog;
	else
		prog = req->role == ROLE(EXTERNAL) ? L->tc_ext_prog : L->tc_prog;
	if (!prog)
		return reply_err(r, CODE(UNSUPPORTED), "attach: this datapath "
				 "build has no XDP program (sy_xdp)");
	ifindex = if_nametoindex(req->ifname);
	if (!ifindex)
		return reply_err(r, CODE(NOT_FOUND), "attach.ifname: no device "
				 "'%s' in the loader's network namespace",
				 req->ifname);
	prog_fd = bpf_program__fd(prog);
	err = req->hook == HOOK(XDP) ?
		      xdp_attach(L, req->ifname, ifindex, prog_fd, &mode, &e) :
		      tc_attach(L, req->ifname, ifindex, prog_fd, &mode, &e);
	if (err)
		return reply_sy_err(r, &e);
	err = prog_id_of(prog_fd, &prog_id);
	if (err)
		log_warn("prog info: %s", sy_errstr(err));

	key.ifindex = ifindex;
	key.hook = req->hook == HOOK(XDP) ? SY_HOOK_XDP : SY_HOOK_TC_INGRESS;
	val.mode = mode;
	val.prog_id = prog_id;
	strncpy(val.ifname, req->ifname, sizeof(val.ifname) - 1);
	err = record_put(L, &key, &val);
	if (err)
		/* The program is attached; only the bookkeeping failed. */
		return reply_err(r, CODE(KERNEL), "attach %s: recording in "
				 "sy_attach: %s", req->ifname, sy_errstr(err));
	forget_stale_records(L, req->ifname, key.hook, ifindex);
	log_info("attached %s to %s (ifindex %u) in %s mode, prog id %u",
		 bpf_program__name(prog), req->ifname, ifindex,
		 attach_mode_name(mode), prog_id);

	return attach_result(r, ifindex, mode, prog_id);
}

int handle_detach(struct loader *L, const PB(DetachRequest) *req,
		  struct reply *r)
{
	struct sy_err e;
	int code;

	if ((code = check_hook(r, "detach", req->hook)))
		return code;
	if (req->hook == HOOK(SOCK_LB))
		return detach_cgroup(L, req, r);
	if ((code = check_ifname(r, "detach", req->ifname)))
		return code;
	if (device_detach(L, req->hook == HOOK(XDP) ? SY_HOOK_XDP :
						      SY_HOOK_TC_INGRESS,
			  req->ifname, &e))
		return reply_sy_err(r, &e);
	return CODE(OK);
}

int attach_list(struct loader *L, struct reply *r, PB(Attachment) ***out,
		size_t *n)
{
	struct rec_list l = { 0 };
	PB(Attachment) **arr;
	char path[PATH_MAX];
	int err;

	err = rec_list_load(L, &l);
	if (err < 0) {
		free(l.items);
		return reply_err(r, CODE(KERNEL), "reading sy_attach: %s",
				 sy_errstr(err));
	}
	arr = arena_alloc(r->a, (l.n + 1) * sizeof(*arr));
	for (size_t i = 0; i < l.n; i++) {
		PB(Attachment) *a = arena_alloc(r->a, sizeof(*a));

		switchyard__loader__v1__attachment__init(a);
		a->ifname = arena_strdup(r->a, l.items[i].val.ifname);
		a->ifindex = l.items[i].key.ifindex;
		a->hook = l.items[i].key.hook == SY_HOOK_XDP ? HOOK(XDP) :
			  l.items[i].key.hook == SY_HOOK_SOCK_LB ? HOOK(SOCK_LB) :
								   HOOK(TC_INGRESS);
		if (a->hook == HOOK(SOCK_LB) &&
		    cgroup_path_of(L, a->ifindex, path, sizeof(path)))
			a->cgroup_path = arena_strdup(r->a, path);
		a->mode = arena_strdup(r->a, attach_mode_name(l.items[i].val.mode));
		a->prog_id = l.items[i].val.prog_id;
		if (a->hook == HOOK(TC_INGRESS))
			a->role = tc_prog_is_external(a->prog_id) ?
					  ROLE(EXTERNAL) : ROLE(POD);
		arr[i] = a;
	}
	*out = arr;
	*n = l.n;
	free(l.items);
	return CODE(OK);
}
