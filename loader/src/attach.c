// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach / detach of the datapath programs on devices of the loader's
 * network namespace.
 *
 * tc ingress: a tcx bpf_link (kernel >= 6.6) pinned at
 * <pin dir>/links/tc_ingress_<ifname>, or, when the kernel has no tcx, a
 * direct-action filter (handle and priority 0x5359, see clsact_attach()) on
 * the device's clsact qdisc; filters of others are never replaced or deleted.
 * XDP: a bpf_link pinned at <pin dir>/links/xdp_<ifname>, native mode with a
 * fallback to generic (skb) mode.
 * SOCK_LB: four cgroup bpf_links (connect4, sendmsg4, recvmsg4,
 * getpeername4) on a cgroup v2 directory, pinned at
 * <pin dir>/links/sock_<hook>_<escaped cgroup path> ('%' -> "%25",
 * '/' -> "%2F"), so a detach by path finds them even after the cgroup is
 * gone, and status can tell the path. The record in sy_attach is keyed by
 * the cgroup id (the directory's inode number, low 32 bits) and hook
 * SY_HOOK_SOCK_LB. The root of a cgroup hierarchy is always refused.
 *
 * Every attachment is recorded in sy_attach so that a restarted loader, and
 * cleanup, know what exists without any state of their own. Re-attaching
 * updates the pinned link to the currently loaded program (bpf_link_update):
 * that is the upgrade path after a loader restart with a new datapath. An
 * existing attachment keeps its mode (a tc device attached with clsact stays
 * on clsact: switching to tcx would run both programs for a moment). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <net/if.h>
#include <fcntl.h>
#include <libgen.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <net/if_arp.h>
#include <linux/bpf.h>
#include <linux/magic.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "loader.h"
#include "log.h"
#include "map_iter.h"

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

static const char *mode_str(uint32_t mode)
{
	switch (mode) {
	case SY_ATTACH_TCX: return "tcx";
	case SY_ATTACH_CLSACT: return "clsact";
	case SY_ATTACH_XDP_NATIVE: return "xdp-native";
	case SY_ATTACH_XDP_GENERIC: return "xdp-generic";
	case SY_ATTACH_CGROUP: return "cgroup";
	default: return "unknown";
	}
}

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

/* The role of a tc attachment, from the name of the program it runs: the
 * record keeps the program id, and the program says which one it is. */
static int role_of_prog_id(uint32_t id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int fd, role = ROLE(POD);

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return role;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
	    !strcmp(info.name, "sy_tc_external"))
		role = ROLE(EXTERNAL);
	close(fd);
	return role;
}

static int prog_id_of(int prog_fd, uint32_t *id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (!err)
		*id = info.id;
	return err;
}

/* bpf_link_info as the kernel fills it for tcx and xdp links: the union
 * starts at offset 16 and both begin with the ifindex. */
struct link_info_head {
	__u32 type;
	__u32 id;
	__u32 prog_id;
	__u32 pad;
	__u32 ifindex;
	__u32 attach_type;
	__u8 rest[48];
};

static int link_info(int fd, struct link_info_head *li)
{
	__u32 len = sizeof(*li);

	memset(li, 0, sizeof(*li));
	return bpf_obj_get_info_by_fd(fd, li, &len);
}

/* Detaches and unpins a pinned link; absent pins are fine. */
static int remove_link_pin(const char *path)
{
	int fd, err;

	fd = bpf_obj_get(path);
	if (fd >= 0) {
		err = bpf_link_detach(fd);
		if (err && err != -ENOLINK && err != -EINVAL && err != -ENODEV)
			log_warn("bpf_link_detach %s: %s", path,
				 sy_errstr(err));
		close(fd);
	}
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

/* Updates the pinned link at path to prog_fd when it is a live link of the
 * expected type on ifindex. Returns 1 when updated, 0 when there is no
 * usable pin (a stale one is removed), <0 on error. */
static int update_pinned_link(const char *path, uint32_t type,
			      uint32_t ifindex, int prog_fd)
{
	struct link_info_head li;
	int fd, err;

	if (access(path, F_OK))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		log_warn("%s: unusable pin (%s), replacing it", path,
			 sy_errstr(fd));
		return unlink(path) ? -errno : 0;
	}
	err = link_info(fd, &li);
	if (!err && li.type == type && li.ifindex == ifindex) {
		err = bpf_link_update(fd, prog_fd, NULL);
		close(fd);
		if (!err)
			return 1;
		log_warn("%s: bpf_link_update: %s; recreating the link", path,
			 sy_errstr(err));
	} else {
		log_warn("%s: pinned link is stale (type %u ifindex %u, want "
			 "%u/%u); recreating it", path, li.type, li.ifindex,
			 type, ifindex);
		close(fd);
	}
	return remove_link_pin(path);
}

