// Turns v1 Services into ServicePortInfo, applying kube-proxy's rules for which
// Services a proxy handles at all. Keeps the current set per Service so a sync
// can read the whole map and the change tracker knows what moved.
import { isDeepStrictEqual } from 'node:util';
import type { V1Service } from '@kubernetes/client-node';
import { isValidPort } from '../util/ipv4.js';
import { otherFamily, parseAddress, parsePrefix, type IPFamily, type ParsedAddress } from '../util/ip.js';
import { clusterIPsOf } from './cluster-ips.js';
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

export type SkipReason = 'headless' | 'headless-label' | 'external-name' | 'service-proxy-name' | 'no-ipv4-cluster-ip' | 'no-ipv6-cluster-ip' | 'invalid-cluster-ip' | 'invalid-object';

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
  /**
   * The families this proxy programs (kube-proxy: one single-stack proxier
   * per family under a meta-proxier). Default IPv4 only. A value of a family
   * that is served and that the Service has (a cluster IP of it) is no problem
   * for the other family's conversion.
   */
  ipFamilies?: readonly IPFamily[];
}

/** The family a conversion serves, and whether the other family's values are someone else's (not a problem). */
interface FamilyScope {
  family: IPFamily;
  otherHandled: boolean;
}

function nonCanonical(raw: unknown, p: ParsedAddress | { family: IPFamily; text: string }, field: string): ObjectProblem {
  const why = p.family === 'IPv4' ? 'leading zeros are decimal, as kube-proxy reads them' : 'RFC 5952 form';
  return { reason: 'non-canonical-ip', field, message: `${JSON.stringify(raw)} read as ${p.text} (${why})` };
}

/** Why a value of the other family is not programmed by this conversion (undefined: the other family's conversion programs it). */
function otherFamilyProblem(text: string, found: IPFamily, scope: FamilyScope, field: string, singleFamilyMessage: string): ObjectProblem | undefined {
  if (scope.otherHandled) return undefined;
  return { reason: 'other-family', field, message: `${text} is ${found}; ${singleFamilyMessage}` };
}

/**
 * Addresses of one list field, read as kube-proxy reads them for one
 * family: sloppy parsing (leading zeros), canonical form, the other family
 * ignored, duplicates once, anything unparseable (or IPv4-mapped IPv6)
 * dropped. Every departure is a problem.
 */
function addressList(values: readonly unknown[], field: string, problems: ObjectProblem[], scope: FamilyScope, otherMessage: string): string[] {
  const out: string[] = [];
  values.forEach((v, i) => {
    const f = `${field}[${i}]`;
    const p = parseAddress(v);
    if (!p) {
      problems.push({ reason: 'invalid-ip', field: f, message: `${JSON.stringify(v)} is not an IP address; ignored` });
      return;
    }
    if (p.ipv4Mapped) {
      problems.push({ reason: 'ipv4-mapped-ipv6', field: f, message: `${JSON.stringify(v)} is an IPv4-mapped IPv6 address, which kube-apiserver refuses; ignored in both families` });
      return;
    }
    if (p.family !== scope.family) {
      const o = otherFamilyProblem(p.text, p.family, scope, f, otherMessage);
      if (o) problems.push(o);
      return;
    }
    if (p.normalized) problems.push(nonCanonical(v, p, f));
    if (out.includes(p.text)) {
      problems.push({ reason: 'duplicate-address', field: f, message: `${p.text} is listed twice; programmed once` });
      return;
    }
    out.push(p.text);
  });
  return out;
}

/** What a single-stack proxier of `family` says of a value of the other family. */
function otherFamilyMessages(family: IPFamily, servedOther: boolean): { address: string; range: string } {
  if (servedOther) {
    const other = otherFamily(family);
    return {
      address: `the Service has no ${other} cluster IP, so no ${other} frontend; ignored`,
      range: `the Service has no ${other} cluster IP, so no ${other} frontend; ignored`,
    };
  }
  return { address: `this proxy programs ${family} only, ignored`, range: `it admits no ${family} source` };
}

/**
 * Pure conversion of one Service object for one IP family (default IPv4),
 * as one of kube-proxy's single-stack ServiceChangeTrackers does it.
 */
