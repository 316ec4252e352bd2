// The lab's address and naming plan: pure functions, no side effects, so it
// can be unit-tested and shared by the CLI, the daemon, the runtime and the
// cleanup. Everything lives in 198.18.0.0/15 (RFC 2544 benchmarking range):
//
//   198.18.0.0/24     underlay (bridge br0 in <lab>-net)
//     .1                control plane host <lab>-cp (API server :6443)
//     .10+i             node i (<lab>-n<i>, node name node<i>)
//     .200              external client <lab>-ext
//   198.18.64.0/24    LoadBalancer ingress pool
//   198.18.128.0/17   service ClusterIPs (the lab's serviceCIDR)
//   198.19.<i>.0/24   node i's pod CIDR; .1 is the node's side of every pod
//                     veth, pods get .2 .. .254
//
// `lab up --ip-family ipv6|dual` adds (dual) or uses instead (ipv6) the same
// plan in fd00::/8, each IPv4 number reused as IPv6 text so an address reads
// as its IPv4 twin:
//
//   fd00:198:18::/64        underlay: cp ::1, node i ::(10+i), external ::200
//   fd00:198:18:64::/112    LoadBalancer ingress pool (IPv6)
//   fd00:198:18:128::/112   service ClusterIPs (IPv6 service CIDR)
//   fd00:198:19:<i>::/64    node i's pod CIDR; ::1 the node's side, pods ::2 .. ::254
//
// The first family of `families` is the cluster's primary one: the address
// every single-address field (a node's `ip`, a pod's podIP, the API server's
// URL, the first service CIDR) holds.
import { createHash } from 'node:crypto';
import type { IPFamily } from '../../../control-plane/src/util/ip.js';

export const LAB_ROOT = '/run/switchyard/lab';
export const PIN_ROOT = '/sys/fs/bpf/switchyard';
export const DEFAULT_LAB_NAME = 'sy';
export const DEFAULT_NODE_COUNT = 2;
export const MAX_NODES = 100;

export const UNDERLAY_CIDR = '198.18.0.0/24';
export const UNDERLAY_PREFIX = 24;
export const CP_IP = '198.18.0.1';
export const EXT_IP = '198.18.0.200';
export const UNDERLAY_CIDR6 = 'fd00:198:18::/64';
export const UNDERLAY_PREFIX6 = 64;
export const CP_IP6 = 'fd00:198:18::1';
export const EXT_IP6 = 'fd00:198:18::200';
export const SERVICE_CIDR6 = 'fd00:198:18:128::/112';
export const LB_POOL6 = 'fd00:198:18:64::/112';
/** Every pod CIDR of the lab in IPv6 (the second entry of a dual-stack --cluster-cidr). */
export const CLUSTER_CIDR6 = 'fd00:198:19::/48';
export const API_PORT = 6443;
export const AGENT_HEALTH_PORT = 10256;
export const SERVICE_CIDR = '198.18.128.0/17';
export const LB_POOL = '198.18.64.0/24';
export const BRIDGE = 'br0';
export const HOST_IF = 'eth0';
export const POD_IF = 'eth0';
export const HOST_VETH_PREFIX = 'syp';
/** The node's external device and its pod-facing devices, as the agent's --devices / --pod-devices. */
export const AGENT_DEVICES = 'eth0';
export const AGENT_POD_DEVICES = 'syp+';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const NETNS_ANNOTATION = 'lab.switchyard.dev/netns';
export const HOST_VETH_ANNOTATION = 'lab.switchyard.dev/host-veth';
/** Linux NAME_MAX: a namespace is a file under /run/netns. */
export const NETNS_NAME_MAX = 255;
/** IFNAMSIZ - 1. */
export const IFNAME_MAX = 15;

/** `lab up --ip-family`: which families the lab's nodes, pods and Services get. */
export type LabIPFamily = 'ipv4' | 'ipv6' | 'dual';
export const LAB_IP_FAMILIES: readonly LabIPFamily[] = ['ipv4', 'ipv6', 'dual'];

