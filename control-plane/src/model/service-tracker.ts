// Turns v1 Services into ServicePortInfo, applying kube-proxy's rules for which
// Services a proxy handles at all. Keeps the current set per Service so a sync
// can read the whole map and the change tracker knows what moved.
import type { V1Service } from '@kubernetes/client-node';
import { isIPv4 } from '../util/ipv4.js';
import { servicePortKey, type Protocol, type ServicePortInfo, type ServiceType } from './types.js';
import type { MaglevSizing } from '../dataplane/maglev.js';
import { parseTableSizeAnnotation } from './maglev-table-size-annotation.js';

export const SERVICE_PROXY_NAME_LABEL = 'service.kubernetes.io/service-proxy-name';
export const LB_ALGORITHM_ANNOTATION = 'switchyard.io/lb-algorithm';
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

export type SkipReason = 'headless' | 'external-name' | 'service-proxy-name' | 'no-ipv4-cluster-ip';

export interface ServiceConversion {
  ports: ServicePortInfo[];
  skipped?: SkipReason;
  /** Ports left out (unsupported protocol, bad numbers), with why. */
  problems: string[];
}

export interface ServiceTrackerOptions {
  defaultAlgorithm: 'maglev' | 'random';
  /** The agent's Maglev floor and ceiling, which a pinned table size must respect. */
  maglevSizing?: MaglevSizing;
}

/** Pure conversion of one Service object. */
export function servicePortsOf(svc: V1Service, opts: ServiceTrackerOptions): ServiceConversion {
  const meta = svc.metadata ?? {};
  const spec = svc.spec ?? {};
  const problems: string[] = [];
  if (meta.labels && SERVICE_PROXY_NAME_LABEL in meta.labels) return { ports: [], skipped: 'service-proxy-name', problems };
  if (spec.type === 'ExternalName') return { ports: [], skipped: 'external-name', problems };
  const clusterIPs = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (clusterIPs.length === 0 || clusterIPs[0] === 'None') return { ports: [], skipped: 'headless', problems };
  const clusterIP = clusterIPs.find(isIPv4);
  if (!clusterIP) return { ports: [], skipped: 'no-ipv4-cluster-ip', problems };

  const type: ServiceType = spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? spec.type : 'ClusterIP';
  const affinity = spec.sessionAffinity === 'ClientIP'
    ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS
    : 0;
  const lbIPs = type === 'LoadBalancer'
    ? (svc.status?.loadBalancer?.ingress ?? [])
        .filter((i) => i.ip && isIPv4(i.ip) && (i.ipMode === undefined || i.ipMode === null || i.ipMode === 'VIP'))
        .map((i) => i.ip as string)
    : [];
  const annotated = meta.annotations?.[LB_ALGORITHM_ANNOTATION];
  const algorithm = annotated === 'random' || annotated === 'maglev' ? annotated : opts.defaultAlgorithm;
  if (annotated !== undefined && annotated !== 'random' && annotated !== 'maglev') {
    problems.push(`annotation ${LB_ALGORITHM_ANNOTATION}=${JSON.stringify(annotated)} is neither maglev nor random; using ${algorithm}`);
  }
  const tableSize = parseTableSizeAnnotation(meta.annotations, opts.maglevSizing);
  if (tableSize?.refused) problems.push(tableSize.refused);

  const ports: ServicePortInfo[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    if (protocol !== 'TCP' && protocol !== 'UDP') {
      problems.push(`port ${p.name ?? p.port}: protocol ${protocol} is not supported`);
      continue;
    }
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      problems.push(`port ${p.name ?? ''}: invalid port number ${String(p.port)}`);
      continue;
    }
    const name = { namespace: meta.namespace ?? 'default', name: meta.name ?? '', port: p.name ?? '', protocol };
    ports.push({
      name,
      key: servicePortKey(name),
      type,
      clusterIP,
      port: p.port,
      protocol,
      nodePort: type === 'ClusterIP' ? 0 : p.nodePort ?? 0,
      externalIPs: (spec.externalIPs ?? []).filter(isIPv4),
      loadBalancerIPs: lbIPs,
      loadBalancerSourceRanges: type === 'LoadBalancer' ? spec.loadBalancerSourceRanges ?? [] : [],
      affinityTimeoutSeconds: affinity,
      // eTP applies to every externally reachable Service, ExternalIPs on a ClusterIP included.
      externalPolicyLocal: spec.externalTrafficPolicy === 'Local' && (type !== 'ClusterIP' || (spec.externalIPs ?? []).length > 0),
      internalPolicyLocal: spec.internalTrafficPolicy === 'Local',
      healthCheckNodePort: spec.healthCheckNodePort ?? 0,
      algorithm,
      ...(tableSize ? { tableSizeAnnotation: tableSize } : {}),
    });
  }
  return { ports, problems };
}

/** Current ServicePorts of every handled Service, updated from informer events. */
export class ServiceTracker {
  private readonly byService = new Map<string, ServicePortInfo[]>();
  private readonly changed = new Set<string>();

  constructor(private readonly opts: ServiceTrackerOptions) {}

  /** Returns the conversion so the caller can log skips and problems. */
  update(svc: V1Service): ServiceConversion {
    const key = `${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`;
    const conv = servicePortsOf(svc, this.opts);
    if (conv.ports.length === 0) {
      if (this.byService.delete(key)) this.changed.add(key);
    } else {
      this.byService.set(key, conv.ports);
      this.changed.add(key);
    }
    return conv;
  }

  delete(svc: V1Service): void {
    const key = `${svc.metadata?.namespace ?? 'default'}/${svc.metadata?.name ?? ''}`;
    if (this.byService.delete(key)) this.changed.add(key);
  }

  /** The ServicePorts of one Service ("ns/name"), keyed by servicePortKey. */
  portsOfService(key: string): Map<string, ServicePortInfo> {
    return new Map((this.byService.get(key) ?? []).map((p) => [p.key, p]));
  }

  /** Every handled ServicePort, keyed by servicePortKey. */
  servicePorts(): Map<string, ServicePortInfo> {
    const out = new Map<string, ServicePortInfo>();
    for (const ports of this.byService.values()) for (const p of ports) out.set(p.key, p);
    return out;
  }

  /** Service keys ("ns/name") changed since the last call. */
  takeChanged(): Set<string> {
    const c = new Set(this.changed);
    this.changed.clear();
    return c;
  }
}
