// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The only file that includes the generated skeleton: opens the embedded
 * datapath object, sizes its maps, reuses the pinned ones, loads, pins. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "switchyard.skel.h"
#include "loader.h"
#include "log.h"

static int resize(struct bpf_map *map, uint32_t n)
{
	int err;

	if (!n)
		return 0;
	err = bpf_map__set_max_entries(map, n);
	if (err) {
		log_error("%s: set_max_entries(%u): %s", bpf_map__name(map), n,
			  sy_errstr(err));
		return err;
	}
	log_debug("%s: max_entries %u", bpf_map__name(map), n);
	return 0;
}

static int open_load(struct loader *L);

/* A pinned map-in-map keeps the inner-map template it was created with,
 * which bpf_map_info does not show: a sy_maglev pinned by a datapath with
 * another inner layout (the one-u32-per-slot tables before the two-slot
 * elements) passes pins_reuse_maps(), and the verifier then rejects the new
 * programs' accesses to its tables. So if loading with a reused sy_maglev
 * fails, that pin is replaced (its tables are lost; the control plane
 * writes them again) and the load is retried once. */
static int open_load_retry(struct loader *L);

/* The pins' layout version decides: same, reuse them (below); another,
 * migrate them to fresh maps (layout.c). */
int datapath_open_load(struct loader *L)
{
	int err = layout_prepare(L);

	if (!err)
		err = open_load_retry(L);
	if (!err)
		err = layout_migrate(L);
	if (!err)
		err = layout_write(L);
	return err;
}

static int open_load_retry(struct loader *L)
{
	char path[PATH_MAX];
	bool reused;
	int err;

	if (pins_map_path(L, "sy_maglev", path, sizeof(path)))
		return -ENAMETOOLONG;
	reused = access(path, F_OK) == 0;
	err = open_load(L);
	if (!err || !reused || err == -ENOENT)
		return err;
	log_warn("sy_maglev: loading with the pinned map failed (%s); its inner "
		 "map layout may be an older one: recreating it, its tables are "
		 "lost", sy_errstr(err));
	switchyard__destroy(L->skel);
	L->skel = NULL;
	L->obj = NULL;
	if (unlink(path)) {
		err = -errno;
		log_error("unlink %s: %s", path, sy_errstr(err));
		return err;
	}
	return open_load(L);
}

static int open_load(struct loader *L)
{
	int err;

	L->skel = switchyard__open();
	if (!L->skel) {
		err = -errno;
		log_error("opening the datapath object: %s", sy_errstr(err));
		return err ? err : -EINVAL;
	}
	L->obj = L->skel->obj;
	L->tc_prog = L->skel->progs.sy_tc_ingress;
	L->tc_ext_prog = L->skel->progs.sy_tc_external;
	/* Looked up by name so the loader builds before the XDP entry point
	 * exists; attach/test_run report UNSUPPORTED while it is absent. */
	L->xdp_prog = bpf_object__find_program_by_name(L->obj, "sy_xdp");
	for (int i = 0; i < SY_SOCK_PROGS; i++) {
		L->sock_progs[i] = bpf_object__find_program_by_name(
			L->obj, sy_sock_hooks[i].prog);
		if (!L->sock_progs[i]) {
			log_error("datapath object has no program %s",
				  sy_sock_hooks[i].prog);
			return -ENOENT;
		}
	}

	for (int i = 0; i < SY_MAP_COUNT; i++) {
		L->maps[i] = bpf_object__find_map_by_name(L->obj,
							  sy_map_names[i]);
		if (!L->maps[i]) {
			log_error("datapath object has no map %s",
				  sy_map_names[i]);
			return -ENOENT;
		}
	}

	/* One service frontend = one sy_services entry, one sy_revnat entry
	 * and at most one Maglev table. sy_svc_stats is per-CPU (its memory
	 * grows with the CPU count): capped at SY_DEFAULT_SVC_STATS unless
	 * --map-max-entries says otherwise. */
	if ((err = resize(L->maps[SY_MAP_SERVICES], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_REVNAT], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_MAGLEV], L->opt.max_services)) ||
	    /* one stats entry per frontend and hook (tc, xdp, sock) */
	    (err = resize(L->maps[SY_MAP_SVC_STATS],
			  L->opt.max_services > SY_DEFAULT_SVC_STATS / 3 ?
				  SY_DEFAULT_SVC_STATS : L->opt.max_services * 3)) ||
	    (err = resize(L->maps[SY_MAP_BACKENDS], L->opt.max_backends)) ||
	    (err = resize(L->maps[SY_MAP_CONNTRACK], L->opt.ct_max)) ||
	    (err = resize(L->maps[SY_MAP_SOCK_REVNAT], L->opt.ct_max)) ||
	    /* IPv6 twins: sized as their IPv4 maps (--map-max-entries
	     * NAME6=N sets one apart, e.g. small on an IPv4-only node). */
	    (err = resize(L->maps[SY_MAP_SERVICES6], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_REVNAT6], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_BACKENDS6], L->opt.max_backends)) ||
	    (err = resize(L->maps[SY_MAP_CONNTRACK6], L->opt.ct_max)) ||
	    (err = resize(L->maps[SY_MAP_SOCK_REVNAT6], L->opt.ct_max)))
		return err;
	for (int i = 0; i < SY_MAP_COUNT; i++)
		if ((err = resize(L->maps[i], L->opt.map_max[i])))
			return err;

	if (L->layout_old_dir[0] && (err = layout_keep_sizes(L)))
		return err;
	err = pins_reuse_maps(L);
	if (err)
		return err;

	err = switchyard__load(L->skel);
	if (err) {
		log_error("loading the datapath: %s", sy_errstr(err));
		return err;
	}
	log_info("datapath loaded: sy_tc_ingress, sy_tc_external, sy_connect4, "
		 "sy_sendmsg4, sy_recvmsg4, sy_getpeername4, sy_connect6, "
		 "sy_sendmsg6, sy_recvmsg6, sy_getpeername6%s",
		 L->xdp_prog ? ", sy_xdp" : " (no sy_xdp in this build)");

	return pins_pin_maps(L);
}

void datapath_close(struct loader *L)
{
	/* Closes our fds only: pinned maps, pinned links and clsact filters
	 * keep the datapath running. */
	switchyard__destroy(L->skel);
	L->skel = NULL;
	L->obj = NULL;
}
