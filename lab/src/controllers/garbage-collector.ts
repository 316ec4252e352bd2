// Garbage collector (background cascading deletion): when an object goes, the
// objects whose ownerReferences point at it are deleted (pods gracefully), or
// lose that reference when they have other owners still alive. Objects created
// with owners that don't exist are deleted too, as kube's GC does.
// (Foreground deletion is treated as background; Orphan is done by the store.)

import { QueueController } from './queue-controller.js';
import { ApiError } from '../apiserver/errors.js';
import { type Logger } from '../apiserver/logger.js';
import { RESOURCE_NAMES, RESOURCES, type ResourceName } from '../apiserver/resources.js';
import type { Store } from '../apiserver/store.js';
import type { KubeObject } from '../apiserver/types.js';

export interface GarbageCollectorOptions {
  logger?: Logger;
}

export class GarbageCollector extends QueueController {
  /** uid -> resource, for every live object. */
  private readonly live = new Map<string, ResourceName>();

  constructor(
    private readonly store: Store,
    opts: GarbageCollectorOptions = {},
  ) {
    super('garbage-collector', 'garbage-collector', opts.logger);
  }

  override start(): this {
    for (const res of RESOURCE_NAMES) {
      this.handles.push(
        this.store.watch(res, {}, (ev) => {
          const uid = ev.object.metadata.uid as string;
          if (ev.type === 'DELETED') {
            this.live.delete(uid);
            this.queue.add(`owner:${uid}`);
          } else {
            this.live.set(uid, res);
            if (ev.type === 'ADDED' && ev.object.metadata.ownerReferences?.length) this.queue.add(`dependent:${res}:${uid}`);
          }
        }),
      );
    }
    return this;
  }


  protected reconcile(key: string): void {
    if (key.startsWith('owner:')) {
      const uid = key.slice('owner:'.length);
      if (this.live.has(uid)) return;
      for (const res of RESOURCE_NAMES) {
        for (const o of this.store.peekList(res)) {
          if (o.metadata.ownerReferences?.some((r) => r.uid === uid)) this.collect(res, o);
        }
      }
      return;
    }
    const [, res, uid] = key.split(':') as [string, ResourceName, string];
    const o = this.store.peekList(res).find((x) => x.metadata.uid === uid);
    if (o) this.collect(res, o);
  }

  /** Deletes `o` when none of its owners is alive; drops dead references otherwise. */
  private collect(res: ResourceName, o: KubeObject): void {
    const refs = o.metadata.ownerReferences ?? [];
    const alive = refs.filter((r) => this.live.has(r.uid));
    if (alive.length === refs.length) return;
    const name = o.metadata.name as string;
    const namespace = RESOURCES[res].namespaced ? (o.metadata.namespace as string) : undefined;
    try {
      if (alive.length === 0) {
        if (o.metadata.deletionTimestamp) return;
        this.logger.debug({ resource: res, name, namespace }, 'deleting dependent of a deleted owner');
        this.store.delete(res, name, { ...(namespace ? { namespace } : {}), preconditions: { uid: o.metadata.uid as string } });
      } else {
        const next = structuredClone(o);
        next.metadata.ownerReferences = alive;
        this.store.update(res, next);
      }
    } catch (e) {
      if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
    }
  }
}
