// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* apply: MapOps validated as a whole, then executed in order. An invalid op
 * anywhere rejects the request before anything is written (applied = 0); a
 * kernel failure stops at that op and reports how many were applied. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "sy_structs.h"
#include "loader.h"
#include "log.h"
#include "map_iter.h"

#define MAGLEV_MAX_M 131071u

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71 /* Linux 5.14, <asm-generic/socket.h> */
#endif

/* Cookie of the network namespace the loader runs in (the node's): the
 * socket programs tell the node's own sockets from pods' by it. 0 when the
 * kernel cannot say (before 5.14): then SY_CFG_F_POD_UDP_CONNECT_TC has no
 * effect and connect() translates every UDP socket, as without it. */
static uint64_t own_netns_cookie(void)
{
	static uint64_t cookie;
	static int known;
	socklen_t len = sizeof(cookie);
	int fd;

	if (known)
		return cookie;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0)
		cookie = 0;
	close(fd);
	known = 1;
	return cookie;
}

#ifndef ENOTSUPP
#define ENOTSUPP 524 /* kernel-internal, leaks to user space */
#endif

typedef PB(MapOp) map_op;

static bool is_prime(uint32_t n)
{
	if (n < 2)
		return false;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; d <= n / d; d += 2)
		if (n % d == 0)
			return false;
	return true;
}

static const char *mapop_name(int c)
{
	switch (c) {
	case MAPOP(UPSERT_BACKEND): return "upsert_backend";
	case MAPOP(DELETE_BACKEND): return "delete_backend";
	case MAPOP(SET_MAGLEV): return "set_maglev";
	case MAPOP(DELETE_MAGLEV): return "delete_maglev";
	case MAPOP(UPSERT_REVNAT): return "upsert_revnat";
	case MAPOP(DELETE_REVNAT): return "delete_revnat";
	case MAPOP(UPSERT_SERVICE): return "upsert_service";
	case MAPOP(DELETE_SERVICE): return "delete_service";
	case MAPOP(FLUSH_CONNTRACK): return "flush_conntrack";
	case MAPOP(DELETE_AFFINITY): return "delete_affinity";
	case MAPOP(SET_CONFIG): return "set_config";
	case MAPOP(GC_CONNTRACK): return "gc_conntrack";
	case MAPOP(UPSERT_SOURCE_RANGE): return "upsert_source_range";
	case MAPOP(DELETE_SOURCE_RANGE): return "delete_source_range";
	default: return "op";
	}
}

/* ---- validation --------------------------------------------------------- */

#define BAD(...) reply_err(r, CODE(INVALID), __VA_ARGS__)

/* The network mask of a Service CIDR prefix (1..32), network order. */
static uint32_t service_cidr_mask(uint32_t prefix_len)
{
	return htonl(prefix_len >= 32 ? 0xffffffffu :
				     ~(0xffffffffu >> prefix_len));
}

static int check_addr(struct reply *r, const char *at, const char *field,
		      const ProtobufCBinaryData *b, bool optional)
{
	if (optional && b->len == 0)
		return 0;
	if (b->len != 4)
		return BAD("%s.%s: an IPv4 address must be 4 bytes, got %zu",
			   at, field, b->len);
	return 0;
}

static int check_port(struct reply *r, const char *at, const char *field,
		      uint32_t port)
{
	if (port > 65535)
		return BAD("%s.%s: %u is not a port (0-65535)", at, field,
			   port);
	return 0;
}

static int check_proto(struct reply *r, const char *at, const char *field,
		       uint32_t proto, bool zero_ok)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	    (zero_ok && proto == 0))
		return 0;
	return BAD("%s.%s: protocol %u is not TCP (6) or UDP (17)%s", at,
		   field, proto, zero_ok ? " or 0" : "");
}

static int check_svc_key(struct reply *r, const char *at,
			 const PB(ServiceKey) *k)
{
	int err;

	if (!k)
		return BAD("%s.key: missing", at);
	if ((err = check_addr(r, at, "key.addr", &k->addr, false)) ||
	    (err = check_port(r, at, "key.port", k->port)) ||
	    (err = check_proto(r, at, "key.proto", k->proto, false)))
		return err;
	if (k->scope != SY_SCOPE_EXTERNAL && k->scope != SY_SCOPE_INTERNAL)
		return BAD("%s.key.scope: %u is not 0 (external) or 1 "
			   "(internal)", at, k->scope);
	return 0;
}