/** The Kubernetes families of a lab mode, primary first (a dual-stack lab is IPv4-primary, as kind's default). */
export function familiesOf(mode: LabIPFamily): IPFamily[] {
  return mode === 'ipv4' ? ['IPv4'] : mode === 'ipv6' ? ['IPv6'] : ['IPv4', 'IPv6'];
}

export function parseLabIPFamily(v: string): LabIPFamily {
  if ((LAB_IP_FAMILIES as readonly string[]).includes(v)) return v as LabIPFamily;
  throw new Error(`--ip-family ${JSON.stringify(v)}: expected ${LAB_IP_FAMILIES.join(', ')}`);
}

/** The underlay prefix length of an address of either family (24 for IPv4, 64 for IPv6). */
export function underlayPrefixOf(ip: string): number {
  return ip.includes(':') ? UNDERLAY_PREFIX6 : UNDERLAY_PREFIX;
}

/** A host route's prefix length (32 or 128). */
export function hostPrefixOf(ip: string): number {
  return ip.includes(':') ? 128 : 32;
}

export interface NodePlan {
  index: number;
  name: string;
  netns: string;
  /** The primary family's address (the Node's first InternalIP). */
  ip: string;
  /** One address per lab family, primary first (absent in plans written before dual-stack: [ip]). */
  ips?: string[];
  podCIDR: string;
  podCIDRs?: string[];
  /** The node's address on every pod veth (x.x.x.1). */
  podGateway: string;
  podGateways?: string[];
  zone: string;
  labels: Record<string, string>;
  /** Loader instance (pins under PIN_ROOT/<pinInstance>). */
  pinInstance: string;
  /** Name of the node's port on the underlay bridge (in <lab>-net). */
  bridgePort: string;
  /**
   * MTU of the node's underlay link (its eth0 and its bridge port), when
   * lower than the default 1500: `lab up --link-mtu node2=1280`. See
   * nodeRoutes() for how the other nodes learn it.
   */
  linkMtu?: number;
}

export interface HostPlan {
  netns: string;
  /** The primary family's address. */
  ip: string;
  /** One per lab family, primary first (absent in older plans: [ip]). */
  ips?: string[];
  bridgePort: string;
}

export interface LabPlan {
  name: string;
  stateDir: string;
  underlay: { netns: string; bridge: string; cidr: string };
  cp: HostPlan;
  ext: HostPlan;
  nodes: NodePlan[];
  /** The primary family's service CIDR. */
  serviceCIDR: string;
  /** One per family, primary first (kube-apiserver's --service-cluster-ip-range); absent in older plans. */
  serviceCIDRs?: string[];
  /** The pod CIDRs of the whole cluster, one per family (kube-proxy's --cluster-cidr). */
  clusterCIDRs?: string[];
  lbPool: string;
  lbPools?: string[];
  apiURL: string;
  /** `lab up --ip-family` (absent in older plans: ipv4). */
  ipFamily?: LabIPFamily;
}

/** A plan's families, primary first (older plans: IPv4). */
export function planFamilies(plan: Pick<LabPlan, 'ipFamily'>): IPFamily[] {
  return familiesOf(plan.ipFamily ?? 'ipv4');
}

/** Addresses of a host, primary first (older plans have only `ip`). */
export function hostIPs(h: { ip: string; ips?: string[] }): string[] {
  return h.ips ?? [h.ip];
}

/** A host's address of one family, if it has one. */
export function hostIPOf(h: { ip: string; ips?: string[] }, family: IPFamily): string | undefined {
  return hostIPs(h).find((a) => a.includes(':') === (family === 'IPv6'));
}

/** `http://host:port` with IPv6 hosts in brackets. */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const LAB_NAME_RE = /^[a-z][a-z0-9]{0,15}$/;

/** Lab names: a lowercase letter then up to 15 lowercase letters or digits. */
/** Every pod CIDR of the lab (the cluster CIDR, as kube-proxy's --cluster-cidr). */
export const CLUSTER_CIDR = '198.19.0.0/16';

export function validateLabName(name: string): string | undefined {
  if (!LAB_NAME_RE.test(name)) {
    return `invalid lab name ${JSON.stringify(name)}: use a lowercase letter followed by up to 15 lowercase letters or digits`;
  }
  return undefined;
}