static int create_pinned_link(struct loader *L, const char *path,
			      int prog_fd, uint32_t ifindex, int attach_type,
			      uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	char dir[PATH_MAX];
	int fd, err;

	err = sy_path(dir, sizeof(dir), "%s/links", L->pin_dir);
	if (!err)
		err = mkdir_p(dir, 0700);
	if (err)
		return err;
	fd = bpf_link_create(prog_fd, (int)ifindex,
			     (enum bpf_attach_type)attach_type, &opts);
	if (fd < 0)
		return fd;
	err = bpf_obj_pin(fd, path);
	if (err) /* closing the only reference detaches the link */
		log_warn("pin %s: %s", path, sy_errstr(err));
	close(fd);
	return err;
}

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

static bool prog_is_ours(uint32_t id)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	bool ours = false;
	int fd;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		ours = !strcmp(info.name, "sy_tc_ingress") ||
		       !strcmp(info.name, "sy_tc_external");
	close(fd);
	return ours;
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

static int clsact_detach(uint32_t ifindex)
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

static int record_get(struct loader *L, uint32_t ifindex, uint32_t hook,
		      struct sy_attach_value *val)
{
	struct sy_attach_key key = { .ifindex = ifindex, .hook = hook };

	return bpf_map_lookup_elem(sy_map_fd(L, SY_MAP_ATTACH), &key, val);
}

static int attach_tc(struct loader *L, const char *ifname, uint32_t ifindex,
		     int prog_fd, uint32_t *mode, struct reply *r)
{
	struct sy_attach_value prev;
	char path[PATH_MAX];
	bool use_clsact = L->opt.tc_mode == TC_MODE_CLSACT;
	int err;

	if (pins_link_path(L, HOOK(TC_INGRESS), ifname, path, sizeof(path)))
		return reply_err(r, CODE(INVALID), "attach.ifname: pin path "
				 "too long");
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
		return reply_err(r, CODE(KERNEL), "attach %s: replacing the "
				 "pinned tcx link: %s", ifname, sy_errstr(err));

	if (!use_clsact) {
		err = create_pinned_link(L, path, prog_fd, ifindex,
					 SY_BPF_TCX_INGRESS, 0);
		if (!err) {
			*mode = SY_ATTACH_TCX;
			return 0;
		}
		if (!tcx_fallback_errno(err) || L->opt.tc_mode == TC_MODE_TCX)
			return reply_err(r, tcx_fallback_errno(err) ?
					 CODE(UNSUPPORTED) : CODE(KERNEL),
					 "attach %s: tcx link: %s", ifname,
					 sy_errstr(err));
		log_info("%s: tcx unavailable (%s), using clsact", ifname,
			 sy_errstr(err));
	}
	err = clsact_attach(ifindex, prog_fd);
	if (err)
		return reply_err(r, CODE(KERNEL), "attach %s: clsact filter: %s",
				 ifname, sy_errstr(err));
	*mode = SY_ATTACH_CLSACT;
	return 0;
}

/* sy_dev_mac[ifindex]: the device's own MAC for sy_xdp (frames for other
 * hosts), or cleared (set = 0: XDP does not check unicast frames there). */
static void dev_mac_write(struct loader *L, const char *ifname,
			  uint32_t ifindex, bool set)
{
	struct sy_dev_mac dm = { 0 };
	struct ifreq ifr = { 0 };
	int fd;

	if (ifindex >= bpf_map__max_entries(L->maps[SY_MAP_DEV_MAC])) {
		if (set)
			log_info("%s: ifindex %u beyond sy_dev_mac: XDP leaves "
				 "unicast frames for other hosts to tc", ifname,
				 ifindex);
		return;
	}
	if (set) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0 &&
		    ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER) {
			memcpy(dm.addr, ifr.ifr_hwaddr.sa_data, 6);
			dm.set = 1;
		}
		if (fd >= 0)
			close(fd);
		if (!dm.set)
			log_info("%s: no Ethernet address: XDP leaves unicast "
				 "frames for other hosts to tc", ifname);
	}
	if (bpf_map_update_elem(sy_map_fd(L, SY_MAP_DEV_MAC), &ifindex, &dm,
				BPF_ANY))
		log_warn("%s: sy_dev_mac[%u]: %s", ifname, ifindex,
			 sy_errstr(-errno));
}

