// The scheduler: binds pending pods (no spec.nodeName, schedulerName
// "default-scheduler") to the Ready, schedulable node running the fewest
// pods (ties: node name order), through pods/binding. Pods that can't be
// placed get PodScheduled=False/Unschedulable and are retried when nodes change.

import { QueueController } from './queue-controller.js';
import { type Logger } from '../apiserver/logger.js';
import type { Store } from '../apiserver/store.js';
import type { Pod } from '../apiserver/types.js';
import { getCondition, objectKey, setCondition, splitKey } from '../apiserver/util.js';
import { isNodeReady, isTerminal } from './podutil.js';

export interface SchedulerOptions {
  logger?: Logger;
}

export class Scheduler extends QueueController {

  constructor(
    private readonly store: Store,
    opts: SchedulerOptions = {},
  ) {
    super('scheduler', 'scheduler', opts.logger);
  }

  override start(): this {
    this.handles.push(
      this.store.watch('pods', { fieldSelector: 'spec.nodeName=' }, (ev) => {
        if (ev.type !== 'DELETED') this.queue.add(objectKey(ev.object.metadata.namespace, ev.object.metadata.name as string));
      }),
      this.store.watch('nodes', {}, () => this.requeuePending()),
    );
    return this;
  }


  private requeuePending(): void {
    for (const p of this.store.peekList('pods', { fieldSelector: 'spec.nodeName=' })) {
      this.queue.add(objectKey(p.metadata.namespace, p.metadata.name as string));
    }
  }

  /** The node a new pod would go to (undefined: none fits). */
  pickNode(): string | undefined {
    const counts = new Map<string, number>();
    for (const n of this.store.peekList('nodes')) {
      if (isNodeReady(n) && !n.spec?.unschedulable) counts.set(n.metadata.name as string, 0);
    }
    for (const p of this.store.peekList('pods')) {
      const node = p.spec.nodeName;
      if (node && counts.has(node) && !isTerminal(p)) counts.set(node, (counts.get(node) as number) + 1);
    }
    let best: string | undefined;
    let bestCount = Infinity;
    for (const name of [...counts.keys()].sort()) {
      const c = counts.get(name) as number;
      if (c < bestCount) {
        best = name;
        bestCount = c;
      }
    }
    return best;
  }

  protected reconcile(key: string): void {
    const { namespace, name } = splitKey(key);
    const pod = this.store.peek('pods', name, namespace) as Pod | undefined;
    if (!pod || pod.spec.nodeName || pod.metadata.deletionTimestamp || isTerminal(pod)) return;
    if ((pod.spec.schedulerName ?? 'default-scheduler') !== 'default-scheduler') return;
    const node = this.pickNode();
    if (!node) {
      const cond = getCondition(pod.status?.conditions, 'PodScheduled');
      if (cond?.status !== 'False' || cond.reason !== 'Unschedulable') {
        const next = structuredClone(pod) as Pod;
        next.status = {
          ...(next.status ?? {}),
          conditions: setCondition(pod.status?.conditions, 'PodScheduled', 'False', {
            reason: 'Unschedulable',
            message: '0/0 nodes are available: no Ready, schedulable node.',
            lastProbeTime: null,
          }),
        };
        this.store.updateStatus('pods', next);
      }
      return;
    }
    this.store.bind(name, namespace, node);
    this.logger.debug({ pod: key, node }, 'pod bound');
  }
}
