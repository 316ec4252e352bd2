// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* In-place Maglev slot writes (see maglev_slots.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "sy_structs.h"
#include "maglev_slots.h"
#include "map_batch.h"

int maglev_slots_fits(int inner, uint32_t m)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(inner, &info, &len);
	if (err)
		return err;
	return info.type == BPF_MAP_TYPE_ARRAY && info.key_size == 4 &&
	       info.value_size == sizeof(struct sy_maglev_slots) &&
	       info.max_entries == (m + 1) / SY_MAGLEV_SLOTS_PER_ELEM;
}

/* Reads all n elements of inner into cur (keys 0..n-1). */
static int read_all(int inner, uint32_t *keys, struct sy_maglev_slots *cur,
		    uint32_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	uint32_t batch, done = 0, count;
	int err = 0;

	/* An ARRAY's batch cursor is the next index. */
	while (done < n) {
		count = n - done;
		err = bpf_map_lookup_batch(inner, done ? &batch : NULL, &batch,
					   keys + done, cur + done, &count,
					   &bopts);
		done += count;
		if (err == -ENOENT) /* end of the map: count is the rest */
			break;
		if (err)
			break;
	}
	if (!err || err == -ENOENT) {
		if (done == n)
			return 0;
		err = -EIO;
	}
	if (!map_batch_unsupported(err))
		return err;
	for (uint32_t i = 0; i < n; i++) {
		keys[i] = i;
		err = bpf_map_lookup_elem(inner, &keys[i], &cur[i]);
		if (err)
			return err;
	}
	return 0;
}

int maglev_slots_write(int inner, const uint32_t *backend_ids, uint32_t m,
		       struct maglev_slots_stats *st,
		       maglev_slots_step_fn step, void *ctx)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = BPF_ANY);
	uint32_t n = (m + 1) / SY_MAGLEV_SLOTS_PER_ELEM, w = 0, count;
	struct sy_maglev_slots *cur, *vals;
	uint32_t *keys, *wkeys;
	int err = 0;

	memset(st, 0, sizeof(*st));
	keys = malloc((size_t)n * sizeof(*keys) * 2);
	cur = malloc((size_t)n * sizeof(*cur) * 2);
	if (!keys || !cur) {
		err = -ENOMEM;
		goto out;
	}
	wkeys = keys + n;
	vals = cur + n;
	err = read_all(inner, keys, cur, n);
	if (err)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		struct sy_maglev_slots want = { { 0, 0 } };
		uint32_t s = i * SY_MAGLEV_SLOTS_PER_ELEM;

		want.ids[0] = backend_ids[s];
		if (s + 1 < m) /* odd M: the last element's second id is padding */
			want.ids[1] = backend_ids[s + 1];
		st->slots_changed += (want.ids[0] != cur[i].ids[0]) +
				     (want.ids[1] != cur[i].ids[1]);
		if (!memcmp(&want, &cur[i], sizeof(want)))
			continue;
		wkeys[w] = i;
		vals[w++] = want;
	}
	if (!w)
		goto out;
	if (!step) {
		count = w;
		err = bpf_map_update_batch(inner, wkeys, vals, &count, &bopts);
		if (!err || !map_batch_unsupported(err)) {
			st->elems_written = err ? (count <= w ? count : 0) : w;
			goto out;
		}
		err = 0;
	}
	for (uint32_t k = 0; k < w && !err; k++) {
		err = bpf_map_update_elem(inner, &wkeys[k], &vals[k], BPF_ANY);
		if (!err) {
			st->elems_written++;
			if (step)
				err = step(ctx, wkeys[k]);
		}
	}
out:
	free(keys);
	free(cur);
	return err;
}