export function servicePortsOf(svc: V1Service, opts: ServiceTrackerOptions, family: IPFamily = 'IPv4'): ServiceConversion {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  const problems: ObjectProblem[] = [];
  if (meta.labels && SERVICE_PROXY_NAME_LABEL in meta.labels) return { ports: [], skipped: 'service-proxy-name', problems };
  if (meta.labels && HEADLESS_LABEL in meta.labels) return { ports: [], skipped: 'headless-label', problems };
  if (spec.type === 'ExternalName') return { ports: [], skipped: 'external-name', problems };
  const cips = clusterIPsOf(spec, problems);
  if (cips.headless) return { ports: [], skipped: 'headless', problems };
  if (cips.inconsistent) return { ports: [], skipped: 'invalid-cluster-ip', problems };
  const own = cips.byFamily[family];
  if (!own) {
    if (problems.some((p) => p.reason === 'invalid-cluster-ip' || p.reason === 'ipv4-mapped-ipv6')) return { ports: [], skipped: 'invalid-cluster-ip', problems };
    return { ports: [], skipped: family === 'IPv4' ? 'no-ipv4-cluster-ip' : 'no-ipv6-cluster-ip', problems };
  }
  if (own.ip.normalized) problems.push(nonCanonical(own.raw, own.ip, own.field));
  const clusterIP = own.ip.text;
  const other = otherFamily(family);
  const servedOther = (opts.ipFamilies ?? ['IPv4']).includes(other);
  const scope: FamilyScope = { family, otherHandled: servedOther && cips.byFamily[other] !== undefined };
  const otherMsg = otherFamilyMessages(family, servedOther);

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
        .map(({ ing }) => ing.ip), 'status.loadBalancer.ingress[].ip', problems, scope, otherMsg.address)
    : [];
  const externalIPs = addressList(spec.externalIPs ?? [], 'spec.externalIPs', problems, scope, otherMsg.address);
  // Source ranges: kube-proxy trims and parses sloppily; one that does not
  // parse is dropped, and the filter stays on (fail closed). Ranges of the
  // other family belong to the other family's LoadBalancer IPs.
  const rawRanges = type === 'LoadBalancer' ? spec.loadBalancerSourceRanges ?? [] : [];
  const sourceRanges: string[] = [];
  rawRanges.forEach((raw, i) => {
    const f = `spec.loadBalancerSourceRanges[${i}]`;
    const p = parsePrefix(raw);
    if (!p) {
      problems.push({ reason: 'invalid-cidr', field: f, message: `${JSON.stringify(raw)} is not a CIDR; dropped, the LoadBalancer IPs admit only the valid ranges (fail closed)` });
      return;
    }
    if (p.ipv4Mapped) {
      problems.push({ reason: 'ipv4-mapped-ipv6', field: f, message: `${JSON.stringify(raw)} is an IPv4-mapped IPv6 range, which kube-apiserver refuses; dropped, the LoadBalancer IPs admit only the valid ranges (fail closed)` });
      return;
    }
    if (p.family !== family) {
      const o = otherFamilyProblem(p.cidr, p.family, scope, f, otherMsg.range);
      if (o) problems.push(o);
      return;
    }
    if (p.normalized) problems.push({ reason: 'non-canonical-ip', field: f, message: `${JSON.stringify(raw)} read as ${p.cidr}` });
    if (!sourceRanges.includes(p.cidr)) sourceRanges.push(p.cidr);
  });
  if (servedOther && rawRanges.length > 0 && sourceRanges.length === 0 && lbIPs.length > 0) {
    // kube-proxy would leave this family's LoadBalancer IPs open; the ranges were meant to restrict, so fail closed.
    problems.push({ reason: 'no-source-range-of-family', field: 'spec.loadBalancerSourceRanges',
      message: `no valid ${family} range: the ${family} LoadBalancer IPs admit no source (fail closed)` });
  }
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
      ...(family === 'IPv4' ? {} : { family }),
      clusterIP,
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

