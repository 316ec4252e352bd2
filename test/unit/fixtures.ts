// Small builders of Kubernetes objects for unit tests.
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';

export function service(name: string, spec: Partial<NonNullable<V1Service['spec']>>, meta: Partial<NonNullable<V1Service['metadata']>> = {}): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name, namespace: 'default', ...meta },
    spec: { type: 'ClusterIP', clusterIP: '198.18.128.10', clusterIPs: ['198.18.128.10'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }], ...spec },
  };
}

export interface Ep { ip: string; ready?: boolean; serving?: boolean; terminating?: boolean; node?: string; zone?: string; zones?: string[] }

export function slice(name: string, svc: string, ports: Array<{ name?: string; port: number; protocol?: string }>, eps: Ep[], extra: Partial<V1EndpointSlice> = {}): V1EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready === undefined ? {} : { ready: e.ready }),
        ...(e.serving === undefined ? {} : { serving: e.serving }),
        ...(e.terminating === undefined ? {} : { terminating: e.terminating }),
      },
      ...(e.node ? { nodeName: e.node } : {}),
      ...(e.zone ? { zone: e.zone } : {}),
      ...(e.zones ? { hints: { forZones: e.zones.map((z) => ({ name: z })) } } : {}),
    })),
    ...extra,
  };
}
