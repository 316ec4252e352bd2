// Service admission, as kube-apiserver's service REST storage does it:
// ClusterIP allocation from the service CIDR (or the requested address,
// "None" for headless, nothing for ExternalName), nodePort allocation for
// NodePort/LoadBalancer services, healthCheckNodePort for LoadBalancer
// services with externalTrafficPolicy Local, and release of all of these on
// delete or on a type change that no longer needs them.

import { invalid, type StatusCause } from './errors.js';
import { IPAllocator, PortAllocator } from './ip.js';
import { RESOURCES } from './resources.js';
import type { Service, ServicePort } from './types.js';

export interface ServiceAllocatorOptions {
  /** Default 198.18.128.0/17. */
  serviceCIDR?: string;
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
  readonly ips: IPAllocator;
  readonly nodePorts: PortAllocator;

  constructor(opts: ServiceAllocatorOptions = {}) {
    this.ips = new IPAllocator(opts.serviceCIDR ?? DEFAULT_SERVICE_CIDR);
    const [min, max] = opts.nodePortRange ?? DEFAULT_NODEPORT_RANGE;
    this.nodePorts = new PortAllocator(min, max);
  }

  private fail(svc: Service, causes: StatusCause[]): never {
    throw invalid(RESOURCES.services, svc.metadata.name ?? '', causes);
  }

  private allocClusterIP(svc: Service, tx: Tx): void {
    const s = svc.spec;
    const requested = s.clusterIP || s.clusterIPs?.[0] || '';
    if (s.clusterIP && s.clusterIPs?.[0] && s.clusterIPs[0] !== s.clusterIP) {
      this.fail(svc, [{ field: 'spec.clusterIPs', message: `Invalid value: ${JSON.stringify(s.clusterIPs)}: must match clusterIP when both are specified` }]);
    }
    if (s.ipFamilies?.some((f) => f !== 'IPv4')) {
      this.fail(svc, [{ field: 'spec.ipFamilies', message: `Invalid value: ${JSON.stringify(s.ipFamilies)}: only IPv4 is configured in this cluster` }]);
    }
    if (s.ipFamilyPolicy === 'RequireDualStack') {
      this.fail(svc, [{ field: 'spec.ipFamilyPolicy', message: 'Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services' }]);
    }
    if (requested === 'None') {
      s.clusterIP = 'None';
      s.clusterIPs = ['None'];
    } else if (requested) {
      if (!this.ips.contains(requested)) {
        this.fail(svc, [
          { field: 'spec.clusterIPs', message: `Invalid value: ${JSON.stringify([requested])}: failed to allocate IP ${requested}: the provided IP (${requested}) is not in the valid range. The range of valid IPs is ${this.ips.cidr.text}` },
        ]);
      }
      if (!this.ips.allocate(requested)) {
        this.fail(svc, [{ field: 'spec.clusterIPs', message: `Invalid value: ${JSON.stringify([requested])}: failed to allocate IP ${requested}: provided IP is already allocated` }]);
      }
      tx.onRollback(() => this.ips.release(requested));
      s.clusterIP = requested;
      s.clusterIPs = [requested];
    } else {
      const ip = this.ips.allocateNext();
      if (!ip) this.fail(svc, [{ field: 'spec.clusterIPs', message: 'failed to allocate a serviceIP: range is full' }]);
      tx.onRollback(() => this.ips.release(ip));
      s.clusterIP = ip;
      s.clusterIPs = [ip];
    }
    s.ipFamilies = ['IPv4'];
    s.ipFamilyPolicy = s.ipFamilyPolicy === 'PreferDualStack' ? 'PreferDualStack' : 'SingleStack';
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
      if (hasClusterIP(s)) this.allocClusterIP(svc, tx);
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
        if (hasClusterIP(o) && o.clusterIP) {
          if (!s.clusterIP && !s.clusterIPs?.length) {
            s.clusterIP = o.clusterIP;
            s.clusterIPs = [...(o.clusterIPs ?? [o.clusterIP])];
          }
          if (!s.clusterIP && s.clusterIPs?.[0]) s.clusterIP = s.clusterIPs[0];
          if (s.clusterIP !== o.clusterIP || (s.clusterIPs && s.clusterIPs[0] !== o.clusterIP)) {
            this.fail(svc, [{ field: 'spec.clusterIPs[0]', message: `Invalid value: ${JSON.stringify(s.clusterIP)}: may not change once set` }]);
          }
          s.clusterIPs = [o.clusterIP];
          s.ipFamilies = [...(o.ipFamilies ?? ['IPv4'])];
          s.ipFamilyPolicy = o.ipFamilyPolicy ?? 'SingleStack';
        } else {
          this.allocClusterIP(svc, tx);
        }
      } else {
        if (o.clusterIP && o.clusterIP !== 'None') {
          const ip = o.clusterIP;
          tx.onCommit(() => this.ips.release(ip));
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
    if (s.clusterIP && s.clusterIP !== 'None') this.ips.release(s.clusterIP);
    for (const p of s.ports ?? []) if (p.nodePort) this.nodePorts.release(p.nodePort);
    if (s.healthCheckNodePort) this.nodePorts.release(s.healthCheckNodePort);
  }

  /** Marks the values an existing Service holds as used (rebuilding state). */
  restore(svc: Service): void {
    const s = svc.spec;
    if (s.clusterIP && s.clusterIP !== 'None') this.ips.allocate(s.clusterIP);
    for (const p of s.ports ?? []) if (p.nodePort) this.nodePorts.allocate(p.nodePort);
    if (s.healthCheckNodePort) this.nodePorts.allocate(s.healthCheckNodePort);
  }
}
