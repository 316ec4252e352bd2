// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A stand-in for another vendor's tc program (a CNI, a policy engine) in
 * the tests: counts the IPv4 packets it sees by destination address and
 * passes every packet on to the next program (TCX_NEXT / TC_ACT_UNSPEC).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* IPv4 destination, network order */
	__type(value, __u64); /* packets */
} counts SEC(".maps");

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	__u64 one = 1, *v;
	__u32 daddr;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	daddr = iph->daddr;
	v = bpf_map_lookup_elem(&counts, &daddr);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &daddr, &one, BPF_NOEXIST);
	return -1;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
