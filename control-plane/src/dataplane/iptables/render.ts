// The iptables-restore input kube-proxy's iptables mode writes, as a pure
// function of the desired state: a port of syncProxyRules() in
// pkg/proxy/iptables/proxier.go for one IP family, as each of kube-proxy's
// per-family proxiers renders it (IPv6 for ip6tables-restore: IPv6 text in
// -s/-d, "[addr]:port" DNAT targets, no localhost NodePorts). The text has a
// "*filter" then a "*nat" section, chain lines (which create or flush a chain under
// --noflush) before rules, and the same rule text, comments and ordering
// kube-proxy produces.
//
// Partial syncs: every service port's own chains (SVC, SVL, EXT, FW, SEP) are
// hashed; when `full` is false and the hash equals the previous one, those
// chains are left out of the input (kube-proxy skips the services its change
// trackers did not mark). The top-level chains are always rewritten whole.
import { createHash, hash as oneShotHash } from 'node:crypto';
import type { DesiredServicePort } from '../desired-state.js';
import type { EndpointInfo } from '../../model/types.js';
import { endpointKey, servicePortString } from '../../model/types.js';
import { intToIpv4, isIPv4, parseCidr } from '../../util/ipv4.js';
import { parseAddress, parsePrefix, prefixContains, type IPFamily } from '../../util/ip.js';
import {
  KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_MARK_MASQ, KUBE_NODEPORTS,
  KUBE_POSTROUTING, KUBE_PROXY_FIREWALL, KUBE_SERVICES, isServiceChainName, serviceChains,
  servicePortEndpointChainName,
} from './chain-names.js';
import { localTrafficDetector, type LocalDetectorConfig } from './local-detector.js';
import { nodePortAddresses, nodePortIPs } from './node-port-addresses.js';
import { probability } from './probability.js';

/** kube-proxy switches to "large cluster mode" (no per-endpoint comments) above this many endpoints. */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

/** What the rules depend on besides the services: the node and kube-proxy's flags. */
export interface IptablesNodeConfig {
  nodeName: string;
  /**
   * The family these rules are for (iptables: IPv4, ip6tables: IPv6); default
   * IPv4. Service ports, addresses and CIDRs of the other family are left out.
   */
  family?: IPFamily;
  /** This node's addresses; the first of the family is kube-proxy's nodeIP (LB source-range "allow from node"). */
  nodeIPs: string[];
  /**
   * Shorthand for localDetector {mode: 'ClusterCIDR', cidr} (kube-proxy's
   * --cluster-cidr); a dual-stack "v4,v6" pair gives each family its own.
   */
  clusterCIDR?: string;
  /** --detect-local-mode and its parameter; wins over clusterCIDR. */
  localDetector?: LocalDetectorConfig;
  /** --masquerade-all. */
  masqueradeAll?: boolean;
  /** --iptables-masquerade-bit (default 14, mark 0x4000). */
  masqueradeBit?: number;
  /** The mark text itself; default as kube-proxy formats it, "%#08x" of 1<<bit ("0x00004000"). */
  masqueradeMark?: string;
  /** --nodeport-addresses (CIDRs or "primary"); empty: every local address. */
  nodePortAddresses?: string[];
  /** The node's interface addresses, to resolve nodePortAddresses CIDRs. */
  localAddresses?: string[];
  /** --iptables-localhost-nodeports (default true). */
  localhostNodePorts?: boolean;
  /** iptables supports MASQUERADE --random-fully (kube-proxy: version >= 1.6.2). */
  randomFully?: boolean;
  /** net.netfilter.nf_conntrack_tcp_be_liberal is set: no INVALID drop rule. */
  conntrackTCPLiberal?: boolean;
  /** nfacct counters kube-proxy managed to create (adds "-m nfacct" to two rules). */
  nfacct?: { ctStateInvalidDropped?: boolean; localhostNodePortsAccepted?: boolean };
}

export interface RenderOptions {
  /** Write every service's chains (default true). */
  full?: boolean;
  /** Per service port (ServicePortInfo.key) hash of its chains at the last successful sync. */
  previousHashes?: ReadonlyMap<string, string>;
  /** Chains found in the nat table (iptables-save); stale service chains among them are deleted. */
  existingNatChains?: Iterable<string>;
  /** Service chains the last sync left active; those no longer active are deleted too. */
  previousActiveNatChains?: Iterable<string>;
  /**
   * What earlier renders with the same node config wrote for each service
   * port, by its DesiredServicePort object: the proxier hands an unchanged
   * Service's objects again, and a changed one's as new objects.
   */
  cache?: RenderCache;
}

