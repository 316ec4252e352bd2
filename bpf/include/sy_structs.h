/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Switchyard map key/value layouts. This header is the single source of truth
 * for the byte layout of every pinned map: the BPF programs and the C loader
 * include it, the TypeScript codecs (control-plane/src/dataplane/ebpf/
 * map-values.ts) take their offsets and constants from
 * sy-layout.generated.ts, which `make` generates from the compiled object's
 * BTF, and docs/maps.md documents it for users of `bpftool map dump`.
 * Constants the control plane reads are enums, not #defines: only enums
 * reach BTF (bpf/layout_btf.c; docs/maps.md, "Layout contract").
 *
 * Conventions: addresses and ports are in network byte order (as on the
 * wire), every other integer is host byte order (little endian on x86/arm64).
 * Every struct is explicitly padded so the layout has no compiler-dependent
 * holes; keys must be zeroed (padding included) before lookups.
 */
#ifndef SY_STRUCTS_H
#define SY_STRUCTS_H

#include <linux/types.h>
#include <linux/bpf.h> /* struct bpf_spin_lock */

/* ---- sy_services: HASH, key sy_svc_key -> value sy_svc_value ---------- */

/* Frontend scope. A ServicePort frontend normally has one entry with
 * SY_SCOPE_EXTERNAL; when the external and internal traffic policies differ
 * (eTP=Local, iTP=Cluster or the reverse) a second entry with
 * SY_SCOPE_INTERNAL holds the table used for in-cluster sources. */
enum sy_scope {
	SY_SCOPE_EXTERNAL = 0,
	SY_SCOPE_INTERNAL = 1,
};

struct sy_svc_key {
	__be32 addr;  /* frontend IPv4 address */
	__be16 port;  /* frontend port */
	__u8 proto;   /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 scope;   /* SY_SCOPE_* */
};                    /* 8 bytes */

/* Service flags (sy_svc_value.flags). */
enum sy_svc_flag {
	SY_SVC_F_CLUSTERIP = 1u << 0, /* frontend is a ClusterIP */
	SY_SVC_F_NODEPORT = 1u << 1, /* frontend is a NodePort */
	SY_SVC_F_EXTERNALIP = 1u << 2, /* frontend is an ExternalIP */
	SY_SVC_F_LOADBALANCER = 1u << 3, /* frontend is a LoadBalancer ingress IP */
	SY_SVC_F_LOCAL_EXT = 1u << 4, /* externalTrafficPolicy=Local */
	SY_SVC_F_LOCAL_INT = 1u << 5, /* internalTrafficPolicy=Local */
	SY_SVC_F_AFFINITY = 1u << 6, /* sessionAffinity=ClientIP */
	SY_SVC_F_SOURCE_RANGE = 1u << 7, /* loadBalancerSourceRanges apply */
	SY_SVC_F_RANDOM = 1u << 8, /* random slot instead of Maglev hash */
	SY_SVC_F_DROP_NO_EP = 1u << 9, /* no backend: drop (iTP=Local) instead of reject */
	SY_SVC_F_HOST_EP = 1u << 10, /* an endpoint is this node's own address (hostNetwork pod here) */
};

struct sy_svc_value {
	__u32 id;               /* frontend id, also the reverse-NAT id (sy_revnat key) */
	__u32 group;            /* ServicePort id: keys sy_maglev and sy_affinity */
	__u16 count;            /* backends in the Maglev table; 0 = no usable endpoint */
	__u16 flags;            /* SY_SVC_F_* */
	__u32 affinity_timeout; /* seconds; meaningful with SY_SVC_F_AFFINITY */
	__u32 table_size;       /* Maglev table size M (prime), entries in the inner map */
};                              /* 20 bytes */

/* ---- sy_backends: HASH, key __u32 backend id -> value sy_backend ------- */

enum sy_backend_state {
	SY_BE_ACTIVE = 0, /* ready: may take new flows */
	SY_BE_TERMINATING = 1, /* keeps established flows, gets no new ones */
};

enum sy_backend_flag {
	SY_BE_F_LOCAL = 1u << 0, /* backend runs on this node */
};

struct sy_backend {
	__be32 addr;  /* backend (pod) IPv4 address */
	__be16 port;  /* backend (target) port */
	__u8 proto;   /* IPPROTO_* */
	__u8 state;   /* SY_BE_* */
	__u8 flags;   /* SY_BE_F_* */
	__u8 pad[3];
	__u32 zone;   /* zone id assigned by the control plane; 0 = unknown */
};                    /* 16 bytes */

/* ---- sy_revnat: HASH, key __u32 frontend id -> value sy_revnat -------- */

struct sy_revnat {
	__be32 addr;  /* frontend address to restore as the reply's source */
	__be16 port;  /* frontend port to restore as the reply's source port */
	__u16 pad;
};                    /* 8 bytes */

/* ---- sy_maglev: HASH_OF_MAPS, key __u32 group -> inner ARRAY ---------- */
/* The inner map is an ARRAY created with BPF_F_INNER_MAP, key __u32 element
 * index, value struct sy_maglev_slots (two slots per element), max_entries =
 * (M + 1) / 2 where M = sy_svc_value.table_size. Slot s (0 <= s < M) lives in
 * element s / 2 at ids[s & 1]; for an odd M the second half of the last
 * element is padding (0, never a backend id: ids start at 1).
 *
 * Why pairs: the kernel stores ARRAY elements 8-byte aligned, so an array of
 * __u32 values costs 8 bytes per slot; two slots per 8-byte element halve the
 * memory of every table (docs/maps.md has the numbers per M).
 *
 * Tables of different sizes share one outer map thanks to BPF_F_INNER_MAP; a
 * new table is written into a fresh inner map and swapped in with one update
 * of the outer map, so a packet never sees half a table. The loader's wire
 * format is unchanged: SetMaglevTable carries M backend ids and dump returns
 * M little-endian u32 (the loader packs and unpacks). */