static int attach_xdp(struct loader *L, const char *ifname, uint32_t ifindex,
		      int prog_fd, uint32_t *mode, struct reply *r)
{
	struct sy_attach_value prev;
	char path[PATH_MAX];
	int err;

	if (pins_link_path(L, HOOK(XDP), ifname, path, sizeof(path)))
		return reply_err(r, CODE(INVALID), "attach.ifname: pin path "
				 "too long");
	dev_mac_write(L, ifname, ifindex, true);
	err = update_pinned_link(path, BPF_LINK_TYPE_XDP, ifindex, prog_fd);
	if (err == 1) {
		*mode = record_get(L, ifindex, SY_HOOK_XDP, &prev) == 0 ?
				prev.mode : SY_ATTACH_XDP_NATIVE;
		return 0;
	}
	if (err < 0)
		return reply_err(r, CODE(KERNEL), "attach %s: replacing the "
				 "pinned xdp link: %s", ifname,
				 sy_errstr(err));
	err = create_pinned_link(L, path, prog_fd, ifindex, BPF_XDP,
				 XDP_FLAGS_DRV_MODE);
	if (!err) {
		*mode = SY_ATTACH_XDP_NATIVE;
		return 0;
	}
	log_info("%s: native XDP failed (%s), trying generic", ifname,
		 sy_errstr(err));
	err = create_pinned_link(L, path, prog_fd, ifindex, BPF_XDP,
				 XDP_FLAGS_SKB_MODE);
	if (err)
		return reply_err(r, CODE(KERNEL), "attach %s: xdp link: %s",
				 ifname, sy_errstr(err));
	*mode = SY_ATTACH_XDP_GENERIC;
	return 0;
}

/* A device that was deleted and recreated under the same name gets a new
 * ifindex: forget the records of its previous incarnations. */
static void forget_stale_records(struct loader *L, const char *ifname,
				 uint32_t hook, uint32_t ifindex);

/* SOCK_LB (end of this file). */
static int attach_sock(struct loader *L, const PB(AttachRequest) *req,
		       struct reply *r);
static int detach_sock(struct loader *L, const PB(DetachRequest) *req,
		       struct reply *r);
static int sock_unpin_cgid(struct loader *L, uint32_t cgid);
static char *sock_cgroup_path(struct loader *L, struct arena *a,
			      uint32_t cgid);

int handle_attach(struct loader *L, const PB(AttachRequest) *req,
		  struct reply *r)
{
	struct sy_attach_key key = { 0 };
	struct sy_attach_value val = { 0 };
	PB(AttachResult) *res;
	struct bpf_program *prog;
	uint32_t ifindex, mode = 0, prog_id = 0;
	int code, err, prog_fd;

	if ((code = check_hook(r, "attach", req->hook)))
		return code;
	if (req->hook == HOOK(SOCK_LB))
		return attach_sock(L, req, r);
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
	code = req->hook == HOOK(XDP) ?
		       attach_xdp(L, req->ifname, ifindex, prog_fd, &mode, r) :
		       attach_tc(L, req->ifname, ifindex, prog_fd, &mode, r);
	if (code)
		return code;
	err = prog_id_of(prog_fd, &prog_id);
	if (err)
		log_warn("prog info: %s", sy_errstr(err));

