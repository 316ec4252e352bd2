/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The frontend a packet or a socket addresses, by scope (sy_structs.h,
 * sy_services): the caller's role says which scopes it sees.
 *
 *   SY_ROLE_POD       traffic from pods and from sockets of the node and its
 *                     pods (tc on pod devices, the socket hooks):
 *                     SY_SCOPE_INTERNAL first, then SY_SCOPE_EXTERNAL;
 *   SY_ROLE_EXTERNAL  traffic from outside (tc on external devices, XDP),
 *                     and frontends the node answers for:
 *                     SY_SCOPE_EXTERNAL only.
 *
 * sy_lookup_scoped() does not know the key's layout: a family's step
 * builds its key (address, port, protocol) and passes where the scope byte
 * is, so another address family's frontend map shares the scope order.
 */
#ifndef SY_FRONTEND_H
#define SY_FRONTEND_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"

#define SY_ROLE_POD      0
#define SY_ROLE_EXTERNAL 1

/* The value under key in map (a frontend map), scope by role; *scope is
 * the key's scope field. */
static __always_inline struct sy_svc_value *
sy_lookup_scoped(void *map, void *key, __u8 *scope, int role)
{
	struct sy_svc_value *svc;

	if (role == SY_ROLE_POD) {
		*scope = SY_SCOPE_INTERNAL;
		svc = bpf_map_lookup_elem(map, key);
		if (svc)
			return svc;
	}
	*scope = SY_SCOPE_EXTERNAL;
	return bpf_map_lookup_elem(map, key);
}

/* IPv4: the frontend at addr:port/proto. */
static __always_inline struct sy_svc_value *
sy_lookup_frontend(__be32 addr, __be16 port, __u8 proto, int role)
{
	struct sy_svc_key key = {
		.addr = addr,
		.port = port,
		.proto = proto,
	};

	return sy_lookup_scoped(&sy_services, &key, &key.scope, role);
}

#endif /* SY_FRONTEND_H */
