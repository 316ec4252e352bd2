// Deployment controller: Deployment -> ReplicaSets.
//
// The ReplicaSet whose template equals the Deployment's (ignoring the
// pod-template-hash label) is the new one; it is created when absent, named
// "<deployment>-<pod-template-hash>", with the hash added to its selector,
// template labels and labels. Others are old ones.
//
//   Recreate:      old ReplicaSets scaled to 0; once their pods are gone, the
//                  new one is scaled to spec.replicas.
//   RollingUpdate: kube's algorithm: the new ReplicaSet grows while the total
//                  stays within replicas+maxSurge; old ones shrink while
//                  available pods stay at or above replicas-maxUnavailable
//                  (unhealthy old replicas first). A plain scale (no old
//                  replicas left) resizes the new ReplicaSet at once.
//
// Also: revision annotations, revisionHistoryLimit cleanup of old empty
// ReplicaSets, status (replicas, updated/ready/available/unavailable,
// observedGeneration, Available/Progressing conditions). Simplification:
// progressDeadlineSeconds is not enforced, paused only stops rollouts.

import { QueueController } from './queue-controller.js';
import { ApiError } from '../apiserver/errors.js';
import { type Logger } from '../apiserver/logger.js';
import type { Store } from '../apiserver/store.js';
import type { Deployment, PodTemplateSpec, ReplicaSet } from '../apiserver/types.js';
import { fnv32a, objectKey, safeEncode, setCondition, splitKey, stableStringify } from '../apiserver/util.js';
import { controllerRef, isTerminal, ownerRefTo } from './podutil.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';
const REVISION = 'deployment.kubernetes.io/revision';
const DESIRED = 'deployment.kubernetes.io/desired-replicas';
const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';

export interface DeploymentControllerOptions {
  logger?: Logger;
}

function withoutHash(t: PodTemplateSpec): PodTemplateSpec {
  const c = structuredClone(t);
  if (c.metadata?.labels) {
    delete c.metadata.labels[POD_TEMPLATE_HASH];
    if (Object.keys(c.metadata.labels).length === 0) delete c.metadata.labels;
  }
  return c;
}

export function podTemplateHash(t: PodTemplateSpec, collisionCount = 0): string {
  const text = stableStringify(withoutHash(t)) + (collisionCount ? `#${collisionCount}` : '');
  return safeEncode(String(fnv32a(text)));
}

function intOrPercent(v: number | string | undefined, total: number, roundUp: boolean, dflt: string): number {
  const x = v ?? dflt;
  if (typeof x === 'number') return x;
  const m = /^(\d+)%$/.exec(x);
  if (!m) return Number(x) || 0;
  const raw = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(raw) : Math.floor(raw);
}

function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.[REVISION] ?? 0) || 0;
}

function byCreation(a: ReplicaSet, b: ReplicaSet): number {
  const at = a.metadata.creationTimestamp ?? '';
  const bt = b.metadata.creationTimestamp ?? '';
  if (at !== bt) return at < bt ? -1 : 1;
  return revisionOf(a) - revisionOf(b);
}

export class DeploymentController extends QueueController {

  constructor(
    private readonly store: Store,
    opts: DeploymentControllerOptions = {},
  ) {
    super('deployment', 'deployments', opts.logger);
  }

  override start(): this {
    this.handles.push(
      this.store.watch('deployments', {}, (ev) => this.queue.add(objectKey(ev.object.metadata.namespace, ev.object.metadata.name as string))),
      this.store.watch('replicasets', {}, (ev) => {
        const ref = controllerRef(ev.object);
        if (ref?.kind === 'Deployment') this.queue.add(objectKey(ev.object.metadata.namespace, ref.name));
      }),
      // Recreate waits for old pods to be gone.
      this.store.watch('pods', {}, (ev) => {
        if (ev.type !== 'DELETED') return;
        const ref = controllerRef(ev.object);
        if (ref?.kind !== 'ReplicaSet') return;
        const rs = this.store.peek('replicasets', ref.name, ev.object.metadata.namespace);
        const dref = rs && controllerRef(rs);
        if (dref?.kind === 'Deployment') this.queue.add(objectKey(ev.object.metadata.namespace, dref.name));
      }),
    );
    return this;
  }