static int check_source_range(struct reply *r, const char *at,
			      const ProtobufCBinaryData *addr,
			      uint32_t prefix_len)
{
	int err = check_addr(r, at, "addr", addr, false);

	if (err)
		return err;
	if (prefix_len > 32)
		return BAD("%s.prefix_len: %u is not a prefix length (0-32)", at,
			   prefix_len);
	return 0;
}

static int validate_op(const map_op *op, size_t i, struct reply *r)
{
	char at[48];
	int err = 0;

	snprintf(at, sizeof(at), "ops[%zu].%s", i, mapop_name(op->op_case));
	switch (op->op_case) {
	case MAPOP(UPSERT_BACKEND): {
		const PB(UpsertBackend) *b = op->upsert_backend;

		if ((err = check_addr(r, at, "addr", &b->addr, false)) ||
		    (err = check_port(r, at, "port", b->port)) ||
		    (err = check_proto(r, at, "proto", b->proto, false)))
			return err;
		if (b->state != SY_BE_ACTIVE && b->state != SY_BE_TERMINATING)
			return BAD("%s.state: %u is not 0 (active) or 1 "
				   "(terminating)", at, b->state);
		if (b->flags > 0xff)
			return BAD("%s.flags: 0x%x does not fit in 8 bits", at,
				   b->flags);
		return 0;
	}
	case MAPOP(SET_MAGLEV): {
		size_t m = op->set_maglev->n_backend_ids;

		if (m == 0)
			return BAD("%s.backend_ids: empty table", at);
		if (m > MAGLEV_MAX_M)
			return BAD("%s.backend_ids: table size %zu above the "
				   "maximum %u", at, m, MAGLEV_MAX_M);
		if (!is_prime((uint32_t)m))
			return BAD("%s.backend_ids: table size %zu is not "
				   "prime", at, m);
		return 0;
	}
	case MAPOP(UPSERT_REVNAT):
		if ((err = check_addr(r, at, "addr", &op->upsert_revnat->addr,
				      false)) ||
		    (err = check_port(r, at, "port", op->upsert_revnat->port)))
			return err;
		return 0;
	case MAPOP(UPSERT_SERVICE): {
		const PB(UpsertService) *s = op->upsert_service;

		if ((err = check_svc_key(r, at, s->key)))
			return err;
		if (s->count > 0xffff)
			return BAD("%s.count: %u does not fit in 16 bits", at,
				   s->count);
		if (s->flags > 0xffff)
			return BAD("%s.flags: 0x%x does not fit in 16 bits",
				   at, s->flags);
		if (s->table_size &&
		    (s->table_size > MAGLEV_MAX_M || !is_prime(s->table_size)))
			return BAD("%s.table_size: %u is not a prime <= %u (or "
				   "0)", at, s->table_size, MAGLEV_MAX_M);
		return 0;
	}
	case MAPOP(DELETE_SERVICE):
		return check_svc_key(r, at, op->delete_service->key);
	case MAPOP(FLUSH_CONNTRACK): {
		const PB(FlushConntrack) *f = op->flush_conntrack;

		if (!f->backend_id && !f->rev_nat_id)
			return BAD("%s: backend_id or rev_nat_id is required",
				   at);
		return check_proto(r, at, "proto", f->proto, true);
	}
	case MAPOP(SET_CONFIG): {
		const PB(SetConfig) *c = op->set_config;

		if ((c->snat_port_min || c->snat_port_max) &&
		    (!c->snat_port_min || c->snat_port_max > 65535 ||
		     c->snat_port_min > c->snat_port_max))
			return BAD("%s: snat_port_min..snat_port_max %u..%u is "
				   "not a port range (1..65535, min <= max, or "
				   "both 0)", at, c->snat_port_min,
				   c->snat_port_max);
		if (c->service_cidr_addr.len == 0 && c->service_cidr_prefix_len)
			return BAD("%s: service_cidr_prefix_len without "
				   "service_cidr_addr", at);
		if (c->service_cidr_addr.len != 0) {
			uint32_t net, node = 0, m;

			if (c->service_cidr_addr.len != 4 ||
			    c->service_cidr_prefix_len < 1 ||
			    c->service_cidr_prefix_len > 32)
				return BAD("%s: service_cidr %u bytes /%u is not "
					   "an IPv4 CIDR with a prefix of 1..32",
					   at, (unsigned)c->service_cidr_addr.len,
					   c->service_cidr_prefix_len);
			m = service_cidr_mask(c->service_cidr_prefix_len);
			memcpy(&net, c->service_cidr_addr.data, 4);
			if (c->node_addr.len == 4)
				memcpy(&node, c->node_addr.data, 4);
			if (node && (node & m) == (net & m))
				return BAD("%s: the service CIDR holds node_addr "
					   "(replies of SNATed flows go there)",
					   at);
		}
		return check_addr(r, at, "node_addr", &c->node_addr, true);
	}
	case MAPOP(UPSERT_SOURCE_RANGE):
		return check_source_range(r, at,
					  &op->upsert_source_range->addr,
					  op->upsert_source_range->prefix_len);
	case MAPOP(DELETE_SOURCE_RANGE):
		return check_source_range(r, at,
					  &op->delete_source_range->addr,
					  op->delete_source_range->prefix_len);
	case MAPOP(DELETE_BACKEND):
	case MAPOP(DELETE_MAGLEV):
	case MAPOP(DELETE_REVNAT):
	case MAPOP(DELETE_AFFINITY):
	case MAPOP(GC_CONNTRACK):
		return 0;
	default:
		return BAD("ops[%zu]: no operation set", i);
	}
}

