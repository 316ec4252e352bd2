// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* lookup: single keys read with bpf_map_lookup_elem, no walk of the map.
 * Admin queries (explain, one conntrack flow) use it so that a read costs a
 * few syscalls whatever the map's size, and never holds up a sync. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "handlers.h"
#include "log.h"

#define LOOKUP_MAX_KEYS 4096

int handle_lookup(struct loader *L, const PB(LookupRequest) *req,
		  struct reply *r)
{
	PB(LookupResult) *res;
	struct bpf_map_info info;
	struct value_form f;
	struct bpf_map *map;
	char err[256] = "";
	void *buf;
	int fd, ret;

	if (!req->map || !req->map[0])
		return reply_err(r, CODE(INVALID), "lookup.map: required");
	if (req->n_keys == 0 || req->n_keys > LOOKUP_MAX_KEYS)
		return reply_err(r, CODE(INVALID), "lookup.keys: %zu keys, "
				 "1..%u allowed", req->n_keys,
				 LOOKUP_MAX_KEYS);
	ret = open_read_map(L, r, "lookup", req->map, &map, &fd, &info);
	if (ret)
		return ret;
	for (size_t i = 0; i < req->n_keys; i++)
		if (req->keys[i].len != info.key_size)
			return reply_err(r, CODE(INVALID), "lookup.keys[%zu]: "
					 "%zu bytes, %s has %u-byte keys", i,
					 req->keys[i].len, req->map,
					 info.key_size);
	if (value_form_of(&info, &f))
		return reply_err(r, CODE(UNSUPPORTED), "lookup %s: per-CPU "
				 "values of %u bytes are not u64 counters",
				 req->map, info.value_size);

	res = arena_alloc(r->a, sizeof(*res));
	switchyard__loader__v1__lookup_result__init(res);
	res->info = map_info_fill(L, map, r->a, false, err, sizeof(err));
	if (!res->info)
		return reply_err(r, CODE(KERNEL), "%s", err);
	res->values = arena_alloc(r->a, req->n_keys * sizeof(*res->values));
	res->n_values = req->n_keys;
	buf = malloc(f.value_size ? f.value_size : 1);
	if (!buf)
		return reply_err(r, CODE(KERNEL), "lookup: out of memory");
	for (size_t i = 0; i < req->n_keys; i++) {
		PB(LookupValue) *v = arena_alloc(r->a, sizeof(*v));

		switchyard__loader__v1__lookup_value__init(v);
		res->values[i] = v;
		ret = bpf_map_lookup_elem(fd, req->keys[i].data, buf);
		if (ret == -ENOENT)
			continue;
		if (ret == 0)
			ret = map_value_out(r->a, &f, buf, &v->value);
		if (ret > 0) { /* Maglev table replaced meanwhile: absent */
			v->value.len = 0;
			continue;
		}
		if (ret < 0) {
			free(buf);
			return reply_err(r, CODE(KERNEL), "lookup %s keys[%zu]: "
					 "%s", req->map, i, sy_errstr(ret));
		}
		v->found = true;
	}
	free(buf);
	r->resp->result_case = RES(LOOKUP);
	r->resp->lookup = res;
	return CODE(OK);
}
