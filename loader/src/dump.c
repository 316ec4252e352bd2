// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* dump and status: map metadata and raw entries, straight from the kernel. */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "loader.h"
#include "log.h"
#include "map_iter.h"

static uint64_t iter_bound(uint32_t max_entries)
{
	return (uint64_t)max_entries * 2 + 1024;
}

static int count_cb(const void *key, const void *value, void *ctx)
{
	(void)key;
	(void)value;
	(*(uint32_t *)ctx)++;
	return 0;
}

PB(MapInfo) *map_info_build(struct loader *L, struct bpf_map *map,
			    struct arena *a, char *err, size_t errlen)
{
	PB(MapInfo) *mi = arena_alloc(a, sizeof(*mi));
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	const char *type;
	char path[PATH_MAX];
	int fd = bpf_map__fd(map), ret;
	uint32_t count = 0;

	switchyard__loader__v1__map_info__init(mi);
	memset(&info, 0, sizeof(info));
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (ret) {
		snprintf(err, errlen, "%s: bpf_obj_get_info_by_fd: %s",
			 bpf_map__name(map), sy_errstr(ret));
		return NULL;
	}
	mi->name = arena_strdup(a, bpf_map__name(map));
	type = libbpf_bpf_map_type_str(info.type);
	mi->type = type ? arena_strdup(a, type) :
			  arena_printf(a, "type_%u", info.type);
	mi->key_size = info.key_size;
	mi->value_size = info.value_size;
	mi->max_entries = info.max_entries;
	mi->id = info.id;
	if (pins_map_path(L, bpf_map__name(map), path, sizeof(path)) == 0 &&
	    access(path, F_OK) == 0)
		mi->pin_path = arena_strdup(a, path);
	ret = map_iter(fd, info.key_size, 0, iter_bound(info.max_entries),
		       count_cb, &count);
	if (ret < 0) {
		snprintf(err, errlen, "%s: counting entries: %s",
			 bpf_map__name(map), sy_errstr(ret));
		return NULL;
	}
	mi->entries = count;
	return mi;
}

/* ---- dump --------------------------------------------------------------- */

struct dump_ctx {
	struct arena *a;
	struct ptr_vec entries;
	uint32_t limit;
	uint32_t count;
	size_t budget, used;
	bool truncated;
	bool maglev;
	bool percpu;
	uint32_t key_size, value_size; /* value_size: bytes per lookup */
	uint32_t elem_size;            /* per-CPU maps: one CPU's value */
	uint32_t ncpus;
};

/* A per-CPU lookup returns one value per possible CPU, each rounded up to
 * 8 bytes. The dump returns their sum in the value's own layout: every
 * value of these maps is a sequence of u64 counters (sy_counters: one,
 * sy_svc_stats: packets, bytes), summed field by field. */
static void *percpu_sum(struct arena *a, const void *value, uint32_t elem,
			uint32_t ncpus)
{
	uint32_t stride = (elem + 7) & ~7u, words = elem / 8;
	uint64_t *sum = arena_alloc(a, elem ? elem : 1);

	for (uint32_t c = 0; c < ncpus; c++) {
		const uint8_t *v = (const uint8_t *)value + (size_t)c * stride;

		for (uint32_t w = 0; w < words; w++) {
			uint64_t x;

			memcpy(&x, v + (size_t)w * 8, 8);
			sum[w] += x;
		}
	}
	return sum;
}

/* The table size M of an inner Maglev map of n two-slot elements. The
 * loader names its inner maps sy_mg_<M>; without that name (a map written
 * by someone else) M follows from n because M is prime: 2n - 1, or 2 for
 * n == 1 (1 is not prime). */
static uint32_t inner_table_size(const struct bpf_map_info *info)
{
	uint32_t n = info->max_entries, m;
	char *end;

	if (!strncmp(info->name, "sy_mg_", 6)) {
		m = (uint32_t)strtoul(info->name + 6, &end, 10);
		if (*end == '\0' && m && (m + 1) / 2 == n)
			return m;
	}
	return n == 1 ? 2 : 2 * n - 1;
}

