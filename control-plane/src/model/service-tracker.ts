// Turns v1 Services into ServicePortInfo, applying kube-proxy's rules for which
// Services a proxy handles at all. Keeps the current set per Service so a sync
// can read the whole map and the change tracker knows what moved.
import { isDeepStrictEqual } from 'node:util';
import type { V1Service } from '@kubernetes/client-node';
import { isValidPort, parseCIDRSloppy, parseIPSloppy } from '../util/ipv4.js';
import { FrontendClaims, creationTime, type ExternalIPPolicy } from './frontend-claims.js';
import { ObjectProblems, type ObjectProblem } from './object-problems.js';
import { servicePortKey, type Protocol, type ServicePortInfo, type ServiceType } from './types.js';
import { serviceKeyOf, type ServiceKey, type ServicePortKey } from './service-key.js';
import type { MaglevSizing } from '../dataplane/maglev.js';
import { MAGLEV_TABLE_SIZE_ANNOTATION, parseTableSizeAnnotation } from './maglev-table-size-annotation.js';

export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
/** kube-proxy ignores Services with this label (any value), as it ignores clusterIP None. */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
export const LB_ALGORITHM_ANNOTATION = 'switchyard.io/lb-algorithm';
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;
/** The API's bound on sessionAffinityConfig.clientIP.timeoutSeconds. */
export const MAX_AFFINITY_TIMEOUT_SECONDS = 86400;

export type SkipReason = 'headless' | 'headless-label' | 'external-name' | 'service-proxy-name' | 'no-ipv4-cluster-ip' | 'invalid-cluster-ip' | 'invalid-object';

export interface ServiceConversion {
  ports: ServicePortInfo[];
  skipped?: SkipReason;
  /** Fields left out or read differently (unsupported protocol, bad numbers, bad addresses), with why. */
  problems: ObjectProblem[];
}

export interface ServiceTrackerOptions {
  defaultAlgorithm: 'maglev' | 'random';
  /** The agent's Maglev floor and ceiling, which a pinned table size must respect. */
  maglevSizing?: MaglevSizing;
  /** The external IP policy (off by default, as in kube-proxy). */
  externalIPPolicy?: ExternalIPPolicy;
}

/**
 * Addresses of one list field, read as kube-proxy reads them: sloppy
 * parsing (leading zeros), canonical form, the other family ignored,
 * duplicates once, anything unparseable dropped. Every departure is a problem.
 */
function addressList(values: readonly unknown[], field: string, problems: ObjectProblem[]): string[] {
  const out: string[] = [];
  values.forEach((v, i) => {
    const f = `${field}[${i}]`;
    const p = parseIPSloppy(v as string);
    if (!p) {
      problems.push({ reason: 'invalid-ip', field: f, message: `${JSON.stringify(v)} is not an IP address; ignored` });
      return;
    }
    if (p.family !== 'IPv4') {
      problems.push({ reason: 'other-family', field: f, message: `${p.ip} is IPv6; this proxy programs IPv4 only, ignored` });
      return;
    }
    if (p.normalized) problems.push({ reason: 'non-canonical-ip', field: f, message: `${JSON.stringify(v)} read as ${p.ip} (leading zeros are decimal, as kube-proxy reads them)` });
    if (out.includes(p.ip)) {
      problems.push({ reason: 'duplicate-address', field: f, message: `${p.ip} is listed twice; programmed once` });
      return;
    }
    out.push(p.ip);
  });
  return out;
}