	key.ifindex = ifindex;
	key.hook = req->hook == HOOK(XDP) ? SY_HOOK_XDP : SY_HOOK_TC_INGRESS;
	val.mode = mode;
	val.prog_id = prog_id;
	strncpy(val.ifname, req->ifname, sizeof(val.ifname) - 1);
	err = bpf_map_update_elem(sy_map_fd(L, SY_MAP_ATTACH), &key, &val,
				  BPF_ANY);
	if (err)
		/* The program is attached; only the bookkeeping failed. */
		return reply_err(r, CODE(KERNEL), "attach %s: recording in "
				 "sy_attach: %s", req->ifname, sy_errstr(err));
	forget_stale_records(L, req->ifname, key.hook, ifindex);
	log_info("attached %s to %s (ifindex %u) in %s mode, prog id %u",
		 bpf_program__name(prog), req->ifname, ifindex, mode_str(mode),
		 prog_id);

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__attach_result__init(res);
	res->ifindex = ifindex;
	res->mode = arena_strdup(r->a, mode_str(mode));
	res->prog_id = prog_id;
	r->resp->result_case = RES(ATTACH);
	r->resp->attach = res;
	return CODE(OK);
}

/* ---- records ------------------------------------------------------------ */

struct rec {
	struct sy_attach_key key;
	struct sy_attach_value val;
};

struct rec_list {
	struct rec *items;
	size_t n, cap;
};

static int rec_collect(const void *key, const void *value, void *ctx)
{
	struct rec_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rec *p = realloc(l->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->items = p;
		l->cap = cap;
	}
	memcpy(&l->items[l->n].key, key, sizeof(struct sy_attach_key));
	memcpy(&l->items[l->n].val, value, sizeof(struct sy_attach_value));
	l->items[l->n].val.ifname[IF_NAMESIZE - 1] = '\0';
	l->n++;
	return 0;
}

static int rec_list_load(struct loader *L, struct rec_list *l)
{
	return map_iter(sy_map_fd(L, SY_MAP_ATTACH),
			sizeof(struct sy_attach_key),
			sizeof(struct sy_attach_value),
			(uint64_t)bpf_map__max_entries(L->maps[SY_MAP_ATTACH]) *
					2 + 16,
			rec_collect, l);
}

/* Undoes one recorded attachment. Devices that no longer exist are fine:
 * their tcx/xdp links died with them, and so did their clsact filters. */
static int detach_rec(struct loader *L, const struct rec *rec)
{
	char path[PATH_MAX], name[IF_NAMESIZE];
	int hook = rec->key.hook == SY_HOOK_XDP ? HOOK(XDP) : HOOK(TC_INGRESS);
	int err = 0;

	if (rec->key.hook == SY_HOOK_SOCK_LB) {
		err = sock_unpin_cgid(L, rec->key.ifindex);
	} else if (rec->val.mode == SY_ATTACH_CLSACT) {
		/* Only if the ifindex still names the recorded device. */
		if (if_indextoname(rec->key.ifindex, name) &&
		    !strcmp(name, rec->val.ifname))
			err = clsact_detach(rec->key.ifindex);
	} else if (pins_link_path(L, hook, rec->val.ifname, path,
				  sizeof(path)) == 0) {
		err = remove_link_pin(path);
	}
	if (err)
		return err;
	if (rec->key.hook == SY_HOOK_XDP)
		dev_mac_write(L, rec->val.ifname, rec->key.ifindex, false);
	err = bpf_map_delete_elem(sy_map_fd(L, SY_MAP_ATTACH), &rec->key);
	if (err == -ENOENT)
		err = 0;
	if (!err)
		log_info("detached %s from %s (ifindex %u, %s)",
			 rec->key.hook == SY_HOOK_XDP ? "sy_xdp" :
			 rec->key.hook == SY_HOOK_SOCK_LB ? "the socket programs" :
							     "the tc program",
			 rec->val.ifname, rec->key.ifindex,
			 mode_str(rec->val.mode));
	return err;
}

static void forget_stale_records(struct loader *L, const char *ifname,
				 uint32_t hook, uint32_t ifindex)
{
	struct rec_list l = { 0 };

	if (rec_list_load(L, &l) >= 0) {
		for (size_t i = 0; i < l.n; i++) {
			const struct rec *rec = &l.items[i];

			if (rec->key.hook != hook || rec->key.ifindex == ifindex ||
			    strcmp(rec->val.ifname, ifname))
				continue;
			log_info("forgetting stale record of %s (old ifindex %u)",
				 ifname, rec->key.ifindex);
			bpf_map_delete_elem(sy_map_fd(L, SY_MAP_ATTACH),
					    &rec->key);
		}
	}
	free(l.items);
}

