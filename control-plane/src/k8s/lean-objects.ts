// What the agent keeps of a Service, EndpointSlice or Node in its informer
// caches: the object without the parts no handler reads. client-node's
// ListWatch holds every object it has seen until it is deleted, so on a
// 10,000-Service cluster what it holds is the agent's largest live structure
// after the desired state; managedFields and kubectl's last-applied
// annotation are often most of an object, and an EndpointSlice's targetRefs
// most of its endpoints.
//
// Kept: metadata less managedFields and the last-applied annotation (labels,
// other annotations, resourceVersion, creationTimestamp and the rest are
// read by the trackers, the metrics and the cache itself); a Service's spec
// and status whole; an EndpointSlice's addressType, ports and, per endpoint,
// addresses, conditions, hints, nodeName and zone (what endpoint-slice-cache
// reads); a Node's labels and status.addresses (zone and node IPs).
import type { KubernetesObject, V1Endpoint, V1EndpointConditions, V1EndpointSlice, V1Node, V1ObjectMeta, V1Service } from '@kubernetes/client-node';

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** metadata without managedFields and the last-applied annotation (the same object when it has neither). */
export function leanMetadata(m: V1ObjectMeta | undefined): V1ObjectMeta | undefined {
  if (!m || (m.managedFields === undefined && !(m.annotations && LAST_APPLIED_ANNOTATION in m.annotations))) return m;
  const { managedFields: _drop, ...rest } = m;
  if (rest.annotations && LAST_APPLIED_ANNOTATION in rest.annotations) {
    const { [LAST_APPLIED_ANNOTATION]: _applied, ...annotations } = rest.annotations;
    rest.annotations = annotations;
  }
  return rest;
}

export function leanService(svc: V1Service): V1Service {
  const metadata = leanMetadata(svc.metadata);
  return metadata === svc.metadata ? svc : { ...svc, ...(metadata ? { metadata } : {}) };
}

/** The shared conditions objects, by what each of the three fields holds (absent, false, true). */
const sharedConditionsByValue: Array<V1EndpointConditions | undefined> = [];
const CONDITION_FIELDS = ['ready', 'serving', 'terminating'] as const;

/**
 * An endpoint's conditions as one of the 27 shared (frozen) objects with
 * the same fields, when they hold nothing but the three booleans (every
 * endpoint has them: 100,000 objects at 10,000 x 10 otherwise); anything
 * else as it came. Per watched endpoint: three reads, no allocation.
 */
function sharedConditions(c: V1EndpointConditions): V1EndpointConditions {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return c;
  let index = 0, fields = 0;
  for (const f of CONDITION_FIELDS) {
    const v = c[f];
    if (v !== undefined && typeof v !== 'boolean') return c;
    if (v !== undefined) fields++;
    index = index * 3 + (v === undefined ? 0 : v ? 2 : 1);
  }
  if (Object.keys(c).length !== fields) return c; // another field: kept as it came
  return (sharedConditionsByValue[index] ??= Object.freeze({ ...c }));
}

export function leanEndpointSlice(slice: V1EndpointSlice): V1EndpointSlice {
  const metadata = leanMetadata(slice.metadata);
  const out: V1EndpointSlice = { ...slice, ...(metadata ? { metadata } : {}) };
  if (Array.isArray(slice.endpoints)) {
    // Plain assignments (no spreads): 100,000 endpoints at 10,000 x 10.
    out.endpoints = slice.endpoints.map((e) => {
      if (e === null || typeof e !== 'object') return e; // the slice cache reports a malformed endpoint
      const lean: V1Endpoint = { addresses: e.addresses };
      if (e.conditions !== undefined) lean.conditions = sharedConditions(e.conditions);
      if (e.hints !== undefined) lean.hints = e.hints;
      if (e.nodeName !== undefined) lean.nodeName = e.nodeName;
      if (e.zone !== undefined) lean.zone = e.zone;
      return lean;
    });
  }
  return out;
}

export function leanNode(node: V1Node): V1Node {
  const m = node.metadata;
  const metadata: V1ObjectMeta | undefined = m && {
    name: m.name, ...(m.namespace !== undefined ? { namespace: m.namespace } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.labels !== undefined ? { labels: m.labels } : {}),
  };
  const addresses = node.status?.addresses;
  return {
    ...(node.apiVersion !== undefined ? { apiVersion: node.apiVersion } : {}),
    ...(node.kind !== undefined ? { kind: node.kind } : {}),
    ...(metadata ? { metadata } : {}),
    ...(addresses !== undefined ? { status: { addresses } } : {}),
  };
}

/** A lean function of one kind, applied to objects of unknown shape (a watch delivers anything). */
export function leanOrAsIs<T extends KubernetesObject>(lean: (o: T) => T): (o: T) => T {
  return (o) => {
    if (o === null || typeof o !== 'object') return o;
    try {
      return lean(o);
    } catch {
      return o; // the handlers report what they cannot read
    }
  };
}
