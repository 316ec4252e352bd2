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
#include "handlers.h"
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
	return map_info_fill(L, map, a, true, err, errlen);
}

/* count: walk the keys to fill `entries` (O(entries): done by status and
 * by a dump's first page only). */
PB(MapInfo) *map_info_fill(struct loader *L, struct bpf_map *map,
			   struct arena *a, bool count_entries, char *err,
			   size_t errlen)
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
	/* A ring buffer (sy_events) has no keys to count: its records are
	 * streamed (monitor request). */
	if (!count_entries || info.type == BPF_MAP_TYPE_RINGBUF)
		return mi;
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
	bool page_full;
	const void *last_key;     /* last key put in the page (arena copy) */
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

/* Fills e->value the way dumps and lookups return it. Returns 0, 1 when a
 * Maglev table vanished meanwhile, <0 on error. */
int map_value_out(struct arena *a, const struct value_form *f,
		  const void *value, ProtobufCBinaryData *out)
{
	if (f->maglev)
		return read_inner_table(a, *(const uint32_t *)value, out);
	if (f->percpu) {
		out->data = percpu_sum(a, value, f->elem_size, f->ncpus);
		out->len = f->elem_size;
		return 0;
	}
	out->data = arena_memdup(a, value, f->value_size);
	out->len = f->value_size;
	return 0;
}

int value_form_of(const struct bpf_map_info *info, struct value_form *f)
{
	f->value_size = map_value_buf_size(info->type, info->value_size);
	f->maglev = info->type == BPF_MAP_TYPE_HASH_OF_MAPS ||
		    info->type == BPF_MAP_TYPE_ARRAY_OF_MAPS;
	f->percpu = f->value_size != info->value_size;
	f->elem_size = info->value_size;
	f->ncpus = f->percpu ? f->value_size / ((info->value_size + 7) & ~7u) :
			       1;
	return f->percpu && info->value_size % 8 ? -EOPNOTSUPP : 0;
}

static int dump_cb(const void *key, const void *value, void *ctx_)
{
	struct dump_ctx *ctx = ctx_;
	struct value_form f = {
		.maglev = ctx->maglev, .percpu = ctx->percpu,
		.value_size = ctx->value_size, .elem_size = ctx->elem_size,
		.ncpus = ctx->ncpus,
	};
	PB(MapEntry) *e;
	int err;

	if (ctx->limit && ctx->entries.len >= ctx->limit) {
		ctx->page_full = true;
		return 1;
	}
	e = arena_alloc(ctx->a, sizeof(*e));
	switchyard__loader__v1__map_entry__init(e);
	e->key.data = arena_memdup(ctx->a, key, ctx->key_size);
	e->key.len = ctx->key_size;
	err = map_value_out(ctx->a, &f, value, &e->value);
	if (err > 0)
		return 0; /* table replaced meanwhile: skip */
	if (err < 0)
		return err;
	/* The page ends before the entry that would overflow it (that entry
	 * starts the next page); a page always holds at least one entry. */
	if (ctx->entries.len && ctx->used + e->key.len + e->value.len + 16 >
				       ctx->budget) {
		ctx->page_full = true;
		return 1;
	}
	ctx->used += e->key.len + e->value.len + 16;
	ptr_vec_push(ctx->a, &ctx->entries, e);
	ctx->last_key = e->key.data;
	return 0;
}

struct bpf_map *find_user_map(struct loader *L, const char *name)
{
	struct bpf_map *map;

	bpf_object__for_each_map(map, L->obj) {
		if (!bpf_map__is_internal(map) &&
		    strcmp(bpf_map__name(map), name) == 0)
			return map;
	}
	return NULL;
}

/* Bytes of keys and values one page may carry: --dump-page-bytes, never
 * more than what fits in one message. */
/* The named user map for a read op (`op` names it in errors): its fd and
 * info, or an error reply already written (returns non-zero). */