export function labStateDir(name: string, root = LAB_ROOT): string {
  return `${root}/${name}`;
}

export function nodeName(i: number): string {
  return `node${i}`;
}

export function nodeIndexFromName(name: string): number | undefined {
  const m = /^node([1-9][0-9]*)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function checkNodeIndex(i: number): void {
  if (!Number.isInteger(i) || i < 1 || i > MAX_NODES) throw new RangeError(`node index ${i} out of range 1..${MAX_NODES}`);
}

export function nodeIP(i: number): string {
  checkNodeIndex(i);
  return `198.18.0.${10 + i}`;
}

export function podCIDR(i: number): string {
  checkNodeIndex(i);
  return `198.19.${i}.0/24`;
}

export function podGateway(i: number): string {
  checkNodeIndex(i);
  return `198.19.${i}.1`;
}

/** Pod k (2..254) on node i. */
export function podIP(i: number, k: number): string {
  checkNodeIndex(i);
  if (!Number.isInteger(k) || k < 2 || k > 254) throw new RangeError(`pod host number ${k} out of range 2..254`);
  return `198.19.${i}.${k}`;
}

export function nodeIP6(i: number): string {
  checkNodeIndex(i);
  return `fd00:198:18::${10 + i}`;
}

export function podCIDR6(i: number): string {
  checkNodeIndex(i);
  return `fd00:198:19:${i}::/64`;
}

export function podGateway6(i: number): string {
  checkNodeIndex(i);
  return `fd00:198:19:${i}::1`;
}

/** Pod k (2..254) on node i, IPv6: the same host number as its IPv4 twin. */
export function podIP6(i: number, k: number): string {
  checkNodeIndex(i);
  if (!Number.isInteger(k) || k < 2 || k > 254) throw new RangeError(`pod host number ${k} out of range 2..254`);
  return `fd00:198:19:${i}::${k}`;
}

/** Zones alternate: node1 zone-a, node2 zone-b, node3 zone-a, ... */
export function zoneFor(i: number): string {
  return i % 2 === 1 ? 'zone-a' : 'zone-b';
}

export function nodeNetns(lab: string, i: number): string {
  return `${lab}-n${i}`;
}

export function labNamespacePrefix(lab: string): string {
  return `${lab}-`;
}

/** True when ns is one of lab's namespaces by name (a guard for deletions). */
export function isLabNamespace(lab: string, ns: string): boolean {
  return ns.startsWith(labNamespacePrefix(lab)) && ns.length > lab.length + 1 && isSafeNetnsName(ns);
}

/** A namespace name that is a plain file name under /run/netns. */
export function isSafeNetnsName(ns: string): boolean {
  return ns.length > 0 && ns.length <= NETNS_NAME_MAX && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(ns);
}

/**
 * The namespace of a pod: <lab>-p-<pod> for the "default" namespace,
 * <lab>-p-<namespace>_<pod> otherwise ('_' never occurs in Kubernetes names,
 * so the mapping is one to one). Names that would not fit in NAME_MAX are
 * cut and completed with a hash of the full name.
 */
export function podNetnsName(lab: string, namespace: string, pod: string): string {
  const base = `${lab}-p-${namespace === 'default' ? '' : `${namespace}_`}${pod}`;
  const clean = base.replace(/[^A-Za-z0-9._-]/g, '-');
  if (clean.length <= NETNS_NAME_MAX && clean === base) return base;
  const hash = createHash('sha256').update(`${namespace}/${pod}`).digest('hex').slice(0, 12);
  return `${clean.slice(0, NETNS_NAME_MAX - 13)}-${hash}`;
}

/** The node side of a pod's veth: syp<n>, unique per node. */
export function hostVethName(n: number): string {
  const name = `${HOST_VETH_PREFIX}${n}`;
  if (!Number.isInteger(n) || n < 0 || name.length > IFNAME_MAX) throw new RangeError(`veth number ${n} out of range`);
  return name;
}

export function nodePlan(lab: string, i: number, mode: LabIPFamily = 'ipv4'): NodePlan {
  const zone = zoneFor(i);
  const fams = familiesOf(mode);
  const pick = <T>(v4: T, v6: T): T[] => fams.map((f) => (f === 'IPv4' ? v4 : v6));
  const ips = pick(nodeIP(i), nodeIP6(i));
  const podCIDRs = pick(podCIDR(i), podCIDR6(i));
  const podGateways = pick(podGateway(i), podGateway6(i));
  return {
    index: i,
    name: nodeName(i),
    netns: nodeNetns(lab, i),
    ip: ips[0]!,
    ...(mode !== 'ipv4' ? { ips } : {}),
    podCIDR: podCIDRs[0]!,
    ...(mode !== 'ipv4' ? { podCIDRs } : {}),
    podGateway: podGateways[0]!,
    ...(mode !== 'ipv4' ? { podGateways } : {}),
    zone,
    labels: { [ZONE_LABEL]: zone, 'kubernetes.io/hostname': nodeName(i) },
    pinInstance: nodeNetns(lab, i),
    bridgePort: `v-n${i}`,
  };
}

/** Smallest and largest MTU `--link-mtu` accepts (IPv4 needs 68; 1280 is IPv6's minimum, a sensible floor). */
export const LINK_MTU_MIN = 576;
export const LINK_MTU_MAX = 1500;

/** Parses `node<i>=<mtu>` (lab up --link-mtu); throws with a message naming the problem. */
export function parseLinkMtu(spec: string, nodeCount: number): [number, number] {
  const m = /^node([1-9][0-9]*)=([0-9]+)$/.exec(spec);
  if (!m) throw new Error(`--link-mtu ${JSON.stringify(spec)}: expected node<i>=<mtu>, e.g. node2=1280`);
  const i = Number(m[1]), mtu = Number(m[2]);
  if (i > nodeCount) throw new Error(`--link-mtu ${spec}: the lab has ${nodeCount} node(s)`);
  if (mtu < LINK_MTU_MIN || mtu > LINK_MTU_MAX) throw new Error(`--link-mtu ${spec}: MTU must be ${LINK_MTU_MIN}..${LINK_MTU_MAX}`);
  return [i, mtu];
}

export function labPlan(lab: string, nodeCount: number, root = LAB_ROOT, linkMtu: ReadonlyMap<number, number> = new Map(), ipFamily: LabIPFamily = 'ipv4'): LabPlan {
  const err = validateLabName(lab);
  if (err) throw new Error(err);
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES) {
    throw new RangeError(`node count ${nodeCount} out of range 1..${MAX_NODES}`);
  }
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= nodeCount; i++) {
    const n = nodePlan(lab, i, ipFamily);
    const mtu = linkMtu.get(i);
    if (mtu !== undefined) n.linkMtu = mtu;
    nodes.push(n);
  }
  if (ipFamily === 'ipv4') {
    // The IPv4 lab's plan, exactly as before dual-stack (state.json readers rely on it).
    return {
      name: lab,
      stateDir: labStateDir(lab, root),
      underlay: { netns: `${lab}-net`, bridge: BRIDGE, cidr: UNDERLAY_CIDR },
      cp: { netns: `${lab}-cp`, ip: CP_IP, bridgePort: 'v-cp' },
      ext: { netns: `${lab}-ext`, ip: EXT_IP, bridgePort: 'v-ext' },
      nodes,
      serviceCIDR: SERVICE_CIDR,
      lbPool: LB_POOL,
      apiURL: `http://${CP_IP}:${API_PORT}`,
    };
  }
  const fams = familiesOf(ipFamily);
  const pick = <T>(v4: T, v6: T): T[] => fams.map((f) => (f === 'IPv4' ? v4 : v6));
  const cpIPs = pick(CP_IP, CP_IP6);
  const extIPs = pick(EXT_IP, EXT_IP6);
  const serviceCIDRs = pick(SERVICE_CIDR, SERVICE_CIDR6);
  const lbPools = pick(LB_POOL, LB_POOL6);
  return {
    name: lab,
    stateDir: labStateDir(lab, root),
    underlay: { netns: `${lab}-net`, bridge: BRIDGE, cidr: pick(UNDERLAY_CIDR, UNDERLAY_CIDR6)[0]! },
    cp: { netns: `${lab}-cp`, ip: cpIPs[0]!, ips: cpIPs, bridgePort: 'v-cp' },
    ext: { netns: `${lab}-ext`, ip: extIPs[0]!, ips: extIPs, bridgePort: 'v-ext' },
    nodes,
    serviceCIDR: serviceCIDRs[0]!,
    serviceCIDRs,
    clusterCIDRs: pick(CLUSTER_CIDR, CLUSTER_CIDR6),
    lbPool: lbPools[0]!,
    lbPools,
    apiURL: `http://${hostPort(cpIPs[0]!, API_PORT)}`,
    ipFamily,
  };
}