struct sy_maglev_slots {
	__u32 ids[2];  /* backend ids of slots 2i and 2i + 1 */
};                     /* 8 bytes */

#define SY_MAGLEV_SLOTS_PER_ELEM 2
/* Elements of the template inner map (any size works: BPF_F_INNER_MAP). */
#define SY_MAGLEV_INNER_TEMPLATE_SIZE 126 /* M = 251 */

/* ---- sy_conntrack: LRU_HASH, key sy_ct_key -> value sy_ct_value ------- */

enum sy_ct_dir {
	SY_CT_FORWARD = 0, /* client -> frontend, as the client sent it */
	SY_CT_REPLY = 1, /* backend -> client, after DNAT */
};

struct sy_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;     /* SY_CT_FORWARD or SY_CT_REPLY */
	__u16 pad;
};                    /* 16 bytes */

enum sy_ct_flag {
	SY_CT_F_SEEN_REPLY = 1u << 0, /* a reply (not an RST) was seen */
	SY_CT_F_CLOSING = 1u << 1, /* closed: FIN seen in both directions, or an RST of the flow (sy_ct_pair.h) */
	SY_CT_F_SNAT = 1u << 2, /* the flow's source is NATed to nat_addr:nat_port */
	/* TCP half-close (sy_ct_pair.h): which directions sent their FIN. Both
	 * entries of a flow carry both bits; a FIN closes its own direction only,
	 * so one bit alone keeps the established lifetime, and the second one sets
	 * SY_CT_F_CLOSING on both entries. */
	SY_CT_F_FIN_FORWARD = 1u << 3, /* the client sent its FIN */
	SY_CT_F_FIN_REPLY = 1u << 4, /* the backend sent its FIN */
	/* TCP: the client ACKed after a reply was seen (handshake complete): the
	 * established lifetime. A SYN answered by a SYN-ACK alone (a half-open flow,
	 * a SYN flood from spoofed sources) keeps the short one. */
	SY_CT_F_ESTABLISHED = 1u << 5,
};

/* nat_addr/nat_port are meaningful with SY_CT_F_SNAT only (0 otherwise):
 *   FORWARD entry: the source address/port the client's packets are
 *                  rewritten to (sy_config.node_addr and the NAT port);
 *   REPLY entry:   keyed {backend, nat_addr, bport, nat_port, REPLY}; its
 *                  nat_addr/nat_port are the original client address/port,
 *                  restored as the reply's destination. */
struct sy_ct_value {
	__u64 last_seen;   /* bpf_ktime_get_ns() of the last packet */
	__u32 backend_id;  /* sy_backends key chosen for this flow */
	__u32 rev_nat_id;  /* sy_revnat key restoring the frontend on replies */
	__u16 tcp_flags;   /* OR of the TCP flags seen in this direction */
	__u16 flags;       /* SY_CT_F_* */
	__be32 nat_addr;   /* see above */
	__be16 nat_port;   /* see above */
	__u16 pad;
	__u32 pad2;
};                         /* 32 bytes: offsets 0, 8, 12, 16, 18, 20, 24, 26, 28 */

/* Source NAT ports come from sy_config.snat_port_min..snat_port_max (the
 * agent sets it outside the node's net.ipv4.ip_local_port_range); this
 * range applies while sy_config holds none (0). The client's own port is
 * tried first when it lies in the range, then SY_SNAT_TRIES ports hashed
 * from the flow's tuple (deterministic, so a flow that lost both entries
 * gets its port back). The reply key must be free. */
#define SY_SNAT_PORT_MIN 32768
#define SY_SNAT_PORT_MAX 60999
#define SY_SNAT_TRIES    8   /* hashed ports after the client's own */

/* Conntrack lifetimes (idle time since last_seen), Cilium-like. An entry
 * idle for longer than its lifetime is expired: the datapath treats it as
 * absent (the next packet is a new flow: it selects again and overwrites the
 * entry) and the loader's gc_conntrack deletes it. Each entry is judged on
 * its own proto and flags. Compile-time constants shared by the datapath and
 * the loader; docs/maps.md lists them. */
enum sy_ct_lifetime_s {
	SY_CT_LIFETIME_TCP_SYN_S = 60, /* TCP, handshake not complete */
	SY_CT_LIFETIME_TCP_S = 21600, /* TCP established (6 h), also half-closed */
	SY_CT_LIFETIME_TCP_CLOSING_S = 10, /* TCP closed: both FINs, or the flow's RST */
	SY_CT_LIFETIME_OTHER_S = 60, /* UDP and anything else */
};
#define SY_NSEC_PER_SEC              1000000000ULL

static inline __u64 sy_ct_lifetime_ns(__u8 proto, __u16 ct_flags)
{
	__u64 s = SY_CT_LIFETIME_OTHER_S;

	if (proto == 6 /* IPPROTO_TCP */) {
		if (ct_flags & SY_CT_F_CLOSING)
			s = SY_CT_LIFETIME_TCP_CLOSING_S;
		else if (ct_flags & SY_CT_F_ESTABLISHED)
			s = SY_CT_LIFETIME_TCP_S;
		else
			s = SY_CT_LIFETIME_TCP_SYN_S;
	}
	return s * SY_NSEC_PER_SEC;
}

