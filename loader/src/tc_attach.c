// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* tc ingress: a tcx bpf_link (kernel >= 6.6) pinned at
 * <pin dir>/links/tc_ingress_<ifname>, or, when the kernel has no tcx, a
 * direct-action filter (handle and priority 0x5359, see clsact_attach()) on
 * the device's clsact qdisc; filters of others are never replaced or deleted.
 * An existing attachment keeps its mode (a tc device attached with clsact
 * stays on clsact: switching to tcx would run both programs for a moment). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "tc_attach.h"
#include "attach_records.h"
#include "link_pins.h"
#include "log.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* Our clsact filter has a handle and a priority of its own, so that
 * neither attach (BPF_TC_F_REPLACE) nor detach can ever hit a filter that
 * another program (a CNI, a policy engine, an operator) put there: tc(8)
 * numbers filters from priority 49152 downwards, libbpf and most CNIs use
 * handle 1 priority 1. An untouched packet returns TC_ACT_UNSPEC from our
 * program, so the filters after ours still run. Loaders before this one
 * used handle 1, priority 1: a filter of ours found there is moved. */
#define SY_CLSACT_HANDLE 0x5359u /* "SY" */
#define SY_CLSACT_PRIO   0x5359u
#define SY_CLSACT_LEGACY_HANDLE 1u
#define SY_CLSACT_LEGACY_PRIO   1u

/* The name of program id into name (BPF_OBJ_NAME_LEN bytes); "" when the
 * program is gone. */
static void prog_name_of(uint32_t id, char *name)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd;

	name[0] = '\0';
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	close(fd);
}

static bool prog_is_ours(uint32_t id)
{
	char name[BPF_OBJ_NAME_LEN];

	prog_name_of(id, name);
	return !strcmp(name, "sy_tc_ingress") || !strcmp(name, "sy_tc_external");
}

/* The program of the ingress filter at (handle, prio): 0 and *id, -ENOENT
 * when there is none, <0 on error. */
static int clsact_query(uint32_t ifindex, uint32_t handle, uint32_t prio,
			uint32_t *id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
	int err;

	err = bpf_tc_query(&hook, &opts);
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL)
		return -ENOENT;
	if (!err)
		*id = opts.prog_id;
	return err;
}

/* Deletes the filter at (handle, prio) only if it runs one of our
 * programs; anything else there is left alone. */
static int clsact_detach_at(uint32_t ifindex, uint32_t handle, uint32_t prio)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = prio);
	uint32_t id = 0;
	int err;

	err = clsact_query(ifindex, handle, prio, &id);
	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	if (!prog_is_ours(id)) {
		log_info("ifindex %u: clsact filter handle %u prio %u runs "
			 "program %u, not ours: left alone", ifindex, handle,
			 prio, id);
		return 0;
	}
	err = bpf_tc_detach(&hook, &opts);
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL)
		return 0;
	return err;
}

static int clsact_attach(uint32_t ifindex, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)ifindex,
		    .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = SY_CLSACT_HANDLE,
		    .priority = SY_CLSACT_PRIO, .prog_fd = prog_fd,
		    .flags = BPF_TC_F_REPLACE);
	uint32_t id = 0;
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	/* Replace only our own filter. */
	err = clsact_query(ifindex, SY_CLSACT_HANDLE, SY_CLSACT_PRIO, &id);
	if (!err && !prog_is_ours(id)) {
		log_error("ifindex %u: clsact filter handle %u prio %u belongs "
			  "to program %u, not ours: not replacing it", ifindex,
			  SY_CLSACT_HANDLE, SY_CLSACT_PRIO, id);
		return -EEXIST;
	}
	if (err && err != -ENOENT)
		return err;
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		return err;
	/* A filter of an older loader at the old place would run the
	 * program twice. */
	err = clsact_detach_at(ifindex, SY_CLSACT_LEGACY_HANDLE,
			       SY_CLSACT_LEGACY_PRIO);
	if (err)
		log_warn("ifindex %u: removing the filter of an older loader "
			 "(handle 1, prio 1): %s", ifindex, sy_errstr(err));
	return 0;
}

int tc_clsact_detach(uint32_t ifindex)
{
	int err;

	/* Only our filters: the clsact qdisc may carry other people's, and
	 * the qdisc itself stays. */
	err = clsact_detach_at(ifindex, SY_CLSACT_HANDLE, SY_CLSACT_PRIO);
	if (!err)
		err = clsact_detach_at(ifindex, SY_CLSACT_LEGACY_HANDLE,
				       SY_CLSACT_LEGACY_PRIO);
	return err;
}

static bool tcx_fallback_errno(int err)
{
	return err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP;
}

bool tc_prog_is_external(uint32_t id)
{
	char name[BPF_OBJ_NAME_LEN];

	prog_name_of(id, name);
	return !strcmp(name, "sy_tc_external");
}

int tc_attach(struct loader *L, const char *ifname, uint32_t ifindex,
	      int prog_fd, uint32_t *mode, struct sy_err *e)
{
	struct sy_attach_value prev;
	char path[PATH_MAX];
	bool use_clsact = L->opt.tc_mode == TC_MODE_CLSACT;
	int err;

	if (pins_link_path(L, SY_HOOK_TC_INGRESS, ifname, path, sizeof(path)))
		return sy_err_set(e, SY_ERR_INVALID, -ENAMETOOLONG,
				  "attach.ifname: pin path too long");
	/* An existing attachment keeps its mode whatever --tc-mode says:
	 * adding the other kind would run the program twice. A live tcx link
	 * pin is updated in place (the upgrade path). */
	if (record_get(L, ifindex, SY_HOOK_TC_INGRESS, &prev) == 0 &&
	    prev.mode == SY_ATTACH_CLSACT && access(path, F_OK))
		use_clsact = true;
	err = update_pinned_link(path, SY_BPF_LINK_TYPE_TCX, ifindex, prog_fd);
	if (err == 1) {
		*mode = SY_ATTACH_TCX;
		log_info("%s: tcx link updated to the current program", ifname);
		return 0;
	}
	if (err < 0)
		return sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: replacing "
				  "the pinned tcx link: %s", ifname,
				  sy_errstr(err));

	if (!use_clsact) {
		err = create_pinned_link(L, path, prog_fd, ifindex,
					 SY_BPF_TCX_INGRESS, 0);
		if (!err) {
			*mode = SY_ATTACH_TCX;
			return 0;
		}
		if (!tcx_fallback_errno(err) || L->opt.tc_mode == TC_MODE_TCX)
			return sy_err_set(e, tcx_fallback_errno(err) ?
					  SY_ERR_UNSUPPORTED : SY_ERR_KERNEL,
					  err, "attach %s: tcx link: %s",
					  ifname, sy_errstr(err));
		log_info("%s: tcx unavailable (%s), using clsact", ifname,
			 sy_errstr(err));
	}
	err = clsact_attach(ifindex, prog_fd);
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "attach %s: clsact "
				  "filter: %s", ifname, sy_errstr(err));
	*mode = SY_ATTACH_CLSACT;
	return 0;
}
