// Informers on Services, EndpointSlices and Nodes through
// @kubernetes/client-node, exactly as against any cluster. A ListWatch stops
// on errors other than 410, so each informer is restarted with backoff.
import {
  CoreV1Api, DiscoveryV1Api, KubeConfig, makeInformer,
  type KubernetesObject, type ListPromise, type V1EndpointSlice, type V1Node, type V1Service,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface InformerHandlers {
  service(kind: 'add' | 'update' | 'delete', svc: V1Service): void;
  endpointSlice(kind: 'add' | 'update' | 'delete', slice: V1EndpointSlice): void;
  node(kind: 'add' | 'update' | 'delete', node: V1Node): void;
}

export interface RunningInformers {
  /** Resolves when every informer has listed once (caches are warm). */
  synced: Promise<void>;
  stop(): Promise<void>;
  /** Informer errors seen (watch failures, list failures). */
  errors(): number;
}

export function startInformers(kc: KubeConfig, h: InformerHandlers, log: Logger): RunningInformers {
  const core = kc.makeApiClient(CoreV1Api);
  const discovery = kc.makeApiClient(DiscoveryV1Api);
  let stopped = false;
  let errorCount = 0;
  const stoppers: Array<() => Promise<void>> = [];

  function run<T extends KubernetesObject>(name: string, path: string, list: ListPromise<T>, cb: (k: 'add' | 'update' | 'delete', o: T) => void): Promise<void> {
    const inf = makeInformer<T>(kc, path, list);
    inf.on('add', (o) => cb('add', o));
    inf.on('update', (o) => cb('update', o));
    inf.on('delete', (o) => cb('delete', o));
    let delay = 500;
    let markSynced: () => void = () => undefined;
    const listed = new Promise<void>((resolve) => { markSynced = resolve; });
    // start() also resolves when the list failed (the error callback fires
    // instead): the cache is warm only once a resourceVersion is known.
    const hasListed = (): boolean => !!(inf as unknown as { latestResourceVersion?: () => string }).latestResourceVersion?.();
    const start = (): void => {
      if (stopped) return markSynced();
      inf.start().then(() => {
        if (hasListed()) {
          delay = 500;
          markSynced();
        }
      }, () => undefined);
    };
    inf.on('error', (err: unknown) => {
      errorCount++;
      if (stopped) return;
      log.warn({ informer: name, err: String((err as Error)?.message ?? err) }, 'informer failed; restarting');
      setTimeout(start, delay).unref();
      delay = Math.min(delay * 2, 10_000);
    });
    stoppers.push(() => inf.stop());
    start();
    return listed;
  }

  const synced = Promise.all([
    run<V1Service>('services', '/api/v1/services', () => core.listServiceForAllNamespaces(), h.service),
    run<V1EndpointSlice>('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces(), h.endpointSlice),
    run<V1Node>('nodes', '/api/v1/nodes', () => core.listNode(), h.node),
  ]).then(() => undefined);

  return {
    synced,
    errors: () => errorCount,
    async stop() {
      stopped = true;
      await Promise.allSettled(stoppers.map((s) => s()));
    },
  };
}
