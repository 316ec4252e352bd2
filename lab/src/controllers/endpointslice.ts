// EndpointSlice controller (what kube-controller-manager's does):
//
// Each of the Service's ipFamilies gets its own set of slices, with
// addressType IPv4 or IPv6 and the pods' podIPs of that family (a pod without
// an address of the family is no endpoint there); everything below holds per
// family, placeholder included. Slices of a family the Service no longer
// has are deleted.
//
// For each Service with a selector (and not ExternalName), the pods of its
// namespace matching the selector, with a podIP and not finished, become
// endpoints:
//   addresses   [podIP]
//   conditions  ready:       publishNotReadyAddresses || (serving && !terminating)
//               serving:     the pod's readiness ignoring termination (its Ready
//                            condition; for a terminating pod, ContainersReady,
//                            which the lab kubelet keeps as the probe would report)
//               terminating: deletionTimestamp set
//   nodeName, zone (the node's topology.kubernetes.io/zone), targetRef, hostname
//   (pod hostname when its subdomain is the Service's name), hints for
//   trafficDistribution PreferClose/PreferSameZone (own zone) and PreferSameNode.
// Each Service port's targetPort is resolved per pod (a number, or a name looked
// up among the pod's container ports with that protocol; a pod lacking it
// contributes no endpoint for that port); endpoints are grouped by their
// resolved port set, one slice per group, at most maxEndpointsPerSlice (100)
// endpoints per slice. Slice ports carry the Service port's name, the resolved
// number and the protocol. Labels: the Service's, kubernetes.io/service-name,
// endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io and
// service.kubernetes.io/headless for headless Services; controller
// ownerReference to the Service; generateName "<service>-".
//
// Churn is kept low: endpoints stay in the slice that has them, new ones fill
// slices with room, unchanged slices are not written, slices that would be
// deleted are reused for new port groups. A Service that selects no pods keeps
// one placeholder slice (no endpoints, no ports), as kube does. Slices go when
// the Service goes, loses its selector or becomes ExternalName. Services
// without a selector are left alone (their slices are the user's).

import { QueueController } from './queue-controller.js';
import { ApiError } from '../apiserver/errors.js';
import { type Logger } from '../apiserver/logger.js';
import { deepEqual } from '../apiserver/patch.js';
import { fromMapSelector } from '../apiserver/selectors.js';
import type { Store } from '../apiserver/store.js';
import type { Endpoint, EndpointPort, EndpointSlice, Pod, Service, ServicePort } from '../apiserver/types.js';
import { getCondition, objectKey, splitKey } from '../apiserver/util.js';
import { isTerminal, ownerRefTo } from './podutil.js';

type AddressType = 'IPv4' | 'IPv6';

/** The Service's address types (getAddressTypesForService): its ipFamilies, IPv4 when it has none. */
export function addressTypesOf(svc: Service): AddressType[] {
  const fams = (svc.spec.ipFamilies ?? []).filter((f): f is AddressType => f === 'IPv4' || f === 'IPv6');
  return fams.length ? fams : ['IPv4'];
}

/** A pod's address of one family: from status.podIPs (status.podIP for a pod without them). */
export function podIPOf(pod: Pod, family: AddressType): string | undefined {
  const ips = pod.status?.podIPs?.length ? pod.status.podIPs.map((p) => p.ip) : pod.status?.podIP ? [pod.status.podIP] : [];
  return ips.find((ip) => ip.includes(':') === (family === 'IPv6'));
}

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';

export interface EndpointSliceControllerOptions {
  logger?: Logger;
  /** Default 100 (kube-controller-manager's --max-endpoints-per-slice). */
  maxEndpointsPerSlice?: number;
}

export function hasSelector(svc: Service): boolean {
  return !!svc.spec.selector && Object.keys(svc.spec.selector).length > 0;
}

/** Resolves a Service port's targetPort for a pod; undefined when the pod lacks the named port. */
export function resolveTargetPort(sp: ServicePort, pod: Pod): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  const proto = sp.protocol ?? 'TCP';
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      if (p.name === tp && (p.protocol ?? 'TCP') === proto) return p.containerPort;
    }
  }
  return undefined;
}

function portsKey(ports: EndpointPort[] | null | undefined): string {
  return JSON.stringify(
    [...(ports ?? [])]
      .map((p) => [p.name ?? '', p.protocol ?? 'TCP', p.port ?? null, p.appProtocol ?? null])
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
  );
}

function endpointID(ep: Endpoint): string {
  return ep.targetRef?.uid ?? ep.addresses[0] ?? '';
}

interface Group {
  key: string;
  ports: EndpointPort[];
  endpoints: Map<string, Endpoint>;
}

interface SlicePlan {
  existing?: EndpointSlice;
  ports: EndpointPort[];
  endpoints: Endpoint[];
}

export class EndpointSliceController extends QueueController {
  private readonly maxPerSlice: number;

