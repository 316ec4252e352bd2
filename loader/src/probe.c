// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* probe: what the kernel can do for the datapath, found out by creating and
 * loading tiny objects (never by version guessing, except as a tie-break
 * for tcx). Nothing is attached and nothing outlives the request. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "handlers.h"
#include "log.h"

#define BOGUS_IFINDEX 0x7ffffff0
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

struct probe_ctx {
	struct reply *r;
	struct ptr_vec feats;
	const PB(ProbeRequest) *req;
};

static void add(struct probe_ctx *p, const char *name, bool ok,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void add(struct probe_ctx *p, const char *name, bool ok,
		const char *fmt, ...)
{
	PB(Feature) *f = arena_alloc(p->r->a, sizeof(*f));
	va_list ap;

	switchyard__loader__v1__feature__init(f);
	f->name = arena_strdup(p->r->a, name);
	f->available = ok;
	va_start(ap, fmt);
	f->detail = arena_vprintf(p->r->a, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < p->req->n_pretend_missing; i++) {
		if (!strcmp(p->req->pretend_missing[i], name)) {
			f->available = false;
			f->detail = arena_strdup(p->r->a, "pretended missing");
		}
	}
	ptr_vec_push(p->r->a, &p->feats, f);
}

static void add_libbpf_result(struct probe_ctx *p, const char *name, int ret,
			      const char *how)
{
	if (ret < 0)
		add(p, name, false, "%s failed: %s", how, sy_errstr(ret));
	else
		add(p, name, ret == 1, "%s: %s", how,
		    ret == 1 ? "supported" : "not supported");
}

/* r0 = 0; exit */
static int load_trivial(enum bpf_prog_type type,
			enum bpf_attach_type expected)
{
	LIBBPF_OPTS(bpf_prog_load_opts, opts,
		    .expected_attach_type = expected);
	struct bpf_insn insns[2];

	memset(insns, 0, sizeof(insns));
	insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;
	insns[1].code = BPF_JMP | BPF_EXIT;
	return bpf_prog_load(type, "sy_probe", "GPL", insns, 2, &opts);
}

static int kernel_at_least(const char *release, int maj, int min)
{
	int a = 0, b = 0;

	if (sscanf(release, "%d.%d", &a, &b) < 2)
		return -1;
	return a > maj || (a == maj && b >= min);
}

static void probe_prog_types(struct probe_ctx *p)
{
	static const struct {
		enum bpf_prog_type type;
		const char *name;
	} t[] = {
		{ BPF_PROG_TYPE_SCHED_CLS, "prog_type:sched_cls" },
		{ BPF_PROG_TYPE_XDP, "prog_type:xdp" },
		{ BPF_PROG_TYPE_CGROUP_SOCK_ADDR, "prog_type:cgroup_sock_addr" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		add_libbpf_result(p, t[i].name,
				  libbpf_probe_bpf_prog_type(t[i].type, NULL),
				  "libbpf_probe_bpf_prog_type (load)");
}

static void probe_map_types(struct probe_ctx *p)
{
	static const struct {
		enum bpf_map_type type;
		const char *name;
	} t[] = {
		{ BPF_MAP_TYPE_HASH, "map_type:hash" },
		{ BPF_MAP_TYPE_LRU_HASH, "map_type:lru_hash" },
		{ BPF_MAP_TYPE_ARRAY, "map_type:array" },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, "map_type:percpu_array" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		add_libbpf_result(p, t[i].name,
				  libbpf_probe_bpf_map_type(t[i].type, NULL),
				  "libbpf_probe_bpf_map_type (create)");
}

/* What set_maglev does: inner ARRAYs with BPF_F_INNER_MAP, of two
 * different sizes, both accepted by one HASH_OF_MAPS. */
static void probe_map_in_map(struct probe_ctx *p)
{
	LIBBPF_OPTS(bpf_map_create_opts, iopts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_create_opts, oopts);
	int tmpl = -1, outer = -1, in2 = -1, err;
	uint32_t key = 1;
	const char *step;

	step = "create inner ARRAY with BPF_F_INNER_MAP";
	tmpl = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sy_probe_in", 4, 8, 126,
			      &iopts);
	if ((err = tmpl) < 0)
		goto fail;
	step = "create HASH_OF_MAPS";
	oopts.inner_map_fd = tmpl;
	outer = bpf_map_create(BPF_MAP_TYPE_HASH_OF_MAPS, "sy_probe_out", 4,
			       4, 4, &oopts);
	if ((err = outer) < 0)
		goto fail;
	step = "create a 4-entry inner ARRAY";
	in2 = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sy_probe_in", 4, 8, 4,
			     &iopts);
	if ((err = in2) < 0)
		goto fail;
	step = "insert an inner map of another size";
	err = bpf_map_update_elem(outer, &key, &in2, BPF_ANY);
	if (err)
		goto fail;
	add(p, "map_type:hash_of_maps", true, "created; inner ARRAYs of 126 "
	    "and 4 two-slot entries accepted (BPF_F_INNER_MAP)");
	goto out;
fail:
	add(p, "map_type:hash_of_maps", false, "%s: %s", step,
	    sy_errstr(err));
out:
	if (in2 >= 0)
		close(in2);
	if (outer >= 0)
		close(outer);
	if (tmpl >= 0)
		close(tmpl);
}

static void probe_batch(struct probe_ctx *p)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	uint32_t keys[2] = { 0, 1 }, vals[2] = { 7, 9 }, count = 2;
	int fd, err;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sy_probe_b", 4, 4, 2, NULL);
	if (fd < 0) {
		add(p, "map_op:batch", false, "array create: %s",
		    sy_errstr(fd));
		return;
	}
	err = bpf_map_update_batch(fd, keys, vals, &count, &bopts);
	add(p, "map_op:batch", !err, "bpf_map_update_batch on an ARRAY: %s",
	    err ? sy_errstr(err) : "ok");
	close(fd);
}

static void probe_helpers(struct probe_ctx *p)
{
	static const struct {
		enum bpf_prog_type type;
		const char *prog;
		enum bpf_func_id id;
		const char *name;
	} h[] = {
#define H(t, tn, f) { BPF_PROG_TYPE_##t, tn, BPF_FUNC_##f, "bpf_" #f }
		H(SCHED_CLS, "sched_cls", map_lookup_elem),
		H(SCHED_CLS, "sched_cls", map_update_elem),
		H(SCHED_CLS, "sched_cls", map_delete_elem),
		H(SCHED_CLS, "sched_cls", l3_csum_replace),
		H(SCHED_CLS, "sched_cls", l4_csum_replace),
		H(SCHED_CLS, "sched_cls", skb_store_bytes),
		H(SCHED_CLS, "sched_cls", skb_load_bytes),
		H(SCHED_CLS, "sched_cls", skb_change_tail),
		H(SCHED_CLS, "sched_cls", get_prandom_u32),
		H(SCHED_CLS, "sched_cls", ktime_get_ns),
		H(SCHED_CLS, "sched_cls", fib_lookup),
		H(SCHED_CLS, "sched_cls", redirect),
		H(SCHED_CLS, "sched_cls", redirect_neigh),
		H(XDP, "xdp", map_lookup_elem),
		H(XDP, "xdp", fib_lookup),
		H(XDP, "xdp", redirect),
		H(XDP, "xdp", ktime_get_ns),
		H(CGROUP_SOCK_ADDR, "cgroup_sock_addr", get_socket_cookie),
		H(CGROUP_SOCK_ADDR, "cgroup_sock_addr", get_netns_cookie),
		H(CGROUP_SOCK_ADDR, "cgroup_sock_addr", set_retval),
		H(CGROUP_SOCK_ADDR, "cgroup_sock_addr", map_lookup_elem),
#undef H
	};
	char name[96];

	for (size_t i = 0; i < sizeof(h) / sizeof(h[0]); i++) {
		snprintf(name, sizeof(name), "helper:%s:%s", h[i].prog,
			 h[i].name);
		add_libbpf_result(p, name,
				  libbpf_probe_bpf_helper(h[i].type, h[i].id,
							  NULL),
				  "libbpf_probe_bpf_helper");
	}
}

/* A link on an ifindex that does not exist: a kernel that knows the attach
 * type looks the device up and fails with ENODEV; one that does not rejects
 * the attach type with EINVAL first. No device is touched either way. */
static void probe_link(struct probe_ctx *p, const char *name,
		       enum bpf_prog_type ptype, int attach_type,
		       const char *release, int min_maj, int min_min)
{
	int prog, fd, err, ver;

	prog = load_trivial(ptype, ptype == BPF_PROG_TYPE_XDP ? BPF_XDP : 0);
	if (prog < 0) {
		add(p, name, false, "loading a test program: %s",
		    sy_errstr(prog));
		return;
	}
	fd = bpf_link_create(prog, BOGUS_IFINDEX,
			     (enum bpf_attach_type)attach_type, NULL);
	err = fd < 0 ? fd : 0;
	if (fd >= 0)
		close(fd); /* cannot happen: no such device */
	close(prog);
	ver = kernel_at_least(release, min_maj, min_min);
	if (err == -ENODEV)
		add(p, name, true, "BPF_LINK_CREATE(attach_type %d) on a "
		    "missing ifindex: ENODEV, the kernel knows the attach type",
		    attach_type);
	else if (err == -EINVAL || err == -EOPNOTSUPP)
		add(p, name, false, "BPF_LINK_CREATE(attach_type %d) on a "
		    "missing ifindex: %s, attach type unknown", attach_type,
		    sy_errstr(err));
	else
		add(p, name, ver == 1, "BPF_LINK_CREATE inconclusive (%s); by "
		    "kernel version %s (needs >= %d.%d)",
		    err ? sy_errstr(err) : "succeeded", release, min_maj,
		    min_min);
}

/* A cgroup link on a file that is not a cgroup: a kernel that knows the
 * attach type for links checks the target and fails with EBADF; one that
 * does not rejects the attach type first (EINVAL). Nothing is attached. */
static void probe_cgroup_link(struct probe_ctx *p)
{
	int prog, fd, lfd, err;

	prog = load_trivial(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
			    BPF_CGROUP_INET4_CONNECT);
	if (prog < 0) {
		add(p, "attach:cgroup_sock_addr", false, "loading a cgroup/"
		    "connect4 test program: %s", sy_errstr(prog));
		return;
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	lfd = bpf_link_create(prog, fd, BPF_CGROUP_INET4_CONNECT, NULL);
	err = lfd < 0 ? lfd : 0;
	if (lfd >= 0)
		close(lfd); /* cannot happen: not a cgroup */
	if (fd >= 0)
		close(fd);
	close(prog);
	if (err == -EBADF)
		add(p, "attach:cgroup_sock_addr", true, "BPF_LINK_CREATE("
		    "cgroup/connect4) on a non-cgroup fd: EBADF, the kernel "
		    "links sock_addr programs to cgroups");
	else
		add(p, "attach:cgroup_sock_addr", false, "BPF_LINK_CREATE("
		    "cgroup/connect4) on a non-cgroup fd: %s",
		    err ? sy_errstr(err) : "succeeded");
}

int handle_probe(struct loader *L, const PB(ProbeRequest) *req,
		 struct reply *r)
{
	struct probe_ctx p = { .r = r, .req = req };
	PB(ProbeResult) *res;
	struct utsname un;
	struct statfs sfs;
	const char *release = "";

	if (uname(&un) == 0)
		release = un.release;

	probe_prog_types(&p);
	probe_map_types(&p);
	probe_map_in_map(&p);
	probe_batch(&p);
	probe_helpers(&p);
	probe_link(&p, "attach:tcx", BPF_PROG_TYPE_SCHED_CLS,
		   SY_BPF_TCX_INGRESS, release, 6, 6);
	{
		int ok = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS,
						    NULL);

		add(&p, "attach:clsact", ok == 1, "sched_cls programs load; the "
		    "clsact qdisc itself is created per device at attach");
	}
	probe_link(&p, "attach:xdp_link", BPF_PROG_TYPE_XDP, BPF_XDP, release,
		   5, 9);
	probe_cgroup_link(&p);
	add(&p, "program:sy_xdp", L->xdp_prog != NULL, "%s",
	    L->xdp_prog ? "present in the datapath object" :
			  "not in this datapath build");
	add(&p, "program:sy_tc_external", L->tc_ext_prog != NULL,
	    "present in the datapath object");
	for (int i = 0; i < SY_SOCK_PROGS; i++) {
		char name[64];

		snprintf(name, sizeof(name), "program:%s",
			 sy_sock_hooks[i].prog);
		add(&p, name, L->sock_progs[i] != NULL, "cgroup/%s, attached "
		    "by the SOCK_LB hook", sy_sock_hooks[i].pin);
	}
	if (statfs(L->pin_dir, &sfs) == 0)
		add(&p, "fs:bpffs", sfs.f_type == BPF_FS_MAGIC,
		    "%s: f_type 0x%lx", L->pin_dir, (unsigned long)sfs.f_type);
	else
		add(&p, "fs:bpffs", false, "statfs %s: %s", L->pin_dir,
		    sy_errstr(errno));

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__probe_result__init(res);
	res->features = (PB(Feature) **)p.feats.items;
	res->n_features = p.feats.len;
	res->kernel_release = arena_strdup(r->a, release);
	r->resp->result_case = RES(PROBE);
	r->resp->probe = res;
	return CODE(OK);
}
