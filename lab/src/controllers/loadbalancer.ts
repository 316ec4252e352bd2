// The lab's load-balancer controller (what a cloud provider or MetalLB is to a
// real cluster): every Service of type LoadBalancer without a
// loadBalancerClass gets status.loadBalancer.ingress [{ip, ipMode: "VIP"}]
// from a pool (default 198.18.64.0/24), honouring spec.loadBalancerIP when it
// is in the pool and free. The address is released when the Service goes or
// changes type (its status is then cleared). With pools of both families (a
// dual-stack lab), a Service gets one address of each of its ipFamilies that
// has a pool, in ipFamilies order, as MetalLB does.

import { childLogger, silentLogger, type Logger } from '../apiserver/logger.js';
import { serviceIPAllocator, type ServiceIPAllocator } from '../apiserver/service-ip-allocator.js';
import type { Store, WatchHandle } from '../apiserver/store.js';
import type { Service } from '../apiserver/types.js';
import { objectKey, splitKey } from '../apiserver/util.js';
import { WorkQueue } from './workqueue.js';

export const DEFAULT_LB_POOL = '198.18.64.0/24';

export interface LoadBalancerControllerOptions {
  logger?: Logger;
  /** CIDR the ingress addresses come from (default 198.18.64.0/24). */
  pool?: string;
  /** One pool per family (wins over pool). */
  pools?: string[];
}

export class LoadBalancerController {
  private readonly queue: WorkQueue;
  private readonly logger: Logger;
  private readonly pools: ServiceIPAllocator[];
  private handle: WatchHandle | undefined;
  /** Service key -> {uid, ips (one per family served)}. */
  private readonly assigned = new Map<string, { uid: string; ips: string[] }>();

  constructor(
    private readonly store: Store,
    opts: LoadBalancerControllerOptions = {},
  ) {
    this.logger = childLogger(opts.logger ?? silentLogger, { controller: 'loadbalancer' });
    this.pools = (opts.pools ?? [opts.pool ?? DEFAULT_LB_POOL]).map((c) => serviceIPAllocator(c));
    this.queue = new WorkQueue('loadbalancer', (k) => this.reconcile(k), this.logger);
  }

  start(): this {
    // Addresses already in use (a restarted controller) are taken first.
    for (const svc of this.store.peekList('services')) {
      if (svc.spec.type !== 'LoadBalancer') continue;
      const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => !!ip && this.poolOf(ip)?.allocate(ip) === true);
      if (ips.length) this.assigned.set(objectKey(svc.metadata.namespace, svc.metadata.name as string), { uid: svc.metadata.uid as string, ips });
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

  private poolOf(ip: string): ServiceIPAllocator | undefined {
    return this.pools.find((p) => p.contains(ip));
  }

  /** The pools of the Service's families, in ipFamilies order (the first pool when it has none). */
  private poolsFor(svc: Service): ServiceIPAllocator[] {
    const fams = svc.spec.ipFamilies ?? [];
    const out = fams.map((f) => this.pools.find((p) => p.family === f)).filter((p): p is ServiceIPAllocator => !!p);
    return out.length || fams.length ? out : this.pools.slice(0, 1);
  }

  private release(key: string): void {
    const a = this.assigned.get(key);
    if (!a) return;
    for (const ip of a.ips) this.poolOf(ip)?.release(ip);
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
    const pools = this.poolsFor(svc);
    const reqPool = requested ? this.poolOf(requested) : undefined;
    if (a && requested && reqPool && !a.ips.includes(requested) && !reqPool.has(requested)) {
      this.release(key); // the user asked for another address
      a = undefined;
    }
    if (a && (a.ips.length !== pools.length || a.ips.some((ip, i) => !pools[i]!.contains(ip)))) {
      this.release(key); // the Service's families changed
      a = undefined;
    }
    if (!a) {
      const ips: string[] = [];
      for (const pool of pools) {
        let ip: string | undefined;
        if (requested && pool.contains(requested) && pool.allocate(requested)) ip = requested;
        else {
          // Skip addresses other Services ask for (spec.loadBalancerIP).
          const reserved = new Set(
            this.store
              .peekList('services')
              .filter((o) => o.spec.type === 'LoadBalancer' && o.spec.loadBalancerIP && o.metadata.uid !== svc.metadata.uid)
              .map((o) => o.spec.loadBalancerIP as string),
          );
          const skipped: string[] = [];
          while ((ip = pool.allocateNext()) !== undefined && reserved.has(ip)) skipped.push(ip);
          for (const x of skipped) pool.release(x);
        }
        if (!ip) {
          for (const x of ips) this.poolOf(x)?.release(x);
          this.logger.warn({ service: key, pool: pool.cidrText }, 'load-balancer pool exhausted');
          return;
        }
        ips.push(ip);
      }
      if (!ips.length) return;
      a = { uid: svc.metadata.uid as string, ips };
      this.assigned.set(key, a);
      this.logger.info({ service: key, ips }, 'load-balancer address assigned');
    }
    const ingress = a.ips.map((ip) => ({ ip, ipMode: 'VIP' as const }));
    const current = svc.status?.loadBalancer?.ingress;
    if (current?.length === ingress.length && current.every((c, i) => c.ip === ingress[i]!.ip && c.ipMode === 'VIP' && Object.keys(c).length === 2)) return;
    this.store.updateStatus('services', { ...structuredClone(svc), status: { ...(svc.status ?? {}), loadBalancer: { ingress } } });
  }
}