int open_read_map(struct loader *L, struct reply *r, const char *op,
		  const char *name, struct bpf_map **map, int *fd,
		  struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	int ret;

	if (!name || !name[0])
		return reply_err(r, CODE(INVALID), "%s.map: required", op);
	*map = find_user_map(L, name);
	if (!*map)
		return reply_err(r, CODE(NOT_FOUND), "%s.map: no map named "
				 "'%s'", op, name);
	*fd = bpf_map__fd(*map);
	memset(info, 0, sizeof(*info));
	ret = bpf_obj_get_info_by_fd(*fd, info, &len);
	if (ret)
		return reply_err(r, CODE(KERNEL), "%s: bpf_obj_get_info_by_fd: "
				 "%s", name, sy_errstr(ret));
	return 0;
}

static size_t page_budget(struct loader *L, uint32_t asked)
{
	size_t max = L->opt.max_message_bytes > 8192 ?
			     L->opt.max_message_bytes - 4096 :
			     L->opt.max_message_bytes / 2;
	size_t page = L->opt.dump_page_bytes ? L->opt.dump_page_bytes : max;

	if (asked && asked < page)
		page = asked;
	return page < max ? page : max;
}

int handle_dump(struct loader *L, const PB(DumpRequest) *req,
		struct reply *r)
{
	PB(DumpResult) *res;
	struct dump_ctx ctx = { .a = r->a, .limit = req->limit };
	struct value_form f;
	struct bpf_map_info info;
	struct bpf_map *map;
	bool first = req->cursor.len == 0;
	char err[256] = "";
	int fd, ret;

	ret = open_read_map(L, r, "dump", req->map, &map, &fd, &info);
	if (ret)
		return ret;
	if (!first && req->cursor.len != info.key_size)
		return reply_err(r, CODE(INVALID), "dump.cursor: %zu bytes, "
				 "%s has %u-byte keys", req->cursor.len,
				 req->map, info.key_size);

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__dump_result__init(res);
	res->info = map_info_fill(L, map, r->a, first, err, sizeof(err));
	if (!res->info)
		return reply_err(r, CODE(KERNEL), "%s", err);

	if (value_form_of(&info, &f))
		return reply_err(r, CODE(UNSUPPORTED), "dump %s: per-CPU values "
				 "of %u bytes are not u64 counters", req->map,
				 info.value_size);
	ctx.key_size = info.key_size;
	ctx.value_size = f.value_size;
	ctx.maglev = f.maglev;
	ctx.percpu = f.percpu;
	ctx.elem_size = f.elem_size;
	ctx.ncpus = f.ncpus;
	ctx.budget = page_budget(L, req->page_bytes);
	ret = map_iter_from(fd, info.key_size, ctx.value_size,
			    first ? NULL : req->cursor.data,
			    iter_bound(info.max_entries), dump_cb, &ctx);
	if (ret < 0)
		return reply_err(r, CODE(KERNEL), "%s: reading entries: %s",
				 req->map, sy_errstr(ret));
	res->entries = (PB(MapEntry) **)ctx.entries.items;
	res->n_entries = ctx.entries.len;
	res->more = ctx.page_full;
	if (ctx.last_key) {
		res->next_cursor.data = (uint8_t *)ctx.last_key;
		res->next_cursor.len = info.key_size;
	}
	r->resp->result_case = RES(DUMP);
	r->resp->dump = res;
	return CODE(OK);
}

/* ---- status ------------------------------------------------------------- */

static bool status_counts(const PB(StatusRequest) *req, struct bpf_map *map)
{
	if (req->skip_entry_counts)
		return false;
	if (req->n_count_maps == 0)
		return true;
	for (size_t i = 0; i < req->n_count_maps; i++)
		if (!strcmp(req->count_maps[i], bpf_map__name(map)))
			return true;
	return false;
}

int handle_status(struct loader *L, const PB(StatusRequest) *req,
		  struct reply *r)
{
	PB(StatusResult) *res = arena_alloc(r->a, sizeof(*res));
	struct ptr_vec maps = { 0 };
	struct bpf_map *map;
	char err[256] = "";
	int code;

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
		mi = map_info_fill(L, map, r->a, status_counts(req, map), err,
				   sizeof(err));
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