/* now and last_seen are CLOCK_MONOTONIC ns (bpf_ktime_get_ns()). A
 * last_seen after now (written by another CPU meanwhile) is fresh. */
static inline int sy_ct_expired(__u8 proto, __u16 ct_flags, __u64 last_seen,
				__u64 now)
{
	return now > last_seen &&
	       now - last_seen > sy_ct_lifetime_ns(proto, ct_flags);
}

/* ---- sy_affinity: LRU_HASH, key sy_affinity_key -> sy_affinity_value --- */

struct sy_affinity_key {
	__be32 client;  /* client source address */
	__u32 group;    /* ServicePort id (sy_svc_value.group) */
};                      /* 8 bytes */

struct sy_affinity_value {
	__u64 last_used;   /* bpf_ktime_get_ns() */
	__u32 backend_id;
	__u32 pad;
};                         /* 16 bytes */

/* ---- sy_counters: PERCPU_ARRAY, key __u32 index -> __u64 ------------- */
/* Datapath event counters, one per CPU (dumps through the loader return the
 * sum over CPUs). Packet counters count packets, not flows. */
enum sy_counter {
	SY_CNT_TC_DNAT = 0, /* tc: packets DNATed to a backend (new and established flows) */
	SY_CNT_TC_REVNAT = 1, /* tc: replies whose source was restored to the frontend */
	SY_CNT_XDP_DNAT = 2, /* xdp: packets DNATed */
	SY_CNT_XDP_REVNAT = 3, /* xdp: replies of SNATed flows reverse-NATed */
	SY_CNT_XDP_TX = 4, /* xdp: translated packets sent back out of the ingress device */
	SY_CNT_XDP_REDIRECT = 5, /* xdp: translated packets redirected to another device */
	SY_CNT_XDP_PASS = 6, /* xdp: packets handed to the stack (untouched, or translated but the FIB lookup did not succeed) */
	SY_CNT_REJECT_TCP = 7, /* TCP resets sent for frontends without endpoints / deleted backends */
	SY_CNT_REJECT_UDP = 8, /* ICMP port unreachable sent */
	SY_CNT_DROP_NO_BACKEND = 9, /* dropped: no usable backend (DROP_NO_EP, missing table/slot/backend) */
	SY_CNT_DROP_SOURCE_RANGE = 10, /* dropped: source outside the frontend's loadBalancerSourceRanges */
	SY_CNT_SNAT = 11, /* packets whose source was rewritten to the node address (tc and xdp) */
	SY_CNT_SOCK_CONNECT = 12, /* connect() calls translated to a backend */
	SY_CNT_SOCK_SENDMSG = 13, /* sendmsg() calls (unconnected UDP) translated */
	SY_CNT_MALFORMED = 14, /* IPv4 packets with a bad or truncated header (passed untouched) */
	SY_CNT_DROP_NO_SNAT_PORT = 15, /* dropped: no free SNAT port for a new flow */
	/* ICMP errors and generated ICMP (sy_icmp.h, sy_ratelimit.h): 16-23. */
	SY_CNT_ICMP_ERR_REVNAT = 16, /* ICMP errors quoting a forward packet of a tracked flow, translated for the client */
	SY_CNT_ICMP_ERR_DNAT = 17, /* ICMP errors quoting a reply of a tracked flow, translated for the backend */
	SY_CNT_ICMP_ERR_UNTRACKED = 18, /* ICMP errors (types 3, 11, 12) whose embedded TCP/UDP flow is not tracked: untouched */
	SY_CNT_ICMP_ERR_MALFORMED = 19, /* ICMP errors with a truncated or bad embedded header: untouched */
	SY_CNT_FRAG_NEEDED_SENT = 20, /* ICMP fragmentation needed sent for a DF packet too big for its egress */
	SY_CNT_FRAG_NEEDED_RATE_LIMITED = 21, /* DF packets too big for their egress dropped without an answer (rate limit) */
	SY_CNT_REJECT_RATE_LIMITED = 22, /* REJECT answers not sent (rate limit): the packet is dropped */
	SY_CNT_TOO_BIG_NO_DF = 23, /* packets too big for their egress without DF (or from a non-unicast source): no answer; xdp leaves them to tc, tc to the stack */
	/* 16-23: ICMP errors; 24-31: fragments and frames for other hosts; 32-39:
	 * conntrack; 40-47: others. */
	SY_CNT_NOT_FOR_HOST = 24, /* IPv4 TCP/UDP frames for another host (otherhost/broadcast/multicast): left untouched */
	SY_CNT_FRAG_FIRST = 25, /* first fragments whose ports were recorded in sy_frag (tc and xdp) */
	SY_CNT_FRAG_XLATE = 26, /* non-first fragments translated with their first fragment's flow */
	SY_CNT_DROP_FRAG_NO_FIRST = 27, /* dropped: non-first fragment whose first fragment was not seen (out of order, evicted) */
	SY_CNT_DROP_FRAG_REJECT = 28, /* dropped: non-first fragment of a datagram answered with a REJECT */
	/* Conntrack pairs and TCP state (sy_ct_pair.h). */
	SY_CNT_CT_REPLY_RESTORED = 32, /* reply entry missing (LRU eviction, restart) for a tracked forward packet: recreated */
	SY_CNT_CT_FORWARD_RESTORED = 33, /* forward entry missing for a tracked reply: recreated */
	SY_CNT_CT_RESTORE_FAILED = 34, /* recreating a missing entry failed (map update error) */
	SY_CNT_CT_PAIR_MISMATCH = 35, /* the other entry's key holds a different flow: left alone, nothing propagated */
	SY_CNT_CT_HALF_CLOSE = 36, /* first FIN of a flow: that direction closed, the other stays open */
	SY_CNT_CT_CLOSED = 37, /* flow closed: FIN seen both ways, or an accepted RST */
	SY_CNT_CT_RST_IGNORED = 38, /* RST that did not shorten the flow's lifetime (see docs/maps.md) */
	SY_CNT_SNAT_PORT_BUSY = 39, /* SNAT port candidates found taken (each retry counts) */
	/* IPv6 (sy_parse6.h, sy_hooks6.h). */
	SY_CNT_MALFORMED6 = 40, /* IPv6 packets with a bad or truncated header, a bad payload length or a UDP checksum of 0 (passed untouched) */
	SY_CNT_IP6_NOT_HANDLED = 41, /* IPv6 packets the datapath does not handle: extension header chain too long or not walked (untouched) */
	/* The route-result cache (sy_fib_cache.h). */
	SY_CNT_FIB_CACHE_HIT = 42, /* forwarded packets whose route came from sy_fib_cache (no bpf_fib_lookup()) */
	SY_CNT_FIB_CACHE_MISS = 43, /* route lookups done by the kernel: no entry, or one of an older sy_fib_gen or older than SY_FIB_CACHE_MAX_AGE_NS */
	SY_CNT_EVENTS_LOST = 45, /* monitor events (sy_events) not written: the ring buffer was full */
	SY_CNT_SOCK_REJECT = 46, /* connect()/sendmsg() to a frontend without endpoints refused (ECONNREFUSED) */
	SY_CNT_EVENTS_RATE_LIMITED = 47, /* monitor events not written: over the per-CPU budget (sy_events_budget) */
	SY_CNT_MAX = 48,
};

