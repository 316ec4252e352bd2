// The watch protocol over HTTP, as kube-apiserver speaks it: a 200 response
// with chunked transfer encoding carrying newline-delimited JSON events
// {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}.
//
// - resourceVersion unset or "0": synthetic ADDED events for the current
//   objects, then changes ("Get State and Start at Most Recent").
// - resourceVersion=N: every change after N; when N is older than the kept
//   history, a single ERROR event carrying a 410 Expired Status, then the
//   response ends (client-node informers then relist).
// - allowWatchBookmarks: periodic BOOKMARK events carrying the current
//   resourceVersion; with sendInitialEvents=true, a BOOKMARK annotated
//   "k8s.io/initial-events-end" after the initial ADDED events.
// - timeoutSeconds: the response ends after that long (default: a random
//   duration between minRequestTimeout and twice that, as kube-apiserver).

import type http from 'node:http';
import { ApiError, internalError } from './errors.js';
import type { Logger } from './logger.js';
import { RESOURCES, fieldSelectorsFor, type ResourceName } from './resources.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { Store, WatchHandle } from './store.js';

export interface WatchParams {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
  /** Renders each event's object (e.g. as a one-row Table for `kubectl get -w`). */
  render?: (object: unknown) => unknown;
}

export interface WatchServeOptions {
  /** Interval between BOOKMARK events when the client allows them (default 30 s). */
  bookmarkIntervalMs: number;
  /** kube-apiserver's --min-request-timeout (default 1800 s). */
  minRequestTimeoutSeconds: number;
  /** A watcher whose unsent output exceeds this is disconnected (default 16 MiB). */
  maxBufferedBytes: number;
  logger: Logger;
}

/** Tracks open watch responses so a server shutdown can end them cleanly. */
export class WatchRegistry {
  private readonly open = new Set<() => void>();
  private readonly stallers = new Map<() => void, () => void>();
  total = 0;

  add(close: () => void, stall?: () => void): () => void {
    this.open.add(close);
    if (stall) this.stallers.set(close, stall);
    this.total++;
    return () => {
      this.open.delete(close);
      this.stallers.delete(close);
    };
  }

  /** Every open watch stops delivering but stays open (a silent watch, for fault tests). */
  stallAll(): number {
    for (const s of this.stallers.values()) s();
    return this.stallers.size;
  }

  get active(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const c of [...this.open]) c();
    this.open.clear();
    this.stallers.clear();
  }
}

/**
 * Serves one watch request. Selector and resourceVersion syntax errors throw
 * an ApiError before anything is written (the caller answers 400).
 */
export function serveWatch(
  store: Store,
  res: ResourceName,
  params: WatchParams,
  req: http.IncomingMessage,
  resp: http.ServerResponse,
  registry: WatchRegistry,
  opts: WatchServeOptions,
): void {
  const info = RESOURCES[res];
  // Validate before answering 200.
  const labels = parseLabelSelector(params.labelSelector);
  const fields = parseFieldSelector(params.fieldSelector, fieldSelectorsFor(info));
  const rv = params.resourceVersion ?? '';
  if (rv !== '' && !/^\d+$/.test(rv)) throw new ApiError(400, 'BadRequest', `invalid resource version ${JSON.stringify(rv)}`);

  resp.writeHead(200, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  resp.flushHeaders();
  resp.socket?.setNoDelay(true);

  let handle: WatchHandle | undefined;
  let closed = false;
  let stalled = false;
  let unregister: () => void = () => {};
  let timeoutTimer: NodeJS.Timeout | undefined;
  let bookmarkTimer: NodeJS.Timeout | undefined;

  const close = (): void => {
    if (closed) return;
    closed = true;
    handle?.stop();
    clearTimeout(timeoutTimer);
    clearTimeout(bookmarkTimer);
    unregister();
    if (!resp.writableEnded) resp.end();
  };
  unregister = registry.add(close, () => {
    stalled = true;
  });
  resp.on('close', close);
  req.on('aborted', close);

  const write = (type: string, object: unknown): void => {
    if (closed || stalled) return;
    resp.write(`${JSON.stringify({ type, object })}\n`);
    if (resp.writableLength > opts.maxBufferedBytes) {
      opts.logger.warn({ resource: res, buffered: resp.writableLength }, 'watch consumer too slow: closing the watch');
      close();
    }
  };
  const bookmark = (annotations?: Record<string, string>): void => {
    write('BOOKMARK', {
      kind: info.kind,
      apiVersion: info.apiVersion,
      metadata: { resourceVersion: store.currentResourceVersion(), ...(annotations ? { annotations } : {}) },
    });
  };

  try {
    handle = store.watch(
      res,
      {
        ...(params.namespace ? { namespace: params.namespace } : {}),
        labelSelector: labels,
        fieldSelector: fields,
        resourceVersion: rv,
        sendInitialEvents: params.sendInitialEvents,
      },
      (ev) => write(ev.type, params.render ? params.render(ev.object) : ev.object),
    );
  } catch (e) {
    const err = e instanceof ApiError ? e : internalError(String(e));
    write('ERROR', err.toStatus());
    close();
    return;
  }
  if (closed) {
    handle.stop();
    return;
  }
  if (params.sendInitialEvents && params.allowWatchBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });

  const timeoutMs =
    params.timeoutSeconds !== undefined && params.timeoutSeconds > 0
      ? params.timeoutSeconds * 1000
      : (opts.minRequestTimeoutSeconds * (1 + Math.random())) * 1000;
  timeoutTimer = setTimeout(close, timeoutMs);
  if (params.allowWatchBookmarks) {
    const tick = (): void => {
      if (closed) return;
      bookmark();
      bookmarkTimer = setTimeout(tick, opts.bookmarkIntervalMs);
    };
    bookmarkTimer = setTimeout(tick, Math.min(opts.bookmarkIntervalMs, Math.max(1, timeoutMs - 1000)));
  }
}