/* ---- execution ---------------------------------------------------------- */

#define KERR(err, ...) kernel_err(r, at, err, __VA_ARGS__)

static int kernel_err(struct reply *r, const char *at, int err,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int kernel_err(struct reply *r, const char *at, int err,
		      const char *fmt, ...)
{
	char what[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return reply_err(r, CODE(KERNEL), "%s: %s: %s", at, what,
			 sy_errstr(err));
}

static int update(struct loader *L, enum sy_map_id id, const void *key,
		  const void *val)
{
	return bpf_map_update_elem(sy_map_fd(L, id), key, val, BPF_ANY);
}

static int delete_absent_ok(struct loader *L, enum sy_map_id id,
			    const void *key)
{
	int err = bpf_map_delete_elem(sy_map_fd(L, id), key);

	return err == -ENOENT ? 0 : err;
}

/* {32 + len, frontend, addr with the host bits zeroed}: one canonical key
 * per CIDR, so a delete finds what an upsert wrote whatever host bits the
 * caller sent. */
static void source_range_key_fill(struct sy_source_range_key *k,
				  uint32_t frontend_id,
				  const ProtobufCBinaryData *addr,
				  uint32_t prefix_len)
{
	uint32_t a;

	memset(k, 0, sizeof(*k));
	memcpy(&a, addr->data, 4);
	a = ntohl(a);
	a = prefix_len ? a & (0xffffffffu << (32 - prefix_len)) : 0;
	k->prefixlen = 32 + prefix_len;
	k->frontend_id = frontend_id;
	k->addr = htonl(a);
}

static void svc_key_fill(struct sy_svc_key *k, const PB(ServiceKey) *src)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->addr, src->addr.data, 4);
	k->port = htons((uint16_t)src->port);
	k->proto = (uint8_t)src->proto;
	k->scope = (uint8_t)src->scope;
}

/* A table of M slots is an inner ARRAY of (M + 1) / 2 elements of two
 * slots (struct sy_maglev_slots); the last element of an odd M is padded
 * with 0. The inner map is named sy_mg_<M> so `bpftool map show` tells the
 * table size. */