  constructor(
    private readonly store: Store,
    opts: EndpointSliceControllerOptions = {},
  ) {
    super('endpointslice', 'endpointslices', opts.logger);
    this.maxPerSlice = opts.maxEndpointsPerSlice ?? 100;
  }

  override start(): this {
    const enqueueNamespace = (ns: string | undefined): void => {
      for (const s of this.store.peekList('services', ns ? { namespace: ns } : {})) {
        if (hasSelector(s)) this.queue.add(objectKey(s.metadata.namespace, s.metadata.name as string));
      }
    };
    this.handles.push(
      this.store.watch('services', {}, (ev) => this.queue.add(objectKey(ev.object.metadata.namespace, ev.object.metadata.name as string))),
      // A pod change can matter to any Service of its namespace (labels may have changed).
      this.store.watch('pods', {}, (ev) => enqueueNamespace(ev.object.metadata.namespace)),
      // Zones come from nodes.
      this.store.watch('nodes', {}, (ev) => {
        if (ev.type !== 'ADDED') enqueueNamespace(undefined);
      }),
      // Someone else touched a slice we manage: put it back.
      this.store.watch('endpointslices', { labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}` }, (ev) => {
        const svc = ev.object.metadata.labels?.[LABEL_SERVICE_NAME];
        if (svc) this.queue.add(objectKey(ev.object.metadata.namespace, svc));
      }),
    );
    return this;
  }


  private managedSlices(namespace: string, name: string): EndpointSlice[] {
    return this.store.peekList('endpointslices', {
      namespace,
      labelSelector: `${LABEL_SERVICE_NAME}=${name},${LABEL_MANAGED_BY}=${MANAGED_BY}`,
    });
  }

  private deleteSlice(s: EndpointSlice): void {
    try {
      this.store.delete('endpointslices', s.metadata.name as string, { namespace: s.metadata.namespace as string });
    } catch (e) {
      if (!(e instanceof ApiError && e.code === 404)) throw e;
    }
  }

  protected reconcile(key: string): void {
    const { namespace, name } = splitKey(key);
    const svc = this.store.peek('services', name, namespace);
    const existingAll = this.managedSlices(namespace, name);
    if (!svc || !hasSelector(svc) || svc.spec.type === 'ExternalName') {
      for (const s of existingAll) this.deleteSlice(s);
      return;
    }
    const uid = svc.metadata.uid as string;
    const families = addressTypesOf(svc);
    // Slices of an earlier Service of the same name, or of an address type the Service lacks, go.
    const existing: EndpointSlice[] = [];
    for (const s of existingAll) {
      const owner = s.metadata.ownerReferences?.find((r) => r.kind === 'Service');
      if (!(families as string[]).includes(s.addressType) || (owner && owner.uid !== uid)) this.deleteSlice(s);
      else existing.push(s);
    }
    for (const family of families) this.reconcileFamily(svc, family, existing.filter((s) => s.addressType === family));
  }

  /** One address type's slices of a Service (reconcileByAddressType). */
  private reconcileFamily(svc: Service, family: AddressType, existing: EndpointSlice[]): void {
    const groups = this.desiredGroups(svc, family);
    const plans: SlicePlan[] = [];
    const spare: EndpointSlice[] = [];
    const byKey = new Map<string, EndpointSlice[]>();
    for (const s of existing.sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1))) {
      const k = portsKey(s.ports);
      byKey.set(k, [...(byKey.get(k) ?? []), s]);
    }
    for (const [k, slices] of byKey) if (!groups.has(k)) spare.push(...slices);

    const fresh: Array<{ ports: EndpointPort[]; endpoints: Endpoint[] }> = [];
    for (const g of groups.values()) {
      const slices = byKey.get(g.key) ?? [];
      const unassigned = new Map(g.endpoints);
      const groupPlans: SlicePlan[] = [];
      for (const s of slices) {
        const eps: Endpoint[] = [];
        for (const ep of s.endpoints ?? []) {
          const id = endpointID(ep);
          const want = unassigned.get(id);
          if (want && eps.length < this.maxPerSlice) {
            eps.push(want);
            unassigned.delete(id);
          }
        }
        groupPlans.push({ existing: s, ports: g.ports, endpoints: eps });
      }
      const rest = [...unassigned.values()];
      for (const p of groupPlans) {
        while (rest.length && p.endpoints.length < this.maxPerSlice) p.endpoints.push(rest.shift() as Endpoint);
      }
      while (rest.length) fresh.push({ ports: g.ports, endpoints: rest.splice(0, this.maxPerSlice) });
      for (const p of groupPlans) {
        if (p.endpoints.length) plans.push(p);
        else if (p.existing) spare.push(p.existing);
      }
    }
    // New slices reuse spare ones (an in-place update instead of create + delete).
    for (const f of fresh) {
      const reuse = spare.shift();
      plans.push({ ...(reuse ? { existing: reuse } : {}), ports: f.ports, endpoints: f.endpoints });
    }
    // A Service selecting nothing keeps one placeholder slice.
    if (plans.length === 0) {
      const reuse = spare.find((s) => (s.endpoints ?? []).length === 0) ?? spare[0];
      if (reuse) spare.splice(spare.indexOf(reuse), 1);
      plans.push({ ...(reuse ? { existing: reuse } : {}), ports: [], endpoints: [] });
    }
    for (const s of spare) this.deleteSlice(s);
    for (const p of plans) this.apply(svc, family, p);
  }

  private desiredGroups(svc: Service, family: AddressType): Map<string, Group> {
    const namespace = svc.metadata.namespace as string;
    const groups = new Map<string, Group>();
    const selector = fromMapSelector(svc.spec.selector);
    const publishNotReady = svc.spec.publishNotReadyAddresses === true;
    const dist = svc.spec.trafficDistribution;
    const zoneOf = new Map<string, string | undefined>();
    const zone = (node: string | undefined): string | undefined => {
      if (!node) return undefined;
      if (!zoneOf.has(node)) zoneOf.set(node, this.store.peek('nodes', node)?.metadata.labels?.[LABEL_ZONE] || undefined);
      return zoneOf.get(node);
    };
    const pods = this.store
      .peekList('pods', { namespace, labelSelector: selector })
      .filter((p) => podIPOf(p, family) !== undefined && !isTerminal(p))
      .sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    const all: Endpoint[] = [];
    for (const pod of pods) {
      const ports: EndpointPort[] = [];
      for (const sp of svc.spec.ports ?? []) {
        const num = resolveTargetPort(sp, pod);
        if (num === undefined) continue;
        ports.push({ name: sp.name ?? '', port: num, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
      }
      const terminating = !!pod.metadata.deletionTimestamp;
      const serving = getCondition(pod.status?.conditions, terminating ? 'ContainersReady' : 'Ready')?.status === 'True';
      const ready = publishNotReady || (serving && !terminating);
      const ep: Endpoint = {
        addresses: [podIPOf(pod, family) as string],
        conditions: { ready, serving, terminating },
      };
      if (pod.spec.hostname && pod.spec.subdomain === svc.metadata.name) ep.hostname = pod.spec.hostname;
      if (pod.spec.nodeName) ep.nodeName = pod.spec.nodeName;
      const z = zone(pod.spec.nodeName);
      if (z) ep.zone = z;
      ep.targetRef = { kind: 'Pod', namespace, name: pod.metadata.name as string, uid: pod.metadata.uid as string };
      all.push(ep);
      const k = portsKey(ports);
      let g = groups.get(k);
      if (!g) {
        g = { key: k, ports, endpoints: new Map() };
        groups.set(k, g);
      }
      g.endpoints.set(endpointID(ep), ep);
    }
    // Topology hints (trafficDistribution): only when every endpoint has a zone.
    if ((dist === 'PreferClose' || dist === 'PreferSameZone' || dist === 'PreferSameNode') && all.length && all.every((e) => e.zone)) {
      for (const e of all) {
        e.hints = { forZones: [{ name: e.zone as string }] };
        if (dist === 'PreferSameNode' && e.nodeName) e.hints.forNodes = [{ name: e.nodeName }];
      }
    }
    return groups;
  }

  private apply(svc: Service, family: AddressType, p: SlicePlan): void {
    const namespace = svc.metadata.namespace as string;
    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    labels[LABEL_SERVICE_NAME] = svc.metadata.name as string;
    labels[LABEL_MANAGED_BY] = MANAGED_BY;
    if (svc.spec.clusterIP === 'None') labels[LABEL_HEADLESS] = '';
    else delete labels[LABEL_HEADLESS];
    const ownerReferences = [ownerRefTo(svc, 'v1', 'Service')];
    // As stored (empty lists come back as null): compare like with like.
    const endpoints = p.endpoints.length ? (JSON.parse(JSON.stringify(p.endpoints)) as Endpoint[]) : null;
    const ports = p.ports.length ? p.ports.map((x) => ({ ...x })) : null;
    if (!p.existing) {
      this.store.create(
        'endpointslices',
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { generateName: `${svc.metadata.name as string}-`, namespace, labels, ownerReferences },
          addressType: family,
          endpoints,
          ports,
        },
        { namespace },
      );
      return;
    }
    const s = p.existing;
    if (
      deepEqual(s.endpoints ?? null, endpoints) &&
      deepEqual(s.ports ?? null, ports) &&
      deepEqual(s.metadata.labels ?? {}, labels) &&
      deepEqual(s.metadata.ownerReferences ?? [], ownerReferences)
    ) {
      return;
    }
    const next = structuredClone(s);
    next.metadata.labels = labels;
    next.metadata.ownerReferences = ownerReferences;
    next.endpoints = endpoints;
    next.ports = ports;
    this.store.update('endpointslices', next);
  }
}
