// Service admission, as kube-apiserver's service REST storage does it:
// ClusterIP allocation from the service CIDR of each family (or the requested
// addresses, "None" for headless, nothing for ExternalName) with ipFamilies /
// ipFamilyPolicy filled as kube-apiserver fills them (service-ip-families.ts),
// nodePort allocation for NodePort/LoadBalancer services,
// healthCheckNodePort for LoadBalancer services with externalTrafficPolicy
// Local, and release of all of these on delete or on a type change that no
// longer needs them. A dual-stack cluster (two service CIDRs, primary first,
// as --service-cluster-ip-range) allocates a Service's second address when
// its policy asks for one, and releases it when the policy drops to
// SingleStack.

import type { IPFamily } from '../../../control-plane/src/util/ip.js';
import { invalid, type StatusCause } from './errors.js';
import { PortAllocator } from './ip.js';
import { RESOURCES } from './resources.js';
import { familyOfIP, serviceIPAllocator, type ServiceIPAllocator } from './service-ip-allocator.js';
import { initIPFamilyFields } from './service-ip-families.js';
import type { Service, ServicePort } from './types.js';

export interface ServiceAllocatorOptions {
  /** Default 198.18.128.0/17; "CIDR,CIDR" of two families makes the cluster dual-stack (the first is primary). */
  serviceCIDR?: string;
  /** The same as a list (wins over serviceCIDR), e.g. ['198.18.128.0/17', 'fd00:198:18:128::/112']. */
  serviceCIDRs?: string[];
  /** Inclusive; default [30000, 32767]. */
  nodePortRange?: [number, number];
}

export const DEFAULT_SERVICE_CIDR = '198.18.128.0/17';
export const DEFAULT_NODEPORT_RANGE: [number, number] = [30000, 32767];

function needsNodePorts(s: Service['spec']): boolean {
  if (s.type === 'NodePort') return true;
  if (s.type === 'LoadBalancer') return s.allocateLoadBalancerNodePorts !== false;
  return false;
}

function needsHealthCheckNodePort(s: Service['spec']): boolean {
  return s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
}

function hasClusterIP(s: Service['spec']): boolean {
  return s.type !== 'ExternalName';
}

/**
 * kube's dropTypeDependentFields: when an update changes the type (or the
 * external traffic policy) so that an allocated field is no longer wanted and
 * the client left it as it was, it is cleared instead of failing validation.
 */
export function dropTypeDependentFields(svc: Service, old: Service): void {
  const s = svc.spec;
  const o = old.spec;
  if (!s || !o) return;
  if (hasClusterIP(o) && !hasClusterIP(s) && (s.clusterIP ?? '') === (o.clusterIP ?? '')) {
    delete s.clusterIP;
    delete s.clusterIPs;
    delete s.ipFamilies;
    delete s.ipFamilyPolicy;
  }
  if (needsNodePorts(o) && !needsNodePorts(s) && Array.isArray(s.ports)) {
    for (const p of s.ports) {
      const prev = (o.ports ?? []).find((q) => q.nodePort !== undefined && q.nodePort === p.nodePort);
      if (prev) delete p.nodePort;
    }
  }
  if (needsHealthCheckNodePort(o) && !needsHealthCheckNodePort(s) && s.healthCheckNodePort === o.healthCheckNodePort) {
    delete s.healthCheckNodePort;
  }
  const external = (x: Service['spec']): boolean => x.type === 'NodePort' || x.type === 'LoadBalancer';
  if (external(o) && !external(s) && s.externalTrafficPolicy === o.externalTrafficPolicy) delete s.externalTrafficPolicy;
  if (o.type === 'LoadBalancer' && s.type !== 'LoadBalancer' && s.allocateLoadBalancerNodePorts === o.allocateLoadBalancerNodePorts) {
    delete s.allocateLoadBalancerNodePorts;
  }
}

/** A transaction over the allocators: undone unless committed. */
class Tx {
  private undo: Array<() => void> = [];
  private after: Array<() => void> = [];
  onRollback(f: () => void): void {
    this.undo.push(f);
  }
  onCommit(f: () => void): void {
    this.after.push(f);
  }
  rollback(): void {
    for (const f of this.undo.reverse()) f();
    this.undo = [];
    this.after = [];
  }
  commit(): void {
    for (const f of this.after) f();
    this.undo = [];
    this.after = [];
  }
}