/** The lab's fixed namespaces, in creation order (underlay first). */
export function topologyNamespaces(plan: LabPlan): string[] {
  return [plan.underlay.netns, plan.cp.netns, plan.ext.netns, ...plan.nodes.map((n) => n.netns)];
}

/**
 * Routes a node needs: every other node's pod CIDR via that node. Towards a
 * node whose link is narrower (linkMtu), the routes carry that MTU, locked
 * (also a host route to the node itself): one L2 segment cannot carry two
 * MTUs, so the lab models the narrow link the way a router in front of it
 * would teach the senders (ICMP fragmentation needed -> a path MTU), and
 * the kernel's forwarding and bpf_fib_lookup() both judge packets by it.
 * Frames that still exceed it are dropped for real by the narrow link.
 */
export function nodeRoutes(plan: LabPlan, i: number): Array<{ dst: string; via?: string; mtu?: number }> {
  const routes: Array<{ dst: string; via?: string; mtu?: number }> = [];
  for (const n of plan.nodes) {
    if (n.index === i) continue;
    const mtu = n.linkMtu !== undefined ? { mtu: n.linkMtu } : {};
    // One route per family: pod CIDR j via the node's address of the same family.
    const ips = hostIPs(n);
    const cidrs = n.podCIDRs ?? [n.podCIDR];
    cidrs.forEach((cidr, j) => routes.push({ dst: cidr, via: ips[j]!, ...mtu }));
    if (n.linkMtu !== undefined) for (const ip of ips) routes.push({ dst: `${ip}/${hostPrefixOf(ip)}`, ...mtu });
  }
  return routes;
}

