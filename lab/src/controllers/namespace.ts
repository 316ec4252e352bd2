// Namespace controller: a namespace being deleted (deletionTimestamp set,
// phase Terminating) has everything in it deleted (pods gracefully); once it
// is empty, its "kubernetes" finalizer is removed and the store removes it.

import { QueueController } from './queue-controller.js';
import { ApiError } from '../apiserver/errors.js';
import { type Logger } from '../apiserver/logger.js';
import { RESOURCE_NAMES, RESOURCES } from '../apiserver/resources.js';
import type { Store } from '../apiserver/store.js';
import type { Namespace } from '../apiserver/types.js';

export interface NamespaceControllerOptions {
  logger?: Logger;
}

export class NamespaceController extends QueueController {

  constructor(
    private readonly store: Store,
    opts: NamespaceControllerOptions = {},
  ) {
    super('namespace', 'namespaces', opts.logger);
  }

  override start(): this {
    this.handles.push(
      this.store.watch('namespaces', {}, (ev) => {
        if (ev.object.metadata.deletionTimestamp && ev.type !== 'DELETED') this.queue.add(ev.object.metadata.name as string);
      }),
    );
    for (const res of RESOURCE_NAMES) {
      if (!RESOURCES[res].namespaced) continue;
      this.handles.push(
        this.store.watch(res, {}, (ev) => {
          if (ev.type !== 'DELETED') return;
          const ns = this.store.peek('namespaces', ev.object.metadata.namespace as string);
          if (ns?.metadata.deletionTimestamp) this.queue.add(ns.metadata.name as string);
        }),
      );
    }
    return this;
  }


  protected reconcile(name: string): void {
    const ns = this.store.peek('namespaces', name) as Namespace | undefined;
    if (!ns?.metadata.deletionTimestamp) return;
    let remaining = 0;
    for (const res of RESOURCE_NAMES) {
      if (!RESOURCES[res].namespaced) continue;
      for (const o of this.store.peekList(res, { namespace: name })) {
        remaining++;
        if (o.metadata.deletionTimestamp) continue;
        try {
          this.store.delete(res, o.metadata.name as string, { namespace: name });
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
    }
    // Deletions that completed at once are gone already; count again.
    remaining = RESOURCE_NAMES.filter((r) => RESOURCES[r].namespaced).reduce((n, r) => n + this.store.peekList(r, { namespace: name }).length, 0);
    if (remaining > 0) return; // requeued as they go
    const next = structuredClone(ns);
    next.spec = { ...(next.spec ?? {}), finalizers: [] };
    this.store.update('namespaces', next);
    this.logger.info({ namespace: name }, 'namespace removed');
  }
}
