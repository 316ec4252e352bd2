// Informers on Services, EndpointSlices and Nodes through
// @kubernetes/client-node, exactly as against any cluster. A ListWatch stops
// on errors other than 410, so each informer is restarted with backoff; a
// watch resumed from a resourceVersion the server no longer has gets 410 and
// client-node relists (deletions found by the relist are delivered).
//
// The API server can go away: while it does, nothing here touches the
// datapath (the caches keep their last state), the outage is reported by
// connectivity() and in the log, and every informer reconnects with backoff
// (0.5 s doubling to 5 s). A watch that delivers nothing for
// `watchSilenceMs` (a connection that stalled without closing) is aborted and
// resumed from its last resourceVersion.
//
// The caches hold lean plain objects (lean-objects.ts, plain-list-watch.ts):
// only what the handlers read, in the shape the watch delivers.
import type { KubeConfig, KubernetesObject, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { leanEndpointSlice, leanNode, leanOrAsIs, leanService } from './lean-objects.js';
import { makePlainInformer } from './plain-list-watch.js';

export interface InformerHandlers {
  service(kind: 'add' | 'update' | 'delete', svc: V1Service): void;
  endpointSlice(kind: 'add' | 'update' | 'delete', slice: V1EndpointSlice): void;
  node(kind: 'add' | 'update' | 'delete', node: V1Node): void;
}

export interface InformerOptions {
  /** Restart a watch that delivered nothing for this long, ms (0: never). */
  watchSilenceMs?: number;
  /** Watch only this Node (a field selector, as kube-proxy does); unset: every Node. */
  nodeName?: string;
}

/** What the agent knows about its API server connection. */
export interface ApiServerConnectivity {
  /** Every informer has listed and its watch is established. */
  connected: boolean;
  /** When the current outage began (ms since epoch), while not connected. */
  disconnectedSince: number | undefined;
  lastError: string | undefined;
  /** Outages seen (connected -> not connected). */
  outages: number;
  /** Watches restarted because they went silent. */
  silentWatchRestarts: number;
  /** Informers that are not connected. */
  down: string[];
}

export interface RunningInformers {
  /** Resolves when every informer has listed once (caches are warm). */
  synced: Promise<void>;
  stop(): Promise<void>;
  /** Informer errors seen (watch failures, list failures). */
  errors(): number;
  connectivity(): ApiServerConnectivity;
}

interface InformerState { name: string; connected: boolean; lastActivity: number }

export function startInformers(kc: KubeConfig, h: InformerHandlers, log: Logger, opts: InformerOptions = {}): RunningInformers {
  const silenceMs = opts.watchSilenceMs ?? 0;
  let stopped = false;
  let errorCount = 0;
  const stoppers: Array<() => Promise<void>> = [];
  const watchdogs: Array<() => void> = [];
  const states: InformerState[] = [];
  let disconnectedSince: number | undefined = Date.now();
  let lastError: string | undefined;
  let outages = 0;
  let silentWatchRestarts = 0;
  let everConnected = false;

  // The whole agent's view: connected when every informer is.
  const updateOverall = (): void => {
    const allUp = states.every((s) => s.connected);
    if (allUp && disconnectedSince !== undefined) {
      const downFor = Date.now() - disconnectedSince;
      if (everConnected) log.info({ outageMs: downFor }, 'API server reachable again: caches relisted or watches resumed; syncing');
      everConnected = true;
      disconnectedSince = undefined;
    } else if (!allUp && disconnectedSince === undefined) {
      disconnectedSince = Date.now();
      outages++;
      log.warn({ err: lastError }, 'API server unreachable: the datapath keeps its last state; reconnecting with backoff');
    }
  };

  function run<T extends KubernetesObject>(name: string, path: string, lean: (o: T) => T, cb: (k: 'add' | 'update' | 'delete', o: T) => void, fieldSelector?: string): Promise<void> {
    const inf = makePlainInformer<T>(kc, path, leanOrAsIs(lean), fieldSelector);
    const st: InformerState = { name, connected: false, lastActivity: Date.now() };
    states.push(st);
    const active = (): void => {
      st.lastActivity = Date.now();
    };
    inf.on('add', (o) => { active(); cb('add', o); });
    inf.on('update', (o) => { active(); cb('update', o); });
    inf.on('delete', (o) => { active(); cb('delete', o); });
    let delay = 500;
    let errorsHere = 0;
    let silentAbort = false;
    let lastFailure: string | undefined;
    let markSynced: () => void = () => undefined;
    const listed = new Promise<void>((resolve) => { markSynced = resolve; });
    // start() also resolves when the list or watch failed (the error callback
    // fires first): the cache is warm only once a resourceVersion is known.
    const hasListed = (): boolean => !!(inf as unknown as { latestResourceVersion?: () => string }).latestResourceVersion?.();
    const start = (): void => {
      if (stopped) return markSynced();
      const before = errorsHere;
      inf.start().then(() => {
        if (errorsHere !== before || !hasListed()) return;
        delay = 500;
        active();
        st.connected = true;
        updateOverall();
        markSynced();
      }, () => undefined);
    };
    inf.on('error', (err: unknown) => {
      errorCount++;
      errorsHere++;
      if (stopped) return;
      const msg = String((err as Error)?.message ?? err);
      if (silentAbort) {
        silentAbort = false; // our own abort of a silent watch: resume at once
        setTimeout(start, 0).unref();
        return;
      }
      lastError = `${name}: ${msg}`;
      const wasConnected = st.connected;
      st.connected = false;
      updateOverall();
      if (wasConnected) log.warn({ informer: name, err: msg }, 'informer failed; restarting with backoff');
      // Never connected yet (a wrong CA, a refused token, an API server not up):
      // say why once per distinct error, so a node that cannot start says so.
      else if (msg !== lastFailure) log.warn({ informer: name, err: msg, retryInMs: delay }, 'informer cannot list or watch; retrying with backoff');
      else log.debug({ informer: name, err: msg, retryInMs: delay }, 'informer still failing; retrying');
      lastFailure = msg;
      setTimeout(start, delay).unref();
      delay = Math.min(delay * 2, 5_000);
    });
    stoppers.push(() => inf.stop());
    if (silenceMs > 0) {
      watchdogs.push(() => {
        if (!st.connected || Date.now() - st.lastActivity < silenceMs) return;
        // client-node keeps the watch's AbortController as `request`; aborting
        // it ends the watch with an error, and start() resumes from the last
        // resourceVersion (a relist only if the server answers 410).
        const req = (inf as unknown as { request?: { abort(): void } }).request;
        if (!req) return;
        silentWatchRestarts++;
        log.warn({ informer: name, silentMs: Date.now() - st.lastActivity }, 'watch delivered nothing for longer than the watch silence timeout; restarting it');
        st.lastActivity = Date.now();
        silentAbort = true;
        req.abort();
      });
    }
    start();
    return listed;
  }

  const synced = Promise.all([
    run<V1Service>('services', '/api/v1/services', leanService, h.service),
    run<V1EndpointSlice>('endpointslices', '/apis/discovery.k8s.io/v1/endpointslices', leanEndpointSlice, h.endpointSlice),
    run<V1Node>('nodes', '/api/v1/nodes', leanNode, h.node, opts.nodeName ? `metadata.name=${opts.nodeName}` : undefined),
  ]).then(() => undefined);
  const watchdogTimer = silenceMs > 0
    ? setInterval(() => watchdogs.forEach((w) => w()), Math.max(100, Math.min(silenceMs / 4, 5000)))
    : undefined;
  watchdogTimer?.unref();

  return {
    synced,
    errors: () => errorCount,
    connectivity: () => ({
      connected: disconnectedSince === undefined,
      disconnectedSince,
      lastError,
      outages,
      silentWatchRestarts,
      down: states.filter((s) => !s.connected).map((s) => s.name),
    }),
    async stop() {
      stopped = true;
      if (watchdogTimer) clearInterval(watchdogTimer);
      await Promise.allSettled(stoppers.map((s) => s()));
    },
  };
}
