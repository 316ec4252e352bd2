/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Request handlers: the only layer that reads protobuf requests and builds
 * protobuf replies. Each turns one request into calls of the kernel-level
 * modules (attach, map writes, Maglev tables, conntrack) and their
 * struct sy_err into the Response. */
#ifndef SY_HANDLERS_H
#define SY_HANDLERS_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "reply.h"

/* dispatch.c: one decoded request in, response filled in. */
void dispatch(struct loader *L, const sy_request *req, struct reply *r);

int handle_probe(struct loader *L, const PB(ProbeRequest) *req,
		 struct reply *r);
int handle_attach(struct loader *L, const PB(AttachRequest) *req,
		  struct reply *r);
int handle_detach(struct loader *L, const PB(DetachRequest) *req,
		  struct reply *r);
int handle_apply(struct loader *L, const PB(ApplyRequest) *req,
		 struct reply *r);
int handle_gc_conntrack(struct loader *L, const PB(GcConntrackRequest) *req,
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

/* attach_handlers.c, used by status */
int attach_list(struct loader *L, struct reply *r, PB(Attachment) ***out,
		size_t *n);

/* apply_validate.c, used by apply */
const char *mapop_name(int op_case);
int apply_validate_op(const PB(MapOp) *op, size_t i, struct reply *r);

/* dump.c, used by status and lookup */
struct bpf_map;
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
