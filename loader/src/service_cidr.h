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

/* The 16-byte network mask of an IPv6 prefix length 1..128. */
static inline void service_cidr6_mask(uint32_t prefix_len, uint8_t mask[16])
{
	for (uint32_t i = 0; i < 16; i++) {
		uint32_t keep = prefix_len > i * 8 ? prefix_len - i * 8 : 0;

		mask[i] = keep >= 8 ? 0xff : (uint8_t)(0xff00u >> keep);
	}
}

#endif