/** The family a ServicePortInfo is programmed in (absent: IPv4). */
export function familyOfPort(p: ServicePortInfo): IPFamily {
  return p.family ?? 'IPv4';
}

/**
 * The meta-proxier's view of one Service: the conversion of each served
 * family, ports concatenated in family order, problems merged (a problem of
 * the object, such as a bad port, is seen by each family and kept once).
 * Skipped only when no family has a port; the reason is the first family's.
 * Never throws: an object of an unexpected shape is skipped and reported.
 */
export function convertForFamilies(svc: V1Service, opts: ServiceTrackerOptions): ServiceConversion {
  const families = opts.ipFamilies && opts.ipFamilies.length > 0 ? opts.ipFamilies : ['IPv4' as const];
  const ports: ServicePortInfo[] = [];
  const problems: ObjectProblem[] = [];
  const seen = new Set<string>();
  let skipped: SkipReason | undefined;
  for (const family of families) {
    let conv: ServiceConversion;
    try {
      conv = servicePortsOf(svc, opts, family);
    } catch (err) {
      // Whatever shape the object has, it must not take the informer (and the agent) down.
      return { ports: [], skipped: 'invalid-object', problems: [{ reason: 'invalid-object', field: '', message: `cannot be read (${(err as Error).message}); Service skipped` }] };
    }
    ports.push(...conv.ports);
    skipped ??= conv.skipped;
    for (const p of conv.problems) {
      const k = `${p.reason}|${p.field}|${p.message}`;
      if (seen.has(k)) continue;
      seen.add(k);
      problems.push(p);
    }
  }
  return ports.length > 0 ? { ports, problems } : { ports, ...(skipped ? { skipped } : {}), problems };
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

  /** The families this tracker programs, in order (kube-proxy: one ServiceChangeTracker each). */
  readonly ipFamilies: readonly IPFamily[];

  constructor(private readonly opts: ServiceTrackerOptions) {
    this.claims = new FrontendClaims(opts.externalIPPolicy);
    this.ipFamilies = opts.ipFamilies && opts.ipFamilies.length > 0 ? [...new Set(opts.ipFamilies)] : ['IPv4'];
  }

  /** Returns the conversion (the ports of every served family) so the caller can log skips and problems. */
  update(svc: V1Service): ServiceConversion {
    const key = serviceKeyOf(svc.metadata);
    const conv = convertForFamilies(svc, { ...this.opts, ipFamilies: this.ipFamilies });
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

  /** The ServicePorts of one Service in one family (default: the first served, IPv4 unless told), keyed by servicePortKey, frontends resolved. */
  portsOfService(key: ServiceKey, family: IPFamily = this.ipFamilies[0]!): Map<ServicePortKey, ServicePortInfo> {
    const out = new Map<ServicePortKey, ServicePortInfo>();
    for (const p of this.byService.get(key)?.ports ?? []) if (familyOfPort(p) === family) out.set(p.key, this.claims.resolve(p));
    return out;
  }

  /** The handled Services. */
  serviceKeys(): IterableIterator<ServiceKey> {
    return this.byService.keys();
  }

  /** Every handled ServicePort of one family (default: the first served), keyed by servicePortKey, frontends resolved. */
  servicePorts(family: IPFamily = this.ipFamilies[0]!): Map<ServicePortKey, ServicePortInfo> {
    const out = new Map<ServicePortKey, ServicePortInfo>();
    for (const t of this.byService.values()) for (const p of t.ports) if (familyOfPort(p) === family) out.set(p.key, this.claims.resolve(p));
    return out;
  }

  /** Frontends claimed by more than one ServicePort (or refused by policy), in every served family: who lost what, to whom. */
  conflicts(): ReturnType<FrontendClaims['conflicts']> {
    const ports: ServicePortInfo[] = [];
    for (const k of this.claims.contestedServices()) for (const f of this.ipFamilies) ports.push(...this.portsOfService(k as ServiceKey, f).values());
    return this.claims.conflicts(ports);
  }

  /** Services changed since the last call (what the proxier syncs next). */
  takeChanged(): Set<ServiceKey> {
    const c = new Set(this.changed);
    this.changed.clear();
    return c;
  }
}