/* ---- sy_icmp_rate: ARRAY of SY_RL_MAX, key __u32 -> sy_rate_bucket --- */
/* Per-node token buckets of the answers the datapath generates itself
 * (sy_ratelimit.h). Rate and burst are the kernel's icmp_send() defaults
 * (net.ipv4.icmp_msgs_per_sec, net.ipv4.icmp_msgs_burst). */
enum sy_rate_limit {
	SY_RL_REJECT = 0, /* TCP resets / ICMP port unreachable (no endpoints) */
	SY_RL_FRAG_NEEDED = 1, /* ICMP fragmentation needed for too-big DF packets */
	SY_RL_MAX = 2,
};
#define SY_RL_RATE_PER_SEC  1000
#define SY_RL_BURST         50

struct sy_rate_bucket {
	struct bpf_spin_lock lock; /* 4 bytes; bpftool shows it as 0 */
	__u32 tokens;   /* answers that may be sent now (<= SY_RL_BURST) */
	__u64 last_ns;  /* bpf_ktime_get_ns() up to which tokens were added */
};                      /* 16 bytes */

/* ---- sy_frag: LRU_HASH, key sy_frag_key -> sy_frag_value ------------ */
/* IPv4 fragments (as Cilium's IPV4_FRAG_DATAGRAMS_MAP): the first fragment
 * of a datagram records its L4 ports under the datagram's identity, so that
 * the later fragments, which have no L4 header, are looked up in conntrack
 * and translated as if they had them. Keyed by the addresses as the packet
 * arrives (before any translation); entries are not deleted on the last
 * fragment (fragments may come out of order): the LRU ages them out. */
struct sy_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;      /* IPv4 identification */
	__u8 proto;     /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;
};                      /* 12 bytes */

struct sy_frag_value {
	__be16 sport;   /* L4 ports of the first fragment */
	__be16 dport;
};                      /* 4 bytes */

/* ---- sy_dev_mac: ARRAY, key __u32 ifindex -> sy_dev_mac --------------- */
/* Written by the loader when it attaches sy_xdp: the device's own MAC, so
 * that XDP can tell a unicast frame for another host (a bridge floods
 * unknown unicast; a promiscuous device sees it) before the kernel's
 * eth_type_trans() does. Indexed by ifindex; a device whose ifindex is
 * beyond max_entries, or whose entry is not set, is not checked there
 * (tc then sees the frame as PACKET_OTHERHOST). An ARRAY lookup is inlined
 * by the verifier: no helper call per packet. */
#define SY_DEV_MAC_MAX 4096

struct sy_dev_mac {
	__u8 addr[6];   /* the device's MAC address */
	__u8 set;       /* 1: addr is valid */
	__u8 pad;
};                      /* 8 bytes */

/* ---- sy_fib_cache: LRU_HASH, key sy_fib_key -> sy_fib_entry ------------
 * The answer of a successful bpf_fib_lookup() for the packets XDP and tc
 * forward themselves (sy_fib_cache.h), keyed by every input of the lookup.
 * sy_fib_gen (ARRAY of one __u32): generation << SY_FIB_GEN_SHIFT | the
 * key mode (SY_FIB_SHORT_KEY_*), written as one value so that an entry of
 * one key mode is never used under the other. The generation is bumped by
 * the loader on every route, neighbour, link, address and rule
 * notification of its namespace; an entry of another value is not used.
 * 0: cache off. */