export class ServiceAllocator {
  /** The primary family's allocator. */
  readonly ips: ServiceIPAllocator;
  readonly byFamily = new Map<IPFamily, ServiceIPAllocator>();
  /** The cluster's service IP families, primary first. */
  readonly families: IPFamily[] = [];
  readonly nodePorts: PortAllocator;

  constructor(opts: ServiceAllocatorOptions = {}) {
    const cidrs = opts.serviceCIDRs ?? (opts.serviceCIDR ?? DEFAULT_SERVICE_CIDR).split(',').map((x) => x.trim()).filter(Boolean);
    if (cidrs.length < 1 || cidrs.length > 2) throw new Error(`service CIDRs ${JSON.stringify(cidrs)}: one, or one of each family`);
    for (const c of cidrs) {
      const a = serviceIPAllocator(c);
      if (this.byFamily.has(a.family)) throw new Error(`service CIDRs ${JSON.stringify(cidrs)}: two of family ${a.family}`);
      this.byFamily.set(a.family, a);
      this.families.push(a.family);
    }
    this.ips = this.byFamily.get(this.families[0]!)!;
    const [min, max] = opts.nodePortRange ?? DEFAULT_NODEPORT_RANGE;
    this.nodePorts = new PortAllocator(min, max);
  }

  private fail(svc: Service, causes: StatusCause[]): never {
    throw invalid(RESOURCES.services, svc.metadata.name ?? '', causes);
  }

  /** The allocator of an address's family (undefined: a family the cluster lacks). */
  private allocatorOf(ip: string): ServiceIPAllocator | undefined {
    const f = familyOfIP(ip);
    return f ? this.byFamily.get(f) : undefined;
  }

  /** Allocates `requested` ('' for the next free one) in `family`; returns the address. */
  private allocIP(svc: Service, family: IPFamily, requested: string, tx: Tx): string {
    const a = this.byFamily.get(family)!;
    const list = svc.spec.clusterIPs ?? [requested];
    if (!requested) {
      const ip = a.allocateNext();
      if (!ip) this.fail(svc, [{ field: 'spec.clusterIPs', message: 'failed to allocate a serviceIP: range is full' }]);
      tx.onRollback(() => a.release(ip));
      return ip;
    }
    if (!a.contains(requested)) {
      this.fail(svc, [
        { field: 'spec.clusterIPs', message: `Invalid value: ${JSON.stringify(list)}: failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${a.cidrText}` },
      ]);
    }
    if (!a.allocate(requested)) {
      this.fail(svc, [{ field: 'spec.clusterIPs', message: `Invalid value: ${JSON.stringify(list)}: failed to allocate IP ${requested}: provided IP is already allocated` }]);
    }
    tx.onRollback(() => a.release(requested));
    return requested;
  }

  /** A new Service's (or a former ExternalName's) families and cluster IPs (allocClusterIPs). */
  private allocClusterIPs(svc: Service, old: Service | undefined, tx: Tx): void {
    const s = svc.spec;
    // NormalizeClusterIPs: an old client sets only clusterIP.
    if (s.clusterIP && !s.clusterIPs?.length) s.clusterIPs = [s.clusterIP];
    const causes = initIPFamilyFields(svc, old, this.families);
    if (causes.length) this.fail(svc, causes);
    if (s.clusterIPs?.[0] === 'None') {
      s.clusterIP = 'None';
      s.clusterIPs = ['None'];
      return;
    }
    const fams = (s.ipFamilies ?? []) as IPFamily[];
    const want = [...(s.clusterIPs ?? [])];
    s.clusterIPs = fams.map((f, i) => this.allocIP(svc, f, want[i] ?? '', tx));
    s.clusterIP = s.clusterIPs[0];
  }