/** What one service port contributed to a render: every line it wrote, in order, per buffer. */
interface ServicePortRender {
  filterTop: readonly string[];
  natTop: readonly string[];
  chainLines: string[];
  ruleLines: string[];
  hash: string;
  active: readonly string[];
  noLocalInternal: number;
  noLocalExternal: number;
}

/**
 * Renders of unchanged service ports, kept from one render to the next: a
 * partial sync of 10,000 Services x 10 endpoints rendered every Service again
 * to find the one that changed (0.8-1.0 s). Valid for one node config and
 * cluster mode (the signature); a render with another clears it.
 */
export class RenderCache {
  private signature = '';
  private byPort = new WeakMap<DesiredServicePort, ServicePortRender>();
  /** Service ports rendered from the cache in the last render, and rendered anew. */
  readonly last = { hits: 0, misses: 0 };

  /** @internal */
  begin(signature: string): void {
    if (signature !== this.signature) {
      this.signature = signature;
      this.byPort = new WeakMap();
    }
    this.last.hits = 0;
    this.last.misses = 0;
  }

  /** @internal */
  get(d: DesiredServicePort): ServicePortRender | undefined {
    const r = this.byPort.get(d);
    if (r) this.last.hits++;
    else this.last.misses++;
    return r;
  }

  /** @internal */
  set(d: DesiredServicePort, r: ServicePortRender): void {
    this.byPort.set(d, r);
  }
}

/** One service port's own chains (SVC, SVL, EXT, FW, SEP) as written. */
export interface ServiceChainsPart {
  key: string;
  /** ":CHAIN - [0:0]" lines. */
  chainLines: string[];
  /** "-A CHAIN ..." lines. */
  ruleLines: string[];
}

export interface RenderResult {
  /** The iptables-restore input (--noflush). */
  text: string;
  serviceHashes: Map<string, string>;
  activeNatChains: Set<string>;
  /** Service port keys whose chains are in `text`. */
  writtenServices: string[];
  /** The chain and rule lines of each written service port, as they are in `text`. */
  serviceParts: ServiceChainsPart[];
  /** Service port keys left out because nothing changed. */
  skippedServices: string[];
  deletedChains: string[];
  largeClusterMode: boolean;
  /** Hash of everything but the service chains (the top-level chains, always rewritten). */
  topLevelHash: string;
  /** Rule lines of the service chains written. */
  serviceRuleLines: number;
  counts: { filterChains: number; filterRules: number; natChains: number; natRules: number };
  noLocalEndpoints: { internal: number; external: number };
  /** The family rendered. */
  family: IPFamily;
  /** Service ports of the other family handed in and left out (the caller should split by family). */
  otherFamilyPorts: number;
}

/**
 * A per-endpoint rule comment, written only below the large-cluster
 * threshold. Left out of the partial-sync hash: crossing the threshold alone
 * does not rewrite a Service (kube-proxy's TestSyncProxyRulesLargeClusterMode).
 */
class EndpointComment {
  constructor(readonly words: readonly string[]) {}
}

type Arg = string | readonly string[] | EndpointComment;

/**
 * Lines as iptables-restore reads them. A service buffer also keeps each line
 * without its endpoint comments (what the partial-sync hash covers); a
 * top-level buffer keeps the lines written to it directly (the top-level
 * hash), apart from the service and stale-chain lines appended to it.
 */
class LineBuffer {
  readonly lines: string[] = [];
  readonly hashLines: string[] | undefined;
  readonly topLines: string[] | undefined;
  constructor(kind: 'service' | 'top') {
    if (kind === 'service') this.hashLines = [];
    else this.topLines = [];
  }
  write(...args: Arg[]): void {
    const words: string[] = [];
    let hashWords: string[] | undefined;
    for (const a of args) {
      if (typeof a === 'string') {
        words.push(a);
        hashWords?.push(a);
      } else if (a instanceof EndpointComment) {
        // The first comment splits the hashed words from the written ones.
        if (a.words.length > 0) {
          hashWords ??= words.slice();
          words.push(...a.words);
        }
      } else {
        words.push(...a);
        hashWords?.push(...a);
      }
    }
    const line = words.join(' ');
    this.lines.push(line);
    this.hashLines?.push(hashWords ? hashWords.join(' ') : line);
    this.topLines?.push(line);
  }
  chain(name: string): void {
    const line = `:${name} - [0:0]`;
    this.lines.push(line);
    this.hashLines?.push(line);
    this.topLines?.push(line);
  }
  /** Top-level lines written before (a cached service port's), again. */
  replay(lines: readonly string[]): void {
    for (const l of lines) {
      this.lines.push(l);
      this.topLines?.push(l);
    }
  }
  /** Lines of another buffer (a service's chains, a stale chain), not part of this one's top-level hash. */
  append(lines: readonly string[]): void {
    for (const l of lines) this.lines.push(l);
  }
}