/* The family's entries are keyed per route decision (protocol, ports and
 * IPv6 flow label zeroed): set by the loader only where no rule and no
 * multipath hash looks at them (loader/src/fib_key_mode.c). */
enum sy_fib_gen_bits {
	SY_FIB_SHORT_KEY_V4 = 1,
	SY_FIB_SHORT_KEY_V6 = 2,
	SY_FIB_GEN_SHIFT = 2,
};
struct sy_fib_key {
	__u8 family;     /* AF_INET (2) or AF_INET6 (10) */
	__u8 proto;      /* IPPROTO_TCP / _UDP / _ICMP / _ICMPV6; 0 under the short key */
	__be16 sport;    /* after the rewrite; 0 under the short key */
	__be16 dport;
	__u16 pad;
	__u32 ifindex;   /* arrival device */
	__be32 flowinfo; /* IPv4: the TOS byte (first byte); IPv6: traffic class and flow label (label 0 under the short key) */
	__be32 saddr[4]; /* IPv4: saddr[0], the rest 0 */
	__be32 daddr[4];
};                       /* 48 bytes */

struct sy_fib_entry {
	__u64 stamp_ns;  /* bpf_ktime_get_ns() of the lookup */
	__u32 gen;       /* sy_fib_gen read before the lookup */
	__u32 ifindex;   /* egress device */
	__u16 mtu;       /* the route's MTU (mtu_result of the lookup) */
	__u8 smac[6];
	__u8 dmac[6];
	__u8 pad[2];
};                       /* 32 bytes */

/* sy_fib_scratch: PERCPU_ARRAY of one. The key and the new entry of a miss
 * live here, not on the BPF stack (the IPv6 XDP path has no 80 bytes to
 * spare of its 512). */
struct sy_fib_scratch {
	struct sy_fib_key key;
	struct sy_fib_entry fresh;
};                       /* 80 bytes */

/* ---- sy_svc_stats: PERCPU_HASH, key sy_svc_stats_key -> sy_svc_stats -- */
/* Per frontend and hook: packets and bytes (whole frame, Ethernet header
 * included) DNATed or reverse-NATed for that frontend. For SY_HOOK_SOCK_LB,
 * packets counts translated connect()/sendmsg() calls and bytes stays 0. */
struct sy_svc_stats_key {
	__u32 frontend_id;  /* sy_svc_value.id (= sy_revnat key) */
	__u32 hook;         /* SY_HOOK_TC_INGRESS 0, SY_HOOK_XDP 1, SY_HOOK_SOCK_LB 2 */
};                          /* 8 bytes */

struct sy_svc_stats {
	__u64 packets;
	__u64 bytes;
};                          /* 16 bytes */

/* ---- sy_source_ranges: LPM_TRIE (BPF_F_NO_PREALLOC) ------------------- */
/* loadBalancerSourceRanges: a frontend with SY_SVC_F_SOURCE_RANGE accepts a
 * new flow only if {32 + 32, frontend id, source} matches an entry. The
 * first 32 bits of data are the frontend id, so prefixlen = 32 + the CIDR
 * length. Value: __u8 1. The loader stores addr with the host bits zeroed. */
struct sy_source_range_key {
	__u32 prefixlen;    /* 32 + CIDR prefix length (32..64) */
	__u32 frontend_id;  /* sy_svc_value.id */
	__be32 addr;        /* CIDR base address */
};                          /* 12 bytes */

/* ---- sy_sock_revnat: LRU_HASH, key sy_sock_revnat_key -> value -------- */
/* Socket-level load balancing (cgroup connect4/sendmsg4) rewrites the
 * destination of a socket to a backend; recvmsg4 and getpeername4 show the
 * frontend again. One entry per (socket, backend), refreshed on every
 * translation; the LRU drops entries of closed sockets. */
struct sy_sock_revnat_key {
	__u64 cookie;   /* bpf_get_socket_cookie() of the socket */
	__be32 addr;    /* backend address */
	__be16 port;    /* backend port */
	__u16 pad;
};                      /* 16 bytes */

struct sy_sock_revnat_value {
	__be32 addr;        /* frontend address the application used */
	__be16 port;        /* frontend port */
	__u16 pad;
	__u32 rev_nat_id;   /* frontend id */
};                          /* 12 bytes */

/* ---- sy_attach: HASH, key sy_attach_key -> sy_attach_value ------------ */
/* Written by the loader only: which devices (and cgroups) carry which
 * programs, so that a restarted loader (or `cleanup`) knows what it attached
 * without any state of its own. */

enum sy_hook {
	SY_HOOK_TC_INGRESS = 0,
	SY_HOOK_XDP = 1,
	SY_HOOK_SOCK_LB = 2, /* key.ifindex = cgroup id (inode of its directory), low 32 bits */
};

enum sy_attach_mode {
	SY_ATTACH_TCX = 0,
	SY_ATTACH_CLSACT = 1,
	SY_ATTACH_XDP_NATIVE = 2,
	SY_ATTACH_XDP_GENERIC = 3,
	SY_ATTACH_CGROUP = 4, /* cgroup bpf_links (sock_addr programs) */
};

struct sy_attach_key {
	__u32 ifindex;  /* device ifindex; cgroup id for SY_HOOK_SOCK_LB */
	__u32 hook;     /* SY_HOOK_* */
};

struct sy_attach_value {
	__u32 mode;     /* SY_ATTACH_* */
	__u32 prog_id;  /* tc/xdp: the attached program; sock: the connect4 program */
	char ifname[16]; /* device name; SY_HOOK_SOCK_LB: cgroup directory name (truncated) */
};                      /* 24 bytes */

