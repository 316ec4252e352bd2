/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Shared state of the Switchyard loader daemon and short names for the
 * protobuf-c types generated from loader.proto. */
#ifndef SY_LOADER_H
#define SY_LOADER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "loader.pb-c.h"
#include "arena.h"

/* ---- generated names, shortened -------------------------------------- */
#define PB(name) Switchyard__Loader__V1__##name
#define PB_INIT(NAME) SWITCHYARD__LOADER__V1__##NAME##__INIT
#define CODE(name) SWITCHYARD__LOADER__V1__ERROR_CODE__##name
#define REQ_OP(name) SWITCHYARD__LOADER__V1__REQUEST__OP_##name
#define RES(name) SWITCHYARD__LOADER__V1__RESPONSE__RESULT_##name
#define MAPOP(name) SWITCHYARD__LOADER__V1__MAP_OP__OP_##name
#define HOOK(name) SWITCHYARD__LOADER__V1__HOOK__##name
#define ROLE(name) SWITCHYARD__LOADER__V1__ROLE__##name

typedef PB(Request) sy_request;
typedef PB(Response) sy_response;

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
	uint32_t map_max[16];
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
	SY_MAP_COUNT
};
_Static_assert(SY_MAP_COUNT <= 16, "loader_opts.map_max too small");

/* The socket-level programs attached together by the SOCK_LB hook. */
#define SY_SOCK_PROGS 4
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

extern const char *const sy_map_names[SY_MAP_COUNT];

int sy_map_fd(struct loader *L, enum sy_map_id id);

/* ---- reply helpers (dispatch.c) --------------------------------------- */
struct reply {
	sy_response *resp;
	struct arena *a;
};

/* Sets code and a formatted error message; returns code. */
int reply_err(struct reply *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

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
int pins_link_path(struct loader *L, int hook, const char *ifname, char *buf,
		   size_t len);
int pins_remove_all(struct loader *L, char *err, size_t errlen);
int mkdir_p(const char *path, unsigned int mode);
/* snprintf for paths: -ENAMETOOLONG instead of silent truncation. */
int sy_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* server.c */
int server_run(struct loader *L);

/* dispatch.c: one decoded request in, response filled in. */
void dispatch(struct loader *L, const sy_request *req, struct reply *r);

/* handlers */
int handle_probe(struct loader *L, const PB(ProbeRequest) *req,
		 struct reply *r);
int handle_attach(struct loader *L, const PB(AttachRequest) *req,
		  struct reply *r);
int handle_detach(struct loader *L, const PB(DetachRequest) *req,
		  struct reply *r);
int handle_apply(struct loader *L, const PB(ApplyRequest) *req,
		 struct reply *r);
int handle_dump(struct loader *L, const PB(DumpRequest) *req,
		struct reply *r);
int handle_status(struct loader *L, const PB(StatusRequest) *req,
		  struct reply *r);
int handle_cleanup(struct loader *L, const PB(CleanupRequest) *req,
		   struct reply *r);
int handle_test_run(struct loader *L, const PB(TestRunRequest) *req,
		    struct reply *r);
int handle_lookup(struct loader *L, const PB(LookupRequest) *req,
		  struct reply *r);

/* attach.c, used by cleanup */
int attach_list(struct loader *L, struct reply *r, PB(Attachment) ***out,
		size_t *n);
int detach_all(struct loader *L, char *err, size_t errlen);

/* dump.c, used by status and lookup */
PB(MapInfo) *map_info_build(struct loader *L, struct bpf_map *map,
			    struct arena *a, char *err, size_t errlen);
PB(MapInfo) *map_info_fill(struct loader *L, struct bpf_map *map,
			   struct arena *a, bool count_entries, char *err,
			   size_t errlen);
struct bpf_map *find_user_map(struct loader *L, const char *name);
struct bpf_map_info;
int open_read_map(struct loader *L, struct reply *r, const char *op,
		  const char *name, struct bpf_map **map, int *fd,
		  struct bpf_map_info *info);
struct bpf_map_info;
/* How a map's values are read and returned (dumps and lookups alike). */
struct value_form {
	bool maglev;         /* map-in-map: return the inner table */
	bool percpu;         /* sum the per-CPU u64 fields */
	uint32_t value_size; /* bytes one lookup writes */
	uint32_t elem_size;  /* per-CPU maps: one CPU's value */
	uint32_t ncpus;
};
int value_form_of(const struct bpf_map_info *info, struct value_form *f);
int map_value_out(struct arena *a, const struct value_form *f,
		  const void *value, ProtobufCBinaryData *out);

#endif