int handle_detach(struct loader *L, const PB(DetachRequest) *req,
		  struct reply *r)
{
	struct rec_list l = { 0 };
	struct rec found = { 0 };
	bool have = false;
	uint32_t hook, ifindex;
	char path[PATH_MAX];
	int code, err;

	if ((code = check_hook(r, "detach", req->hook)))
		return code;
	if (req->hook == HOOK(SOCK_LB))
		return detach_sock(L, req, r);
	if ((code = check_ifname(r, "detach", req->ifname)))
		return code;
	hook = req->hook == HOOK(XDP) ? SY_HOOK_XDP : SY_HOOK_TC_INGRESS;
	ifindex = if_nametoindex(req->ifname);

	err = rec_list_load(L, &l);
	if (err < 0) {
		free(l.items);
		return reply_err(r, CODE(KERNEL), "detach: reading sy_attach: "
				 "%s", sy_errstr(err));
	}
	/* By ifindex first (renamed devices), then by recorded name (devices
	 * that are gone). */
	for (size_t i = 0; i < l.n && !have; i++)
		if (l.items[i].key.hook == hook && ifindex &&
		    l.items[i].key.ifindex == ifindex) {
			found = l.items[i];
			have = true;
		}
	for (size_t i = 0; i < l.n && !have; i++)
		if (l.items[i].key.hook == hook &&
		    !strcmp(l.items[i].val.ifname, req->ifname)) {
			found = l.items[i];
			have = true;
		}
	free(l.items);

	if (pins_link_path(L, req->hook, req->ifname, path, sizeof(path)))
		return reply_err(r, CODE(INVALID), "detach.ifname: pin path "
				 "too long");
	if (!have) {
		if (access(path, F_OK) == 0) {
			/* Pinned but never recorded (interrupted attach). */
			err = remove_link_pin(path);
			if (err)
				return reply_err(r, CODE(KERNEL), "detach %s: "
						 "%s", req->ifname,
						 sy_errstr(err));
			return CODE(OK);
		}
		if (!ifindex)
			return reply_err(r, CODE(NOT_FOUND), "detach.ifname: no "
					 "device '%s' and nothing recorded for "
					 "it", req->ifname);
		return CODE(OK); /* not attached: nothing to do */
	}
	err = detach_rec(L, &found);
	if (err)
		return reply_err(r, CODE(KERNEL), "detach %s: %s", req->ifname,
				 sy_errstr(err));
	return CODE(OK);
}

int attach_list(struct loader *L, struct reply *r, PB(Attachment) ***out,
		size_t *n)
{
	struct rec_list l = { 0 };
	PB(Attachment) **arr;
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
		if (a->hook == HOOK(SOCK_LB))
			a->cgroup_path = sock_cgroup_path(L, r->a,
							  a->ifindex);
		a->mode = arena_strdup(r->a, mode_str(l.items[i].val.mode));
		a->prog_id = l.items[i].val.prog_id;
		if (a->hook == HOOK(TC_INGRESS))
			a->role = role_of_prog_id(a->prog_id);
		arr[i] = a;
	}
	*out = arr;
	*n = l.n;
	free(l.items);
	return CODE(OK);
}

int detach_all(struct loader *L, char *errbuf, size_t errlen)
{
	struct rec_list l = { 0 };
	char dir[PATH_MAX];
	int err, ret = 0;

	err = rec_list_load(L, &l);
	if (err < 0) {
		snprintf(errbuf, errlen, "reading sy_attach: %s",
			 sy_errstr(err));
		free(l.items);
		return err;
	}
	for (size_t i = 0; i < l.n; i++) {
		err = detach_rec(L, &l.items[i]);
		if (err) {
			snprintf(errbuf, errlen, "detach %s: %s",
				 l.items[i].val.ifname, sy_errstr(err));
			ret = err;
		}
	}
	free(l.items);

	/* Links pinned but never recorded. */
	if (sy_path(dir, sizeof(dir), "%s/links", L->pin_dir))
		return -ENAMETOOLONG;
	{
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			char path[PATH_MAX];

			if (de->d_name[0] == '.')
				continue;
			err = sy_path(path, sizeof(path), "%s/%s", dir,
				      de->d_name);
			if (!err)
				err = remove_link_pin(path);
			if (err) {
				snprintf(errbuf, errlen, "unpin %s: %s", path,
					 sy_errstr(err));
				ret = err;
			}
		}
		if (d)
			closedir(d);
	}
	return ret;
}

