/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared state of the Switchyard loader daemon: options, the loaded object
 * and its maps. Nothing here knows the wire protocol (handlers.h does). */
#ifndef SY_LOADER_H
#define SY_LOADER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* tcx (kernel >= 6.6) is newer than the uapi headers this builds against;
 * the ABI values are fixed, so they are spelled out here. */
#define SY_BPF_TCX_INGRESS 46   /* enum bpf_attach_type BPF_TCX_INGRESS */
#define SY_BPF_LINK_TYPE_TCX 11 /* enum bpf_link_type BPF_LINK_TYPE_TCX */

/* ---- options and state ------------------------------------------------ */
enum tc_mode { TC_MODE_AUTO, TC_MODE_TCX, TC_MODE_CLSACT };

/* Default map sizes, for 30,000 Services x 10 endpoints (docs/maps.md):
 * frontends (sy_services, sy_revnat) and tables (sy_maglev) 131072,
 * backends 393216 (300,000 + room for rolling updates). sy_svc_stats is
 * per-CPU, so it stays at the object's 65536 unless set explicitly. */
#define SY_DEFAULT_MAX_SERVICES 131072u
#define SY_DEFAULT_MAX_BACKENDS 393216u
#define SY_DEFAULT_SVC_STATS 65536u

struct loader_opts {
	const char *instance;
	const char *socket_path;
	const char *pin_root;
	uint32_t max_services; /* 0 = object default */
	uint32_t max_backends;
	uint32_t ct_max;
	/* --map-max-entries NAME=N: per-map sizes, applied after the ones
	 * above (0 = not set); indexed by enum sy_map_id. */
	uint32_t map_max[32];
	size_t max_message_bytes;
	size_t dump_page_bytes; /* 0: as much as a message holds */
	enum tc_mode tc_mode;
	bool verbose;
};

/* Indexes of the maps the loader itself reads or writes. */
enum sy_map_id {
	SY_MAP_SERVICES,
	SY_MAP_BACKENDS,
	SY_MAP_REVNAT,
	SY_MAP_MAGLEV,
	SY_MAP_CONNTRACK,
	SY_MAP_AFFINITY,
	SY_MAP_ATTACH,
	SY_MAP_CONFIG,
	SY_MAP_COUNTERS,
	SY_MAP_SVC_STATS,
	SY_MAP_SOURCE_RANGES,
	SY_MAP_SOCK_REVNAT,
	SY_MAP_ICMP_RATE,
	SY_MAP_FRAG,
	SY_MAP_DEV_MAC,
	SY_MAP_FIB_CACHE,
	SY_MAP_FIB_GEN,
	/* IPv6 twins (sy_structs.h "IPv6 twins"): one id space with IPv4, so
	 * an id-keyed delete or flush covers both families' maps. */
	SY_MAP_SERVICES6,
	SY_MAP_BACKENDS6,
	SY_MAP_REVNAT6,
	SY_MAP_CONNTRACK6,
	SY_MAP_AFFINITY6,
	SY_MAP_SOURCE_RANGES6,
	SY_MAP_SOCK_REVNAT6,
	SY_MAP_FRAG6,
	SY_MAP_CONFIG6,
	SY_MAP_COUNT
};
_Static_assert(SY_MAP_COUNT <= 32, "loader_opts.map_max too small");

/* The socket-level programs attached together by the SOCK_LB hook: the
 * IPv4 ones, then the IPv6 ones (sy_sock_hooks[]). */
#define SY_SOCK_PROGS 8
struct sy_sock_hook {
	const char *prog;   /* program name in the object */
	const char *pin;    /* link pin: links/sock_<pin>_<escaped cgroup path> */
	int attach_type;    /* enum bpf_attach_type */
};
extern const struct sy_sock_hook sy_sock_hooks[SY_SOCK_PROGS];

struct bpf_object;
struct bpf_map;
struct bpf_program;
struct switchyard;

struct loader {
	struct loader_opts opt;
	char pin_dir[PATH_MAX];
	int pin_dir_lock_fd;       /* flock()ed: one loader per instance */
	struct switchyard *skel;
	struct bpf_object *obj;
	struct bpf_map *maps[SY_MAP_COUNT];
	struct bpf_program *tc_prog;     /* sy_tc_ingress: pod devices */
	struct bpf_program *tc_ext_prog; /* sy_tc_external: external devices */
	struct bpf_program *xdp_prog;    /* sy_xdp, NULL in a build without it */
	/* cgroup sock_addr programs, in the order of sy_sock_hooks[] */
	struct bpf_program *sock_progs[SY_SOCK_PROGS];
	uint64_t requests;
	uint64_t errors;
	bool exit_after_reply;     /* set by cleanup */
	/* Set while migrating pins of another layout version (layout.c): the
	 * directory holding the old map pins; empty otherwise. */
	char layout_old_dir[PATH_MAX];
};

/* map_table.c: the maps and socket hooks the loader knows by name. */
extern const char *const sy_map_names[SY_MAP_COUNT];
int sy_map_fd(struct loader *L, enum sy_map_id id);
/* Entries a bounded walk of the map may visit (map_iter's max_iter). */
uint64_t sy_map_iter_bound(struct loader *L, enum sy_map_id id);

/* ---- modules ------------------------------------------------------------ */
/* datapath.c: open the skeleton, size, reuse pinned maps, load, pin. */
int datapath_open_load(struct loader *L);
void datapath_close(struct loader *L);

/* layout.c: the layout version pinned with the maps, and migration. */
int layout_prepare(struct loader *L);   /* before open: moves old pins aside */
int layout_keep_sizes(struct loader *L); /* after open, before load */
int layout_migrate(struct loader *L);   /* after load and pin */
int layout_write(struct loader *L);

/* pins.c */
int pins_prepare_dir(struct loader *L);
int pins_reuse_maps(struct loader *L);  /* before load */
int pins_pin_maps(struct loader *L);    /* after load */
int pins_map_path(struct loader *L, const char *map_name, char *buf,
		  size_t len);
/* hook: SY_HOOK_TC_INGRESS or SY_HOOK_XDP */
int pins_link_path(struct loader *L, uint32_t hook, const char *ifname,
		   char *buf, size_t len);
int pins_remove_all(struct loader *L, char *err, size_t errlen);
int mkdir_p(const char *path, unsigned int mode);
/* snprintf for paths: -ENAMETOOLONG instead of silent truncation. */
int sy_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* server.c */
int server_run(struct loader *L);

#endif