/* ---- sy_config: ARRAY of 1, key __u32 0 -> sy_config ------------------ */

/* sy_config.flags */
enum sy_config_flag {
	SY_CFG_F_NO_XDP_TX = 1u << 0, /* XDP never sends out of the ingress device (veth) */
	/* tc runs on the pod devices: connect() of a UDP socket in a pod's namespace
	 * is left to it (per-packet conntrack recovers when the backend goes; a
	 * socket pointed at its backend by connect() would keep sending there). */
	SY_CFG_F_POD_UDP_CONNECT_TC = 1u << 1,
};

struct sy_config {
	__u32 flow_hash_seed; /* cluster-wide seed of the flow hash (same on every node) */
	__u32 flags;          /* SY_CFG_F_* */
	__be32 node_addr;     /* this node's primary IPv4 address (SNAT source) */
	__u16 snat_port_min;  /* SNAT port range (host order); 0: SY_SNAT_PORT_MIN..MAX */
	__u16 snat_port_max;
	__u64 host_netns_cookie; /* the node's own network namespace (set by the loader) */
	/* The Service CIDR (ClusterIPs), network and mask; mask 0: not given.
	 * A packet to it is never a reply, so its reply lookup is skipped
	 * (sy_service_cidr.h). */
	__be32 svc_net;
	__be32 svc_mask;
};                               /* 32 bytes (24 before svc_net) */

/* ==== IPv6 twins (issue #16) =========================================== */
/* IPv6 frontends, backends and flows live in maps of their own, so the IPv4
 * maps keep their sizes and per-packet cost. One id space serves both
 * families: frontend ids (sy_svc_value.id, rev_nat ids), groups (sy_maglev,
 * sy_affinity6) and backend ids are unique across families, so sy_maglev,
 * sy_svc_stats and sy_counters are shared. An IPv6 address is four
 * network-order words (the bytes of struct in6_addr). Values that are not
 * addressed (sy_svc_value, sy_frag_value, sy_affinity_value) are shared. */

/* ---- sy_services6: HASH, key sy_svc_key6 -> value sy_svc_value -------- */
struct sy_svc_key6 {
	__be32 addr[4]; /* frontend IPv6 address */
	__be16 port;    /* frontend port */
	__u8 proto;     /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 scope;     /* SY_SCOPE_* */
};                      /* 20 bytes */

/* ---- sy_backends6: HASH, key __u32 backend id -> value sy_backend6 ---- */
struct sy_backend6 {
	__be32 addr[4]; /* backend (pod) IPv6 address */
	__be16 port;    /* backend (target) port */
	__u8 proto;     /* IPPROTO_* */
	__u8 state;     /* SY_BE_* */
	__u8 flags;     /* SY_BE_F_* */
	__u8 pad[3];
	__u32 zone;     /* as sy_backend.zone */
};                      /* 28 bytes */

/* ---- sy_revnat6: HASH, key __u32 frontend id -> value sy_revnat6 ----- */
struct sy_revnat6 {
	__be32 addr[4]; /* frontend address restored as the reply's source */
	__be16 port;
	__u16 pad;
};                      /* 20 bytes */

/* ---- sy_conntrack6: LRU_HASH, key sy_ct_key6 -> value sy_ct_value6 --- */
/* Same meaning, flags, lifetimes and pairing as sy_ct_key / sy_ct_value.
 * The value's first 20 bytes have sy_ct_value's layout (last_seen,
 * backend_id, rev_nat_id, tcp_flags, flags), then the NAT address. */
struct sy_ct_key6 {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;       /* SY_CT_FORWARD or SY_CT_REPLY */
	__u16 pad;
};                      /* 40 bytes */

struct sy_ct_value6 {
	__u64 last_seen;
	__u32 backend_id;
	__u32 rev_nat_id;
	__u16 tcp_flags;
	__u16 flags;       /* SY_CT_F_* */
	__be16 nat_port;   /* as sy_ct_value.nat_port */
	__u16 pad;
	__be32 nat_addr[4]; /* as sy_ct_value.nat_addr (sy_config6.node_addr for SNAT) */
};                         /* 40 bytes */

/* ---- sy_affinity6: LRU_HASH, key sy_affinity_key6 -> sy_affinity_value */
struct sy_affinity_key6 {
	__be32 client[4];
	__u32 group;
};                      /* 20 bytes */

/* ---- sy_frag6: LRU_HASH, key sy_frag_key6 -> sy_frag_value ---------- */
/* As sy_frag, from the IPv6 fragment header (32-bit identification). */
struct sy_frag_key6 {
	__be32 saddr[4];
	__be32 daddr[4];
	__be32 id;      /* fragment header identification */
	__u8 proto;     /* upper-layer protocol after the extension headers */
	__u8 pad[3];
};                      /* 40 bytes */

/* ---- sy_source_ranges6: LPM_TRIE (BPF_F_NO_PREALLOC) ----------------- */
/* As sy_source_ranges: prefixlen = 32 + the CIDR length (32..160). */
struct sy_source_range_key6 {
	__u32 prefixlen;
	__u32 frontend_id;
	__be32 addr[4];
};                      /* 24 bytes */

/* ---- sy_sock_revnat6: LRU_HASH (connect6/sendmsg6/recvmsg6/getpeername6) */
struct sy_sock_revnat_key6 {
	__u64 cookie;
	__be32 addr[4]; /* backend address */
	__be16 port;    /* backend port */
	__u16 pad;
	__u32 pad2;
};                      /* 32 bytes */

