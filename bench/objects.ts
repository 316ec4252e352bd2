// The benchmark's Kubernetes objects, created through the lab API server's
// unix socket (the same REST calls `lab apply` makes).
//
//   bench-backend   Deployment of E whoami pods (E = endpoints per Service)
//   bench-client    the pod every probe runs in (node1)
//   bench-flip      selector-less Service + EndpointSlice with one endpoint,
//                   flipped between two backend pods to time network programming
//   bench-np        selector-less NodePort Service (E endpoints): the XDP test_run target
//   bench-svc-NNNNN the N Services of the run, selector-less, each with one
//                   EndpointSlice listing the E real backend pods; in a
//                   dual-stack bench (--ip-family dual) RequireDualStack, with
//                   a second slice (IPv6) listing the same pods' IPv6 addresses
//                   (bench-np too; bench-flip stays IPv4 only)
import { ApiError, type LabClient } from '../lab/src/cli/api-client.js';
import { sleep } from './lab-driver.js';
import { summarize, type Figure } from './stats.js';

type Obj = Record<string, any>;

export const NS = 'default';
export const SVC_PORT = 80;
export const POD_PORT = 8080;

export interface Backend { name: string; ip: string; node: string; /** IPv6 address (dual-stack lab). */ ip6?: string }

export function baseManifest(endpoints: number): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench-backend
spec:
  replicas: ${endpoints}
  selector:
    matchLabels: {app: bench-backend}
  template:
    metadata:
      labels: {app: bench-backend}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
        - name: whoami
          image: switchyard/whoami
          ports:
            - {name: http, containerPort: ${POD_PORT}}
            - {name: echo, containerPort: 5353, protocol: UDP}
---
apiVersion: v1
kind: Pod
metadata:
  name: bench-client
  labels: {app: bench-client}
spec:
  nodeName: node1
  terminationGracePeriodSeconds: 1
  containers:
    - name: client
      image: switchyard/whoami
      ports:
        - {containerPort: 9999}