/* Reads the inner Maglev table behind an outer value (a map id) as M
 * little-endian u32. Returns 0 and fills *out, 1 when the table vanished
 * meanwhile, <0 on error. */
static int read_inner_table(struct arena *a, uint32_t id,
			    ProtobufCBinaryData *out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	struct bpf_map_info info;
	__u32 len = sizeof(info), n, m, count, batch;
	struct sy_maglev_slots *pairs = NULL;
	uint32_t *keys = NULL, *vals;
	int fd, err;

	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return fd == -ENOENT ? 1 : fd;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err)
		goto out;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != 4 ||
	    info.value_size != sizeof(struct sy_maglev_slots) ||
	    info.max_entries == 0) {
		err = -EINVAL;
		goto out;
	}
	n = info.max_entries;
	m = inner_table_size(&info);
	keys = malloc((size_t)n * 4 + 4);
	pairs = malloc((size_t)n * sizeof(*pairs));
	if (!keys || !pairs) {
		err = -ENOMEM;
		goto out;
	}
	count = n;
	err = bpf_map_lookup_batch(fd, NULL, &batch, keys, pairs, &count,
				   &bopts);
	if (err == -ENOENT && count == n)
		err = 0; /* whole array in one batch */
	if (err || count != n) {
		err = 0; /* no batch support: one lookup per element */
		for (uint32_t i = 0; i < n && !err; i++)
			err = bpf_map_lookup_elem(fd, &i, &pairs[i]);
		if (err)
			goto out;
	}
	/* The protocol wants little-endian u32s: the host order on every
	 * architecture the datapath supports, converted to be explicit. */
	vals = arena_alloc(a, (size_t)m * 4 + 1);
	for (uint32_t s = 0; s < m; s++)
		vals[s] = htole32(pairs[s / 2].ids[s & 1]);
	out->data = (uint8_t *)vals;
	out->len = (size_t)m * 4;
out:
	free(keys);
	free(pairs);
	close(fd);
	return err;
}

static int dump_cb(const void *key, const void *value, void *ctx_)
{
	struct dump_ctx *ctx = ctx_;
	PB(MapEntry) *e;
	int err;

	ctx->count++;
	if (ctx->truncated || (ctx->limit && ctx->entries.len >= ctx->limit))
		return 0;
	e = arena_alloc(ctx->a, sizeof(*e));
	switchyard__loader__v1__map_entry__init(e);
	e->key.data = arena_memdup(ctx->a, key, ctx->key_size);
	e->key.len = ctx->key_size;
	if (ctx->maglev) {
		err = read_inner_table(ctx->a, *(const uint32_t *)value,
				       &e->value);
		if (err > 0)
			return 0; /* table replaced meanwhile: skip */
		if (err < 0)
			return err;
	} else if (ctx->percpu) {
		e->value.data = percpu_sum(ctx->a, value, ctx->elem_size,
					   ctx->ncpus);
		e->value.len = ctx->elem_size;
	} else {
		e->value.data = arena_memdup(ctx->a, value, ctx->value_size);
		e->value.len = ctx->value_size;
	}
	/* Keep the response under the message limit: stop adding entries
	 * (MapInfo.entries still tells the real count). */
	ctx->used += e->key.len + e->value.len + 16;
	if (ctx->used > ctx->budget) {
		ctx->truncated = true;
		return 0;
	}
	ptr_vec_push(ctx->a, &ctx->entries, e);
	return 0;
}

static struct bpf_map *find_user_map(struct loader *L, const char *name)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, L->obj) {
		if (!bpf_map__is_internal(map) &&
		    strcmp(bpf_map__name(map), name) == 0)
			return map;
	}
	return NULL;
}

