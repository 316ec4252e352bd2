// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* apply: MapOps validated as a whole (apply_validate.c), then converted to
 * the datapath's structs and executed in order. An invalid op anywhere
 * rejects the request before anything is written (applied = 0); a kernel
 * failure stops at that op and reports how many were applied. */
#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "service_cidr.h"
#include "sy_structs.h"
#include "handlers.h"
#include "monitor.h"
#include "log.h"
#include "ct_flush.h"
#include "ct_gc.h"
#include "maglev_tables.h"
#include "netns_cookie.h"

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

/* IPv6: {32 + len, frontend, the 16 bytes with the host bits zeroed}. */
static void source_range_key6_fill(struct sy_source_range_key6 *k,
				   uint32_t frontend_id,
				   const ProtobufCBinaryData *addr,
				   uint32_t prefix_len)
{
	uint8_t *b = (uint8_t *)k->addr;

	memset(k, 0, sizeof(*k));
	memcpy(b, addr->data, 16);
	for (uint32_t i = 0; i < 16; i++) {
		uint32_t keep = prefix_len > i * 8 ? prefix_len - i * 8 : 0;

		if (keep < 8)
			b[i] &= (uint8_t)(0xff00u >> keep);
	}
	k->prefixlen = 32 + prefix_len;
	k->frontend_id = frontend_id;
}

/* The address's family picks the map (validated: 4 or 16 bytes). */
static bool is_ip6(const ProtobufCBinaryData *addr)
{
	return addr->len == 16;
}

/* The key of sy_services (IPv4) or sy_services6 (IPv6) in *k4 or *k6;
 * returns the map and sets *key to the one filled. */
static enum sy_map_id svc_key_fill(struct sy_svc_key *k4,
				   struct sy_svc_key6 *k6,
				   const PB(ServiceKey) *src, const void **key)
{
	if (is_ip6(&src->addr)) {
		memset(k6, 0, sizeof(*k6));
		memcpy(k6->addr, src->addr.data, 16);
		k6->port = htons((uint16_t)src->port);
		k6->proto = (uint8_t)src->proto;
		k6->scope = (uint8_t)src->scope;
		*key = k6;
		return SY_MAP_SERVICES6;
	}
	memset(k4, 0, sizeof(*k4));
	memcpy(&k4->addr, src->addr.data, 4);
	k4->port = htons((uint16_t)src->port);
	k4->proto = (uint8_t)src->proto;
	k4->scope = (uint8_t)src->scope;
	*key = k4;
	return SY_MAP_SERVICES;
}

/* Ids are unique across families (one id space), so a delete by id goes to
 * both maps: the control plane need not know which family an id had (after
 * a restart it restores ids from the pinned maps of either). */
static int delete_id_both(struct loader *L, enum sy_map_id m4,
			  enum sy_map_id m6, uint32_t id, enum sy_map_id *failed)
{
	int err = delete_absent_ok(L, m4, &id);

	*failed = m4;
	if (err)
		return err;
	*failed = m6;
	return delete_absent_ok(L, m6, &id);
}

/* Applies req->ops[i..] while they are set_maglev (at most SY_MAGLEV_BATCH):
 * a table of the group's current size is rewritten in place at once (only
 * its changed slots); the others are built first and swapped in with one
 * batch at the end of the run. A group seen twice ends the run, so each op
 * lands on the table the one before it left. *done gets how many were
 * applied (a prefix of the run). */
static int set_maglev_run(struct loader *L, const PB(ApplyRequest) *req,
			  size_t i, struct reply *r, PB(ApplyResult) *res,
			  size_t *done)
{
	uint32_t groups[SY_MAGLEV_BATCH], seen[SY_MAGLEV_BATCH], swapped = 0;
	int fds[SY_MAGLEV_BATCH];
	uint32_t n_in_place = 0;
	struct sy_err e;
	size_t n = 0, ran = 0, failed = (size_t)-1;
	int code = 0, err;
	char at[48];

	*done = 0;
	while (i + ran < req->n_ops && ran < SY_MAGLEV_BATCH &&
	       req->ops[i + ran]->op_case == MAPOP(SET_MAGLEV)) {
		const PB(SetMaglevTable) *t = req->ops[i + ran]->set_maglev;
		uint32_t m = (uint32_t)t->n_backend_ids;
		struct maglev_slots_stats st;
		bool repeat = false;

		for (size_t k = 0; k < ran && !repeat; k++)
			repeat = seen[k] == t->group;
		if (repeat)
			break;
		snprintf(at, sizeof(at), "ops[%zu].set_maglev", i + ran);
		err = maglev_table_write_in_place(L, t->group, t->backend_ids,
						  m, &st, &e);
		if (err == 1) {
			n_in_place++;
			res->maglev_slots_changed += st.slots_changed;
			res->maglev_elems_written += st.elems_written;
		} else if (err == 0) {
			if (maglev_table_create(t->backend_ids, m, &fds[n],
						&e)) {
				code = reply_sy_err_at(r, at, &e);
				failed = ran;
				break; /* swap what was built, then report */
			}
			groups[n++] = t->group;
		} else {
			code = reply_sy_err_at(r, at, &e);
			failed = ran;
			break;
		}
		seen[ran++] = t->group;
	}
	if (n && maglev_tables_swap(L, groups, fds, (uint32_t)n, &swapped,
				    &e)) {
		/* The ops up to the first table not swapped landed (in-place
		 * ones after it did too, and are sent again: idempotent). */
		size_t k = 0;

		while (k < ran && seen[k] != groups[swapped])
			k++;
		snprintf(at, sizeof(at), "ops[%zu].set_maglev", i + k);
		code = reply_sy_err_at(r, at, &e);
		failed = k;
	}
	for (size_t k = 0; k < n; k++)
		close(fds[k]); /* the outer map holds its own reference */
	if (failed == (size_t)-1) {
		res->maglev_in_place += n_in_place;
		res->maglev_replaced += swapped;
		*done = ran;
	} else {
		*done = failed;
	}
	return code;
}