/**
 * Hands out pod host numbers 2..254 of one node's /24, lowest free first,
 * so addresses are reused after pods are removed.
 */
export class PodAddressAllocator {
  private readonly used = new Set<number>();

  constructor(readonly nodeIndex: number) {
    checkNodeIndex(nodeIndex);
  }

  allocate(): string {
    return podIP(this.nodeIndex, this.allocateHost());
  }

  /**
   * A free host number k: the pod gets podIP(i, k) and, in an IPv6 or
   * dual-stack lab, podIP6(i, k) (one number per pod, both families).
   */
  allocateHost(): number {
    for (let k = 2; k <= 254; k++) {
      if (!this.used.has(k)) {
        this.used.add(k);
        return k;
      }
    }
    throw new Error(`node${this.nodeIndex}: pod CIDR ${podCIDR(this.nodeIndex)} exhausted (253 pods)`);
  }

  releaseHost(k: number): void {
    this.used.delete(k);
  }

  /** Marks a specific address as taken (false if it already was or is not ours). */
  reserve(ip: string): boolean {
    const k = this.hostNumber(ip);
    if (k === undefined || this.used.has(k)) return false;
    this.used.add(k);
    return true;
  }

  release(ip: string): void {
    const k = this.hostNumber(ip);
    if (k !== undefined) this.used.delete(k);
  }

  get inUse(): number {
    return this.used.size;
  }

  private hostNumber(ip: string): number | undefined {
    const prefix = `198.19.${this.nodeIndex}.`;
    if (!ip.startsWith(prefix)) return undefined;
    const k = Number(ip.slice(prefix.length));
    return Number.isInteger(k) && k >= 2 && k <= 254 ? k : undefined;
  }
}