/* Creates and fills a fresh inner table; *fd_out owns it on success. */
static int build_inner(const PB(SetMaglevTable) *t, int *fd_out,
		       const char *at, struct reply *r)
{
	LIBBPF_OPTS(bpf_map_create_opts, copts, .map_flags = BPF_F_INNER_MAP);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = BPF_ANY);
	uint32_t m = (uint32_t)t->n_backend_ids;
	uint32_t n = (m + 1) / SY_MAGLEV_SLOTS_PER_ELEM, count = n;
	struct sy_maglev_slots *vals = NULL;
	uint32_t *keys = NULL;
	char name[BPF_OBJ_NAME_LEN];
	int inner, err, code = 0;

	snprintf(name, sizeof(name), "sy_mg_%u", m);
	inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, 4,
			       sizeof(struct sy_maglev_slots), n, &copts);
	if (inner < 0)
		return KERR(inner, "creating the inner table (M=%u)", m);

	keys = malloc((size_t)n * sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!keys || !vals) {
		code = KERR(-ENOMEM, "allocating %u elements", n);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++)
		keys[i] = i;
	for (uint32_t s = 0; s < m; s++)
		vals[s / 2].ids[s & 1] = t->backend_ids[s];
	err = bpf_map_update_batch(inner, keys, vals, &count, &bopts);
	if (err == -EINVAL || err == -EOPNOTSUPP || err == -ENOTSUPP) {
		/* No batch ops on this kernel: one update per element. */
		err = 0;
		for (uint32_t i = 0; i < n && !err; i++)
			err = bpf_map_update_elem(inner, &keys[i], &vals[i],
						  BPF_ANY);
	}
	if (err)
		code = KERR(err, "writing the inner table (M=%u)", m);
out:
	free(keys);
	free(vals);
	if (code)
		close(inner);
	else
		*fd_out = inner;
	return code;
}

/* Longest run of set_maglev ops swapped in with one batch update of the
 * outer map: an update of a map-in-map from user space waits for an RCU
 * grace period (so no program still uses the old inner map when the syscall
 * returns), ~15 ms each; a batch waits once. */
#define SY_MAGLEV_BATCH 256

/* Applies req->ops[i..] while they are set_maglev (at most SY_MAGLEV_BATCH);
 * *done gets how many were applied. Packets see each table whole: every
 * swap is one element update of the outer map. */
static int set_maglev_run(struct loader *L, const PB(ApplyRequest) *req,
			  size_t i, struct reply *r, size_t *done)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bopts, .elem_flags = BPF_ANY);
	uint32_t groups[SY_MAGLEV_BATCH];
	int fds[SY_MAGLEV_BATCH];
	size_t n = 0;
	int code = 0, err;
	uint32_t count;

	*done = 0;
	while (i + n < req->n_ops && n < SY_MAGLEV_BATCH &&
	       req->ops[i + n]->op_case == MAPOP(SET_MAGLEV)) {
		const PB(SetMaglevTable) *t = req->ops[i + n]->set_maglev;
		char at[48];

		snprintf(at, sizeof(at), "ops[%zu].set_maglev", i + n);
		code = build_inner(t, &fds[n], at, r);
		if (code)
			break; /* swap what was built, then report this op */
		groups[n] = t->group;
		n++;
	}
	count = (uint32_t)n;
	err = n ? bpf_map_update_batch(sy_map_fd(L, SY_MAP_MAGLEV), groups, fds,
				       &count, &bopts) : 0;
	if (err) {
		/* Fall back to one swap per table after what the batch did. */
		if (count > n)
			count = 0;
		for (uint32_t k = count; k < n; k++) {
			char at[48];

			snprintf(at, sizeof(at), "ops[%zu].set_maglev", i + k);
			err = bpf_map_update_elem(sy_map_fd(L, SY_MAP_MAGLEV),
						  &groups[k], &fds[k], BPF_ANY);
			if (err) {
				code = KERR(err, "bpf_map_update_elem(sy_maglev, group %u)",
					    groups[k]);
				break;
			}
			count = k + 1;
		}
	}
	for (size_t k = 0; k < n; k++)
		close(fds[k]); /* the outer map holds its own reference */
	*done = count;
	return code;
}

struct ct_flush {
	uint32_t backend_id, rev_nat_id, proto;
	struct key_list keys;
};