/** Pure conversion of one Service object. */
export function servicePortsOf(svc: V1Service, opts: ServiceTrackerOptions): ServiceConversion {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  const problems: ObjectProblem[] = [];
  if (meta.labels && SERVICE_PROXY_NAME_LABEL in meta.labels) return { ports: [], skipped: 'service-proxy-name', problems };
  if (meta.labels && HEADLESS_LABEL in meta.labels) return { ports: [], skipped: 'headless-label', problems };
  if (spec.type === 'ExternalName') return { ports: [], skipped: 'external-name', problems };
  const clusterIPs = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (clusterIPs.length === 0 || clusterIPs[0] === 'None' || clusterIPs[0] === '') return { ports: [], skipped: 'headless', problems };
  let clusterIP: string | undefined;
  clusterIPs.forEach((raw, i) => {
    const p = parseIPSloppy(raw);
    if (!p) {
      problems.push({ reason: 'invalid-cluster-ip', field: `spec.clusterIPs[${i}]`, message: `${JSON.stringify(raw)} is not an IP address` });
      return;
    }
    if (p.family !== 'IPv4' || clusterIP !== undefined) return;
    if (p.normalized) problems.push({ reason: 'non-canonical-ip', field: `spec.clusterIPs[${i}]`, message: `${JSON.stringify(raw)} read as ${p.ip} (leading zeros are decimal, as kube-proxy reads them)` });
    clusterIP = p.ip;
  });
  if (!clusterIP) {
    if (problems.length > 0) return { ports: [], skipped: 'invalid-cluster-ip', problems };
    return { ports: [], skipped: 'no-ipv4-cluster-ip', problems };
  }

  const type: ServiceType = spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? spec.type : 'ClusterIP';
  let affinity = 0;
  if (spec.sessionAffinity === 'ClientIP') {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    affinity = t ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    if (!Number.isInteger(affinity) || affinity < 1 || affinity > MAX_AFFINITY_TIMEOUT_SECONDS) {
      problems.push({ reason: 'invalid-affinity-timeout', field: 'spec.sessionAffinityConfig.clientIP.timeoutSeconds',
        message: `${JSON.stringify(t)} is not in [1, ${MAX_AFFINITY_TIMEOUT_SECONDS}]; using ${DEFAULT_AFFINITY_TIMEOUT_SECONDS}` });
      affinity = DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    }
  }
  const lbIPs = type === 'LoadBalancer'
    ? addressList((svc.status?.loadBalancer?.ingress ?? [])
        .map((ing, i) => ({ ing, i }))
        .filter(({ ing }) => ing.ip && (ing.ipMode === undefined || ing.ipMode === null || ing.ipMode === 'VIP'))
        .map(({ ing }) => ing.ip), 'status.loadBalancer.ingress[].ip', problems)
    : [];
  const externalIPs = addressList(spec.externalIPs ?? [], 'spec.externalIPs', problems);
  // Source ranges: kube-proxy trims and parses sloppily; one that does not
  // parse is dropped, and the filter stays on (fail closed).
  const rawRanges = type === 'LoadBalancer' ? spec.loadBalancerSourceRanges ?? [] : [];
  const sourceRanges: string[] = [];
  rawRanges.forEach((raw, i) => {
    const f = `spec.loadBalancerSourceRanges[${i}]`;
    const p = parseCIDRSloppy(raw);
    if (!p) {
      problems.push({ reason: 'invalid-cidr', field: f, message: `${JSON.stringify(raw)} is not a CIDR; dropped, the LoadBalancer IPs admit only the valid ranges (fail closed)` });
      return;
    }
    if (p.family !== 'IPv4') {
      problems.push({ reason: 'other-family', field: f, message: `${p.cidr} is IPv6; it admits no IPv4 source` });
      return;
    }
    if (p.normalized) problems.push({ reason: 'non-canonical-ip', field: f, message: `${JSON.stringify(raw)} read as ${p.cidr}` });
    if (!sourceRanges.includes(p.cidr)) sourceRanges.push(p.cidr);
  });
  const annotated = meta.annotations?.[LB_ALGORITHM_ANNOTATION];
  const algorithm = annotated === 'random' || annotated === 'maglev' ? annotated : opts.defaultAlgorithm;
  if (annotated !== undefined && annotated !== 'random' && annotated !== 'maglev') {
    problems.push({ reason: 'invalid-annotation', field: `metadata.annotations[${LB_ALGORITHM_ANNOTATION}]`,
      message: `${JSON.stringify(annotated)} is neither maglev nor random; using ${algorithm}` });
  }
  let healthCheckNodePort = spec.healthCheckNodePort ?? 0;
  if (healthCheckNodePort !== 0 && !isValidPort(healthCheckNodePort)) {
    problems.push({ reason: 'health-check-node-port-out-of-range', field: 'spec.healthCheckNodePort',
      message: `${JSON.stringify(healthCheckNodePort)} is not in [1, 65535]; no health check server` });
    healthCheckNodePort = 0;
  }
  const tableSize = parseTableSizeAnnotation(meta.annotations, opts.maglevSizing);
  if (tableSize?.refused) {
    problems.push({ reason: 'invalid-annotation', field: `metadata.annotations[${MAGLEV_TABLE_SIZE_ANNOTATION}]`, message: tableSize.refused });
  }

  const ports: ServicePortInfo[] = [];
  const seen = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    const f = `spec.ports[${i}]`;
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    if (protocol !== 'TCP' && protocol !== 'UDP') {
      problems.push({ reason: 'unsupported-protocol', field: `${f}.protocol`, message: `port ${p.name ?? p.port}: protocol ${String(protocol)} is not supported; port skipped` });
      return;
    }
    if (!isValidPort(p.port)) {
      problems.push({ reason: 'port-out-of-range', field: `${f}.port`, message: `port ${p.name ?? ''}: ${JSON.stringify(p.port)} is not in [1, 65535]; port skipped` });
      return;
    }
    const name = { namespace: meta.namespace ?? 'default', name: meta.name ?? '', port: p.name ?? '', protocol };
    const key = servicePortKey(name);
    const numKey = `${p.port}/${protocol}`;
    if (seen.has(key) || seen.has(numKey)) {
      problems.push({ reason: 'duplicate-port', field: f, message: `port ${JSON.stringify(p.name ?? '')} ${numKey} repeats an earlier port; skipped` });
      return;
    }
    seen.add(key);
    seen.add(numKey);
    let nodePort = type === 'ClusterIP' ? 0 : p.nodePort ?? 0;
    if (nodePort !== 0 && !isValidPort(nodePort)) {
      problems.push({ reason: 'node-port-out-of-range', field: `${f}.nodePort`, message: `${JSON.stringify(nodePort)} is not in [1, 65535]; no NodePort for this port` });
      nodePort = 0;
    }
    ports.push({
      name,
      key,
      type,
      clusterIP: clusterIP!,
      port: p.port,
      protocol,
      nodePort,
      externalIPs,
      loadBalancerIPs: lbIPs,
      loadBalancerSourceRanges: sourceRanges,
      ...(rawRanges.length > 0 ? { sourceRangesGiven: true } : {}),
      affinityTimeoutSeconds: affinity,
      // eTP applies to every externally reachable Service, ExternalIPs on a ClusterIP included.
      externalPolicyLocal: spec.externalTrafficPolicy === 'Local' && (type !== 'ClusterIP' || externalIPs.length > 0),
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
      healthCheckNodePort,
      algorithm,
      ...(tableSize ? { tableSizeAnnotation: tableSize } : {}),
    });
  });
  return { ports, problems };
}