  /**
   * An update of a Service that keeps cluster IPs: the primary address and
   * family are immutable; the secondary is added (upgrade to dual-stack) or
   * released (downgrade to SingleStack) as the policy says.
   */
  private updateClusterIPs(svc: Service, old: Service, tx: Tx): void {
    const s = svc.spec, o = old.spec;
    // patchAllocatedValues: fields the client omitted keep their allocated values.
    if (!s.clusterIP) s.clusterIP = o.clusterIP;
    if (!s.clusterIPs?.length) s.clusterIPs = [...(o.clusterIPs ?? (o.clusterIP ? [o.clusterIP] : []))];
    else if (s.clusterIP !== s.clusterIPs[0] && s.clusterIP !== o.clusterIP) s.clusterIPs = [s.clusterIP!];
    if (s.clusterIP !== o.clusterIP || s.clusterIPs?.[0] !== o.clusterIP) {
      this.fail(svc, [{ field: 'spec.clusterIPs[0]', message: `Invalid value: ${JSON.stringify(s.clusterIPs?.[0] ?? s.clusterIP)}: may not change once set` }]);
    }
    if (o.clusterIPs?.[1] !== undefined && s.clusterIPs?.[1] !== undefined && s.clusterIPs[1] !== o.clusterIPs[1]) {
      this.fail(svc, [{ field: 'spec.clusterIPs[1]', message: `Invalid value: ${JSON.stringify(s.clusterIPs[1])}: may not change once set` }]);
    }
    if (s.ipFamilies?.[0] !== undefined && o.ipFamilies?.[0] !== undefined && s.ipFamilies[0] !== o.ipFamilies[0]) {
      this.fail(svc, [{ field: 'spec.ipFamilies[0]', message: `Invalid value: ${JSON.stringify(s.ipFamilies[0])}: may not change once set` }]);
    }
    const causes = initIPFamilyFields(svc, old, this.families);
    if (causes.length) this.fail(svc, causes);
    if (o.clusterIP === 'None') return; // headless: no addresses to manage
    const before = o.ipFamilies ?? ['IPv4'];
    const after = s.ipFamilies ?? before;
    if (before.length === 1 && after.length === 2) {
      const ips = [...(s.clusterIPs ?? [])];
      ips[1] = this.allocIP(svc, after[1] as IPFamily, ips[1] ?? '', tx);
      s.clusterIPs = ips.slice(0, 2);
    } else if (before.length === 2 && after.length === 1) {
      const second = o.clusterIPs?.[1];
      if (second) tx.onCommit(() => this.allocatorOf(second)?.release(second));
      s.clusterIPs = (s.clusterIPs ?? []).slice(0, 1);
    }
  }

  private allocPort(svc: Service, field: string, requested: number | undefined, tx: Tx): number {
    if (requested !== undefined && requested !== 0) {
      if (!this.nodePorts.contains(requested)) {
        this.fail(svc, [
          { field, message: `Invalid value: ${requested}: provided port is not in the valid range. The range of valid ports is ${this.nodePorts.min}-${this.nodePorts.max}` },
        ]);
      }
      if (!this.nodePorts.allocate(requested)) this.fail(svc, [{ field, message: `Invalid value: ${requested}: provided port is already allocated` }]);
      tx.onRollback(() => this.nodePorts.release(requested));
      return requested;
    }
    const p = this.nodePorts.allocateNext();
    if (p === undefined) this.fail(svc, [{ field, message: 'failed to allocate a nodePort: range is full' }]);
    tx.onRollback(() => this.nodePorts.release(p));
    return p;
  }

  /** Admission for a new Service: mutates `svc` in place; throws 422 when a request can't be honoured. */
  admitCreate(svc: Service): void {
    const tx = new Tx();
    try {
      const s = svc.spec;
      if (hasClusterIP(s)) this.allocClusterIPs(svc, undefined, tx);
      else {
        delete s.clusterIP;
        delete s.clusterIPs;
        delete s.ipFamilies;
        delete s.ipFamilyPolicy;
      }
      // A nodePort number may be shared by two ports of the same Service that differ in protocol.
      const mine = new Map<number, boolean>();
      if (needsNodePorts(s) || s.type === 'LoadBalancer') {
        (s.ports ?? []).forEach((p, i) => {
          if (!needsNodePorts(s) && !p.nodePort) return;
          if (p.nodePort && mine.has(p.nodePort)) return;
          p.nodePort = this.allocPort(svc, `spec.ports[${i}].nodePort`, p.nodePort, tx);
          mine.set(p.nodePort, true);
        });
      }
      if (needsHealthCheckNodePort(s)) {
        s.healthCheckNodePort = this.allocPort(svc, 'spec.healthCheckNodePort', s.healthCheckNodePort, tx);
      } else {
        delete s.healthCheckNodePort;
      }
      tx.commit();
    } catch (e) {
      tx.rollback();
      throw e;
    }
  }

