// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Attachment records: every attachment is recorded in sy_attach (keyed by
 * ifindex, or cgroup id, and hook) so that a restarted loader, status and
 * cleanup know what exists without any state of their own. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "attach_records.h"
#include "log.h"
#include "map_iter.h"

const char *attach_mode_name(uint32_t mode)
{
	switch (mode) {
	case SY_ATTACH_TCX: return "tcx";
	case SY_ATTACH_CLSACT: return "clsact";
	case SY_ATTACH_XDP_NATIVE: return "xdp-native";
	case SY_ATTACH_XDP_GENERIC: return "xdp-generic";
	case SY_ATTACH_CGROUP: return "cgroup";
	default: return "unknown";
	}
}

int record_get(struct loader *L, uint32_t ifindex, uint32_t hook,
	       struct sy_attach_value *val)
{
	struct sy_attach_key key = { .ifindex = ifindex, .hook = hook };

	return bpf_map_lookup_elem(sy_map_fd(L, SY_MAP_ATTACH), &key, val);
}

static int rec_collect(const void *key, const void *value, void *ctx)
{
	struct rec_list *l = ctx;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct rec *p = realloc(l->items, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->items = p;
		l->cap = cap;
	}
	memcpy(&l->items[l->n].key, key, sizeof(struct sy_attach_key));
	memcpy(&l->items[l->n].val, value, sizeof(struct sy_attach_value));
	l->items[l->n].val.ifname[IF_NAMESIZE - 1] = '\0';
	l->n++;
	return 0;
}

int rec_list_load(struct loader *L, struct rec_list *l)
{
	return map_iter(sy_map_fd(L, SY_MAP_ATTACH),
			sizeof(struct sy_attach_key),
			sizeof(struct sy_attach_value),
			(uint64_t)bpf_map__max_entries(L->maps[SY_MAP_ATTACH]) *
					2 + 16,
			rec_collect, l);
}

int record_put(struct loader *L, const struct sy_attach_key *key,
	       const struct sy_attach_value *val)
{
	return bpf_map_update_elem(sy_map_fd(L, SY_MAP_ATTACH), key, val,
				   BPF_ANY);
}

int record_delete(struct loader *L, const struct sy_attach_key *key)
{
	int err = bpf_map_delete_elem(sy_map_fd(L, SY_MAP_ATTACH), key);

	return err == -ENOENT ? 0 : err;
}

void forget_stale_records(struct loader *L, const char *ifname, uint32_t hook,
			  uint32_t ifindex)
{
	struct rec_list l = { 0 };

	if (rec_list_load(L, &l) >= 0) {
		for (size_t i = 0; i < l.n; i++) {
			const struct rec *rec = &l.items[i];

			if (rec->key.hook != hook || rec->key.ifindex == ifindex ||
			    strcmp(rec->val.ifname, ifname))
				continue;
			log_info("forgetting stale record of %s (old ifindex %u)",
				 ifname, rec->key.ifindex);
			record_delete(L, &rec->key);
		}
	}
	free(l.items);
}
