// The lab's object store: what etcd + kube-apiserver's registry are to a real
// cluster, in process. Every write gets the next value of one global,
// monotonically increasing resourceVersion (etcd's revision) and appends an
// event to a bounded per-resource history that watches replay from.
//
// All operations are synchronous. Watch callbacks are called in resourceVersion
// order; a write made from inside a callback is queued and delivered after
// the current event has reached every watcher (so every watcher sees every
// event in order). Objects handed to watch callbacks are frozen and shared;
// get/list/create/update/patch/delete return private copies.

import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  expired,
  forbidden,
  invalid,
  notFound,
  type StatusCause,
} from './errors.js';
import { childLogger, silentLogger, type Logger } from './logger.js';
import { applyPatch, deepEqual, TestFailed, type PatchType } from './patch.js';
import { ReadinessOverrides } from './readiness.js';
import { RESOURCES, RESOURCE_NAMES, fieldSelectorsFor, type ResourceInfo, type ResourceName, type ResourceTypes } from './resources.js';
import {
  formatLabelSelector,
  fromLabelSelectorSpec,
  fromMapSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  type FieldSelector,
  type LabelSelector,
} from './selectors.js';
import { ServiceAllocator, dropTypeDependentFields, type ServiceAllocatorOptions } from './service-admission.js';
import type { KubeObject, Namespace, Pod, ReplicaSet, ReplicationController, Scale, Service } from './types.js';
import { clone, deepFreeze, newUID, objectKey, randomSuffix, rfc3339, setCondition } from './util.js';
import { applyDefaults, isObject, nameError, validateObject } from './validation.js';
import { listItemBytes } from './list-bytes.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  /** Frozen, shared between watchers: clone before modifying. */
  object: T;
}

export interface ListOptions {
  /** Restricts to one namespace (namespaced resources). */
  namespace?: string;
  /** A label selector string ("app=web,tier!=db") or an already parsed one. */
  labelSelector?: string | LabelSelector;
  /** A field selector string ("spec.nodeName=n1") or an already parsed one. */
  fieldSelector?: string | FieldSelector;
}

export interface WatchOptions extends ListOptions {
  /**
   * Unset, "" or "0": synthetic ADDED events for the current objects, then
   * changes. Otherwise: every change after that resourceVersion (410 Expired
   * ApiError if the history no longer reaches back that far).
   */
  resourceVersion?: string;
  /** With a resourceVersion: also send the current objects as ADDED first (streaming list). */
  sendInitialEvents?: boolean;
}

export interface WatchHandle {
  stop(): void;
  readonly stopped: boolean;
}

export interface DeleteOptions {
  namespace?: string;
  /** Pods: grace period (default the pod's terminationGracePeriodSeconds, 30). 0 removes at once. */
  gracePeriodSeconds?: number;
  /** Background (default; the garbage collector removes dependents), Foreground (treated as Background) or Orphan. */
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult<T> {
  /** The object as deleted (with the deletion's resourceVersion) or as now marked for deletion. */
  object: T;
  /** True when the object is gone; false when deletion is pending (grace period, finalizers). */
  deleted: boolean;
}

export interface StoreOptions extends ServiceAllocatorOptions {
  /** Events kept per resource for watches to resume from (default 10000). */
  historySize?: number;
  logger?: Logger;
  /** Namespaces that exist from the start (default ["default", "kube-system"]). */
  initialNamespaces?: string[];
}

interface HistEvent {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: KubeObject;
  prev?: KubeObject;
}

interface History {
  events: HistEvent[];
  /** The resourceVersion of the newest event dropped from the history (0: none dropped). */
  compactedRV: number;
}

interface Watcher {
  res: ResourceName;
  namespace?: string;
  labels: LabelSelector;
  fields: FieldSelector;
  cb: (ev: WatchEvent) => void;
  lastRV: number;
  stopped: boolean;
}

/** Namespaces kube-apiserver refuses to delete. */
const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);
/** Resources whose status kube resets on create (status is written through /status). */
const RESET_STATUS_ON_CREATE = new Set<ResourceName>(['pods', 'services', 'deployments', 'replicasets', 'replicationcontrollers', 'namespaces']);

