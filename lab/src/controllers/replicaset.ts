// ReplicaSet and ReplicationController controllers: keep `spec.replicas`
// active pods (not terminating, not finished) owned by each. New pods are
// named generateName-style ("<owner>-" + 5 random characters) and carry a
// controller ownerReference; scale-down deletes pods gracefully, unassigned /
// pending / not-ready / newest first. Status: replicas, fullyLabeledReplicas,
// readyReplicas, availableReplicas (ready for minReadySeconds), observedGeneration.
//
// Simplifications: orphan pods matching the selector are not adopted; pods that
// fail to start are replaced with an exponential backoff (1 s doubling to 60 s)
// and at most 5 failed pods are kept per owner.

import { QueueController } from './queue-controller.js';
import { type Logger } from '../apiserver/logger.js';
import { fromLabelSelectorSpec, fromMapSelector, matchesLabels, type LabelSelector } from '../apiserver/selectors.js';
import type { Store } from '../apiserver/store.js';
import type { KubeObject, Pod, PodTemplateSpec, ReplicaSet, ReplicaStatus, ReplicationController } from '../apiserver/types.js';
import { ApiError } from '../apiserver/errors.js';
import { getCondition, objectKey, splitKey } from '../apiserver/util.js';
import { controllerRef, isActive, isPodReady, ownerRefTo, scaleDownOrder } from './podutil.js';

type OwnerRes = 'replicasets' | 'replicationcontrollers';

interface Adapter {
  res: OwnerRes;
  kind: string;
  apiVersion: string;
  selector(o: KubeObject): LabelSelector;
  template(o: KubeObject): PodTemplateSpec | undefined;
  replicas(o: KubeObject): number;
  minReadySeconds(o: KubeObject): number;
}

const RS_ADAPTER: Adapter = {
  res: 'replicasets',
  kind: 'ReplicaSet',
  apiVersion: 'apps/v1',
  selector: (o) => fromLabelSelectorSpec((o as ReplicaSet).spec.selector),
  template: (o) => (o as ReplicaSet).spec.template,
  replicas: (o) => (o as ReplicaSet).spec.replicas ?? 1,
  minReadySeconds: (o) => (o as ReplicaSet).spec.minReadySeconds ?? 0,
};

const RC_ADAPTER: Adapter = {
  res: 'replicationcontrollers',
  kind: 'ReplicationController',
  apiVersion: 'v1',
  selector: (o) => fromMapSelector((o as ReplicationController).spec.selector),
  template: (o) => (o as ReplicationController).spec.template,
  replicas: (o) => (o as ReplicationController).spec.replicas ?? 1,
  minReadySeconds: (o) => (o as ReplicationController).spec.minReadySeconds ?? 0,
};

export interface ReplicaControllerOptions {
  logger?: Logger;
  /** Upper bound of pods created per sync (default 500). */
  burst?: number;
}

const MAX_FAILED_KEPT = 5;

class ReplicaController extends QueueController {
  private readonly burst: number;
  /** Per owner key: failed pods seen and when creation may resume. */
  private readonly backoff = new Map<string, { uid: string; failedSeen: Set<string>; notBefore: number }>();

  constructor(
    private readonly store: Store,
    private readonly a: Adapter,
    opts: ReplicaControllerOptions,
  ) {
    super(a.res, a.res, opts.logger);
    this.burst = opts.burst ?? 500;
  }

  override start(): this {
    this.handles.push(
      this.store.watch(this.a.res, {}, (ev) => this.queue.add(objectKey(ev.object.metadata.namespace, ev.object.metadata.name as string))),
      this.store.watch('pods', {}, (ev) => {
        const ref = controllerRef(ev.object);
        if (ref && ref.kind === this.a.kind) this.queue.add(objectKey(ev.object.metadata.namespace, ref.name));
      }),
    );
    return this;
  }


