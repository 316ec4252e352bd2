// Builds and tears down the lab's fixed topology:
//
//   <lab>-net   underlay: bridge br0, one port per host (v-cp, v-ext, v-n<i>)
//   <lab>-cp    control plane host, eth0 198.18.0.1/24
//   <lab>-ext   external client, eth0 198.18.0.200/24
//   <lab>-n<i>  node i, eth0 198.18.0.(10+i)/24, forwarding on, rp_filter off,
//               a route to every other node's pod CIDR via that node
//               (`lab up --link-mtu node<i>=N`: node i's link has MTU N, see
//               nodeRoutes())
//
// An IPv6 or dual-stack lab (`lab up --ip-family`) gives every host its
// fd00:198:18::/64 address as well (or instead), routes each node's IPv6 pod
// CIDR the same way, turns IPv6 forwarding on in the nodes and duplicate
// address detection off everywhere (addresses are usable at once; the lab
// hands out every address itself, so none can collide).
//
// Every veth pair is created inside the underlay namespace with its peer put
// straight into the host's namespace: nothing is ever created in, or moved
// through, the root namespace.
import { enableXdpPeer } from './ip.js';
import { addNetns, delNetns, ipBatch, netnsExists, sysctlIn } from './ip.js';
import { HOST_IF, hostIPOf, hostIPs, nodeRoutes, planFamilies, topologyNamespaces, underlayPrefixOf, type HostPlan, type LabPlan } from './plan.js';
import type { StateFile } from './state.js';

/** Sysctls of a node namespace: it routes pod traffic and must not drop asymmetric flows. */
export const NODE_SYSCTLS: Record<string, string | number> = {
  'net.ipv4.ip_forward': 1,
  'net.ipv4.conf.all.rp_filter': 0,
  'net.ipv4.conf.default.rp_filter': 0,
  [`net.ipv4.conf.${HOST_IF}.rp_filter`]: 0,
};

/** IPv6 sysctls of a node namespace (an IPv6 or dual-stack lab): it routes pod traffic. */
export const NODE_SYSCTLS6: Record<string, string | number> = {
  'net.ipv6.conf.all.forwarding': 1,
};

/**
 * IPv6 sysctls of every namespace of an IPv6 or dual-stack lab, set before
 * any interface exists so "default" covers them all: IPv6 on, no duplicate
 * address detection (addresses are usable at once), no router
 * advertisements (routes are the lab's own).
 */
export const IPV6_SYSCTLS: Record<string, string | number> = {
  'net.ipv6.conf.all.disable_ipv6': 0,
  'net.ipv6.conf.default.disable_ipv6': 0,
  'net.ipv6.conf.all.accept_dad': 0,
  'net.ipv6.conf.default.accept_dad': 0,
  'net.ipv6.conf.all.accept_ra': 0,
  'net.ipv6.conf.default.accept_ra': 0,
};

/** `addr add` for one address of either family (IPv6 without DAD: usable at once). */
export function addrAdd(cidr: string, dev: string): string {
  return `addr add ${cidr} dev ${dev}${cidr.includes(':') ? ' nodad' : ''}`;
}

/** The `ip -batch` lines that configure a host's underlay interface (and, for a node, its routes). */
export function hostBatch(plan: LabPlan, host: HostPlan & { linkMtu?: number }, nodeIndex?: number): string[] {
  const lines = [
    'link set lo up',
    ...hostIPs(host).map((ip) => addrAdd(`${ip}/${underlayPrefixOf(ip)}`, HOST_IF)),
    `link set ${HOST_IF}${host.linkMtu !== undefined ? ` mtu ${host.linkMtu}` : ''} up`,
  ];
  if (nodeIndex !== undefined) {
    for (const r of nodeRoutes(plan, nodeIndex)) {
      lines.push(`route add ${r.dst}${r.via ? ` via ${r.via}` : ''} dev ${HOST_IF}${r.mtu !== undefined ? ` mtu lock ${r.mtu}` : ''}`);
    }
  }
  return lines;
}

/**
 * Nodes route what is not theirs to the control-plane host, as a real node
 * has a default gateway. Service addresses need a route to reach the FORWARD
 * chain at all: without one, iptables mode's REJECT for a Service without
 * endpoints would never run (routing fails first).
 */