export class Store {
  readonly historySize: number;
  readonly logger: Logger;
  /** The lab's readiness overrides (set-ready), read by the kubelet controllers. */
  readonly readiness = new ReadinessOverrides();
  readonly services: ServiceAllocator;

  private readonly objects = new Map<ResourceName, Map<string, KubeObject>>();
  private readonly history = new Map<ResourceName, History>();
  private readonly watchers = new Map<ResourceName, Set<Watcher>>();
  private rv = 0;
  private readonly queue: Array<{ res: ResourceName; ev: HistEvent }> = [];
  private dispatching = false;

  constructor(opts: StoreOptions = {}) {
    this.historySize = Math.max(1, opts.historySize ?? 10000);
    this.logger = childLogger(opts.logger ?? silentLogger, { component: 'store' });
    this.services = new ServiceAllocator(opts);
    for (const r of RESOURCE_NAMES) {
      this.objects.set(r, new Map());
      this.history.set(r, { events: [], compactedRV: 0 });
      this.watchers.set(r, new Set());
    }
    for (const ns of opts.initialNamespaces ?? ['default', 'kube-system']) {
      this.create('namespaces', { metadata: { name: ns } });
    }
  }

  /** The newest resourceVersion (what a list returns). */
  /**
   * Forgets the watch history of every resource (as etcd compaction does
   * after an API server restart): a watch from any resourceVersion handed out
   * so far gets 410 Expired, and its client relists. Objects are kept.
   */
  compactHistory(): void {
    this.rv++;
    for (const h of this.history.values()) {
      h.events.length = 0;
      h.compactedRV = this.rv;
    }
  }

  currentResourceVersion(): string {
    return String(this.rv);
  }

  // ------------------------------------------------------------- reads

  get<R extends ResourceName>(res: R, name: string, namespace?: string): ResourceTypes[R] | undefined {
    const o = this.peek(res, name, namespace);
    return o ? clone(o) : undefined;
  }

  /** Like get, but returns the stored (frozen) object itself: no copy. */
  peek<R extends ResourceName>(res: R, name: string, namespace?: string): ResourceTypes[R] | undefined {
    const info = RESOURCES[res];
    return this.bucket(res).get(objectKey(info.namespaced ? namespace || 'default' : undefined, name)) as ResourceTypes[R] | undefined;
  }

  list<R extends ResourceName>(res: R, opts: ListOptions = {}): { items: Array<ResourceTypes[R]>; resourceVersion: string } {
    const items = this.select(res, opts).map((o) => clone(o) as ResourceTypes[R]);
    return { items, resourceVersion: this.currentResourceVersion() };
  }

  /** Like list, without copies: the stored frozen objects. */
  peekList<R extends ResourceName>(res: R, opts: ListOptions = {}): Array<ResourceTypes[R]> {
    return this.select(res, opts) as Array<ResourceTypes[R]>;
  }

  private select(res: ResourceName, opts: ListOptions): KubeObject[] {
    const info = RESOURCES[res];
    const labels = typeof opts.labelSelector === 'string' || opts.labelSelector === undefined ? parseLabelSelector(opts.labelSelector) : opts.labelSelector;
    const fields =
      typeof opts.fieldSelector === 'string' || opts.fieldSelector === undefined
        ? parseFieldSelector(opts.fieldSelector, fieldSelectorsFor(info))
        : opts.fieldSelector;
    const out: KubeObject[] = [];
    const keys = [...this.bucket(res).keys()].sort();
    for (const k of keys) {
      const o = this.bucket(res).get(k) as KubeObject;
      if (info.namespaced && opts.namespace && o.metadata.namespace !== opts.namespace) continue;
      if (!matchesLabels(labels, o.metadata.labels) || !matchesFields(fields, o)) continue;
      out.push(o);
    }
    return out;
  }

  // ------------------------------------------------------------- writes