struct sy_sock_revnat_value6 {
	__be32 addr[4]; /* frontend address the application used */
	__be16 port;
	__u16 pad;
	__u32 rev_nat_id;
};                      /* 24 bytes */

/* ---- sy_config6: ARRAY of 1, key __u32 0 -> sy_config6 --------------- */
/* The IPv6 half of sy_config (which keeps the family-neutral settings:
 * seed, flags, SNAT port range, host netns cookie). */
struct sy_config6 {
	__be32 node_addr[4]; /* this node's primary IPv6 address (SNAT source); all 0: none */
	__be32 svc_net[4];   /* IPv6 Service CIDR network; svc_mask all 0: not given */
	__be32 svc_mask[4];
};                           /* 48 bytes */

/* ==== Datapath monitor (issue #18) ====================================== */
/* ---- sy_monitor: ARRAY of 1, key __u32 0 -> sy_monitor ---------------- */
/* What the programs report beyond drops and rejects (always reported).
 * Written by the loader (MapOp set_monitor); all zero: tracing and
 * sampling off, the translation path pays one inlined ARRAY load. */
enum sy_monitor_flag {
	SY_MON_F_TRACE = 1u << 0, /* SY_EV_TRACE for translations matching the filter */
};

struct sy_monitor {
	__u32 flags;             /* SY_MON_F_* */
	__u32 ct_sample;         /* SY_EV_CT_NEW for about 1 in ct_sample new flows; 0: none */
	__u32 trace_frontend_id; /* trace filter: frontend (rev-NAT) id; 0: any */
	__u32 trace_backend_id;  /* trace filter: backend id; 0: any */
	__u8 client_family;      /* trace filter on the client: 0 any, 4 or 6 */
	__u8 client_prefix_len;  /* 0..32 (IPv4) or 0..128 (IPv6) */
	__u16 pad;
	__be32 client_addr[4];   /* network (host bits zero); IPv4: word 0 */
};                               /* 36 bytes */

/* ---- sy_events: RINGBUF of struct sy_event records -------------------- */
/* sy_event.type */
enum sy_event_type {
	SY_EV_DROP = 1,   /* packet dropped; reason: the SY_CNT_* counted */
	SY_EV_REJECT = 2, /* packet answered with a TCP reset / ICMP unreachable
			   * (reason SY_CNT_REJECT_TCP/UDP), or dropped by the
			   * REJECT rate limit (SY_CNT_REJECT_RATE_LIMITED) */
	SY_EV_TRACE = 3,  /* a Service translation matching sy_monitor's filter */
	SY_EV_CT_NEW = 4, /* a conntrack flow created (sampled, sy_monitor.ct_sample) */
};

/* sy_event.flags */
enum sy_event_flag {
	SY_EV_F_REPLY = 1u << 0, /* reverse NAT of a reply */
	SY_EV_F_SNAT = 1u << 1,  /* source NAT (forward) / destination restored (reply) */
};

struct sy_event {
	__u64 ts_ns;          /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u8 type;            /* SY_EV_* */
	__u8 family;          /* 4 or 6: how many address bytes count */
	__u8 proto;           /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 hook;            /* SY_HOOK_* */
	__u16 reason;         /* SY_EV_DROP / SY_EV_REJECT: SY_CNT_*; else 0 */
	__u8 flags;           /* SY_EV_F_* */
	__u8 pad;
	__u32 frontend_id;    /* frontend (rev-NAT) id; 0: not known */
	__u32 backend_id;     /* backend id; 0: none / not known */
	__be16 sport;         /* as received */
	__be16 dport;
	__be16 nat_sport;     /* after the translation (trace, ct); else as received */
	__be16 nat_dport;
	__be32 saddr[4];      /* as received; IPv4: word 0 */
	__be32 daddr[4];
	__be32 nat_saddr[4];  /* after the translation */
	__be32 nat_daddr[4];
};                            /* 96 bytes */

/* ---- sy_events_budget: PERCPU_ARRAY of 1 -> sy_events_budget ---------- */
/* A flood of drops (SYNs that find no SNAT port, a source-range scan) must
 * not become a flood of events: each would cost the loader and the agent
 * work on the same CPUs that forward the traffic. Each CPU writes at most
 * SY_EVENTS_PER_CPU_PER_SEC events per one-second window; the rest are
 * counted (SY_CNT_EVENTS_RATE_LIMITED) and not written. The datapath
 * counters still count every drop by reason. */
enum sy_events_limit {
	SY_EVENTS_PER_CPU_PER_SEC = 4096,
};

struct sy_events_budget {
	__u64 window_ns;  /* bpf_ktime_get_ns() when this CPU's window began */
	__u32 used;       /* events written in the window */
	__u32 pad;
};                        /* 16 bytes */

/* Flow hash shared by the datapath and the control plane (which must predict
 * the slot): Bob Jenkins' lookup3 jhash_3words as in <linux/jhash.h>, with
 *   a = ntohl(saddr), b = ntohl(daddr),
 *   c = (ntohs(sport) << 16) | ntohs(dport)   (sport = 0 for ClientIP affinity),
 *   initval = flow_hash_seed + proto,
 * and slot = hash % table_size. */

/* The byte layouts above are a contract (TypeScript codecs, docs): fail the
 * build of any component whose compiler would lay them out differently. */