/** What the proxier reads of one Service: its ports, and its age (which decides contested frontends). */
interface TrackedService {
  ports: ServicePortInfo[];
  created: number;
}

function sameTracked(a: TrackedService | undefined, b: TrackedService | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.created === b.created && isDeepStrictEqual(a.ports, b.ports);
}

/**
 * Current ServicePorts of every handled Service, updated from informer
 * events. As in kube-proxy's ServiceChangeTracker, an update that leaves the
 * ServicePorts as they were (a resync, a label, a status field the proxy
 * does not read) is no change: the next sync does not recompute the Service.
 */
export class ServiceTracker {
  private readonly byService = new Map<ServiceKey, TrackedService>();
  /** Services changed since the last takeChanged(). */
  private readonly changed = new Set<ServiceKey>();
  /** Who owns each address:port/protocol (the ports handed out are resolved against it). */
  readonly claims: FrontendClaims;
  /** Problems of the Services seen, for status, metrics and logs. */
  readonly problems = new ObjectProblems();

  constructor(private readonly opts: ServiceTrackerOptions) {
    this.claims = new FrontendClaims(opts.externalIPPolicy);
  }

  /** Returns the conversion so the caller can log skips and problems. */
  update(svc: V1Service): ServiceConversion {
    const key = serviceKeyOf(svc.metadata);
    let conv: ServiceConversion;
    try {
      conv = servicePortsOf(svc, this.opts);
    } catch (err) {
      // Whatever shape the object has, it must not take the informer (and the agent) down.
      conv = { ports: [], skipped: 'invalid-object', problems: [{ reason: 'invalid-object', field: '', message: `cannot be read (${(err as Error).message}); Service skipped` }] };
    }
    this.problems.set('Service', svc.metadata?.namespace ?? 'default', svc.metadata?.name ?? '', conv.problems);
    this.record(key, conv.ports.length === 0 ? undefined : { ports: conv.ports, created: creationTime(svc.metadata?.creationTimestamp) });
    return conv;
  }

  delete(svc: V1Service): void {
    this.problems.delete('Service', svc.metadata?.namespace ?? 'default', svc.metadata?.name ?? '');
    this.record(serviceKeyOf(svc.metadata), undefined);
  }

  /** Sets a Service's state; a no-op update touches neither the pending changes nor the frontend claims. */
  private record(key: ServiceKey, next: TrackedService | undefined): void {
    const cur = this.byService.get(key);
    if (sameTracked(cur, next)) return;
    if (next) this.byService.set(key, next);
    else this.byService.delete(key);
    this.changed.add(key);
    // Services sharing an address with this one may win or lose a frontend now.
    for (const k of this.claims.set(key, next?.ports ?? [], next?.created ?? 0)) this.changed.add(k as ServiceKey);
  }

  /** The ServicePorts of one Service, keyed by servicePortKey, frontends resolved. */
  portsOfService(key: ServiceKey): Map<ServicePortKey, ServicePortInfo> {
    return new Map((this.byService.get(key)?.ports ?? []).map((p) => [p.key, this.claims.resolve(p)]));
  }

  /** Every handled ServicePort, keyed by servicePortKey, frontends resolved. */
  servicePorts(): Map<ServicePortKey, ServicePortInfo> {
    const out = new Map<ServicePortKey, ServicePortInfo>();
    for (const t of this.byService.values()) for (const p of t.ports) out.set(p.key, this.claims.resolve(p));
    return out;
  }

  /** Frontends claimed by more than one ServicePort (or refused by policy): who lost what, to whom. */
  conflicts(): ReturnType<FrontendClaims['conflicts']> {
    const ports: ServicePortInfo[] = [];
    for (const k of this.claims.contestedServices()) ports.push(...this.portsOfService(k as ServiceKey).values());
    return this.claims.conflicts(ports);
  }

  /** Services changed since the last call (what the proxier syncs next). */
  takeChanged(): Set<ServiceKey> {
    const c = new Set(this.changed);
    this.changed.clear();
    return c;
  }
}
