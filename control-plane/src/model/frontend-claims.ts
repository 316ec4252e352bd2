// Who owns an address, port and protocol. Two Services may claim the same
// frontend (a ClusterIP listed as another Service's externalIP, two
// LoadBalancers given one ingress IP); exactly one gets it, decided the way
// kube-proxy's rule order decides it: a ClusterIP beats an ExternalIP or a
// LoadBalancer IP, then the oldest Service (creationTimestamp) wins, then
// namespace/name (and, within one Service, ExternalIP before LoadBalancer
// IP, as kube-proxy writes them) so every node picks the same owner. The
// loser's frontend is left out of the desired state of both back ends, so
// deleting the loser never touches the winner's entries.
//
// With the external IP policy on (kube's DenyServiceExternalIPs idea, off by
// default as in kube-proxy) an ExternalIP equal to any Service's ClusterIP,
// or outside the allowed CIDRs, is refused outright.
import { parseCIDRSloppy, ipv4ToInt, isIPv4 } from '../util/ipv4.js';
import type { Protocol, ServicePortInfo } from './types.js';

export type ClaimKind = 'ClusterIP' | 'ExternalIP' | 'LoadBalancer';

export interface ExternalIPPolicy {
  /** Refuse ExternalIPs equal to any Service's ClusterIP. */
  refuseClusterIPs?: boolean;
  /** When non-empty, ExternalIPs outside these IPv4 CIDRs are refused. */
  allowedCIDRs?: string[];
}

/** A frontend one ServicePort lost, and to whom. */
export interface LostFrontend {
  kind: ClaimKind;
  addr: string;
  port: number;
  protocol: Protocol;
  /** servicePortKey of the owner; empty when refused by policy. */
  winner: string;
  winnerKind?: ClaimKind;
  reason: string;
}

export interface FrontendConflict extends LostFrontend {
  /** servicePortKey of the ServicePort that does not get the frontend. */
  loser: string;
}

interface Claim {
  service: string;
  servicePort: string;
  kind: ClaimKind;
  created: number;
}

const KIND_RANK: Record<ClaimKind, number> = { ClusterIP: 0, ExternalIP: 1, LoadBalancer: 1 };
const KIND_TIE: Record<ClaimKind, number> = { ClusterIP: 0, ExternalIP: 1, LoadBalancer: 2 };

/** Negative when a wins the frontend over b. */
function compareClaims(a: Claim, b: Claim): number {
  if (KIND_RANK[a.kind] !== KIND_RANK[b.kind]) return KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (a.created !== b.created) return a.created - b.created;
  if (a.service !== b.service) return a.service < b.service ? -1 : 1;
  if (KIND_TIE[a.kind] !== KIND_TIE[b.kind]) return KIND_TIE[a.kind] - KIND_TIE[b.kind];
  return a.servicePort < b.servicePort ? -1 : a.servicePort > b.servicePort ? 1 : 0;
}

function frontendKey(addr: string, port: number, protocol: string): string {
  return `${addr}:${port}/${protocol}`;
}

