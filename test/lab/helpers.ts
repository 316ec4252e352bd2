// Test doubles and helpers for the lab API server and controller tests:
// an in-memory PodRuntime, event-driven waits on the store (no sleeps), a
// tiny HTTP client and a cluster factory listening on 127.0.0.1:0.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResourceName, ResourceTypes } from '../../lab/src/apiserver/resources.js';
import type { ListOptions, Store } from '../../lab/src/apiserver/store.js';
import { startLabCluster, type LabCluster, type LabClusterOptions } from '../../lab/src/cluster.js';
import type { PodRuntime, PodSpecForRuntime, StartedPod } from '../../lab/src/runtime/pod-runtime.js';

export interface RuntimeCall {
  op: 'start' | 'terminate' | 'remove';
  pod: string;
  uid: string;
}

/** An in-memory PodRuntime: pod IPs from a /24 prefix, controllable failures and exits. */
export class MemoryRuntime implements PodRuntime {
  readonly calls: RuntimeCall[] = [];
  private readonly running = new Set<string>();
  private next = 10;
  /** Pods (by name) whose start fails. */
  failStart: (pod: PodSpecForRuntime) => string | undefined = () => undefined;
  /** When true, SIGTERM makes the pod exit at once (isRunning false after terminatePod). */
  exitOnTerm = false;
  /** Pending starts are held until released when set. */
  holdStarts = false;
  private readonly held: Array<() => void> = [];

  constructor(readonly prefix: string) {}

  async startPod(pod: PodSpecForRuntime): Promise<StartedPod> {
    this.calls.push({ op: 'start', pod: `${pod.namespace}/${pod.name}`, uid: pod.uid });
    if (this.holdStarts) await new Promise<void>((r) => this.held.push(r));
    const err = this.failStart(pod);
    if (err) throw new Error(err);
    this.running.add(pod.uid);
    return { podIP: `${this.prefix}.${this.next++}`, annotations: { 'lab.switchyard.dev/netns': `pod-${pod.uid.slice(0, 8)}` } };
  }

  releaseStarts(): void {
    this.holdStarts = false;
    for (const r of this.held.splice(0)) r();
  }

  async terminatePod(pod: PodSpecForRuntime): Promise<void> {
    this.calls.push({ op: 'terminate', pod: `${pod.namespace}/${pod.name}`, uid: pod.uid });
    if (this.exitOnTerm) this.running.delete(pod.uid);
  }

  async removePod(pod: PodSpecForRuntime): Promise<void> {
    this.calls.push({ op: 'remove', pod: `${pod.namespace}/${pod.name}`, uid: pod.uid });
    this.running.delete(pod.uid);
  }

  isRunning(pod: PodSpecForRuntime): boolean {
    return this.running.has(pod.uid);
  }

  /** Simulates the pod's server dying. */
  kill(uid: string): void {
    this.running.delete(uid);
  }

  count(op: RuntimeCall['op']): number {
    return this.calls.filter((c) => c.op === op).length;
  }
}

export const NODES = [
  { name: 'node-a', internalIP: '198.18.0.11', podCIDR: '198.18.1.0/24', zone: 'zone-a' },
  { name: 'node-b', internalIP: '198.18.0.12', podCIDR: '198.18.2.0/24', zone: 'zone-b' },
  { name: 'node-c', internalIP: '198.18.0.13', podCIDR: '198.18.3.0/24', zone: 'zone-a' },
];

export interface TestCluster extends LabCluster {
  runtimes: Map<string, MemoryRuntime>;
  base: string;
}

/** A lab cluster with in-memory runtimes, its API server on 127.0.0.1 (ephemeral port). */
export async function startTestCluster(over: Partial<LabClusterOptions> = {}): Promise<TestCluster> {
  const runtimes = new Map<string, MemoryRuntime>();
  const nodes = over.nodes ?? NODES;
  nodes.forEach((n, i) => runtimes.set(n.name, new MemoryRuntime(`198.18.${i + 1}`)));
  const c = startLabCluster({
    nodes,
    runtimeFor: (n) => runtimes.get(n) as MemoryRuntime,
    probeIntervalMs: 100,
    ...over,
  });
  const a = (await c.apiServer.listen({ host: '127.0.0.1', port: 0 })) as AddressInfo;
  return Object.assign(c, { runtimes, base: `http://127.0.0.1:${a.port}` });
}

/**
 * Resolves with the matching objects once `pred` holds for the objects of a
 * resource (checked now and after every event); rejects after `timeoutMs`
 * with the last state seen.
 */
