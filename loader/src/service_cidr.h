/* The Service CIDR of sy_config (svc_net/svc_mask): packets to it skip the
 * datapath's reply lookup (bpf/include/sy_service_cidr.h). */
#ifndef SY_LOADER_SERVICE_CIDR_H
#define SY_LOADER_SERVICE_CIDR_H

#include <stdint.h>
#include <arpa/inet.h>

/* The network mask of a prefix length 1..32, in network order. */
static inline uint32_t service_cidr_mask(uint32_t prefix_len)
{
	return htonl(prefix_len >= 32 ? 0xffffffffu :
				     ~(0xffffffffu >> prefix_len));
}

#endif