/** creationTimestamp as ms; a Service without one sorts last. */
export function creationTime(ts: Date | string | undefined): number {
  if (ts === undefined || ts === null) return Number.MAX_SAFE_INTEGER;
  const n = ts instanceof Date ? ts.getTime() : Date.parse(ts);
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

export class FrontendClaims {
  /** frontend key -> claimants. */
  private readonly claims = new Map<string, Claim[]>();
  /** contestedServices() as of the last set(); undefined once a claim changed. */
  private contested: Set<string> | undefined;
  /** Service key -> the frontend keys (and addresses) it claims. */
  private readonly byService = new Map<string, { keys: string[]; addrs: string[]; clusterIPs: string[] }>();
  /** address -> Services claiming it on any port (whom a change affects under the ClusterIP policy). */
  private readonly byAddress = new Map<string, Set<string>>();
  /** ClusterIP -> number of Services with it (for the policy). */
  private readonly clusterIPs = new Map<string, number>();
  private readonly allowed: Array<{ base: number; mask: number }>;

  constructor(private readonly policy: ExternalIPPolicy = {}) {
    this.allowed = (policy.allowedCIDRs ?? []).map((c) => {
      const p = parseCIDRSloppy(c);
      if (!p || p.family !== 'IPv4') throw new Error(`external IP CIDR ${JSON.stringify(c)} is not an IPv4 CIDR`);
      const [addr] = p.cidr.split('/');
      const mask = p.prefix === 0 ? 0 : (~0 << (32 - p.prefix)) >>> 0;
      return { base: ipv4ToInt(addr!), mask };
    });
  }

  /**
   * Sets the claims of one Service (its validated ports; none when it is
   * gone or skipped). Returns the other Services whose resolution may have
   * changed: they must be recomputed in the same sync.
   */
  set(serviceKey: string, ports: ServicePortInfo[], created: number): Set<string> {
    this.contested = undefined;
    const affected = new Set<string>();
    this.remove(serviceKey, affected);
    if (ports.length === 0) {
      affected.delete(serviceKey);
      return affected;
    }
    const keys: string[] = [], addrs = new Set<string>(), cips = new Set<string>();
    const add = (addr: string, p: ServicePortInfo, kind: ClaimKind): void => {
      const k = frontendKey(addr, p.port, p.protocol);
      let l = this.claims.get(k);
      if (!l) this.claims.set(k, (l = []));
      for (const c of l) affected.add(c.service);
      l.push({ service: serviceKey, servicePort: p.key, kind, created });
      keys.push(k);
      addrs.add(addr);
    };
    for (const p of ports) {
      add(p.clusterIP, p, 'ClusterIP');
      cips.add(p.clusterIP);
      for (const a of p.externalIPs) add(a, p, 'ExternalIP');
      for (const a of p.loadBalancerIPs) add(a, p, 'LoadBalancer');
    }
    for (const c of cips) this.clusterIPs.set(c, (this.clusterIPs.get(c) ?? 0) + 1);
    for (const a of addrs) {
      let s = this.byAddress.get(a);
      if (!s) this.byAddress.set(a, (s = new Set()));
      if (this.policy.refuseClusterIPs) for (const other of s) affected.add(other);
      s.add(serviceKey);
    }
    this.byService.set(serviceKey, { keys, addrs: [...addrs], clusterIPs: [...cips] });
    affected.delete(serviceKey);
    return affected;
  }

  private remove(serviceKey: string, affected: Set<string>): void {
    const had = this.byService.get(serviceKey);
    if (!had) return;
    this.byService.delete(serviceKey);
    for (const k of had.keys) {
      const l = this.claims.get(k);
      if (!l) continue;
      const rest = l.filter((c) => c.service !== serviceKey);
      for (const c of rest) affected.add(c.service);
      if (rest.length > 0) this.claims.set(k, rest);
      else this.claims.delete(k);
    }
    for (const c of had.clusterIPs) {
      const n = (this.clusterIPs.get(c) ?? 1) - 1;
      if (n > 0) this.clusterIPs.set(c, n);
      else this.clusterIPs.delete(c);
    }
    for (const a of had.addrs) {
      const s = this.byAddress.get(a);
      if (!s) continue;
      s.delete(serviceKey);
      // Under the ClusterIP policy any claim on the address (any port) may change the answer.
      if (this.policy.refuseClusterIPs) for (const other of s) affected.add(other);
      if (s.size === 0) this.byAddress.delete(a);
    }
  }

  /** Why the policy refuses an ExternalIP, or undefined. */
  private refused(addr: string): string | undefined {
    if (this.policy.refuseClusterIPs && this.clusterIPs.has(addr)) return 'external IP equals a Service ClusterIP (external IP policy)';
    if (this.allowed.length > 0) {
      // An IPv6 external IP is outside every (IPv4) allowed CIDR.
      const n = isIPv4(addr) ? ipv4ToInt(addr) : undefined;
      if (n === undefined || !this.allowed.some((c) => ((n & c.mask) >>> 0) === c.base)) return 'external IP outside the allowed CIDRs (external IP policy)';
    }
    return undefined;
  }

  /** The owner of one frontend, or undefined when nobody claims it. */
  private owner(addr: string, port: number, protocol: string): Claim | undefined {
    const l = this.claims.get(frontendKey(addr, port, protocol));
    if (!l || l.length === 0) return undefined;
    let best: Claim | undefined;
    for (const c of l) {
      if (c.kind === 'ExternalIP' && this.refused(addr)) continue;
      if (!best || compareClaims(c, best) < 0) best = c;
    }
    return best;
  }

  /**
   * One ServicePort as the back ends program it: the external and
   * LoadBalancer IPs it lost are taken out, and every lost frontend (its
   * ClusterIP included) is listed in `lostFrontends`.
   */
  resolve(p: ServicePortInfo): ServicePortInfo {
    const lost: LostFrontend[] = [];
    const wins = (addr: string, kind: ClaimKind): boolean => {
      if (kind === 'ExternalIP') {
        const why = this.refused(addr);
        if (why) {
          lost.push({ kind, addr, port: p.port, protocol: p.protocol, winner: '', reason: why });
          return false;
        }
      }
      const o = this.owner(addr, p.port, p.protocol);
      if (!o || (o.servicePort === p.key && o.kind === kind)) return true;
      lost.push({
        kind, addr, port: p.port, protocol: p.protocol, winner: o.servicePort, winnerKind: o.kind,
        reason: KIND_RANK[o.kind] < KIND_RANK[kind] ? `${addr} is the ClusterIP of ${o.servicePort}` : `${addr}:${p.port}/${p.protocol} is claimed by the older ${o.servicePort} (${o.kind})`,
      });
      return false;
    };
    wins(p.clusterIP, 'ClusterIP'); // a lost ClusterIP is only listed: the back ends skip its frontend
    const externalIPs = p.externalIPs.filter((a) => wins(a, 'ExternalIP'));
    const loadBalancerIPs = p.loadBalancerIPs.filter((a) => wins(a, 'LoadBalancer'));
    if (lost.length === 0) return p;
    return { ...p, externalIPs, loadBalancerIPs, lostFrontends: lost };
  }

  /** Services that may lose a frontend: those sharing one, or with ExternalIPs under a policy. */
  contestedServices(): Set<string> {
    // Asked after every sync (conflict log, metrics): walk the claims only
    // when a Service's claims changed since the last walk.
    if (this.contested) return this.contested;
    const out = new Set<string>();
    const policy = !!this.policy.refuseClusterIPs || this.allowed.length > 0;
    for (const l of this.claims.values()) {
      if (l.length > 1 || (policy && l.some((c) => c.kind === 'ExternalIP'))) for (const c of l) out.add(c.service);
    }
    this.contested = out;
    return out;
  }

  /** Every frontend some ServicePort claims but does not get. */
  conflicts(ports: Iterable<ServicePortInfo>): FrontendConflict[] {
    const out: FrontendConflict[] = [];
    for (const p of ports) for (const l of p.lostFrontends ?? []) out.push({ ...l, loser: p.key });
    return out;
  }
}

/** One line for status and the services view. */
export function describeLostFrontend(l: LostFrontend): string {
  return `${l.kind} ${l.addr}:${l.port}/${l.protocol} not programmed: ${l.reason}`;
}