export function waitFor<R extends ResourceName>(
  store: Store,
  res: R,
  pred: (items: Array<ResourceTypes[R]>) => boolean,
  opts: ListOptions & { timeoutMs?: number; what?: string } = {},
): Promise<Array<ResourceTypes[R]>> {
  const { timeoutMs = 5000, what, ...listOpts } = opts;
  return new Promise((resolve, reject) => {
    let done = false;
    const check = (): boolean => {
      // Frozen stored objects (no copies) for the check; copies for the caller.
      if (pred(store.peekList(res, listOpts))) {
        done = true;
        resolve(store.list(res, listOpts).items);
        return true;
      }
      return false;
    };
    if (check()) return;
    let handle: { stop(): void } | undefined;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      handle?.stop();
      const items = store.list(res, listOpts).items;
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what ?? res}; last state:\n${JSON.stringify(items, null, 1).slice(0, 6000)}`));
    }, timeoutMs);
    // Checked after the event has been applied (events are delivered synchronously; the check is deferred).
    handle = store.watch(res, { resourceVersion: store.currentResourceVersion() }, () => {
      setImmediate(() => {
        if (done) return;
        if (check()) {
          clearTimeout(timer);
          handle?.stop();
        }
      });
    });
  });
}

/** Resolves once `pred()` is true, checked on every event of the given resources. */
export function waitUntil(store: Store, resources: ResourceName[], pred: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pred()) return resolve();
    const handles: Array<{ stop(): void }> = [];
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const h of handles) h.stop();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    for (const r of resources) {
      handles.push(
        store.watch(r, { resourceVersion: store.currentResourceVersion() }, () => {
          setImmediate(() => {
            if (!done && pred()) finish();
          });
        }),
      );
    }
  });
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One HTTP request; the body is sent as JSON unless a string (sent verbatim). */
export function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, base);
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(
      u,
      {
        method,
        headers: {
          Accept: 'application/json',
          ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(data)) } : {}),
          ...headers,
        },
        timeout: 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
    req.on('error', reject);
    req.end(data);
  });
}

export interface WatchEventLine {
  type: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  object: any;
}

/** A raw HTTP watch: collects events; `next(pred)` awaits the first unseen event matching. */
export class RawWatch {
  readonly events: WatchEventLine[] = [];
  status = 0;
  ended = false;
  private buf = '';
  private cursor = 0;
  private waiters: Array<() => void> = [];
  private req: http.ClientRequest | undefined;
  readonly ready: Promise<void>;
  private readonly done: Promise<void>;

  constructor(base: string, path: string) {
    let resolveReady: () => void = () => {};
    let resolveDone: () => void = () => {};
    this.ready = new Promise((r) => (resolveReady = r));
    this.done = new Promise((r) => (resolveDone = r));
    this.req = http.get(new URL(path, base), (res) => {
      this.status = res.statusCode ?? 0;
      resolveReady();
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        this.buf += chunk;
        let i: number;
        while ((i = this.buf.indexOf('\n')) >= 0) {
          const line = this.buf.slice(0, i);
          this.buf = this.buf.slice(i + 1);
          if (line.trim()) this.events.push(JSON.parse(line) as WatchEventLine);
        }
        this.wake();
      });
      res.on('end', () => {
        this.ended = true;
        resolveDone();
        this.wake();
      });
      res.on('error', () => {});
    });
    this.req.on('error', () => {
      this.ended = true;
      resolveDone();
      this.wake();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** The next event (after those already taken) matching `pred`. */
  async next(pred: (e: WatchEventLine) => boolean = () => true, timeoutMs = 5000): Promise<WatchEventLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.events.length) {
        const e = this.events[this.cursor++] as WatchEventLine;
        if (pred(e)) return e;
      }
      if (this.ended) throw new Error(`watch ended; events: ${JSON.stringify(this.events.map((e) => [e.type, e.object?.metadata?.name]))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching watch event within ${timeoutMs} ms; events: ${JSON.stringify(this.events.map((e) => [e.type, e.object?.metadata?.name]))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Resolves when the server ends the response; rejects after `timeoutMs`. */
  finished(timeoutMs = 5000): Promise<void> {
    return within(this.done, timeoutMs, 'the watch to end');
  }

  close(): void {
    this.req?.destroy();
  }
}

/** Bounds a wait: rejects after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export function podTemplate(labels: Record<string, string>, ports: Array<{ name?: string; containerPort: number; protocol?: string }> = [{ name: 'http', containerPort: 8080 }], grace = 1) {
  return {
    metadata: { labels },
    spec: { terminationGracePeriodSeconds: grace, containers: [{ name: 'whoami', image: 'switchyard/whoami', ports }] },
  };
}
