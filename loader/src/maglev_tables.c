// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A table of M slots is an inner ARRAY of (M + 1) / 2 elements of two
 * slots (struct sy_maglev_slots); the last element of an odd M is padded
 * with 0. The inner map is named sy_mg_<M> so `bpftool map show` tells the
 * table size. A table of a new size (or a first table) is built whole in a
 * fresh inner map and swapped in with one update of the outer map; a table
 * of the same size is rewritten in place, only its changed slots
 * (maglev_slots.c), with no outer update and so no RCU grace period. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "maglev_tables.h"
#include "log.h"
#include "map_batch.h"

int maglev_table_create(const uint32_t *backend_ids, uint32_t m, int *fd_out,
			struct sy_err *e)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = BPF_ANY);
	uint32_t n = (m + 1) / SY_MAGLEV_SLOTS_PER_ELEM, count = n;
	struct sy_maglev_slots *vals = NULL;
	uint32_t *keys = NULL;
	char name[BPF_OBJ_NAME_LEN];
	int inner, err, ret = 0;

	snprintf(name, sizeof(name), "sy_mg_%u", m);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4,
			       sizeof(struct sy_maglev_slots), n, &copts);
	if (inner < 0)
		return sy_err_set(e, SY_ERR_KERNEL, inner, "creating the inner "
				  "table (M=%u): %s", m, sy_errstr(inner));

	keys = malloc((size_t)n * sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		ret = sy_err_set(e, SY_ERR_KERNEL, -ENOMEM, "allocating %u "
				 "elements: %s", n, sy_errstr(-ENOMEM));
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	for (uint32_t s = 0; s < m; s++)
		vals[s / 2].ids[s & 1] = backend_ids[s];
	err = bpf_map_update_batch(inner, keys, vals, &count, &bopts);
	if (map_batch_unsupported(err)) {
		/* No batch ops on this kernel: one update per element. */
		err = 0;
		for (uint32_t i = 0; i < n && !err; i++)
			err = bpf_map_update_elem(inner, &keys[i], &vals[i],
						  BPF_ANY);
	}
	if (err)
		ret = sy_err_set(e, SY_ERR_KERNEL, err, "writing the inner "
				 "table (M=%u): %s", m, sy_errstr(err));
out:
	free(keys);
	free(vals);
	if (ret)
		close(inner);
	else
		*fd_out = inner;
	return ret;
}

int maglev_tables_swap(struct loader *L, const uint32_t *groups,
		       const int *fds, uint32_t n, uint32_t *done,
		       struct sy_err *e)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = BPF_ANY);
	int outer = sy_map_fd(L, SY_MAP_MAGLEV);
	uint32_t count = n;
	int err;

	*done = 0;
	if (!n)
		return 0;
	err = bpf_map_update_batch(outer, groups, fds, &count, &bopts);
	if (!err) {
		*done = count;
		return 0;
	}
	/* Fall back to one swap per table after what the batch did. */
	if (count > n)
		count = 0;
	for (uint32_t k = count; k < n; k++) {
		err = bpf_map_update_elem(outer, &groups[k], &fds[k], BPF_ANY);
		if (err) {
			*done = k;
			return sy_err_set(e, SY_ERR_KERNEL, err,
					  "bpf_map_update_elem(sy_maglev, "
					  "group %u): %s", groups[k],
					  sy_errstr(err));
		}
	}
	*done = n;
	return 0;
}

int maglev_table_write_in_place(struct loader *L, uint32_t group,
				const uint32_t *backend_ids, uint32_t m,
				struct maglev_slots_stats *st, struct sy_err *e)
{
	uint32_t inner_id;
	int inner, err;

	memset(st, 0, sizeof(*st));
	err = bpf_map_lookup_elem(sy_map_fd(L, SY_MAP_MAGLEV), &group,
				  &inner_id);
	if (err == -ENOENT)
		return 0; /* first write: a fresh table */
	if (err)
		return sy_err_set(e, SY_ERR_KERNEL, err, "reading sy_maglev[%u]:"
				  " %s", group, sy_errstr(err));
	inner = bpf_map_get_fd_by_id(inner_id);
	if (inner == -ENOENT)
		return 0; /* gone meanwhile: replace */
	if (inner < 0)
		return sy_err_set(e, SY_ERR_KERNEL, inner, "opening the table "
				  "of group %u (map id %u): %s", group, inner_id,
				  sy_errstr(inner));
	err = maglev_slots_fits(inner, m);
	if (err == 1) {
		err = maglev_slots_write(inner, backend_ids, m, st, NULL, NULL);
		if (err)
			err = sy_err_set(e, SY_ERR_KERNEL, err, "writing %u changed "
					 "slots of group %u in place: %s",
					 st->slots_changed, group, sy_errstr(err));
		else
			err = 1;
	} else if (err < 0) {
		err = sy_err_set(e, SY_ERR_KERNEL, err, "reading the table of "
				 "group %u: %s", group, sy_errstr(err));
	} /* 0: another size, replaced whole */
	close(inner);
	return err;
}