  /** Admission for an update: keeps allocated values the client omitted, allocates/release on type changes. */
  admitUpdate(svc: Service, old: Service): void {
    const tx = new Tx();
    try {
      const s = svc.spec;
      const o = old.spec;
      // ClusterIP
      if (hasClusterIP(s)) {
        if (hasClusterIP(o) && o.clusterIP) this.updateClusterIPs(svc, old, tx);
        else this.allocClusterIPs(svc, undefined, tx);
      } else {
        for (const ip of o.clusterIPs ?? (o.clusterIP ? [o.clusterIP] : [])) {
          if (ip !== 'None') tx.onCommit(() => this.allocatorOf(ip)?.release(ip));
        }
        delete s.clusterIP;
        delete s.clusterIPs;
        delete s.ipFamilies;
        delete s.ipFamilyPolicy;
      }
      // nodePorts
      const oldPorts = new Set<number>();
      for (const p of o.ports ?? []) if (p.nodePort) oldPorts.add(p.nodePort);
      const keep = new Set<number>();
      const findOld = (p: ServicePort): number | undefined =>
        (o.ports ?? []).find((q) => q.nodePort && ((p.name && q.name === p.name) || (q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'))))
          ?.nodePort;
      if (needsNodePorts(s) || s.type === 'LoadBalancer') {
        (s.ports ?? []).forEach((p, i) => {
          if (!p.nodePort && needsNodePorts(s)) {
            const prev = findOld(p);
            if (prev !== undefined && !keep.has(prev)) p.nodePort = prev;
          }
          if (!p.nodePort) {
            if (!needsNodePorts(s)) return;
          }
          if (p.nodePort && (oldPorts.has(p.nodePort) || keep.has(p.nodePort))) {
            keep.add(p.nodePort);
            return;
          }
          p.nodePort = this.allocPort(svc, `spec.ports[${i}].nodePort`, p.nodePort, tx);
          keep.add(p.nodePort);
        });
      } else {
        for (const p of s.ports ?? []) delete p.nodePort;
      }
      for (const p of oldPorts) if (!keep.has(p)) tx.onCommit(() => this.nodePorts.release(p));
      // healthCheckNodePort
      const oldHc = o.healthCheckNodePort;
      if (needsHealthCheckNodePort(s)) {
        if (!s.healthCheckNodePort && oldHc) s.healthCheckNodePort = oldHc;
        if (s.healthCheckNodePort !== oldHc || !oldHc) {
          s.healthCheckNodePort = this.allocPort(svc, 'spec.healthCheckNodePort', s.healthCheckNodePort, tx);
          if (oldHc) tx.onCommit(() => this.nodePorts.release(oldHc));
        }
      } else {
        delete s.healthCheckNodePort;
        if (oldHc) tx.onCommit(() => this.nodePorts.release(oldHc));
      }
      tx.commit();
    } catch (e) {
      tx.rollback();
      throw e;
    }
  }

  /** Releases everything a removed Service held. */
  release(svc: Service): void {
    const s = svc.spec;
    for (const ip of s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : [])) if (ip !== 'None') this.allocatorOf(ip)?.release(ip);
    for (const p of s.ports ?? []) if (p.nodePort) this.nodePorts.release(p.nodePort);
    if (s.healthCheckNodePort) this.nodePorts.release(s.healthCheckNodePort);
  }

  /** Marks the values an existing Service holds as used (rebuilding state). */
  restore(svc: Service): void {
    const s = svc.spec;
    for (const ip of s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : [])) if (ip !== 'None') this.allocatorOf(ip)?.allocate(ip);
    for (const p of s.ports ?? []) if (p.nodePort) this.nodePorts.allocate(p.nodePort);
    if (s.healthCheckNodePort) this.nodePorts.allocate(s.healthCheckNodePort);
  }
}