  protected reconcile(key: string): void {
    const { namespace, name } = splitKey(key);
    const owner = this.store.peek(this.a.res, name, namespace);
    if (!owner) {
      this.backoff.delete(key);
      return;
    }
    const uid = owner.metadata.uid as string;
    if (owner.metadata.deletionTimestamp) return; // the garbage collector removes the pods
    const selector = this.a.selector(owner);
    const owned = this.store
      .peekList('pods', { namespace, labelSelector: selector })
      .filter((p) => controllerRef(p)?.uid === uid);
    const active = owned.filter(isActive);
    const failed = owned.filter((p) => p.status?.phase === 'Failed' && !p.metadata.deletionTimestamp);
    const want = this.a.replicas(owner);
    const diff = active.length - want;

    // Failed pods: remember them for backoff, keep only the newest few.
    let b = this.backoff.get(key);
    if (b && b.uid !== uid) {
      this.backoff.delete(key);
      b = undefined;
    }
    for (const p of failed) {
      b ??= { uid, failedSeen: new Set(), notBefore: 0 };
      this.backoff.set(key, b);
      if (!b.failedSeen.has(p.metadata.uid as string)) {
        b.failedSeen.add(p.metadata.uid as string);
        b.notBefore = Date.now() + Math.min(60_000, 1000 * 2 ** Math.min(6, b.failedSeen.size - 1));
      }
    }
    if (failed.length > MAX_FAILED_KEPT) {
      const oldest = [...failed].sort((x, y) => ((x.metadata.creationTimestamp ?? '') < (y.metadata.creationTimestamp ?? '') ? -1 : 1));
      for (const p of oldest.slice(0, failed.length - MAX_FAILED_KEPT)) this.deletePod(p);
    }

    if (diff < 0) {
      const wait = b ? b.notBefore - Date.now() : 0;
      if (wait > 0) {
        this.queue.addAfter(key, wait);
      } else {
        const template = this.a.template(owner);
        const n = Math.min(-diff, this.burst);
        for (let i = 0; i < n && template; i++) this.createPod(owner, template);
        if (-diff > n) this.queue.add(key);
      }
    } else if (diff > 0) {
      const victims = [...active].sort(scaleDownOrder).slice(0, diff);
      for (const p of victims) this.deletePod(p);
    }
    this.writeStatus(owner, selector);
  }

  private createPod(owner: KubeObject, template: PodTemplateSpec): void {
    const md = template.metadata ?? {};
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${owner.metadata.name as string}-`,
        namespace: owner.metadata.namespace,
        ...(md.labels ? { labels: { ...md.labels } } : {}),
        ...(md.annotations ? { annotations: { ...md.annotations } } : {}),
        ownerReferences: [ownerRefTo(owner, this.a.apiVersion, this.a.kind)],
      },
      spec: structuredClone(template.spec),
    };
    const created = this.store.create('pods', pod, { namespace: owner.metadata.namespace as string });
    this.logger.debug({ owner: owner.metadata.name, pod: created.metadata.name }, 'pod created');
  }

  private deletePod(p: Pod): void {
    try {
      this.store.delete('pods', p.metadata.name as string, { namespace: p.metadata.namespace as string, preconditions: { uid: p.metadata.uid as string } });
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  private writeStatus(owner: KubeObject, selector: LabelSelector): void {
    const current = this.store.peek(this.a.res, owner.metadata.name as string, owner.metadata.namespace) as KubeObject;
    const uid = current.metadata.uid as string;
    const pods = this.store
      .peekList('pods', { namespace: current.metadata.namespace as string, labelSelector: selector })
      .filter((p) => controllerRef(p)?.uid === uid && isActive(p));
    const templateLabels = this.a.template(current)?.metadata?.labels ?? {};
    const minReady = this.a.minReadySeconds(current);
    const now = Date.now();
    let available = 0;
    let nextCheck = Infinity;
    for (const p of pods) {
      if (!isPodReady(p)) continue;
      if (minReady <= 0) {
        available++;
        continue;
      }
      const since = Date.parse(getCondition(p.status?.conditions, 'Ready')?.lastTransitionTime ?? '') || now;
      const at = since + minReady * 1000;
      if (at <= now) available++;
      else nextCheck = Math.min(nextCheck, at - now);
    }
    if (nextCheck !== Infinity) this.queue.addAfter(objectKey(current.metadata.namespace, current.metadata.name as string), nextCheck + 10);
    const status: ReplicaStatus = {
      replicas: pods.length,
      fullyLabeledReplicas: pods.filter((p) => matchesLabels(fromMapSelector(templateLabels), p.metadata.labels)).length,
      readyReplicas: pods.filter(isPodReady).length,
      availableReplicas: available,
      observedGeneration: current.metadata.generation as number,
    };
    const prev = (current.status ?? {}) as Record<string, unknown>;
    const next = { ...prev, ...status };
    const changed = Object.keys(next).some((k) => prev[k] !== (next as Record<string, unknown>)[k]);
    if (!changed) return;
    this.store.updateStatus(this.a.res, { ...structuredClone(current), status: next });
  }
}

export class ReplicaSetController extends ReplicaController {
  constructor(store: Store, opts: ReplicaControllerOptions = {}) {
    super(store, RS_ADAPTER, opts);
  }
}

export class ReplicationControllerController extends ReplicaController {
  constructor(store: Store, opts: ReplicaControllerOptions = {}) {
    super(store, RC_ADAPTER, opts);
  }
}
