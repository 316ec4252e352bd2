// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The datapath monitor, loader side (monitor.h). The ring buffer is read
 * with libbpf's ring_buffer (epoll on the map's fd, consume on readiness);
 * the server polls monitor_fd() with its clients, so reading events never
 * blocks request handling. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "log.h"
#include "monitor.h"

struct monitor {
	struct ring_buffer *rb;
	struct monitor_batch *cur; /* the batch monitor_read fills */
};

int monitor_set(struct loader *L, const struct monitor_setting *m)
{
	struct bpf_map *map = bpf_object__find_map_by_name(L->obj, "sy_monitor");
	struct sy_monitor v = { 0 };
	uint32_t zero = 0;
	size_t len = m->client_addr_len;

	if (!map)
		return -ENOENT;
	v.flags = m->trace ? SY_MON_F_TRACE : 0;
	v.ct_sample = m->ct_sample;
	v.trace_frontend_id = m->trace_frontend_id;
	v.trace_backend_id = m->trace_backend_id;
	if (len == 4 || len == 16) {
		uint8_t *a = (uint8_t *)v.client_addr;
		uint32_t plen = m->client_prefix_len;

		v.client_family = len == 4 ? 4 : 6;
		v.client_prefix_len = (uint8_t)plen;
		memcpy(a, m->client_addr, len);
		/* Host bits zeroed: the datapath compares the masked client
		 * with this network. */
		for (size_t i = 0; i < len; i++) {
			uint32_t bits = plen > i * 8 ? plen - (uint32_t)i * 8 : 0;

			if (bits < 8)
				a[i] &= (uint8_t)(0xff00u >> bits);
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(map), &zero, &v, BPF_ANY))
		return -errno;
	log_info("monitor: trace %s (frontend %u, backend %u, client /%u), "
		 "conntrack sample 1 in %u", m->trace ? "on" : "off",
		 v.trace_frontend_id, v.trace_backend_id, v.client_prefix_len,
		 v.ct_sample);
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct monitor *m = ctx;
	struct monitor_batch *b = m->cur;

	if (size != sizeof(struct sy_event))
		return 0; /* not ours: skip */
	if (b->len + size > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64 * sizeof(struct sy_event);
		uint8_t *p = realloc(b->buf, cap);

		if (!p)
			return -ENOMEM;
		b->buf = p;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, data, size);
	b->len += size;
	b->count++;
	return 0;
}

struct monitor *monitor_open(struct loader *L)
{
	struct bpf_map *map = bpf_object__find_map_by_name(L->obj, "sy_events");
	struct monitor *m;

	if (!map) {
		log_warn("monitor: the datapath has no sy_events map: no events");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->rb = ring_buffer__new(bpf_map__fd(map), on_event, m, NULL);
	if (!m->rb) {
		log_warn("monitor: reading sy_events: %s", sy_errstr(errno));
		free(m);
		return NULL;
	}
	return m;
}

void monitor_close(struct monitor *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	free(m);
}

int monitor_fd(const struct monitor *m)
{
	return ring_buffer__epoll_fd(m->rb);
}

int monitor_read(struct monitor *m, struct monitor_batch *b)
{
	int n;

	b->len = 0;
	b->count = 0;
	m->cur = b;
	n = ring_buffer__consume(m->rb);
	m->cur = NULL;
	if (n < 0 && b->count == 0)
		return n;
	return (int)b->count;
}
