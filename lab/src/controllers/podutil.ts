// Pod and owner helpers shared by the controllers.

import type { KubeObject, Node, OwnerReference, Pod } from '../apiserver/types.js';
import { getCondition } from '../apiserver/util.js';

export function isPodReady(pod: Pod): boolean {
  return getCondition(pod.status?.conditions, 'Ready')?.status === 'True';
}

export function isTerminating(o: KubeObject): boolean {
  return !!o.metadata.deletionTimestamp;
}

export function isTerminal(pod: Pod): boolean {
  const p = pod.status?.phase;
  return p === 'Succeeded' || p === 'Failed';
}

/** Counted by ReplicaSets: not terminating, not finished. */
export function isActive(pod: Pod): boolean {
  return !isTerminating(pod) && !isTerminal(pod);
}

export function controllerRef(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller);
}

export function isNodeReady(n: Node): boolean {
  return getCondition(n.status?.conditions, 'Ready')?.status === 'True';
}

export function ownerRefTo(owner: KubeObject, apiVersion: string, kind: string): OwnerReference {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name as string,
    uid: owner.metadata.uid as string,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** Deletion ranking for scale-down: the pods to delete first sort first (kube's ActivePods order, simplified). */
export function scaleDownOrder(a: Pod, b: Pod): number {
  // unassigned < assigned
  const aa = a.spec.nodeName ? 1 : 0;
  const ba = b.spec.nodeName ? 1 : 0;
  if (aa !== ba) return aa - ba;
  // Pending < Unknown < Running
  const rank = (p: Pod): number => ({ Pending: 0, Unknown: 1, Running: 2 })[p.status?.phase as string] ?? 0;
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  // not ready < ready
  const ar = isPodReady(a) ? 1 : 0;
  const br = isPodReady(b) ? 1 : 0;
  if (ar !== br) return ar - br;
  // newer first
  const at = a.metadata.creationTimestamp ?? '';
  const bt = b.metadata.creationTimestamp ?? '';
  if (at !== bt) return at > bt ? -1 : 1;
  // same second: higher resourceVersion (later write) first, then name
  const arv = Number(a.metadata.resourceVersion ?? 0);
  const brv = Number(b.metadata.resourceVersion ?? 0);
  if (arv !== brv) return brv - arv;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}