`;
}

function isReady(p: Obj): boolean {
  return p['status']?.['phase'] === 'Running' &&
    ((p['status']?.['conditions'] ?? []) as Obj[]).some((c) => c['type'] === 'Ready' && c['status'] === 'True');
}

/** Waits until the client and `endpoints` backend pods run and are Ready; returns the backends by name. */
export async function waitBasePods(api: LabClient, endpoints: number, timeoutMs: number): Promise<Backend[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pods = (await api.get<{ items?: Obj[] }>(`/api/v1/namespaces/${NS}/pods`)).items ?? [];
    const live = pods.filter((p) => !p['metadata']?.['deletionTimestamp']);
    const client = live.find((p) => p['metadata']?.['name'] === 'bench-client');
    const backends = live.filter((p) => p['metadata']?.['labels']?.['app'] === 'bench-backend' && isReady(p));
    if (client && isReady(client) && backends.length >= endpoints) {
      return backends
        .map((p) => {
          const ip6 = ((p['status']['podIPs'] ?? []) as Obj[]).map((x) => x['ip'] as string).find((ip) => ip.includes(':'));
          return { name: p['metadata']['name'] as string, ip: p['status']['podIP'] as string, node: p['spec']['nodeName'] as string, ...(ip6 ? { ip6 } : {}) };
        })
        .sort((a, b) => a.name.localeCompare(b.name))
        .slice(0, endpoints);
    }
    if (Date.now() > deadline) throw new Error(`pods not ready within ${timeoutMs / 1000} s (client ${client ? 'present' : 'missing'}, ${backends.length}/${endpoints} backends ready)`);
    await sleep(250);
  }
}

export function serviceName(i: number): string {
  return `bench-svc-${String(i).padStart(5, '0')}`;
}

export function serviceObj(name: string, type: 'ClusterIP' | 'NodePort' = 'ClusterIP', dual = false): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS, labels: { 'bench.switchyard.dev/set': 'bench' } },
    spec: {
      type, ports: [{ name: 'http', port: SVC_PORT, targetPort: POD_PORT, protocol: 'TCP' }],
      // Both families or an error (not a silent IPv4-only Service in a lab that cannot give IPv6).
      ...(dual ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : {}),
    },
  };
}

/** The Service's ClusterIP of each family ([v4, v6?]) as the API server stored it. */
export function clusterIPsOf(svc: Obj): { v4: string; v6: string | undefined } {
  const ips = (svc['spec']?.['clusterIPs'] ?? [svc['spec']?.['clusterIP']]) as string[];
  return { v4: ips.find((ip) => !ip.includes(':')) ?? (svc['spec']['clusterIP'] as string), v6: ips.find((ip) => ip.includes(':')) };
}

/** The IPv6 twin of sliceObj(): addressType IPv6, the pods' IPv6 addresses. */
export function sliceObj6(service: string, backends: Backend[]): Obj {
  const s = sliceObj(service, backends, `${service}-v6`);
  s['addressType'] = 'IPv6';
  s['endpoints'] = backends.map((b, i) => {
    if (!b.ip6) throw new Error(`backend ${b.name} has no IPv6 address (is the lab dual-stack?)`);
    return { ...(s['endpoints'] as Obj[])[i], addresses: [b.ip6] };
  });
  return s;
}

export function sliceObj(service: string, backends: Backend[], sliceName = `${service}-1`): Obj {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: sliceName,
      namespace: NS,
      labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'bench.switchyard.dev' },
    },
    addressType: 'IPv4',
    endpoints: backends.map((b) => ({
      addresses: [b.ip],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: b.node,
      targetRef: { kind: 'Pod', namespace: NS, name: b.name },
    })),
    ports: [{ name: 'http', port: POD_PORT, protocol: 'TCP' }],
  };
}

async function createOrGet(api: LabClient, collection: string, obj: Obj): Promise<Obj> {
  try {
    return await api.call<Obj>('POST', collection, obj);
  } catch (err) {
    if (err instanceof ApiError && err.status === 409) return api.get<Obj>(`${collection}/${encodeURIComponent(obj['metadata']['name'])}`);
    throw err;
  }
}

const SVC_PATH = `/api/v1/namespaces/${NS}/services`;
const SLICE_PATH = `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`;

/** Creates a selector-less Service and its slice (and an IPv6 slice when dual); returns the Service as stored (clusterIPs, nodePort). */
export async function createService(api: LabClient, name: string, backends: Backend[], type: 'ClusterIP' | 'NodePort' = 'ClusterIP', dual = false): Promise<Obj> {
  const svc = await createOrGet(api, SVC_PATH, serviceObj(name, type, dual));
  if (dual && !clusterIPsOf(svc).v6) throw new Error(`Service ${name} got no IPv6 ClusterIP (${JSON.stringify(svc['spec']?.['clusterIPs'])})`);
  await createOrGet(api, SLICE_PATH, sliceObj(name, backends));
  if (dual) await createOrGet(api, SLICE_PATH, sliceObj6(name, backends));
  return svc;
}

/** Replaces a slice's endpoints; returns once the API server has stored the change. */
export async function replaceSlice(api: LabClient, service: string, backends: Backend[], beforePut?: () => void): Promise<void> {
  const path = `${SLICE_PATH}/${encodeURIComponent(`${service}-1`)}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    const cur = await api.get<Obj>(path);
    const next = sliceObj(service, backends);
    next['metadata']['resourceVersion'] = cur['metadata']['resourceVersion'];
    try {
      // The caller's clock starts here: the GET above (for the resourceVersion) is not part of the change.
      beforePut?.();
      await api.call('PUT', path, next);
      return;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }
  throw new Error(`replacing slice ${service}-1: conflicts on every attempt`);
}

/**
 * Creates Services [from, to) with their slices, `concurrency` requests in
 * flight; fills vips[i]. Returns the time per Service+slice pair.
 */
export async function createServices(api: LabClient, from: number, to: number, backends: Backend[], vips: string[], concurrency = 8, vips6?: string[]): Promise<{ ms: number; perPairMs: Figure | undefined }> {
  const t0 = performance.now();
  const lat: number[] = [];
  let next = from;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= to) return;
      const t = performance.now();
      const svc = await createService(api, serviceName(i), backends, 'ClusterIP', vips6 !== undefined);
      const ips = clusterIPsOf(svc);
      vips[i] = ips.v4;
      if (vips6) vips6[i] = ips.v6!;
      lat.push(performance.now() - t);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, to - from)) }, worker));
  } finally {
    // After a failure keep only the contiguous prefix: the next top-up starts at the first hole (409s are taken as created).
    const hole = vips.findIndex((v, i) => !v || (vips6 !== undefined && !vips6[i]));
    if (hole >= 0) vips.length = hole;
    if (vips6 && vips6.length > vips.length) vips6.length = vips.length;
  }
  const ms = performance.now() - t0;
  return { ms, perPairMs: lat.length ? summarize(`API round trips to create one Service and its EndpointSlice${vips6 ? ' (dual-stack: and its IPv6 slice)' : ''}`, 'ms', lat, 1, `${concurrency} requests in flight`) : undefined };
}