static int ct_match(const void *key, const void *value, void *ctx)
{
	const struct sy_ct_key *k = key;
	const struct sy_ct_value *v = value;
	struct ct_flush *f = ctx;

	if (f->proto && k->proto != f->proto)
		return 0;
	if ((f->backend_id && v->backend_id == f->backend_id) ||
	    (f->rev_nat_id && v->rev_nat_id == f->rev_nat_id))
		return key_list_push(&f->keys, key);
	return 0;
}

struct aff_flush {
	uint32_t group;
	struct key_list keys;
};

static int aff_match(const void *key, const void *value, void *ctx)
{
	const struct sy_affinity_key *k = key;
	struct aff_flush *f = ctx;

	(void)value;
	if (k->group == f->group)
		return key_list_push(&f->keys, key);
	return 0;
}

/* Collect first, delete after: deleting while walking a hash map with
 * get_next_key restarts the walk. */
static int delete_keys(int fd, struct key_list *kl, uint64_t *deleted)
{
	for (size_t i = 0; i < kl->n; i++) {
		int err = bpf_map_delete_elem(fd, kl->data + i * kl->ksize);

		if (err && err != -ENOENT)
			return err;
		if (!err)
			(*deleted)++;
	}
	return 0;
}

static uint64_t iter_bound(struct loader *L, enum sy_map_id id)
{
	return (uint64_t)bpf_map__max_entries(L->maps[id]) * 2 + 1024;
}

static int flush_conntrack(struct loader *L, const PB(FlushConntrack) *f,
			   const char *at, struct reply *r, uint32_t *total)
{
	struct ct_flush ctx = {
		.backend_id = f->backend_id,
		.rev_nat_id = f->rev_nat_id,
		.proto = f->proto,
		.keys = { .ksize = sizeof(struct sy_ct_key) },
	};
	int fd = sy_map_fd(L, SY_MAP_CONNTRACK);
	uint64_t deleted = 0;
	int err;

	err = map_iter(fd, sizeof(struct sy_ct_key),
		       sizeof(struct sy_ct_value),
		       iter_bound(L, SY_MAP_CONNTRACK), ct_match, &ctx);
	if (!err)
		err = delete_keys(fd, &ctx.keys, &deleted);
	key_list_free(&ctx.keys);
	*total += (uint32_t)deleted;
	if (err)
		return KERR(err, "flushing sy_conntrack");
	log_info("%s: %llu conntrack entries removed (backend %u, revnat %u, "
		 "proto %u)", at, (unsigned long long)deleted, f->backend_id,
		 f->rev_nat_id, f->proto);
	return 0;
}

/* ---- gc_conntrack -------------------------------------------------------
 * Pass 1 walks sy_conntrack against snapshots of the sy_backends and
 * sy_revnat keys and collects candidates: expired entries (sy_ct_expired(),
 * the datapath's own rule) and orphans. Pass 2 re-reads each candidate and
 * checks again with the live maps and a fresh clock before deleting, so an
 * entry refreshed by a packet, or one that uses a backend added after the
 * snapshot, survives. What remains is the unavoidable race of a packet
 * refreshing an entry between that check and the delete: its next packet
 * then starts a new flow, which Maglev sends to the same backend. */

