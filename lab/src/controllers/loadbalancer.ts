// The lab's load-balancer controller (what a cloud provider or MetalLB is to a
// real cluster): every Service of type LoadBalancer without a
// loadBalancerClass gets status.loadBalancer.ingress [{ip, ipMode: "VIP"}]
// from a pool (default 198.18.64.0/24), honouring spec.loadBalancerIP when it
// is in the pool and free. The address is released when the Service goes or
// changes type (its status is then cleared).

import { childLogger, silentLogger, type Logger } from '../apiserver/logger.js';
import { IPAllocator } from '../apiserver/ip.js';
import type { Store, WatchHandle } from '../apiserver/store.js';
import type { Service } from '../apiserver/types.js';
import { objectKey, splitKey } from '../apiserver/util.js';
import { WorkQueue } from './workqueue.js';

export const DEFAULT_LB_POOL = '198.18.64.0/24';

export interface LoadBalancerControllerOptions {
  logger?: Logger;
  /** CIDR the ingress addresses come from (default 198.18.64.0/24). */
  pool?: string;
}

export class LoadBalancerController {
  private readonly queue: WorkQueue;
  private readonly logger: Logger;
  private readonly pool: IPAllocator;
  private handle: WatchHandle | undefined;
  /** Service key -> {uid, ip}. */
  private readonly assigned = new Map<string, { uid: string; ip: string }>();

  constructor(
    private readonly store: Store,
    opts: LoadBalancerControllerOptions = {},
  ) {
    this.logger = childLogger(opts.logger ?? silentLogger, { controller: 'loadbalancer' });
    this.pool = new IPAllocator(opts.pool ?? DEFAULT_LB_POOL);
    this.queue = new WorkQueue('loadbalancer', (k) => this.reconcile(k), this.logger);
  }

  start(): this {
    // Addresses already in use (a restarted controller) are taken first.
    for (const svc of this.store.peekList('services')) {
      const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
      if (svc.spec.type === 'LoadBalancer' && ip && this.pool.allocate(ip)) {
        this.assigned.set(objectKey(svc.metadata.namespace, svc.metadata.name as string), { uid: svc.metadata.uid as string, ip });
      }
    }
    this.handle = this.store.watch('services', {}, (ev) => this.queue.add(objectKey(ev.object.metadata.namespace, ev.object.metadata.name as string)));
    return this;
  }

  stop(): void {
    this.handle?.stop();
    this.queue.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private release(key: string): void {
    const a = this.assigned.get(key);
    if (!a) return;
    this.pool.release(a.ip);
    this.assigned.delete(key);
    // Services waiting for an address (pool exhausted) get another chance.
    for (const svc of this.store.peekList('services')) {
      const k = objectKey(svc.metadata.namespace, svc.metadata.name as string);
      if (k !== key && svc.spec.type === 'LoadBalancer' && !this.assigned.has(k)) this.queue.add(k);
    }
  }

  private reconcile(key: string): void {
    const { namespace, name } = splitKey(key);
    const svc = this.store.peek('services', name, namespace) as Service | undefined;
    const mine = this.assigned.get(key);
    if (mine && (!svc || svc.metadata.uid !== mine.uid)) this.release(key);
    if (!svc) return;
    const wants = svc.spec.type === 'LoadBalancer' && !svc.spec.loadBalancerClass;
    if (!wants) {
      const had = this.assigned.has(key);
      this.release(key);
      if (had && svc.status?.loadBalancer?.ingress?.length) {
        this.store.updateStatus('services', { ...structuredClone(svc), status: { ...(svc.status ?? {}), loadBalancer: {} } });
      }
      return;
    }
    let a = this.assigned.get(key);
    const requested = svc.spec.loadBalancerIP;
    if (a && requested && requested !== a.ip && this.pool.contains(requested) && !this.pool.has(requested)) {
      this.release(key); // the user asked for another address
      a = undefined;
    }
    if (!a) {
      let ip: string | undefined;
      if (requested && this.pool.allocate(requested)) ip = requested;
      else {
        // Skip addresses other Services ask for (spec.loadBalancerIP).
        const reserved = new Set(
          this.store
            .peekList('services')
            .filter((o) => o.spec.type === 'LoadBalancer' && o.spec.loadBalancerIP && o.metadata.uid !== svc.metadata.uid)
            .map((o) => o.spec.loadBalancerIP as string),
        );
        const skipped: string[] = [];
        while ((ip = this.pool.allocateNext()) !== undefined && reserved.has(ip)) skipped.push(ip);
        for (const x of skipped) this.pool.release(x);
      }
      if (!ip) {
        this.logger.warn({ service: key }, 'load-balancer pool exhausted');
        return;
      }
      a = { uid: svc.metadata.uid as string, ip };
      this.assigned.set(key, a);
      this.logger.info({ service: key, ip }, 'load-balancer address assigned');
    }
    const ingress = [{ ip: a.ip, ipMode: 'VIP' as const }];
    const current = svc.status?.loadBalancer?.ingress;
    if (current?.length === 1 && current[0]?.ip === a.ip && current[0]?.ipMode === 'VIP' && Object.keys(current[0]).length === 2) return;
    this.store.updateStatus('services', { ...structuredClone(svc), status: { ...(svc.status ?? {}), loadBalancer: { ingress } } });
  }
}