  private ownedReplicaSets(d: Deployment): ReplicaSet[] {
    const uid = d.metadata.uid as string;
    return this.store.peekList('replicasets', { namespace: d.metadata.namespace as string }).filter((rs) => controllerRef(rs)?.uid === uid);
  }

  private setReplicas(rs: ReplicaSet, replicas: number, d: Deployment, maxSurge: number): ReplicaSet {
    const desired = String(d.spec.replicas ?? 1);
    const max = String((d.spec.replicas ?? 1) + maxSurge);
    const ann = rs.metadata.annotations ?? {};
    if ((rs.spec.replicas ?? 1) === replicas && ann[DESIRED] === desired && ann[MAX_REPLICAS] === max) return rs;
    return this.store.patch(
      'replicasets',
      rs.metadata.name as string,
      { metadata: { annotations: { [DESIRED]: desired, [MAX_REPLICAS]: max } }, spec: { replicas } },
      { namespace: rs.metadata.namespace as string },
    );
  }

  protected reconcile(key: string): void {
    const { namespace, name } = splitKey(key);
    const d = this.store.peek('deployments', name, namespace);
    if (!d || d.metadata.deletionTimestamp) return;
    const replicas = d.spec.replicas ?? 1;
    const strategy = d.spec.strategy?.type ?? 'RollingUpdate';
    let maxSurge = strategy === 'RollingUpdate' ? intOrPercent(d.spec.strategy?.rollingUpdate?.maxSurge, replicas, true, '25%') : 0;
    let maxUnavailable = strategy === 'RollingUpdate' ? intOrPercent(d.spec.strategy?.rollingUpdate?.maxUnavailable, replicas, false, '25%') : 0;
    if (strategy === 'RollingUpdate' && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
    maxUnavailable = Math.min(maxUnavailable, replicas);
    maxSurge = Math.max(0, maxSurge);

    let all = this.ownedReplicaSets(d).sort(byCreation);
    const target = stableStringify(withoutHash(d.spec.template));
    let newRS = all.find((rs) => stableStringify(withoutHash(rs.spec.template)) === target);
    const maxOldRevision = Math.max(0, ...all.filter((rs) => rs !== newRS).map(revisionOf));

    if (!newRS && !d.spec.paused) {
      newRS = this.createReplicaSet(d, maxOldRevision + 1, strategy, all, replicas, maxSurge);
      if (!newRS) return; // collision: retried
      all = [...all, newRS];
    } else if (newRS && revisionOf(newRS) <= maxOldRevision && !d.spec.paused) {
      // Rolled back to an older template: it becomes the newest revision.
      newRS = this.store.patch('replicasets', newRS.metadata.name as string, { metadata: { annotations: { [REVISION]: String(maxOldRevision + 1) } } }, { namespace });
      all = all.map((rs) => (rs.metadata.uid === newRS?.metadata.uid ? (newRS as ReplicaSet) : rs));
    }
    const olds = all.filter((rs) => rs !== newRS && rs.metadata.uid !== newRS?.metadata.uid);

    if (newRS && !d.spec.paused) {
      if (strategy === 'Recreate') this.recreate(d, newRS, olds, replicas);
      else this.rolling(d, newRS, olds, replicas, maxSurge, maxUnavailable);
    }
    this.cleanup(d, newRS);
    this.writeStatus(d, maxUnavailable);
  }

  private createReplicaSet(d: Deployment, revision: number, strategy: string, existing: ReplicaSet[], replicas: number, maxSurge: number): ReplicaSet | undefined {
    const namespace = d.metadata.namespace as string;
    const collisionCount = d.status?.collisionCount ?? 0;
    const hash = podTemplateHash(d.spec.template, collisionCount);
    const template = structuredClone(d.spec.template);
    template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash } };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH]: hash };
    const oldReplicas = existing.reduce((n, rs) => n + (rs.spec.replicas ?? 0), 0);
    // Recreate starts at 0 while old pods exist; RollingUpdate starts within the surge budget.
    let initial = strategy === 'Recreate' ? (oldReplicas === 0 ? replicas : 0) : Math.max(0, Math.min(replicas, replicas + maxSurge - oldReplicas));
    if (existing.length === 0) initial = replicas;
    const rs = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name as string}-${hash}`,
        namespace,
        labels: { ...(d.spec.template.metadata?.labels ?? {}), [POD_TEMPLATE_HASH]: hash },
        annotations: { [REVISION]: String(revision), [DESIRED]: String(replicas), [MAX_REPLICAS]: String(replicas + maxSurge) },
        ownerReferences: [ownerRefTo(d, 'apps/v1', 'Deployment')],
      },
      spec: { replicas: initial, minReadySeconds: d.spec.minReadySeconds ?? 0, selector, template },
    };
    try {
      const created = this.store.create('replicasets', rs, { namespace });
      this.logger.info({ deployment: d.metadata.name, replicaset: created.metadata.name, revision }, 'new ReplicaSet');
      return created;
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) {
        // Hash collision with a ReplicaSet we don't own or with another template: bump collisionCount, as kube does.
        const fresh = this.store.peek('deployments', d.metadata.name as string, namespace);
        if (fresh) {
          this.store.updateStatus('deployments', { ...structuredClone(fresh), status: { ...(fresh.status ?? {}), collisionCount: collisionCount + 1 } });
        }
        return undefined;
      }
      throw e;
    }
  }

  private recreate(d: Deployment, newRS: ReplicaSet, olds: ReplicaSet[], replicas: number): void {
    for (const rs of olds) if ((rs.spec.replicas ?? 0) > 0) this.setReplicas(rs, 0, d, 0);
    const oldUIDs = new Set(olds.map((rs) => rs.metadata.uid));
    const oldPodsLeft = this.store
      .peekList('pods', { namespace: d.metadata.namespace as string })
      .some((p) => oldUIDs.has(controllerRef(p)?.uid ?? '') && !isTerminal(p));
    if (oldPodsLeft) return; // requeued when they are deleted
    this.setReplicas(newRS, replicas, d, 0);
  }

  private rolling(d: Deployment, newRS: ReplicaSet, olds: ReplicaSet[], replicas: number, maxSurge: number, maxUnavailable: number): void {
    const spec = (rs: ReplicaSet): number => rs.spec.replicas ?? 0;
    const avail = (rs: ReplicaSet): number => rs.status?.availableReplicas ?? 0;
    if (olds.every((rs) => spec(rs) === 0)) {
      // Steady state: a plain scale.
      this.setReplicas(newRS, replicas, d, maxSurge);
      return;
    }
    // Scale up the new ReplicaSet within the surge budget.
    const total = spec(newRS) + olds.reduce((n, rs) => n + spec(rs), 0);
    const maxTotal = replicas + maxSurge;
    if (spec(newRS) < replicas && total < maxTotal) {
      newRS = this.setReplicas(newRS, Math.min(replicas, spec(newRS) + (maxTotal - total)), d, maxSurge);
    } else if (spec(newRS) > replicas) {
      newRS = this.setReplicas(newRS, replicas, d, maxSurge);
    }
    // Scale down old ReplicaSets while keeping enough available pods.
    const minAvailable = replicas - maxUnavailable;
    const allCount = spec(newRS) + olds.reduce((n, rs) => n + spec(rs), 0);
    const newUnavailable = Math.max(0, spec(newRS) - avail(newRS));
    let budget = allCount - minAvailable - newUnavailable;
    if (budget <= 0) return;
    const current = new Map(olds.map((rs) => [rs.metadata.uid as string, spec(rs)]));
    // 1. unhealthy old replicas first
    for (const rs of olds) {
      if (budget <= 0) break;
      const unhealthy = Math.max(0, (current.get(rs.metadata.uid as string) ?? 0) - avail(rs));
      const n = Math.min(budget, unhealthy);
      if (n > 0) {
        current.set(rs.metadata.uid as string, (current.get(rs.metadata.uid as string) ?? 0) - n);
        budget -= n;
      }
    }
    // 2. then available ones, as long as availability stays >= minAvailable
    const available = avail(newRS) + olds.reduce((n, rs) => n + Math.min(avail(rs), current.get(rs.metadata.uid as string) ?? 0), 0);
    let canRemove = available - minAvailable;
    for (const rs of olds) {
      if (canRemove <= 0) break;
      const have = current.get(rs.metadata.uid as string) ?? 0;
      const n = Math.min(have, canRemove);
      if (n > 0) {
        current.set(rs.metadata.uid as string, have - n);
        canRemove -= n;
      }
    }
    for (const rs of olds) {
      const want = current.get(rs.metadata.uid as string) ?? 0;
      if (want !== spec(rs)) this.setReplicas(rs, want, d, maxSurge);
    }
  }

  /** Deletes old, empty ReplicaSets beyond revisionHistoryLimit (oldest first). */
  private cleanup(d: Deployment, newRS: ReplicaSet | undefined): void {
    const limit = d.spec.revisionHistoryLimit ?? 10;
    const olds = this.ownedReplicaSets(d)
      .filter((rs) => rs.metadata.uid !== newRS?.metadata.uid && (rs.spec.replicas ?? 0) === 0 && (rs.status?.replicas ?? 0) === 0 && !rs.metadata.deletionTimestamp)
      .sort((a, b) => revisionOf(a) - revisionOf(b));
    for (const rs of olds.slice(0, Math.max(0, olds.length - limit))) {
      try {
        this.store.delete('replicasets', rs.metadata.name as string, { namespace: rs.metadata.namespace as string });
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
    }
  }

  private writeStatus(d0: Deployment, maxUnavailable: number): void {
    const d = this.store.peek('deployments', d0.metadata.name as string, d0.metadata.namespace) as Deployment;
    const all = this.ownedReplicaSets(d);
    const target = stableStringify(withoutHash(d.spec.template));
    const newRS = all.find((rs) => stableStringify(withoutHash(rs.spec.template)) === target);
    const sum = (f: (rs: ReplicaSet) => number | undefined): number => all.reduce((n, rs) => n + (f(rs) ?? 0), 0);
    const replicas = d.spec.replicas ?? 1;
    const available = sum((rs) => rs.status?.availableReplicas);
    const updated = newRS?.status?.replicas ?? 0;
    const total = sum((rs) => rs.status?.replicas);
    let conditions = d.status?.conditions;
    const isAvailable = available >= replicas - maxUnavailable;
    conditions = setCondition(
      conditions,
      'Available',
      isAvailable ? 'True' : 'False',
      isAvailable
        ? { reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
        : { reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' },
    );
    const complete = updated === replicas && total === replicas && available === replicas && (newRS?.spec.replicas ?? 0) === replicas;
    conditions = setCondition(
      conditions,
      'Progressing',
      'True',
      complete
        ? { reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${newRS?.metadata.name ?? ''}" has successfully progressed.` }
        : { reason: 'ReplicaSetUpdated', message: `ReplicaSet "${newRS?.metadata.name ?? ''}" is progressing.` },
    );
    // Keep the condition timestamps stable unless status/reason changed.
    for (const c of conditions) {
      const prev = d.status?.conditions?.find((p) => p.type === c.type);
      if (prev && prev.status === c.status && prev.reason === c.reason) {
        c.lastUpdateTime = prev.lastUpdateTime ?? prev.lastTransitionTime;
        c.lastTransitionTime = prev.lastTransitionTime ?? c.lastTransitionTime;
      } else {
        c.lastUpdateTime = c.lastTransitionTime;
      }
    }
    const status: Deployment['status'] = {
      ...(d.status ?? {}),
      observedGeneration: d.metadata.generation as number,
      replicas: total,
      updatedReplicas: updated,
      readyReplicas: sum((rs) => rs.status?.readyReplicas),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available, replicas - available),
      conditions,
    };
    this.store.updateStatus('deployments', { ...structuredClone(d), status });
    // The revision annotation follows the new ReplicaSet's.
    const rev = newRS?.metadata.annotations?.[REVISION];
    if (rev && d.metadata.annotations?.[REVISION] !== rev) {
      this.store.patch('deployments', d.metadata.name as string, { metadata: { annotations: { [REVISION]: rev } } }, { namespace: d.metadata.namespace as string });
    }
  }
}