static uint64_t mono_now_ns(void)
{
	struct timespec ts;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int key_push_cb(const void *key, const void *value, void *ctx)
{
	(void)value;
	return key_list_push(ctx, key);
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Sorted snapshot of a map's __u32 keys. */
static int id_snapshot(struct loader *L, enum sy_map_id id,
		       struct key_list *ids)
{
	int err;

	ids->ksize = sizeof(uint32_t);
	err = map_iter(sy_map_fd(L, id), sizeof(uint32_t), 0,
		       iter_bound(L, id), key_push_cb, ids);
	if (!err && ids->n)
		qsort(ids->data, ids->n, sizeof(uint32_t), u32_cmp);
	return err;
}

static bool id_in(const struct key_list *ids, uint32_t id)
{
	return ids->n &&
	       bsearch(&id, ids->data, ids->n, sizeof(uint32_t), u32_cmp);
}

struct ct_gc {
	uint64_t now;
	struct key_list backends, revnat; /* sorted __u32 ids */
	struct key_list keys;             /* candidates */
	uint64_t scanned;
};

static int ct_gc_match(const void *key, const void *value, void *ctx)
{
	const struct sy_ct_key *k = key;
	const struct sy_ct_value *v = value;
	struct ct_gc *g = ctx;

	g->scanned++;
	if (sy_ct_expired(k->proto, v->flags, v->last_seen, g->now) ||
	    !id_in(&g->backends, v->backend_id) ||
	    !id_in(&g->revnat, v->rev_nat_id))
		return key_list_push(&g->keys, key);
	return 0;
}

static bool id_exists(struct loader *L, enum sy_map_id id, uint32_t key,
		      int *err)
{
	uint8_t val[64]; /* sy_backend 16 B, sy_revnat 8 B */
	int e = bpf_map_lookup_elem(sy_map_fd(L, id), &key, val);

	if (e && e != -ENOENT)
		*err = e;
	return e == 0;
}

static int gc_conntrack(struct loader *L, const char *at, struct reply *r,
			uint32_t *total)
{
	struct ct_gc g = {
		.keys = { .ksize = sizeof(struct sy_ct_key) },
	};
	int fd = sy_map_fd(L, SY_MAP_CONNTRACK);
	uint64_t expired = 0, orphan_be = 0, orphan_rn = 0;
	uint64_t t0 = mono_now_ns();
	int err;

	err = id_snapshot(L, SY_MAP_BACKENDS, &g.backends);
	if (err) {
		err = KERR(err, "reading sy_backends");
		goto out;
	}
	err = id_snapshot(L, SY_MAP_REVNAT, &g.revnat);
	if (err) {
		err = KERR(err, "reading sy_revnat");
		goto out;
	}
	g.now = mono_now_ns();
	err = map_iter(fd, sizeof(struct sy_ct_key),
		       sizeof(struct sy_ct_value),
		       iter_bound(L, SY_MAP_CONNTRACK), ct_gc_match, &g);
	if (err) {
		err = KERR(err, "walking sy_conntrack");
		goto out;
	}

	for (size_t i = 0; i < g.keys.n; i++) {
		const struct sy_ct_key *k =
			(const void *)(g.keys.data + i * g.keys.ksize);
		struct sy_ct_value v;
		uint64_t *why = NULL;
		bool has;

		err = bpf_map_lookup_elem(fd, k, &v);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err)
			break;
		if (sy_ct_expired(k->proto, v.flags, v.last_seen,
				  mono_now_ns())) {
			why = &expired;
		} else {
			has = id_exists(L, SY_MAP_BACKENDS, v.backend_id, &err);
			if (err)
				break;
			if (!has)
				why = &orphan_be;
		}
		if (!why) {
			has = id_exists(L, SY_MAP_REVNAT, v.rev_nat_id, &err);
			if (err)
				break;
			if (!has)
				why = &orphan_rn;
		}
		if (!why)
			continue; /* refreshed or re-created meanwhile */
		err = bpf_map_delete_elem(fd, k);
		if (err == -ENOENT) {
			err = 0;
			continue;
		}
		if (err)
			break;
		(*why)++;
		(*total)++;
	}
	if (err) {
		err = KERR(err, "deleting from sy_conntrack");
		goto out;
	}
	log_info("%s: %llu of %llu conntrack entries removed (%llu expired, "
		 "%llu of deleted backends, %llu of deleted frontends) in "
		 "%llu ms", at,
		 (unsigned long long)(expired + orphan_be + orphan_rn),
		 (unsigned long long)g.scanned, (unsigned long long)expired,
		 (unsigned long long)orphan_be, (unsigned long long)orphan_rn,
		 (unsigned long long)((mono_now_ns() - t0) / 1000000));
out:
	key_list_free(&g.backends);
	key_list_free(&g.revnat);
	key_list_free(&g.keys);
	return err;
}

static int delete_affinity(struct loader *L, uint32_t group, const char *at,
			   struct reply *r)
{
	struct aff_flush ctx = {
		.group = group,
		.keys = { .ksize = sizeof(struct sy_affinity_key) },
	};
	int fd = sy_map_fd(L, SY_MAP_AFFINITY);
	uint64_t deleted = 0;
	int err;

	err = map_iter(fd, sizeof(struct sy_affinity_key), 0,
		       iter_bound(L, SY_MAP_AFFINITY), aff_match, &ctx);
	if (!err)
		err = delete_keys(fd, &ctx.keys, &deleted);
	key_list_free(&ctx.keys);
	if (err)
		return KERR(err, "flushing sy_affinity");
	log_debug("%s: %llu affinity entries removed", at,
		  (unsigned long long)deleted);
	return 0;
}

static int apply_op(struct loader *L, const map_op *op, size_t i,
		    struct reply *r, PB(ApplyResult) *res)
{
	char at[48];
	int err;

	snprintf(at, sizeof(at), "ops[%zu].%s", i, mapop_name(op->op_case));
	switch (op->op_case) {
	case MAPOP(UPSERT_BACKEND): {
		const PB(UpsertBackend) *b = op->upsert_backend;
		struct sy_backend v = { 0 };
		uint32_t id = b->id;

		memcpy(&v.addr, b->addr.data, 4);
		v.port = htons((uint16_t)b->port);
		v.proto = (uint8_t)b->proto;
		v.state = (uint8_t)b->state;
		v.flags = (uint8_t)b->flags;
		v.zone = b->zone;
		err = update(L, SY_MAP_BACKENDS, &id, &v);
		return err ? KERR(err, "update sy_backends[%u]", id) : 0;
	}
	case MAPOP(DELETE_BACKEND): {
		uint32_t id = op->delete_backend->id;

		err = delete_absent_ok(L, SY_MAP_BACKENDS, &id);
		return err ? KERR(err, "delete sy_backends[%u]", id) : 0;
	}
	case MAPOP(SET_MAGLEV): {
		/* Reached only through set_maglev_run (handle_apply). */
		int fd, code = build_inner(op->set_maglev, &fd, at, r);
		uint32_t group = op->set_maglev->group;

		if (code)
			return code;
		err = bpf_map_update_elem(sy_map_fd(L, SY_MAP_MAGLEV), &group, &fd, BPF_ANY);
		close(fd);
		return err ? KERR(err, "bpf_map_update_elem(sy_maglev, group %u)", group) : 0;
	}
	case MAPOP(DELETE_MAGLEV): {
		uint32_t group = op->delete_maglev->group;

		err = delete_absent_ok(L, SY_MAP_MAGLEV, &group);
		return err ? KERR(err, "delete sy_maglev[%u]", group) : 0;
	}
	case MAPOP(UPSERT_REVNAT): {
		const PB(UpsertRevNat) *n = op->upsert_revnat;
		struct sy_revnat v = { 0 };
		uint32_t id = n->id;

		memcpy(&v.addr, n->addr.data, 4);
		v.port = htons((uint16_t)n->port);
		err = update(L, SY_MAP_REVNAT, &id, &v);
		return err ? KERR(err, "update sy_revnat[%u]", id) : 0;
	}
	case MAPOP(DELETE_REVNAT): {
		uint32_t id = op->delete_revnat->id;

		err = delete_absent_ok(L, SY_MAP_REVNAT, &id);
		if (err)
			return KERR(err, "delete sy_revnat[%u]", id);
		/* The frontend is gone: so are its statistics (ids are not
		 * reused, so nothing else would ever delete them). */
		for (uint32_t hook = SY_HOOK_TC_INGRESS;
		     hook <= SY_HOOK_SOCK_LB; hook++) {
			struct sy_svc_stats_key sk = { .frontend_id = id,
						       .hook = hook };

			err = delete_absent_ok(L, SY_MAP_SVC_STATS, &sk);
			if (err)
				return KERR(err, "delete sy_svc_stats[%u/%u]",
					    id, hook);
		}
		return 0;
	}
	case MAPOP(UPSERT_SOURCE_RANGE): {
		const PB(UpsertSourceRange) *o = op->upsert_source_range;
		struct sy_source_range_key k;
		uint8_t one = 1;

		source_range_key_fill(&k, o->frontend_id, &o->addr,
				      o->prefix_len);
		err = update(L, SY_MAP_SOURCE_RANGES, &k, &one);
		return err ? KERR(err, "update sy_source_ranges[%u]",
				  o->frontend_id) : 0;
	}
	case MAPOP(DELETE_SOURCE_RANGE): {
		const PB(DeleteSourceRange) *o = op->delete_source_range;
		struct sy_source_range_key k;

		source_range_key_fill(&k, o->frontend_id, &o->addr,
				      o->prefix_len);
		err = delete_absent_ok(L, SY_MAP_SOURCE_RANGES, &k);
		return err ? KERR(err, "delete sy_source_ranges[%u]",
				  o->frontend_id) : 0;
	}
	case MAPOP(UPSERT_SERVICE): {
		const PB(UpsertService) *s = op->upsert_service;
		struct sy_svc_value v = { 0 };
		struct sy_svc_key k;

		svc_key_fill(&k, s->key);
		v.id = s->id;
		v.group = s->group;
		v.count = (uint16_t)s->count;
		v.flags = (uint16_t)s->flags;
		v.affinity_timeout = s->affinity_timeout;
		v.table_size = s->table_size;
		err = update(L, SY_MAP_SERVICES, &k, &v);
		return err ? KERR(err, "update sy_services") : 0;
	}
	case MAPOP(DELETE_SERVICE): {
		struct sy_svc_key k;

		svc_key_fill(&k, op->delete_service->key);
		err = delete_absent_ok(L, SY_MAP_SERVICES, &k);
		return err ? KERR(err, "delete sy_services") : 0;
	}
	case MAPOP(FLUSH_CONNTRACK):
		return flush_conntrack(L, op->flush_conntrack, at, r,
				       &res->deleted);
	case MAPOP(GC_CONNTRACK):
		return gc_conntrack(L, at, r, &res->deleted);
	case MAPOP(DELETE_AFFINITY):
		return delete_affinity(L, op->delete_affinity->group, at, r);
	case MAPOP(SET_CONFIG): {
		const PB(SetConfig) *c = op->set_config;
		struct sy_config v = { 0 };
		uint32_t zero = 0;

		v.flow_hash_seed = c->flow_hash_seed;
		v.flags = c->flags;
		if (c->node_addr.len == 4)
			memcpy(&v.node_addr, c->node_addr.data, 4);
		v.snat_port_min = (uint16_t)c->snat_port_min;
		v.snat_port_max = (uint16_t)c->snat_port_max;
		v.host_netns_cookie = own_netns_cookie();
		if (c->service_cidr_addr.len == 4) {
			v.svc_mask = service_cidr_mask(c->service_cidr_prefix_len);
			memcpy(&v.svc_net, c->service_cidr_addr.data, 4);
			v.svc_net &= v.svc_mask;
		}
		err = update(L, SY_MAP_CONFIG, &zero, &v);
		return err ? KERR(err, "update sy_config[0]") : 0;
	}
	default:
		return reply_err(r, CODE(INVALID), "%s: no operation set", at);
	}
}

int handle_apply(struct loader *L, const PB(ApplyRequest) *req,
		 struct reply *r)
{
	PB(ApplyResult) *res = arena_alloc(r->a, sizeof(*res));
	int code;

	switchyard__loader__v1__apply_result__init(res);
	r->resp->result_case = RES(APPLY);
	r->resp->apply = res;

	for (size_t i = 0; i < req->n_ops; i++) {
		code = validate_op(req->ops[i], i, r);
		if (code) {
			res->failed_op = (uint32_t)i;
			return code;
		}
	}
	for (size_t i = 0; i < req->n_ops; i++) {
		if (req->ops[i]->op_case == MAPOP(SET_MAGLEV)) {
			size_t done = 0;

			code = set_maglev_run(L, req, i, r, &done);
			res->applied += done;
			if (code) {
				res->failed_op = (uint32_t)(i + done);
				log_warn("apply stopped at op %zu of %zu", i + done, req->n_ops);
				return code;
			}
			i += done - 1;
			continue;
		}
		code = apply_op(L, req->ops[i], i, r, res);
		if (code) {
			res->failed_op = (uint32_t)i;
			log_warn("apply stopped at op %zu of %zu", i,
				 req->n_ops);
			return code;
		}
		res->applied++;
	}
	return CODE(OK);
}