/* ---- SOCK_LB: cgroup sock_addr programs ---------------------------------- */

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#define SOCK_PIN_PREFIX "sock_"

/* '%' -> "%25", '/' -> "%2F": a path as one bpffs file name. */
static int escape_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p; p++) {
		const char *rep = *p == '%' ? "%25" : *p == '/' ? "%2F" : NULL;
		size_t n = rep ? 3 : 1;

		if (o + n >= len)
			return -ENAMETOOLONG;
		if (rep)
			memcpy(out + o, rep, 3);
		else
			out[o] = *p;
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static void unescape_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 1 < len; p++) {
		if (!strncmp(p, "%25", 3)) {
			out[o++] = '%';
			p += 2;
		} else if (!strncmp(p, "%2F", 3)) {
			out[o++] = '/';
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static int sock_link_path(struct loader *L, int i, const char *cgpath,
			  char *buf, size_t len)
{
	char esc[NAME_MAX + 1];

	if (escape_path(cgpath, esc, sizeof(esc) - 32))
		return -ENAMETOOLONG;
	return sy_path(buf, len, "%s/links/" SOCK_PIN_PREFIX "%s_%s",
		       L->pin_dir, sy_sock_hooks[i].pin, esc);
}

/* Lexical normalisation for a path that no longer exists: no repeated or
 * trailing slashes. */
static void normalize_path(const char *in, char *out, size_t len)
{
	size_t o = 0;

	for (const char *p = in; *p && o + 1 < len; p++) {
		if (*p == '/' && o > 0 && out[o - 1] == '/')
			continue;
		out[o++] = *p;
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
}

/* Validates op.cgroup_path into canon (the real path when it exists).
 * Refuses anything that is not a cgroup v2 directory below the root of its
 * hierarchy. Returns 0 or the reply code; *exists says whether it exists. */
static int check_cgroup_path(struct reply *r, const char *op,
			     const char *given, char *canon, bool must_exist,
			     bool *exists)
{
	char parent[PATH_MAX];
	struct statfs sfs;

	if (!given || !given[0])
		return reply_err(r, CODE(INVALID), "%s.cgroup_path: required for "
				 "the SOCK_LB hook", op);
	if (given[0] != '/')
		return reply_err(r, CODE(INVALID), "%s.cgroup_path: '%s' is not "
				 "an absolute path", op, given);
	*exists = realpath(given, canon) != NULL;
	if (!*exists) {
		if (must_exist)
			return reply_err(r, CODE(NOT_FOUND), "%s.cgroup_path: "
					 "'%s': %s", op, given,
					 strerror(errno));
		normalize_path(given, canon, PATH_MAX);
	}
	if (!strcmp(canon, "/") || !strcmp(canon, "/sys/fs/cgroup") ||
	    !strcmp(canon, "/sys/fs/cgroup/unified"))
		return reply_err(r, CODE(INVALID), "%s.cgroup_path: '%s' is a "
				 "root cgroup; attach to a cgroup below it", op,
				 given);
	if (!*exists)
		return 0;
	if (statfs(canon, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return reply_err(r, CODE(INVALID), "%s.cgroup_path: '%s' is not "
				 "a cgroup v2 directory", op, given);
	snprintf(parent, sizeof(parent), "%s", canon);
	if (statfs(dirname(parent), &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return reply_err(r, CODE(INVALID), "%s.cgroup_path: '%s' is the "
				 "root of a cgroup v2 hierarchy; attach to a "
				 "cgroup below it", op, given);
	return 0;
}

/* Low 32 bits of the cgroup id a pinned cgroup link is on (0: none, gone,
 * or not a cgroup link). */
static uint32_t pinned_link_cgid(const char *path)
{
	struct link_info_head li;
	int fd = bpf_obj_get(path);
	uint32_t id = 0;

	if (fd < 0)
		return 0;
	if (link_info(fd, &li) == 0 && li.type == BPF_LINK_TYPE_CGROUP)
		id = li.ifindex; /* the union's cgroup_id, low half */
	close(fd);
	return id;
}

static void sock_record_delete(struct loader *L, uint32_t cgid)
{
	struct sy_attach_key key = { .ifindex = cgid,
				     .hook = SY_HOOK_SOCK_LB };

	bpf_map_delete_elem(sy_map_fd(L, SY_MAP_ATTACH), &key);
}

static int attach_sock(struct loader *L, const PB(AttachRequest) *req,
		       struct reply *r)
{
	struct sy_attach_key key = { 0 };
	struct sy_attach_value val = { 0 };
	char canon[PATH_MAX], path[PATH_MAX], base[PATH_MAX];
	bool exists, created[SY_SOCK_PROGS] = { false };
	PB(AttachResult) *res;
	uint32_t cgid, prog_id = 0;
	struct stat st;
	int code, err = 0, cg_fd, i;

	code = check_cgroup_path(r, "attach", req->cgroup_path, canon, true,
				 &exists);
	if (code)
		return code;
	cg_fd = open(canon, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg_fd < 0 || fstat(cg_fd, &st)) {
		err = -errno;
		if (cg_fd >= 0)
			close(cg_fd);
		return reply_err(r, CODE(KERNEL), "attach %s: open: %s", canon,
				 sy_errstr(err));
	}
	cgid = (uint32_t)st.st_ino;

	for (i = 0; i < SY_SOCK_PROGS; i++) {
		int prog_fd = bpf_program__fd(L->sock_progs[i]);
		uint32_t old;

		if (sock_link_path(L, i, canon, path, sizeof(path))) {
			code = reply_err(r, CODE(INVALID), "attach.cgroup_path: "
					 "too long for a link pin name");
			break;
		}
		/* A cgroup re-created under the same path: its old record
		 * goes (the stale link is replaced below). */
		old = pinned_link_cgid(path);
		if (old && old != cgid)
			sock_record_delete(L, old);
		err = update_pinned_link(path, BPF_LINK_TYPE_CGROUP, cgid,
					 prog_fd);
		if (err == 1)
			continue;
		if (err == 0) {
			err = create_pinned_link(L, path, prog_fd,
						 (uint32_t)cg_fd,
						 sy_sock_hooks[i].attach_type,
						 0);
			if (!err) {
				created[i] = true;
				continue;
			}
		}
		code = reply_err(r, CODE(KERNEL), "attach %s: %s link: %s",
				 canon, sy_sock_hooks[i].pin, sy_errstr(err));
		break;
	}
	close(cg_fd);
	if (code) {
		/* All or nothing: undo the links this request created. */
		for (int j = 0; j < SY_SOCK_PROGS; j++)
			if (created[j] &&
			    !sock_link_path(L, j, canon, path, sizeof(path)))
				remove_link_pin(path);
		return code;
	}

	err = prog_id_of(bpf_program__fd(L->sock_progs[0]), &prog_id);
	if (err)
		log_warn("prog info: %s", sy_errstr(err));
	key.ifindex = cgid;
	key.hook = SY_HOOK_SOCK_LB;
	val.mode = SY_ATTACH_CGROUP;
	val.prog_id = prog_id;
	snprintf(base, sizeof(base), "%s", canon);
	strncpy(val.ifname, basename(base), sizeof(val.ifname) - 1);
	err = bpf_map_update_elem(sy_map_fd(L, SY_MAP_ATTACH), &key, &val,
				  BPF_ANY);
	if (err)
		return reply_err(r, CODE(KERNEL), "attach %s: recording in "
				 "sy_attach: %s", canon, sy_errstr(err));
	log_info("attached the socket programs (connect4, sendmsg4, recvmsg4, "
		 "getpeername4) to cgroup %s (id %u)", canon, cgid);

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__attach_result__init(res);
	res->ifindex = cgid;
	res->mode = arena_strdup(r->a, mode_str(SY_ATTACH_CGROUP));
	res->prog_id = prog_id;
	r->resp->result_case = RES(ATTACH);
	r->resp->attach = res;
	return CODE(OK);
}

static int detach_sock(struct loader *L, const PB(DetachRequest) *req,
		       struct reply *r)
{
	char canon[PATH_MAX], path[PATH_MAX];
	uint32_t cgid = 0;
	bool exists, found = false;
	struct stat st;
	int code, err;

	code = check_cgroup_path(r, "detach", req->cgroup_path, canon, false,
				 &exists);
	if (code)
		return code;
	if (exists && stat(canon, &st) == 0)
		cgid = (uint32_t)st.st_ino;
	for (int i = 0; i < SY_SOCK_PROGS; i++) {
		uint32_t id;

		if (sock_link_path(L, i, canon, path, sizeof(path)))
			return reply_err(r, CODE(INVALID), "detach.cgroup_path: "
					 "too long for a link pin name");
		if (access(path, F_OK))
			continue;
		found = true;
		id = pinned_link_cgid(path);
		if (id && !cgid)
			cgid = id;
		err = remove_link_pin(path);
		if (err)
			return reply_err(r, CODE(KERNEL), "detach %s: %s", canon,
					 sy_errstr(err));
	}
	if (cgid) {
		sock_record_delete(L, cgid);
	} else if (found) {
		/* The cgroup is gone and so is its id: forget the records of
		 * that directory name no remaining link pin refers to. */
		struct rec_list l = { 0 };
		char base[PATH_MAX];

		snprintf(base, sizeof(base), "%s", canon);
		if (rec_list_load(L, &l) >= 0)
			for (size_t i = 0; i < l.n; i++) {
				struct rec *rec = &l.items[i];

				if (rec->key.hook == SY_HOOK_SOCK_LB &&
				    !strncmp(rec->val.ifname, basename(base),
					     sizeof(rec->val.ifname) - 1) &&
				    !sock_cgroup_path(L, r->a, rec->key.ifindex))
					sock_record_delete(L, rec->key.ifindex);
			}
		free(l.items);
	}
	if (!found && !exists)
		return reply_err(r, CODE(NOT_FOUND), "detach.cgroup_path: no "
				 "cgroup '%s' and nothing attached for it",
				 req->cgroup_path);
	if (found)
		log_info("detached the socket programs from cgroup %s", canon);
	return CODE(OK);
}

/* Calls fn for every socket link pin (links/sock_*). */
static int sock_pins_each(struct loader *L,
			  int (*fn)(const char *path, const char *name,
				    void *ctx),
			  void *ctx)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (sy_path(dir, sizeof(dir), "%s/links", L->pin_dir))
		return -ENAMETOOLONG;
	d = opendir(dir);
	if (!d)
		return 0;
	while (!ret && (de = readdir(d))) {
		if (strncmp(de->d_name, SOCK_PIN_PREFIX,
			    strlen(SOCK_PIN_PREFIX)))
			continue;
		if (sy_path(path, sizeof(path), "%s/%s", dir, de->d_name))
			continue;
		ret = fn(path, de->d_name, ctx);
	}
	closedir(d);
	return ret;
}

struct cgid_ctx {
	uint32_t cgid;
	char *found;     /* sock_cgroup_path: the unescaped path */
	size_t len;
	int err;
};

static int unpin_if_cgid(const char *path, const char *name, void *ctx_)
{
	struct cgid_ctx *ctx = ctx_;
	int err;

	(void)name;
	if (pinned_link_cgid(path) != ctx->cgid)
		return 0;
	err = remove_link_pin(path);
	if (err)
		ctx->err = err;
	return 0;
}

/* The links of a recorded cgroup (detach_rec: cleanup). Links whose cgroup
 * is gone no longer tell their cgroup; cleanup's sweep of links/ gets them. */
static int sock_unpin_cgid(struct loader *L, uint32_t cgid)
{
	struct cgid_ctx ctx = { .cgid = cgid };
	int err = sock_pins_each(L, unpin_if_cgid, &ctx);

	return err ? err : ctx.err;
}

static int path_if_cgid(const char *path, const char *name, void *ctx_)
{
	static const char pfx[] = SOCK_PIN_PREFIX "connect4_";
	struct cgid_ctx *ctx = ctx_;

	if (strncmp(name, pfx, sizeof(pfx) - 1) ||
	    pinned_link_cgid(path) != ctx->cgid)
		return 0;
	unescape_path(name + sizeof(pfx) - 1, ctx->found, ctx->len);
	return 1;
}

/* The path a recorded cgroup was attached with, from its connect4 link pin
 * (NULL if the pin or the cgroup is gone). */
static char *sock_cgroup_path(struct loader *L, struct arena *a, uint32_t cgid)
{
	char buf[PATH_MAX];
	struct cgid_ctx ctx = { .cgid = cgid, .found = buf,
				.len = sizeof(buf) };

	if (sock_pins_each(L, path_if_cgid, &ctx) != 1)
		return NULL;
	return arena_strdup(a, buf);
}