static int apply_op(struct loader *L, const PB(MapOp) *op, size_t i,
		    struct reply *r, PB(ApplyResult) *res)
{
	struct sy_err e;
	char at[48];
	int err;

	snprintf(at, sizeof(at), "ops[%zu].%s", i, mapop_name(op->op_case));
	switch (op->op_case) {
	case MAPOP(UPSERT_BACKEND): {
		const PB(UpsertBackend) *b = op->upsert_backend;
		struct sy_backend v = { 0 };
		uint32_t id = b->id;

		if (is_ip6(&b->addr)) {
			struct sy_backend6 v6 = { 0 };

			memcpy(v6.addr, b->addr.data, 16);
			v6.port = htons((uint16_t)b->port);
			v6.proto = (uint8_t)b->proto;
			v6.state = (uint8_t)b->state;
			v6.flags = (uint8_t)b->flags;
			v6.zone = b->zone;
			err = update(L, SY_MAP_BACKENDS6, &id, &v6);
			return err ? KERR(err, "update sy_backends6[%u]", id) : 0;
		}
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
		enum sy_map_id m;

		err = delete_id_both(L, SY_MAP_BACKENDS, SY_MAP_BACKENDS6, id,
				     &m);
		return err ? KERR(err, "delete %s[%u]", sy_map_names[m], id) : 0;
	}
	case MAPOP(SET_MAGLEV): {
		/* Reached only through set_maglev_run (handle_apply). */
		uint32_t group = op->set_maglev->group, done;
		int fd;

		if (maglev_table_create(op->set_maglev->backend_ids,
					(uint32_t)op->set_maglev->n_backend_ids,
					&fd, &e))
			return reply_sy_err_at(r, at, &e);
		err = maglev_tables_swap(L, &group, &fd, 1, &done, &e);
		close(fd);
		return err ? reply_sy_err_at(r, at, &e) : 0;
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

		if (is_ip6(&n->addr)) {
			struct sy_revnat6 v6 = { 0 };

			memcpy(v6.addr, n->addr.data, 16);
			v6.port = htons((uint16_t)n->port);
			err = update(L, SY_MAP_REVNAT6, &id, &v6);
			return err ? KERR(err, "update sy_revnat6[%u]", id) : 0;
		}
		memcpy(&v.addr, n->addr.data, 4);
		v.port = htons((uint16_t)n->port);
		err = update(L, SY_MAP_REVNAT, &id, &v);
		return err ? KERR(err, "update sy_revnat[%u]", id) : 0;
	}
	case MAPOP(DELETE_REVNAT): {
		uint32_t id = op->delete_revnat->id;
		enum sy_map_id m;

		err = delete_id_both(L, SY_MAP_REVNAT, SY_MAP_REVNAT6, id, &m);
		if (err)
			return KERR(err, "delete %s[%u]", sy_map_names[m], id);
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

		if (is_ip6(&o->addr)) {
			struct sy_source_range_key6 k6;

			source_range_key6_fill(&k6, o->frontend_id, &o->addr,
					       o->prefix_len);
			err = update(L, SY_MAP_SOURCE_RANGES6, &k6, &one);
			return err ? KERR(err, "update sy_source_ranges6[%u]",
					  o->frontend_id) : 0;
		}
		source_range_key_fill(&k, o->frontend_id, &o->addr,
				      o->prefix_len);
		err = update(L, SY_MAP_SOURCE_RANGES, &k, &one);
		return err ? KERR(err, "update sy_source_ranges[%u]",
				  o->frontend_id) : 0;
	}
	case MAPOP(DELETE_SOURCE_RANGE): {
		const PB(DeleteSourceRange) *o = op->delete_source_range;
		struct sy_source_range_key k;

		if (is_ip6(&o->addr)) {
			struct sy_source_range_key6 k6;

			source_range_key6_fill(&k6, o->frontend_id, &o->addr,
					       o->prefix_len);
			err = delete_absent_ok(L, SY_MAP_SOURCE_RANGES6, &k6);
			return err ? KERR(err, "delete sy_source_ranges6[%u]",
					  o->frontend_id) : 0;
		}
		source_range_key_fill(&k, o->frontend_id, &o->addr,
				      o->prefix_len);
		err = delete_absent_ok(L, SY_MAP_SOURCE_RANGES, &k);
		return err ? KERR(err, "delete sy_source_ranges[%u]",
				  o->frontend_id) : 0;
	}
	case MAPOP(UPSERT_SERVICE): {
		const PB(UpsertService) *s = op->upsert_service;
		struct sy_svc_value v = { 0 };
		struct sy_svc_key6 k6;
		struct sy_svc_key k;
		const void *key;
		enum sy_map_id m = svc_key_fill(&k, &k6, s->key, &key);

		v.id = s->id;
		v.group = s->group;
		v.count = (uint16_t)s->count;
		v.flags = (uint16_t)s->flags;
		v.affinity_timeout = s->affinity_timeout;
		v.table_size = s->table_size;
		err = update(L, m, key, &v);
		return err ? KERR(err, "update %s", sy_map_names[m]) : 0;
	}
	case MAPOP(DELETE_SERVICE): {
		struct sy_svc_key6 k6;
		struct sy_svc_key k;
		const void *key;
		enum sy_map_id m = svc_key_fill(&k, &k6, op->delete_service->key,
						&key);

		err = delete_absent_ok(L, m, key);
		return err ? KERR(err, "delete %s", sy_map_names[m]) : 0;
	}
	case MAPOP(FLUSH_CONNTRACK): {
		const PB(FlushConntrack) *f = op->flush_conntrack;
		uint64_t deleted = 0;

		err = ct_flush(L, f->backend_id, f->rev_nat_id, f->proto, at,
			       &deleted, &e);
		res->deleted += (uint32_t)deleted;
		return err ? reply_sy_err_at(r, at, &e) : 0;
	}
	case MAPOP(GC_CONNTRACK): {
		/* The deprecated op of agents older than GcConntrackRequest:
		 * the same collection, counted in ApplyResult.deleted. */
		struct ct_gc_stats st;

		err = ct_gc(L, at, &st, &e);
		res->deleted += (uint32_t)ct_gc_deleted(&st);
		return err ? reply_sy_err_at(r, at, &e) : 0;
	}
	case MAPOP(DELETE_AFFINITY):
		err = affinity_flush(L, op->delete_affinity->group, at, &e);
		return err ? reply_sy_err_at(r, at, &e) : 0;
	case MAPOP(SET_CONFIG): {
		const PB(SetConfig) *c = op->set_config;
		struct sy_config v = { 0 };
		struct sy_config6 v6 = { 0 };
		uint32_t zero = 0;

		v.flow_hash_seed = c->flow_hash_seed;
		v.flags = c->flags;
		if (c->node_addr.len == 4)
			memcpy(&v.node_addr, c->node_addr.data, 4);
		v.snat_port_min = (uint16_t)c->snat_port_min;
		v.snat_port_max = (uint16_t)c->snat_port_max;
		v.host_netns_cookie = host_netns_cookie();
		if (c->service_cidr_addr.len == 4) {
			v.svc_mask = service_cidr_mask(c->service_cidr_prefix_len);
			memcpy(&v.svc_net, c->service_cidr_addr.data, 4);
			v.svc_net &= v.svc_mask;
		}
		err = update(L, SY_MAP_CONFIG, &zero, &v);
		if (err)
			return KERR(err, "update sy_config[0]");
		/* The IPv6 half; all zero when the node serves no IPv6. */
		if (c->node_addr6.len == 16)
			memcpy(v6.node_addr, c->node_addr6.data, 16);
		if (c->service_cidr6_addr.len == 16) {
			service_cidr6_mask(c->service_cidr6_prefix_len,
					   (uint8_t *)v6.svc_mask);
			memcpy(v6.svc_net, c->service_cidr6_addr.data, 16);
			for (int i = 0; i < 4; i++)
				v6.svc_net[i] &= v6.svc_mask[i];
		}
		err = update(L, SY_MAP_CONFIG6, &zero, &v6);
		return err ? KERR(err, "update sy_config6[0]") : 0;
	}
	case MAPOP(SET_MONITOR): {
		const PB(SetMonitor) *m = op->set_monitor;
		struct monitor_setting v = {
			.trace = m->trace,
			.trace_frontend_id = m->trace_frontend_id,
			.trace_backend_id = m->trace_backend_id,
			.client_addr = m->client_addr.data,
			.client_addr_len = m->client_addr.len,
			.client_prefix_len = m->client_prefix_len,
			.ct_sample = m->ct_sample,
		};

		err = monitor_set(L, &v);
		return err ? KERR(err, "update sy_monitor[0]") : 0;
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
		code = apply_validate_op(req->ops[i], i, r);
		if (code) {
			res->failed_op = (uint32_t)i;
			return code;
		}
	}
	for (size_t i = 0; i < req->n_ops; i++) {
		if (req->ops[i]->op_case == MAPOP(SET_MAGLEV)) {
			size_t done = 0;

			code = set_maglev_run(L, req, i, r, res, &done);
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
