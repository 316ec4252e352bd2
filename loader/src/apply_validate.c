// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Validation of an apply's MapOps, all of them before any is executed: an
 * invalid op anywhere rejects the request with nothing written. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <linux/bpf.h>

#include "sy_structs.h"
#include "handlers.h"
#include "maglev_tables.h"
#include "service_cidr.h"

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

const char *mapop_name(int c)
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
	case MAPOP(SET_MONITOR): return "set_monitor";
	default: return "op";
	}
}

#define BAD(...) reply_err(r, CODE(INVALID), __VA_ARGS__)

/* The length is the family: 4 bytes IPv4, 16 bytes IPv6 (its own maps). */
static int check_addr(struct reply *r, const char *at, const char *field,
		      const ProtobufCBinaryData *b, bool optional)
{
	if (optional && b->len == 0)
		return 0;
	if (b->len != 4 && b->len != 16)
		return BAD("%s.%s: an address must be 4 bytes (IPv4) or 16 "
			   "bytes (IPv6), got %zu", at, field, b->len);
	return 0;
}

/* A field that holds only one family (SetConfig's per-family fields). */
static int check_addr_len(struct reply *r, const char *at, const char *field,
			  const ProtobufCBinaryData *b, size_t len)
{
	if (b->len != 0 && b->len != len)
		return BAD("%s.%s: an %s address must be %zu bytes, got %zu",
			   at, field, len == 4 ? "IPv4" : "IPv6", len, b->len);
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
	uint32_t max = addr->len == 16 ? 128 : 32;

	if (err)
		return err;
	if (prefix_len > max)
		return BAD("%s.prefix_len: %u is not an %s prefix length "
			   "(0-%u)", at, prefix_len,
			   max == 128 ? "IPv6" : "IPv4", max);
	return 0;
}

/* The IPv6 Service CIDR of a SetConfig: none, or 16 bytes /1..128 that
 * does not hold node_addr6. */
static int check_service_cidr6(struct reply *r, const char *at,
			       const PB(SetConfig) *c)
{
	uint8_t m[16];
	bool holds = c->node_addr6.len == 16;

	if (c->service_cidr6_addr.len == 0) {
		if (c->service_cidr6_prefix_len)
			return BAD("%s: service_cidr6_prefix_len without "
				   "service_cidr6_addr", at);
		return 0;
	}
	if (c->service_cidr6_addr.len != 16 ||
	    c->service_cidr6_prefix_len < 1 ||
	    c->service_cidr6_prefix_len > 128)
		return BAD("%s: service_cidr6 %u bytes /%u is not an IPv6 CIDR "
			   "with a prefix of 1..128", at,
			   (unsigned)c->service_cidr6_addr.len,
			   c->service_cidr6_prefix_len);
	service_cidr6_mask(c->service_cidr6_prefix_len, m);
	for (int i = 0; holds && i < 16; i++)
		holds = (c->node_addr6.data[i] & m[i]) ==
			(c->service_cidr6_addr.data[i] & m[i]);
	if (holds)
		return BAD("%s: the IPv6 service CIDR holds node_addr6 (replies "
			   "of SNATed flows go there)", at);
	return 0;
}

int apply_validate_op(const PB(MapOp) *op, size_t i, struct reply *r)
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
	case MAPOP(SET_MONITOR): {
		const PB(SetMonitor) *m = op->set_monitor;
		size_t len = m->client_addr.len;

		if (len != 0 && len != 4 && len != 16)
			return BAD("%s.client_addr: an address must be 4 or 16 "
				   "bytes, got %zu", at, len);
		if (len == 0 && m->client_prefix_len)
			return BAD("%s: client_prefix_len without client_addr",
				   at);
		if (m->client_prefix_len > len * 8)
			return BAD("%s.client_prefix_len: %u is more than the "
				   "address's %zu bits", at,
				   m->client_prefix_len, len * 8);
		return 0;
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
		if ((err = check_addr_len(r, at, "node_addr", &c->node_addr,
					  4)) ||
		    (err = check_addr_len(r, at, "node_addr6", &c->node_addr6,
					  16)))
			return err;
		return check_service_cidr6(r, at, c);
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
