// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The only file that includes the generated skeleton: opens the embedded
 * datapath object, sizes its maps, reuses the pinned ones, loads, pins. */
#include <errno.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "switchyard.skel.h"
#include "loader.h"
#include "log.h"

const char *const sy_map_names[SY_MAP_COUNT] = {
	[SY_MAP_SERVICES] = "sy_services",
	[SY_MAP_BACKENDS] = "sy_backends",
	[SY_MAP_REVNAT] = "sy_revnat",
	[SY_MAP_MAGLEV] = "sy_maglev",
	[SY_MAP_CONNTRACK] = "sy_conntrack",
	[SY_MAP_AFFINITY] = "sy_affinity",
	[SY_MAP_ATTACH] = "sy_attach",
	[SY_MAP_CONFIG] = "sy_config",
};

int sy_map_fd(struct loader *L, enum sy_map_id id)
{
	return bpf_map__fd(L->maps[id]);
}

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

int datapath_open_load(struct loader *L)
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
	/* Looked up by name so the loader builds before the XDP entry point
	 * exists; attach/test_run report UNSUPPORTED while it is absent. */
	L->xdp_prog = bpf_object__find_program_by_name(L->obj, "sy_xdp");

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
	 * and at most one Maglev table. */
	if ((err = resize(L->maps[SY_MAP_SERVICES], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_REVNAT], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_MAGLEV], L->opt.max_services)) ||
	    (err = resize(L->maps[SY_MAP_BACKENDS], L->opt.max_backends)) ||
	    (err = resize(L->maps[SY_MAP_CONNTRACK], L->opt.ct_max)))
		return err;

	err = pins_reuse_maps(L);
	if (err)
		return err;

	err = switchyard__load(L->skel);
	if (err) {
		log_error("loading the datapath: %s", sy_errstr(err));
		return err;
	}
	log_info("datapath loaded: sy_tc_ingress%s",
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