/** Go's fmt.Sprintf("%#08x", v): eight zero-padded hex digits after "0x". */
export function formatMark(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

export function masqueradeMarkOf(cfg: Pick<IptablesNodeConfig, 'masqueradeBit' | 'masqueradeMark'>): string {
  if (cfg.masqueradeMark) return cfg.masqueradeMark;
  const bit = cfg.masqueradeBit ?? 14;
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) throw new Error(`masquerade bit ${bit} is not in [0, 31]`);
  return formatMark(2 ** bit);
}

/** net.IPNet.String() of a source range, or undefined when it is not a CIDR of the family. */
function normalizeSourceRange(raw: string, family: IPFamily): string | undefined {
  const s = raw.trim();
  if (family === 'IPv6') {
    const p = parsePrefix(s);
    return p && p.family === 'IPv6' && !p.ipv4Mapped ? p.cidr : undefined;
  }
  try {
    const { base, prefix } = parseCidr(s);
    return `${intToIpv4(base)}/${prefix}`;
  } catch {
    return undefined;
  }
}

/** An address of the family (IPv4 dotted quad as given; IPv6 in RFC 5952 text), or undefined. */
function addressOf(raw: string, family: IPFamily): string | undefined {
  if (family === 'IPv4') return isIPv4(raw) ? raw : undefined;
  const a = parseAddress(raw);
  return a && a.family === family && !a.ipv4Mapped ? a.text : undefined;
}

/** The --cluster-cidr entry of the family: "a/n" or a dual-stack "a/n,b/m" pair. */
export function clusterCIDRFor(clusterCIDR: string | undefined, family: IPFamily): string | undefined {
  for (const raw of (clusterCIDR ?? '').split(',')) {
    const p = parsePrefix(raw);
    if (p && p.family === family && !p.ipv4Mapped) return raw.trim();
  }
  return undefined;
}

/** The local traffic detector's config for the family; a CIDR of the other family detects nothing. */
function detectorConfigFor(cfg: IptablesNodeConfig, family: IPFamily): LocalDetectorConfig | undefined {
  const d = cfg.localDetector;
  if (d) {
    if ((d.mode === 'ClusterCIDR' || d.mode === 'NodeCIDR') && clusterCIDRFor(d.cidr, family) === undefined) return undefined;
    return d;
  }
  const cidr = clusterCIDRFor(cfg.clusterCIDR, family);
  return cidr ? { mode: 'ClusterCIDR', cidr } : undefined;
}

/** BaseEndpointInfo.String(): "ip:port", "[ip]:port" for IPv6 (Go's JoinHostPort). */
function endpointString(e: EndpointInfo): string {
  return endpointKey(e);
}

