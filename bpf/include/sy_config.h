/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node's datapath settings (sy_config, one ARRAY element written by the
 * loader): every program reads them through sy_config_get(), and the
 * getters below give each setting with its default for a missing element
 * (which an ARRAY of 1 never lacks; the verifier wants the check). An ARRAY
 * lookup is inlined by the verifier (no helper call), so reading the
 * element where a setting is needed costs a few instructions.
 */
#ifndef SY_CONFIG_H
#define SY_CONFIG_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "sy_structs.h"
#include "sy_maps.h"

static __always_inline const struct sy_config *sy_config_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sy_config, &zero);
}

/* The node's address for source NAT; 0: nothing is SNATed. */
static __always_inline __be32 sy_node_addr(void)
{
	const struct sy_config *cfg = sy_config_get();

	return cfg ? cfg->node_addr : 0;
}

/* The cluster-wide seed of the flow hash (sy_structs.h, "Flow hash"). */
static __always_inline __u32 sy_flow_hash_seed(void)
{
	const struct sy_config *cfg = sy_config_get();

	return cfg ? cfg->flow_hash_seed : 0;
}

/* Is SY_CFG_F_* flag set? */
static __always_inline int sy_config_flag(__u32 flag)
{
	const struct sy_config *cfg = sy_config_get();

	return cfg && (cfg->flags & flag);
}

/* The SNAT port range (host order), or the built-in one. */
static __always_inline void sy_snat_range(__u16 *min, __u16 *max)
{
	const struct sy_config *cfg = sy_config_get();

	*min = SY_SNAT_PORT_MIN;
	*max = SY_SNAT_PORT_MAX;
	if (cfg && cfg->snat_port_min && cfg->snat_port_max >= cfg->snat_port_min) {
		*min = cfg->snat_port_min;
		*max = cfg->snat_port_max;
	}
}

#endif /* SY_CONFIG_H */