int handle_dump(struct loader *L, const PB(DumpRequest) *req,
		struct reply *r)
{
	PB(DumpResult) *res;
	struct dump_ctx ctx = { .a = r->a, .limit = req->limit };
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	struct bpf_map *map;
	char err[256] = "";
	int fd, ret;

	if (!req->map || !req->map[0])
		return reply_err(r, CODE(INVALID), "dump.map: required");
	map = find_user_map(L, req->map);
	if (!map)
		return reply_err(r, CODE(NOT_FOUND), "dump.map: no map named "
				 "'%s'", req->map);
	fd = bpf_map__fd(map);
	memset(&info, 0, sizeof(info));
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (ret)
		return reply_err(r, CODE(KERNEL), "%s: bpf_obj_get_info_by_fd: "
				 "%s", req->map, sy_errstr(ret));

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__dump_result__init(res);
	res->info = map_info_build(L, map, r->a, err, sizeof(err));
	if (!res->info)
		return reply_err(r, CODE(KERNEL), "%s", err);

	ctx.key_size = info.key_size;
	ctx.value_size = map_value_buf_size(info.type, info.value_size);
	ctx.maglev = info.type == BPF_MAP_TYPE_HASH_OF_MAPS ||
		     info.type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
	ctx.percpu = ctx.value_size != info.value_size;
	ctx.elem_size = info.value_size;
	ctx.ncpus = ctx.percpu ? ctx.value_size /
					 ((info.value_size + 7) & ~7u) : 1;
	if (ctx.percpu && info.value_size % 8)
		return reply_err(r, CODE(UNSUPPORTED), "dump %s: per-CPU values "
				 "of %u bytes are not u64 counters", req->map,
				 info.value_size);
	ctx.budget = L->opt.max_message_bytes > 8192 ?
			     L->opt.max_message_bytes - 4096 :
			     L->opt.max_message_bytes / 2;
	ret = map_iter(fd, info.key_size, ctx.value_size,
		       iter_bound(info.max_entries), dump_cb, &ctx);
	if (ret < 0)
		return reply_err(r, CODE(KERNEL), "%s: reading entries: %s",
				 req->map, sy_errstr(ret));
	res->info->entries = ctx.count;
	res->entries = (PB(MapEntry) **)ctx.entries.items;
	res->n_entries = ctx.entries.len;
	if (ctx.truncated)
		log_warn("dump %s: %u entries, only %zu fit in one message",
			 req->map, ctx.count, ctx.entries.len);
	r->resp->result_case = RES(DUMP);
	r->resp->dump = res;
	return CODE(OK);
}

/* ---- status ------------------------------------------------------------- */

int handle_status(struct loader *L, const PB(StatusRequest) *req,
		  struct reply *r)
{
	PB(StatusResult) *res = arena_alloc(r->a, sizeof(*res));
	struct ptr_vec maps = { 0 };
	struct bpf_map *map;
	char err[256] = "";
	int code;

	(void)req;
	switchyard__loader__v1__status_result__init(res);
	res->instance = arena_strdup(r->a, L->opt.instance);
	res->pin_dir = arena_strdup(r->a, L->pin_dir);
	res->requests = L->requests;
	res->errors = L->errors;
	code = attach_list(L, r, &res->attachments, &res->n_attachments);
	if (code)
		return code;
	bpf_object__for_each_map(map, L->obj) {
		PB(MapInfo) *mi;

		if (bpf_map__is_internal(map))
			continue;
		mi = map_info_build(L, map, r->a, err, sizeof(err));
		if (!mi)
			return reply_err(r, CODE(KERNEL), "%s", err);
		ptr_vec_push(r->a, &maps, mi);
	}
	res->maps = (PB(MapInfo) **)maps.items;
	res->n_maps = maps.len;
	r->resp->result_case = RES(STATUS);
	r->resp->status = res;
	return CODE(OK);
}