  create<R extends ResourceName>(res: R, input: unknown, opts: { namespace?: string } = {}): ResourceTypes[R] {
    const info = RESOURCES[res];
    const obj = this.decode(info, input);
    const m = obj.metadata;
    this.resolveNamespace(info, obj, opts.namespace);
    if (m.resourceVersion !== undefined && m.resourceVersion !== '') {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'selfLink']) {
      delete m[f];
    }
    const generated = !m.name && typeof m.generateName === 'string' && m.generateName !== '';
    if (generated) m.name = `${m.generateName as string}${randomSuffix()}`;
    if (RESET_STATUS_ON_CREATE.has(res)) {
      if (res === 'pods') obj.status = { phase: 'Pending', qosClass: 'BestEffort' };
      else if (res === 'namespaces') obj.status = { phase: 'Active' };
      else if (res === 'services') obj.status = { loadBalancer: {} };
      else obj.status = {};
    }
    applyDefaults(info, obj);
    this.mustBeValid(info, obj);
    const bucket = this.bucket(res);
    for (let attempt = 0; bucket.has(this.keyOf(info, obj)); attempt++) {
      if (!generated || attempt >= 8) throw alreadyExists(info, m.name as string);
      m.name = `${m.generateName as string}${randomSuffix()}`;
    }
    if (info.namespaced) this.checkNamespaceWritable(m.namespace as string);
    if (res === 'services') this.services.admitCreate(obj as Service);
    if (info.namespaced) this.ensureNamespace(m.namespace as string);
    m.uid = newUID();
    m.creationTimestamp = rfc3339();
    if (info.tracksGeneration) m.generation = 1;
    return clone(this.commit(res, 'ADDED', obj)) as ResourceTypes[R];
  }

  /**
   * PUT. The main resource ignores status changes for resources with a status
   * subresource; `subresource: "status"` changes only the status. A
   * metadata.resourceVersion in the object is a precondition (409 Conflict).
   */
  update<R extends ResourceName>(res: R, input: unknown, opts: { namespace?: string; subresource?: 'status' } = {}): ResourceTypes[R] {
    const info = RESOURCES[res];
    const obj = this.decode(info, input);
    this.resolveNamespace(info, obj, opts.namespace);
    const name = obj.metadata.name;
    if (typeof name !== 'string' || name === '') throw invalid(info, '', [{ field: 'metadata.name', message: 'Required value: name is required' }]);
    const old = this.bucket(res).get(this.keyOf(info, obj));
    if (!old) throw notFound(info, name);
    this.checkPreconditions(info, old, obj.metadata.uid, obj.metadata.resourceVersion);

    let next: KubeObject;
    if (opts.subresource === 'status') {
      if (!info.hasStatus) throw notFound(info, `${name}/status`);
      next = clone(old);
      if (obj.status === undefined) delete next.status;
      else next.status = obj.status;
    } else {
      next = obj;
      const m = next.metadata;
      for (const f of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
        if (old.metadata[f] === undefined) delete m[f];
        else m[f] = old.metadata[f] as never;
      }
      delete m.managedFields;
      delete m.selfLink;
      if (info.hasStatus) {
        if (old.status === undefined) delete next.status;
        else next.status = clone(old.status);
      }
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion as string;
    return clone(this.commitUpdate(info, next, old)) as ResourceTypes[R];
  }

  updateStatus<R extends ResourceName>(res: R, input: unknown, opts: { namespace?: string } = {}): ResourceTypes[R] {
    return this.update(res, input, { ...opts, subresource: 'status' });
  }

  /** PATCH (merge, strategic-as-merge or JSON patch) of the object or its status. */
  patch<R extends ResourceName>(
    res: R,
    name: string,
    patchBody: unknown,
    opts: { namespace?: string; type?: PatchType; subresource?: 'status' } = {},
  ): ResourceTypes[R] {
    const info = RESOURCES[res];
    const old = this.peek(res, name, opts.namespace);
    if (!old) throw notFound(info, name);
    let patched: unknown;
    try {
      patched = applyPatch(opts.type ?? 'merge', clone(old), patchBody);
    } catch (e) {
      if (e instanceof TestFailed) throw invalid(info, name, [{ message: e.message }]);
      throw e;
    }
    if (!isObject(patched) || !isObject(patched.metadata)) throw badRequest('the patch produced an object without metadata');
    const pm = patched.metadata as Record<string, unknown>;
    if (pm.name !== name) throw badRequest(`the name of the object (${String(pm.name)}) does not match the name on the URL (${name})`);
    if (info.namespaced && pm.namespace !== old.metadata.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return this.update(res, patched, { namespace: old.metadata.namespace, ...(opts.subresource ? { subresource: opts.subresource } : {}) });
  }

  delete<R extends ResourceName>(res: R, name: string, opts: DeleteOptions = {}): DeleteResult<ResourceTypes[R]> {
    const info = RESOURCES[res];
    const key = objectKey(info.namespaced ? opts.namespace || 'default' : undefined, name);
    const old = this.bucket(res).get(key);
    if (!old) throw notFound(info, name);
    if (opts.preconditions) this.checkPreconditions(info, old, opts.preconditions.uid, opts.preconditions.resourceVersion);
    if (opts.gracePeriodSeconds !== undefined && (!Number.isInteger(opts.gracePeriodSeconds))) {
      throw badRequest('gracePeriodSeconds must be an integer');
    }
    const m = old.metadata;
    const finalizers = this.pendingFinalizers(res, old);

    if (res === 'namespaces') {
      if (PROTECTED_NAMESPACES.has(name)) throw forbidden(`namespaces "${name}" is forbidden: this namespace may not be deleted`);
      if (m.deletionTimestamp) return { object: clone(old) as ResourceTypes[R], deleted: false };
      const next = clone(old) as Namespace;
      next.metadata.deletionTimestamp = rfc3339();
      next.metadata.deletionGracePeriodSeconds = 0;
      next.status = { ...(next.status ?? {}), phase: 'Terminating' };
      return { object: clone(this.commit(res, 'MODIFIED', next, old)) as ResourceTypes[R], deleted: false };
    }

    let grace = 0;
    if (res === 'pods') {
      const pod = old as Pod;
      grace = opts.gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
      if (grace < 0) grace = 1;
      const phase = pod.status?.phase;
      if (!pod.spec.nodeName || phase === 'Succeeded' || phase === 'Failed') grace = 0;
    }
    if (m.deletionTimestamp) {
      const current = m.deletionGracePeriodSeconds ?? 0;
      if (res !== 'pods' || grace >= current) return { object: clone(old) as ResourceTypes[R], deleted: false };
      if (grace > 0 || finalizers.length > 0) return { object: clone(this.markDeleting(res, old, grace)) as ResourceTypes[R], deleted: false };
    } else if (grace > 0 || finalizers.length > 0) {
      return { object: clone(this.markDeleting(res, old, grace)) as ResourceTypes[R], deleted: false };
    }
    if (opts.propagationPolicy === 'Orphan') this.orphanDependents(m.uid as string);
    return { object: clone(this.remove(res, old)) as ResourceTypes[R], deleted: true };
  }

  /** pods/binding: assigns a pending pod to a node (what the scheduler does). */
  bind(name: string, namespace: string, nodeName: string): Pod {
    const info = RESOURCES.pods;
    const old = this.peek('pods', name, namespace);
    if (!old) throw notFound(info, name);
    if (old.metadata.deletionTimestamp) throw conflict(info, name, 'pod is being deleted, cannot be assigned to a host');
    if (old.spec.nodeName) throw conflict(info, name, `pod ${name} is already assigned to node "${old.spec.nodeName}"`);
    if (!nodeName) throw invalid(info, name, [{ field: 'target.name', message: 'Required value' }]);
    const next = clone(old) as Pod;
    next.spec.nodeName = nodeName;
    next.status = { ...(next.status ?? {}), conditions: setCondition(next.status?.conditions, 'PodScheduled', 'True', { lastProbeTime: null }) };
    return clone(this.commit('pods', 'MODIFIED', next, old)) as Pod;
  }

  // -------------------------------------------------------------- scale

  getScale(res: 'deployments' | 'replicasets' | 'replicationcontrollers', name: string, namespace?: string): Scale {
    const info = RESOURCES[res];
    const o = this.peek(res, name, namespace);
    if (!o) throw notFound(info, name);
    const sel =
      res === 'replicationcontrollers'
        ? fromMapSelector((o as ReplicationController).spec.selector)
        : fromLabelSelectorSpec((o as ReplicaSet).spec.selector);
    const status = (o.status ?? {}) as { replicas?: number };
    return {
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: {
        name,
        namespace: o.metadata.namespace as string,
        uid: o.metadata.uid as string,
        resourceVersion: o.metadata.resourceVersion as string,
        creationTimestamp: o.metadata.creationTimestamp as string,
      },
      spec: { replicas: (o.spec as { replicas?: number }).replicas ?? 0 },
      status: { replicas: status.replicas ?? 0, selector: formatLabelSelector(sel) },
    };
  }

  updateScale(res: 'deployments' | 'replicasets' | 'replicationcontrollers', name: string, scale: unknown, namespace?: string): Scale {
    const info = RESOURCES[res];
    const o = this.peek(res, name, namespace);
    if (!o) throw notFound(info, name);
    if (!isObject(scale)) throw badRequest('a Scale object is required');
    const sm = isObject(scale.metadata) ? scale.metadata : {};
    if (sm.name !== undefined && sm.name !== name) throw badRequest(`the name of the object (${String(sm.name)}) does not match the name on the URL (${name})`);
    const replicas = isObject(scale.spec) ? scale.spec.replicas : undefined;
    if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 0)) {
      throw invalid({ name: 'scale', group: 'autoscaling', kind: 'Scale' }, name, [
        { field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` },
      ]);
    }
    this.checkPreconditions(info, o, sm.uid as string | undefined, sm.resourceVersion as string | undefined);
    const next = clone(o) as KubeObject & { spec: { replicas?: number } };
    next.spec.replicas = (replicas as number | undefined) ?? 0;
    this.update(res, next, { namespace: o.metadata.namespace as string });
    return this.getScale(res, name, o.metadata.namespace);
  }

  patchScale(res: 'deployments' | 'replicasets' | 'replicationcontrollers', name: string, patchBody: unknown, type: PatchType, namespace?: string): Scale {
    const current = this.getScale(res, name, namespace);
    const patched = applyPatch(type, current, patchBody);
    return this.updateScale(res, name, patched, namespace);
  }

  // -------------------------------------------------------------- watch

  /**
   * Watches a resource. Throws a 410 Expired ApiError when `resourceVersion`
   * is older than the kept history. The callback runs synchronously with
   * writes; it must not throw (errors are logged and swallowed).
   */
  watch<R extends ResourceName>(res: R, opts: WatchOptions, cb: (ev: WatchEvent<ResourceTypes[R]>) => void): WatchHandle {
    const info = RESOURCES[res];
    const labels = typeof opts.labelSelector === 'string' || opts.labelSelector === undefined ? parseLabelSelector(opts.labelSelector) : opts.labelSelector;
    const fields =
      typeof opts.fieldSelector === 'string' || opts.fieldSelector === undefined
        ? parseFieldSelector(opts.fieldSelector, fieldSelectorsFor(info))
        : opts.fieldSelector;
    const w: Watcher = {
      res,
      ...(info.namespaced && opts.namespace ? { namespace: opts.namespace } : {}),
      labels,
      fields,
      cb: cb as (ev: WatchEvent) => void,
      lastRV: this.rv,
      stopped: false,
    };
    const rvText = opts.resourceVersion ?? '';
    if (rvText === '' || rvText === '0' || opts.sendInitialEvents) {
      if (rvText !== '' && rvText !== '0') this.parseRV(rvText);
      for (const o of this.select(res, { ...(w.namespace ? { namespace: w.namespace } : {}), labelSelector: labels, fieldSelector: fields })) {
        this.deliver(w, { type: 'ADDED', object: o });
        if (w.stopped) break;
      }
    } else {
      const from = this.parseRV(rvText);
      const h = this.history.get(res) as History;
      if (from < h.compactedRV) {
        throw expired(`too old resource version: ${from} (${h.compactedRV})`);
      }
      w.lastRV = from;
      for (const ev of h.events) {
        if (ev.rv <= from) continue;
        this.offer(w, ev);
        if (w.stopped) break;
      }
      w.lastRV = Math.max(w.lastRV, this.rv);
    }
    if (!w.stopped) this.watchers.get(res)?.add(w);
    const set = this.watchers.get(res) as Set<Watcher>;
    return {
      stop: () => {
        w.stopped = true;
        set.delete(w);
      },
      get stopped() {
        return w.stopped;
      },
    };
  }

  /** Number of active watches (all resources). */
  watchCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  // ----------------------------------------------------------- internals

  private bucket(res: ResourceName): Map<string, KubeObject> {
    return this.objects.get(res) as Map<string, KubeObject>;
  }

  private keyOf(info: ResourceInfo, obj: KubeObject): string {
    return objectKey(info.namespaced ? obj.metadata.namespace : undefined, obj.metadata.name as string);
  }

  private parseRV(text: string): number {
    if (!/^\d+$/.test(text)) throw badRequest(`invalid resource version ${JSON.stringify(text)}`);
    return Number(text);
  }

  /** Checks the body is an object of the right kind, returns a private copy with metadata. */
  private decode(info: ResourceInfo, input: unknown): KubeObject {
    if (!isObject(input)) throw badRequest(`the body of the request must be a ${info.kind} object`);
    // A JSON round trip: drops undefined members (so no-op writes compare equal) and non-JSON values.
    const obj = JSON.parse(JSON.stringify(input)) as KubeObject;
    if (obj.kind !== undefined && obj.kind !== info.kind) {
      throw badRequest(`the kind of the object (${String(obj.kind)}) does not match the expected kind (${info.kind})`);
    }
    if (obj.apiVersion !== undefined && obj.apiVersion !== info.apiVersion) {
      throw badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${info.apiVersion})`);
    }
    if (obj.metadata === undefined) obj.metadata = {};
    if (!isObject(obj.metadata)) throw badRequest('metadata must be an object');
    obj.kind = info.kind;
    obj.apiVersion = info.apiVersion;
    return obj;
  }

  private resolveNamespace(info: ResourceInfo, obj: KubeObject, requested: string | undefined): void {
    const m = obj.metadata;
    if (!info.namespaced) {
      delete m.namespace;
      return;
    }
    if (m.namespace !== undefined && typeof m.namespace !== 'string') throw badRequest('metadata.namespace must be a string');
    if (requested && m.namespace && m.namespace !== requested) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    m.namespace = requested || m.namespace || 'default';
  }

  private mustBeValid(info: ResourceInfo, obj: KubeObject, old?: KubeObject): void {
    const causes: StatusCause[] = validateObject(info, obj, old);
    if (causes.length) throw invalid(info, String(obj.metadata.name ?? ''), causes);
  }

  private checkPreconditions(info: ResourceInfo, old: KubeObject, uid: unknown, rv: unknown): void {
    const name = old.metadata.name as string;
    if (typeof uid === 'string' && uid !== '' && uid !== old.metadata.uid) {
      throw conflict(info, name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${old.metadata.uid}`);
    }
    if (typeof rv === 'string' && rv !== '' && rv !== old.metadata.resourceVersion) {
      throw conflict(info, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
  }

  /** 403 when the namespace is being deleted; 404 when it can't exist (invalid name). */
  private checkNamespaceWritable(ns: string): void {
    const existing = this.bucket('namespaces').get(ns);
    if (existing?.metadata.deletionTimestamp) {
      throw forbidden(`unable to create new content in namespace ${ns} because it is being terminated`);
    }
    if (!existing && nameError(RESOURCES.namespaces, ns)) throw notFound(RESOURCES.namespaces, ns);
  }

  private ensureNamespace(ns: string): void {
    if (this.bucket('namespaces').has(ns)) return;
    // Lab convenience: a missing namespace is created on first use.
    this.create('namespaces', { metadata: { name: ns } });
  }

  private pendingFinalizers(res: ResourceName, o: KubeObject): string[] {
    const list = [...(o.metadata.finalizers ?? [])];
    if (res === 'namespaces') list.push(...((o as Namespace).spec?.finalizers ?? []));
    return list;
  }

  private commitUpdate(info: ResourceInfo, next: KubeObject, old: KubeObject): KubeObject {
    const res = info.name;
    if (res === 'services') dropTypeDependentFields(next as Service, old as Service);
    applyDefaults(info, next);
    this.mustBeValid(info, next, old);
    if (res === 'services' && !deepEqual((next as Service).spec, (old as Service).spec)) {
      this.services.admitUpdate(next as Service, old as Service);
    }
    if (info.tracksGeneration) {
      const changed = info.specFields.some((f) => !deepEqual(next[f], old[f]));
      next.metadata.generation = ((old.metadata.generation as number | undefined) ?? 1) + (changed ? 1 : 0);
    }
    if (deepEqual(next, old)) return old; // no-op write: no new resourceVersion, no event
    if (next.metadata.deletionTimestamp && this.pendingFinalizers(res, next).length === 0 && (next.metadata.deletionGracePeriodSeconds ?? 0) === 0) {
      return this.remove(res, next);
    }
    return this.commit(res, 'MODIFIED', next, old);
  }

  private markDeleting(res: ResourceName, old: KubeObject, grace: number): KubeObject {
    const next = clone(old);
    next.metadata.deletionTimestamp = rfc3339(new Date(Date.now() + grace * 1000));
    next.metadata.deletionGracePeriodSeconds = grace;
    // kube bumps generation when an object's deletion starts
    if (next.metadata.generation !== undefined) next.metadata.generation = (next.metadata.generation as number) + 1;
    return this.commit(res, 'MODIFIED', next, old);
  }

  private orphanDependents(uid: string): void {
    for (const res of RESOURCE_NAMES) {
      for (const o of [...this.bucket(res).values()]) {
        const refs = o.metadata.ownerReferences;
        if (!refs?.some((r) => r.uid === uid)) continue;
        const next = clone(o);
        const kept = refs.filter((r) => r.uid !== uid);
        if (kept.length) next.metadata.ownerReferences = kept;
        else delete next.metadata.ownerReferences;
        this.commit(res, 'MODIFIED', next, o);
      }
    }
  }

  /** Really removes an object; emits DELETED carrying a fresh resourceVersion. */
  private remove(res: ResourceName, last: KubeObject): KubeObject {
    const inf = RESOURCES[res];
    const key = this.keyOf(inf, last);
    const prev = this.bucket(res).get(key);
    this.bucket(res).delete(key);
    const rv = ++this.rv;
    const gone = clone(last);
    gone.metadata.resourceVersion = String(rv);
    deepFreeze(gone);
    if (res === 'services') this.services.release(gone as Service);
    if (res === 'pods') this.readiness.forget(gone.metadata.uid as string);
    this.emit(res, { rv, type: 'DELETED', object: gone, ...(prev ? { prev } : {}) });
    return gone;
  }

  private commit(res: ResourceName, type: 'ADDED' | 'MODIFIED', obj: KubeObject, prev?: KubeObject): KubeObject {
    const rv = ++this.rv;
    obj.metadata.resourceVersion = String(rv);
    deepFreeze(obj);
    // Serialized once now, while it is written, so no list pays for it.
    listItemBytes(obj);
    this.bucket(res).set(this.keyOf(RESOURCES[res], obj), obj);
    this.emit(res, { rv, type, object: obj, ...(prev ? { prev } : {}) });
    return obj;
  }

  private emit(res: ResourceName, ev: HistEvent): void {
    const h = this.history.get(res) as History;
    h.events.push(ev);
    if (h.events.length > this.historySize) {
      const drop = h.events.length - this.historySize;
      const dropped = h.events.splice(0, drop);
      h.compactedRV = (dropped[dropped.length - 1] as HistEvent).rv;
    }
    this.queue.push({ res, ev });
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.queue.length) {
        const item = this.queue.shift() as { res: ResourceName; ev: HistEvent };
        for (const w of [...(this.watchers.get(item.res) as Set<Watcher>)]) this.offer(w, item.ev);
      }
    } finally {
      this.dispatching = false;
    }
  }

  /** Filters one history event for a watcher (selector transitions become ADDED/DELETED, as in kube). */
  private offer(w: Watcher, ev: HistEvent): void {
    if (w.stopped || ev.rv <= w.lastRV) return;
    w.lastRV = ev.rv;
    const match = (o: KubeObject | undefined): boolean =>
      !!o &&
      (!w.namespace || o.metadata.namespace === w.namespace) &&
      matchesLabels(w.labels, o.metadata.labels) &&
      matchesFields(w.fields, o);
    if (ev.type === 'MODIFIED') {
      const now = match(ev.object);
      const before = match(ev.prev);
      if (now && before) this.deliver(w, { type: 'MODIFIED', object: ev.object });
      else if (now) this.deliver(w, { type: 'ADDED', object: ev.object });
      else if (before) this.deliver(w, { type: 'DELETED', object: ev.object });
    } else if (match(ev.object)) {
      this.deliver(w, { type: ev.type, object: ev.object });
    }
  }

  private deliver(w: Watcher, ev: WatchEvent): void {
    try {
      w.cb(ev);
    } catch (e) {
      this.logger.error({ err: e, resource: w.res }, 'watch callback threw');
    }
  }
}

export { ApiError };