/** kube-proxy keeps each service's endpoints sorted by their "ip:port" string. */
function sortedEndpoints(eps: readonly EndpointInfo[]): EndpointInfo[] {
  const seen = new Set<string>();
  const out: EndpointInfo[] = [];
  for (const e of eps) {
    const k = endpointString(e);
    if (!seen.has(k)) {
      seen.add(k);
      out.push(e);
    }
  }
  return out.sort((a, b) => {
    const x = endpointString(a);
    const y = endpointString(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function usable(eps: readonly EndpointInfo[]): EndpointInfo[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
}

/** The endpoint sets kube-proxy's CategorizeEndpoints returns, rebuilt from the back-end-neutral desired state. */
export interface Categorized {
  clusterEndpoints: EndpointInfo[];
  localEndpoints: EndpointInfo[];
  allLocallyReachable: EndpointInfo[];
  hasEndpoints: boolean;
  externallyAccessible: boolean;
  externalPolicyLocal: boolean;
  usesClusterEndpoints: boolean;
  usesLocalEndpoints: boolean;
}

export function categorize(d: DesiredServicePort): Categorized {
  const svc = d.svc;
  const externallyAccessible = svc.nodePort !== 0 || svc.loadBalancerIPs.length > 0 || svc.externalIPs.length > 0;
  const externalPolicyLocal = svc.externalPolicyLocal && externallyAccessible;
  const internalPolicyLocal = svc.internalPolicyLocal;
  const usesClusterEndpoints = !internalPolicyLocal || externallyAccessible;
  const usesLocalEndpoints = internalPolicyLocal || externalPolicyLocal;
  const extra = d as DesiredServicePort & { clusterEndpoints?: EndpointInfo[]; localEndpoints?: EndpointInfo[] };

  let cluster: EndpointInfo[] = [];
  if (usesClusterEndpoints) {
    if (extra.clusterEndpoints) cluster = extra.clusterEndpoints;
    else if (!internalPolicyLocal) cluster = d.internalEndpoints;
    else if (!svc.externalPolicyLocal) cluster = d.externalEndpoints;
    // Both policies Local: the desired state carries no cluster-wide set, so
    // it is rebuilt without topology hints (used only to short-circuit).
    else cluster = usable(d.allEndpoints);
  }
  let local: EndpointInfo[] = [];
  if (usesLocalEndpoints) {
    if (extra.localEndpoints) local = extra.localEndpoints;
    else if (internalPolicyLocal) local = d.internalEndpoints;
    else local = d.externalEndpoints;
  }
  const clusterEndpoints = sortedEndpoints(cluster);
  const localEndpoints = sortedEndpoints(local);
  let hasEndpoints = usesClusterEndpoints && clusterEndpoints.length > 0;
  if (usesLocalEndpoints && d.allEndpoints.some((e) => e.ready || (e.serving && e.terminating))) hasEndpoints = true;
  let allLocallyReachable: EndpointInfo[];
  if (!usesLocalEndpoints) allLocallyReachable = clusterEndpoints;
  else if (!usesClusterEndpoints) allLocallyReachable = localEndpoints;
  else allLocallyReachable = sortedEndpoints([...clusterEndpoints, ...localEndpoints]);
  return {
    clusterEndpoints, localEndpoints, allLocallyReachable, hasEndpoints,
    externallyAccessible, externalPolicyLocal, usesClusterEndpoints, usesLocalEndpoints,
  };
}

const q = (s: string): string => `"${s}"`;

export function renderIptables(desired: readonly DesiredServicePort[], cfg: IptablesNodeConfig, opts: RenderOptions = {}): RenderResult {
  const full = opts.full ?? true;
  const family: IPFamily = cfg.family ?? 'IPv4';
  const isIPv6 = family === 'IPv6';
  const mark = masqueradeMarkOf(cfg);
  const detector = localTrafficDetector(detectorConfigFor(cfg, family));
  const nodeIP = cfg.nodeIPs.map((ip) => addressOf(ip, family)).find((ip) => ip !== undefined);
  const npa = nodePortAddresses(cfg.nodePortAddresses, nodeIP, family);
  // Only this family's service ports (the other family has its own tables).
  const ours = desired.filter((d) => (d.svc.family ?? 'IPv4') === family);
  const otherFamilyPorts = desired.length - ours.length;
  const localhostNodePorts = (cfg.localhostNodePorts ?? true) && npa.containsIPv4Loopback;
  const nfacctInvalid = cfg.nfacct?.ctStateInvalidDropped ?? false;
  const nfacctLocalhost = cfg.nfacct?.localhostNodePortsAccepted ?? false;

  const filterChains = new LineBuffer('top');
  const filterRules = new LineBuffer('top');
  const natChains = new LineBuffer('top');
  const natRules = new LineBuffer('top');

  for (const c of [KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_PROXY_FIREWALL]) filterChains.chain(c);
  for (const c of [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ]) natChains.chain(c);

  natRules.write('-A', KUBE_POSTROUTING, '-m', 'mark', '!', '--mark', `${mark}/${mark}`, '-j', 'RETURN');
  natRules.write('-A', KUBE_POSTROUTING, '-j', 'MARK', '--xor-mark', mark);
  natRules.write('-A', KUBE_POSTROUTING, '-m', 'comment', '--comment', q('kubernetes service traffic requiring SNAT'), '-j', 'MASQUERADE',
    cfg.randomFully ? ['--random-fully'] : []);
  natRules.write('-A', KUBE_MARK_MASQ, '-j', 'MARK', '--or-mark', mark);

  if (localhostNodePorts) {
    filterChains.chain(KUBE_FIREWALL);
    filterRules.write('-A', KUBE_FIREWALL, '-m', 'comment', '--comment', q('block incoming localnet connections'),
      '-d', '127.0.0.0/8', '!', '-s', '127.0.0.0/8', '-m', 'conntrack', '!', '--ctstate', 'RELATED,ESTABLISHED,DNAT', '-j', 'DROP');
  }

  const activeNatChains = new Set<string>();
  let totalEndpoints = 0;
  for (const d of ours) totalEndpoints += d.allEndpoints.length;
  const largeClusterMode = totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
  const comment = (s: string): EndpointComment => new EndpointComment(largeClusterMode ? [] : ['-m', 'comment', '--comment', s]);

  const serviceHashes = new Map<string, string>();
  let serviceRuleLines = 0;
  const writtenServices: string[] = [];
  const serviceParts: ServiceChainsPart[] = [];
  const skippedServices: string[] = [];
  let noLocalInternal = 0;
  let noLocalExternal = 0;

  const sorted = ours.sort((a, b) => (a.svc.key < b.svc.key ? -1 : a.svc.key > b.svc.key ? 1 : 0));
  const cache = opts.cache;
  cache?.begin(JSON.stringify([cfg, largeClusterMode]));
  for (const d of sorted) {
    let one = cache?.get(d);
    if (one) {
      filterRules.replay(one.filterTop);
      natRules.replay(one.natTop);
      for (const c of one.active) activeNatChains.add(c);
      noLocalInternal += one.noLocalInternal;
      noLocalExternal += one.noLocalExternal;
    } else {
      const filter0 = filterRules.lines.length, nat0 = natRules.lines.length, internal0 = noLocalInternal, external0 = noLocalExternal;
      const active: string[] = [];
      const svc = d.svc;
      const names = serviceChains(servicePortString(svc.name), svc.protocol);
      const svcName = names.name;
      const protocol = names.protocol;
      const port = String(svc.port);
      const cat = categorize(d);
      const { clusterEndpoints, localEndpoints, hasEndpoints } = cat;
      const familyIPs = (l: string[]): string[] => l.map((ip) => addressOf(ip, family)).filter((ip): ip is string => ip !== undefined);
      const lbIPs = familyIPs(svc.loadBalancerIPs);
      const externalIPs = familyIPs(svc.externalIPs);
      const sourceRanges = svc.loadBalancerSourceRanges.map((r) => normalizeSourceRange(r, family)).filter((s): s is string => s !== undefined);

      const clusterPolicyChain = names.cluster;
      const usesClusterPolicyChain = clusterEndpoints.length > 0 && cat.usesClusterEndpoints;
      const localPolicyChain = names.local;
      const usesLocalPolicyChain = localEndpoints.length > 0 && cat.usesLocalEndpoints;

      let internalPolicyChain = clusterPolicyChain;
      let hasInternalEndpoints = hasEndpoints;
      if (svc.internalPolicyLocal) {
        internalPolicyChain = localPolicyChain;
        if (localEndpoints.length === 0) hasInternalEndpoints = false;
      }
      const internalTrafficChain = internalPolicyChain;

      let externalPolicyChain = clusterPolicyChain;
      let hasExternalEndpoints = hasEndpoints;
      if (cat.externalPolicyLocal) {
        externalPolicyChain = localPolicyChain;
        if (localEndpoints.length === 0) hasExternalEndpoints = false;
      }
      const externalTrafficChain = names.external;
      const usesExternalTrafficChain = hasEndpoints && cat.externallyAccessible;

      let loadBalancerTrafficChain = externalTrafficChain;
      const fwChain = names.firewall;
      // Ranges given but none valid still filter (fail closed; kube-proxy would open the IP).
      const usesFWChain = hasEndpoints && lbIPs.length > 0 && (sourceRanges.length > 0 || svc.sourceRangesGiven === true);
      if (usesFWChain) loadBalancerTrafficChain = fwChain;

      let internalTrafficFilterTarget = '';
      let internalTrafficFilterComment = '';
      let externalTrafficFilterTarget = '';
      let externalTrafficFilterComment = '';
      if (!hasEndpoints) {
        internalTrafficFilterTarget = 'REJECT';
        internalTrafficFilterComment = q(`${svcName} has no endpoints`);
        externalTrafficFilterTarget = 'REJECT';
        externalTrafficFilterComment = internalTrafficFilterComment;
      } else {
        if (!hasInternalEndpoints) {
          internalTrafficFilterTarget = 'DROP';
          internalTrafficFilterComment = q(`${svcName} has no local endpoints`);
          noLocalInternal++;
        }
        if (!hasExternalEndpoints) {
          externalTrafficFilterTarget = 'DROP';
          externalTrafficFilterComment = q(`${svcName} has no local endpoints`);
          noLocalExternal++;
        }
      }

      const proto = ['-m', protocol, '-p', protocol];

      // Capture the clusterIP (unless another Service owns it, see frontend-claims.ts).
      const clusterIPLost = svc.lostFrontends?.some((l) => l.kind === 'ClusterIP') ?? false;
      if (clusterIPLost) {
        // The owner's rule captures the address.
      } else if (hasInternalEndpoints) {
        natRules.write('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(`${svcName} cluster IP`), proto,
          '-d', svc.clusterIP, '--dport', port, '-j', internalTrafficChain);
      } else {
        filterRules.write('-A', KUBE_SERVICES, '-m', 'comment', '--comment', internalTrafficFilterComment, proto,
          '-d', svc.clusterIP, '--dport', port, '-j', internalTrafficFilterTarget);
      }

      // Capture externalIPs.
      for (const externalIP of externalIPs) {
        if (hasEndpoints) {
          natRules.write('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(`${svcName} external IP`), proto,
            '-d', externalIP, '--dport', port, '-j', externalTrafficChain);
        }
        if (!hasExternalEndpoints) {
          filterRules.write('-A', KUBE_EXTERNAL_SERVICES, '-m', 'comment', '--comment', externalTrafficFilterComment, proto,
            '-d', externalIP, '--dport', port, '-j', externalTrafficFilterTarget);
        }
      }

      // Capture load-balancer ingress.
      for (const lbip of lbIPs) {
        if (hasEndpoints) {
          natRules.write('-A', KUBE_SERVICES, '-m', 'comment', '--comment', q(`${svcName} loadbalancer IP`), proto,
            '-d', lbip, '--dport', port, '-j', loadBalancerTrafficChain);
        }
        if (usesFWChain) {
          filterRules.write('-A', KUBE_PROXY_FIREWALL, '-m', 'comment', '--comment', q(`${svcName} traffic not accepted by ${fwChain}`), proto,
            '-d', lbip, '--dport', port, '-j', 'DROP');
        }
      }
      if (!hasExternalEndpoints) {
        for (const lbip of lbIPs) {
          filterRules.write('-A', KUBE_EXTERNAL_SERVICES, '-m', 'comment', '--comment', externalTrafficFilterComment, proto,
            '-d', lbip, '--dport', port, '-j', externalTrafficFilterTarget);
        }
      }

      // Capture nodeports.
      if (svc.nodePort !== 0) {
        const nodePort = String(svc.nodePort);
        if (hasEndpoints) {
          if (localhostNodePorts && nfacctLocalhost) {
            natRules.write('-A', KUBE_NODEPORTS, '-m', 'comment', '--comment', svcName, proto, '-d', '127.0.0.0/8',
              '--dport', nodePort, '-m', 'nfacct', '--nfacct-name', 'localhost_nps_accepted_pkts', '-j', externalTrafficChain);
          }
          natRules.write('-A', KUBE_NODEPORTS, '-m', 'comment', '--comment', svcName, proto, '--dport', nodePort, '-j', externalTrafficChain);
        }
        if (!hasExternalEndpoints) {
          filterRules.write('-A', KUBE_EXTERNAL_SERVICES, '-m', 'comment', '--comment', externalTrafficFilterComment,
            '-m', 'addrtype', '--dst-type', 'LOCAL', proto, '--dport', nodePort, '-j', externalTrafficFilterTarget);
        }
      }

      // Capture healthCheckNodePorts (only eTP=Local LoadBalancers have one, as apiservice.NeedsHealthCheck says).
      if (svc.healthCheckNodePort !== 0 && svc.type === 'LoadBalancer' && svc.externalPolicyLocal) {
        filterRules.write('-A', KUBE_NODEPORTS, '-m', 'comment', '--comment', q(`${svcName} health check node port`),
          '-m', 'tcp', '-p', 'tcp', '--dport', String(svc.healthCheckNodePort), '-j', 'ACCEPT');
      }

      // The service's own chains: collected apart, hashed, written unless unchanged.
      const sc = new LineBuffer('service');
      const sr = new LineBuffer('service');

      if (hasInternalEndpoints && !clusterIPLost) {
        const args = ['-m', 'comment', '--comment', q(`${svcName} cluster IP`), ...proto, '-d', svc.clusterIP, '--dport', port];
        if (cfg.masqueradeAll) sr.write('-A', internalTrafficChain, args, '-j', KUBE_MARK_MASQ);
        else if (detector.implemented) sr.write('-A', internalTrafficChain, args, detector.ifNotLocal, '-j', KUBE_MARK_MASQ);
      }

      if (usesExternalTrafficChain) {
        sc.chain(externalTrafficChain);
        active.push(externalTrafficChain);
        if (!cat.externalPolicyLocal) {
          sr.write('-A', externalTrafficChain, '-m', 'comment', '--comment', q(`masquerade traffic for ${svcName} external destinations`), '-j', KUBE_MARK_MASQ);
        } else {
          if (detector.implemented) {
            sr.write('-A', externalTrafficChain, '-m', 'comment', '--comment', q(`pod traffic for ${svcName} external destinations`),
              detector.ifLocal, '-j', clusterPolicyChain);
          }
          sr.write('-A', externalTrafficChain, '-m', 'comment', '--comment', q(`masquerade LOCAL traffic for ${svcName} external destinations`),
            '-m', 'addrtype', '--src-type', 'LOCAL', '-j', KUBE_MARK_MASQ);
          sr.write('-A', externalTrafficChain, '-m', 'comment', '--comment', q(`route LOCAL traffic for ${svcName} external destinations`),
            '-m', 'addrtype', '--src-type', 'LOCAL', '-j', clusterPolicyChain);
        }
        if (hasExternalEndpoints) sr.write('-A', externalTrafficChain, '-j', externalPolicyChain);
      }

      if (usesFWChain) {
        sc.chain(fwChain);
        active.push(fwChain);
        const args = ['-A', fwChain, '-m', 'comment', '--comment', q(`${svcName} loadbalancer IP`)];
        let allowFromNode = false;
        for (const cidr of sourceRanges) {
          sr.write(args, '-s', cidr, '-j', externalTrafficChain);
          if (nodeIP && prefixContains(cidr, nodeIP)) allowFromNode = true;
        }
        if (allowFromNode) {
          for (const lbip of lbIPs) sr.write(args, '-s', lbip, '-j', externalTrafficChain);
        }
        sr.write('-A', fwChain, '-m', 'comment', '--comment', q(`other traffic to ${svcName} will be dropped by KUBE-PROXY-FIREWALL`));
      }

      const sepChain = (e: EndpointInfo): string => servicePortEndpointChainName(svcName, protocol, endpointString(e));
      const writeServiceToEndpointRules = (svcChain: string, endpoints: EndpointInfo[]): void => {
        if (svc.affinityTimeoutSeconds > 0) {
          for (const e of endpoints) {
            sr.write('-A', svcChain, comment(q(`${svcName} -> ${endpointString(e)}`)),
              '-m', 'recent', '--name', sepChain(e), '--rcheck', '--seconds', String(svc.affinityTimeoutSeconds), '--reap', '-j', sepChain(e));
          }
        }
        const n = endpoints.length;
        endpoints.forEach((e, i) => {
          const stat = i < n - 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', probability(n - i)] : [];
          sr.write('-A', svcChain, comment(q(`${svcName} -> ${endpointString(e)}`)), stat, '-j', sepChain(e));
        });
      };

      if (usesClusterPolicyChain) {
        sc.chain(clusterPolicyChain);
        active.push(clusterPolicyChain);
        writeServiceToEndpointRules(clusterPolicyChain, clusterEndpoints);
      }
      if (usesLocalPolicyChain) {
        sc.chain(localPolicyChain);
        active.push(localPolicyChain);
        writeServiceToEndpointRules(localPolicyChain, localEndpoints);
      }

      for (const e of cat.allLocallyReachable) {
        const chain = sepChain(e);
        sc.chain(chain);
        active.push(chain);
        const args: Arg[] = ['-A', chain, comment(svcName)];
        sr.write(...args, '-s', e.ip, '-j', KUBE_MARK_MASQ);
        const affinity = svc.affinityTimeoutSeconds > 0 ? ['-m', 'recent', '--name', chain, '--set'] : [];
        sr.write(...args, affinity, proto, '-j', 'DNAT', '--to-destination', endpointString(e));
      }

      const hash = oneShotHash('sha256', `${sc.hashLines!.join('\n')}\n--\n${sr.hashLines!.join('\n')}`, 'base64');
      for (const c of active) activeNatChains.add(c);
      one = {
        filterTop: filterRules.lines.slice(filter0), natTop: natRules.lines.slice(nat0),
        chainLines: sc.lines, ruleLines: sr.lines, hash, active,
        noLocalInternal: noLocalInternal - internal0, noLocalExternal: noLocalExternal - external0,
      };
      cache?.set(d, one);
    }
    const key = d.svc.key;
    serviceHashes.set(key, one.hash);
    if (!full && opts.previousHashes?.get(key) === one.hash) {
      skippedServices.push(key);
    } else {
      writtenServices.push(key);
      serviceParts.push({ key, chainLines: one.chainLines, ruleLines: one.ruleLines });
      natChains.append(one.chainLines);
      natRules.append(one.ruleLines);
      serviceRuleLines += one.ruleLines.length;
    }
  }

  // Delete service chains no longer in use: flush (chain line), then -X.
  const stale = new Set<string>();
  for (const c of opts.existingNatChains ?? []) if (isServiceChainName(c) && !activeNatChains.has(c)) stale.add(c);
  for (const c of opts.previousActiveNatChains ?? []) if (isServiceChainName(c) && !activeNatChains.has(c)) stale.add(c);
  const deletedChains = [...stale].sort();
  for (const c of deletedChains) {
    natChains.append([`:${c} - [0:0]`]);
    natRules.append([`-X ${c}`]);
  }

  // Finally, tail-call to the nodePorts chain.
  const npComment = q('kubernetes service nodeports; NOTE: this must be the last rule in this chain');
  if (npa.matchAll) {
    // IPv6 localhost NodePorts never work (no route_localnet for IPv6).
    const notLocalhost = isIPv6 ? ['!', '-d', '::1/128'] : localhostNodePorts ? [] : ['!', '-d', '127.0.0.0/8'];
    const destinations = ['-m', 'addrtype', '--dst-type', 'LOCAL', ...notLocalhost];
    natRules.write('-A', KUBE_SERVICES, '-m', 'comment', '--comment', npComment, destinations, '-j', KUBE_NODEPORTS);
  } else {
    for (const ip of nodePortIPs(npa, cfg.localAddresses ?? cfg.nodeIPs, family)) {
      if (isIPv6 ? ip === '::1' : ip.startsWith('127.') && !localhostNodePorts) continue;
      natRules.write('-A', KUBE_SERVICES, '-m', 'comment', '--comment', npComment, '-d', ip, '-j', KUBE_NODEPORTS);
    }
  }

  if (!cfg.conntrackTCPLiberal) {
    filterRules.write('-A', KUBE_FORWARD, '-m', 'conntrack', '--ctstate', 'INVALID',
      nfacctInvalid ? ['-m', 'nfacct', '--nfacct-name', 'ct_state_invalid_dropped_pkts'] : [], '-j', 'DROP');
  }
  filterRules.write('-A', KUBE_FORWARD, '-m', 'comment', '--comment', q('kubernetes forwarding rules'),
    '-m', 'mark', '--mark', `${mark}/${mark}`, '-j', 'ACCEPT');
  filterRules.write('-A', KUBE_FORWARD, '-m', 'comment', '--comment', q('kubernetes forwarding conntrack rule'),
    '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT');

  const text = [
    '*filter', ...filterChains.lines, ...filterRules.lines, 'COMMIT',
    '*nat', ...natChains.lines, ...natRules.lines, 'COMMIT',
  ].join('\n') + '\n';

  // Everything but the service chains and the stale-chain deletions.
  const top = createHash('sha256');
  for (const b of [filterChains, filterRules, natChains, natRules]) for (const l of b.topLines!) top.update(l).update('\n');

  return {
    text,
    topLevelHash: top.digest('base64'),
    serviceRuleLines,
    serviceHashes,
    activeNatChains,
    writtenServices,
    serviceParts,
    skippedServices,
    deletedChains,
    largeClusterMode,
    counts: {
      filterChains: filterChains.lines.length,
      filterRules: filterRules.lines.length,
      natChains: natChains.lines.length,
      natRules: natRules.lines.length,
    },
    noLocalEndpoints: { internal: noLocalInternal, external: noLocalExternal },
    family,
    otherFamilyPorts,
  };
}