export function nodeDefaultRoute(plan: LabPlan): string[] {
  return defaultRoutesVia(plan.cp);
}

/** The external client's default route: via the first node. */
export function externalRoutes(plan: LabPlan): string[] {
  const first = plan.nodes[0];
  return first ? defaultRoutesVia(first) : [];
}

/** A default route per family via `gw`'s address of that family (IPv6's written ::/0: `default` alone means IPv4). */
function defaultRoutesVia(gw: { ip: string; ips?: string[] }): string[] {
  return hostIPs(gw).map((ip) => `route add ${ip.includes(':') ? '::/0' : 'default'} via ${ip} dev ${HOST_IF}`);
}

/** The underlay's `ip -batch` lines: the bridge and one veth per host, the peer moved into the host. */
export function underlayBatch(plan: LabPlan): string[] {
  const hosts: Array<HostPlan & { linkMtu?: number }> = [plan.cp, plan.ext, ...plan.nodes];
  // IPv6 neighbour discovery is multicast: without MLD querier the bridge's
  // snooping could drop solicitations, so an IPv6 lab's bridge floods them.
  const v6 = planFamilies(plan).includes('IPv6');
  const lines = [
    'link set lo up',
    `link add ${plan.underlay.bridge} type bridge stp_state 0 forward_delay 0${v6 ? ' mcast_snooping 0' : ''}`,
    `link set ${plan.underlay.bridge} up`,
  ];
  for (const h of hosts) {
    lines.push(`link add ${h.bridgePort} type veth peer name ${HOST_IF} netns ${h.netns}`);
    // A narrow link: the bridge drops frames larger than the port's MTU.
    lines.push(`link set ${h.bridgePort} master ${plan.underlay.bridge}${h.linkMtu !== undefined ? ` mtu ${h.linkMtu}` : ''} up`);
  }
  return lines;
}

/**
 * Creates the topology. Namespaces are recorded in `state` before they are
 * created; on failure whatever was created is left for destroyTopology /
 * cleanup (the caller decides).
 */
export async function createTopology(plan: LabPlan, state: StateFile): Promise<void> {
  const namespaces = topologyNamespaces(plan);
  for (const ns of namespaces) {
    if (netnsExists(ns)) throw new Error(`namespace ${ns} already exists (a lab named ${plan.name} is up or was not cleaned up: run \`switchyard cleanup\`)`);
  }
  state.addNamespaces(namespaces);
  for (const ns of namespaces) await addNetns(ns);
  const v6 = hostIPOf(plan.cp, 'IPv6') !== undefined;
  if (v6) await Promise.all(namespaces.map((ns) => sysctlIn(ns, IPV6_SYSCTLS)));
  await ipBatch(plan.underlay.netns, underlayBatch(plan));
  // Nodes run XDP on their eth0: the bridge-side peers must take XDP_TX frames.
  await Promise.all(plan.nodes.map((n) => enableXdpPeer(plan.underlay.netns, n.bridgePort)));
  await Promise.all([
    ipBatch(plan.cp.netns, hostBatch(plan, plan.cp)),
    // The external client reaches service addresses (ExternalIPs, the
    // LoadBalancer pool) through node1, as a router in front of a cluster would.
    ipBatch(plan.ext.netns, [...hostBatch(plan, plan.ext), ...externalRoutes(plan)]),
    ...plan.nodes.map(async (n) => {
      // Sysctls first: "default" then applies to the pod veths created later.
      await sysctlIn(n.netns, v6 ? { ...NODE_SYSCTLS, ...NODE_SYSCTLS6 } : NODE_SYSCTLS);
      await ipBatch(n.netns, [...hostBatch(plan, n, n.index), ...nodeDefaultRoute(plan)]);
    }),
  ]);
}

/** Deletes the given lab namespaces (missing ones are fine); returns the errors. */
export async function deleteNamespaces(namespaces: string[]): Promise<string[]> {
  const errors: string[] = [];
  await Promise.all(namespaces.map(async (ns) => {
    try {
      await delNetns(ns);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }));
  return errors;
}