#define SY_ASSERT_LAYOUT(type, size) \
	_Static_assert(sizeof(type) == (size), #type " must be " #size " bytes")
#define SY_ASSERT_OFF(type, field, off)                                   \
	_Static_assert(__builtin_offsetof(type, field) == (off),          \
		       #type "." #field " must be at offset " #off)
/* ---- sy_layout: ARRAY of 1, key __u32 0 -> __u32 version --------------- */
/* The layout version of the maps pinned next to it, written and pinned by
 * the loader (no program reads it). Bump it with any change to a struct or
 * an inner-map layout in this file (the size asserts below change with
 * them): a loader that finds another version on the pins migrates the maps
 * (docs/maps.md, "Layout version"). */
#define SY_LAYOUT_VERSION 2

SY_ASSERT_LAYOUT(struct sy_svc_key, 8);
SY_ASSERT_LAYOUT(struct sy_svc_value, 20);
SY_ASSERT_LAYOUT(struct sy_backend, 16);
SY_ASSERT_LAYOUT(struct sy_revnat, 8);
SY_ASSERT_LAYOUT(struct sy_maglev_slots, 8);
SY_ASSERT_LAYOUT(struct sy_ct_key, 16);
SY_ASSERT_LAYOUT(struct sy_ct_value, 32);
SY_ASSERT_OFF(struct sy_ct_value, backend_id, 8);
SY_ASSERT_OFF(struct sy_ct_value, rev_nat_id, 12);
SY_ASSERT_OFF(struct sy_ct_value, tcp_flags, 16);
SY_ASSERT_OFF(struct sy_ct_value, flags, 18);
SY_ASSERT_OFF(struct sy_ct_value, nat_addr, 20);
SY_ASSERT_OFF(struct sy_ct_value, nat_port, 24);
SY_ASSERT_OFF(struct sy_ct_value, pad, 26);
SY_ASSERT_OFF(struct sy_ct_value, pad2, 28);
SY_ASSERT_LAYOUT(struct sy_affinity_key, 8);
SY_ASSERT_LAYOUT(struct sy_affinity_value, 16);
SY_ASSERT_LAYOUT(struct sy_svc_stats_key, 8);
SY_ASSERT_LAYOUT(struct sy_svc_stats, 16);
SY_ASSERT_LAYOUT(struct sy_source_range_key, 12);
SY_ASSERT_LAYOUT(struct sy_sock_revnat_key, 16);
SY_ASSERT_LAYOUT(struct sy_sock_revnat_value, 12);
SY_ASSERT_LAYOUT(struct sy_attach_key, 8);
SY_ASSERT_LAYOUT(struct sy_attach_value, 24);
SY_ASSERT_LAYOUT(struct sy_config, 32);
SY_ASSERT_LAYOUT(struct sy_rate_bucket, 16);
SY_ASSERT_LAYOUT(struct sy_frag_key, 12);
SY_ASSERT_LAYOUT(struct sy_frag_value, 4);
SY_ASSERT_LAYOUT(struct sy_dev_mac, 8);
SY_ASSERT_LAYOUT(struct sy_fib_key, 48);
SY_ASSERT_LAYOUT(struct sy_fib_entry, 32);
SY_ASSERT_LAYOUT(struct sy_fib_scratch, 80);
SY_ASSERT_OFF(struct sy_config, snat_port_min, 12);
SY_ASSERT_OFF(struct sy_config, snat_port_max, 14);
SY_ASSERT_OFF(struct sy_config, svc_net, 24);
SY_ASSERT_OFF(struct sy_config, svc_mask, 28);
SY_ASSERT_LAYOUT(struct sy_svc_key6, 20);
SY_ASSERT_LAYOUT(struct sy_backend6, 28);
SY_ASSERT_LAYOUT(struct sy_revnat6, 20);
SY_ASSERT_LAYOUT(struct sy_ct_key6, 40);
SY_ASSERT_LAYOUT(struct sy_ct_value6, 40);
/* sy_ct_pair.h reads an IPv6 entry's first 20 bytes as a sy_ct_value. */
SY_ASSERT_OFF(struct sy_ct_value6, backend_id, 8);
SY_ASSERT_OFF(struct sy_ct_value6, rev_nat_id, 12);
SY_ASSERT_OFF(struct sy_ct_value6, tcp_flags, 16);
SY_ASSERT_OFF(struct sy_ct_value6, flags, 18);
SY_ASSERT_OFF(struct sy_ct_value6, nat_port, 20);
SY_ASSERT_OFF(struct sy_ct_value6, nat_addr, 24);
SY_ASSERT_LAYOUT(struct sy_affinity_key6, 20);
SY_ASSERT_LAYOUT(struct sy_frag_key6, 40);
SY_ASSERT_LAYOUT(struct sy_source_range_key6, 24);
SY_ASSERT_LAYOUT(struct sy_sock_revnat_key6, 32);
SY_ASSERT_LAYOUT(struct sy_sock_revnat_value6, 24);
SY_ASSERT_LAYOUT(struct sy_config6, 48);
SY_ASSERT_LAYOUT(struct sy_events_budget, 16);
SY_ASSERT_LAYOUT(struct sy_monitor, 36);
SY_ASSERT_OFF(struct sy_monitor, client_addr, 20);
SY_ASSERT_LAYOUT(struct sy_event, 96);
SY_ASSERT_OFF(struct sy_event, reason, 12);
SY_ASSERT_OFF(struct sy_event, frontend_id, 16);
SY_ASSERT_OFF(struct sy_event, sport, 24);
SY_ASSERT_OFF(struct sy_event, saddr, 32);

#endif /* SY_STRUCTS_H */
