// createApiServer(store, opts): the lab's kube-apiserver. One request handler,
// served on any number of listeners (TCP and/or a unix socket, chmod 0600).

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequestHandler, type ExtraRoutes, type HandlerStats } from './http-handler.js';
import { ListPages } from './list-pages.js';
import type { KubeObject } from './types.js';
import { createLabRoutes } from './lab-routes.js';
import { childLogger, silentLogger, type Logger } from './logger.js';
import type { Store } from './store.js';
import { WatchRegistry } from './watch.js';

export interface ApiServerOptions {
  /** Extra routes (the lab daemon's): called first for every request; return true when handled. */
  extraRoutes?: ExtraRoutes;
  logger?: Logger;
  /** Interval between watch BOOKMARK events for clients that allow them (default 30000). */
  bookmarkIntervalMs?: number;
  /** Watches without timeoutSeconds end after a random time in [this, 2×this] seconds (default 1800). */
  minRequestTimeoutSeconds?: number;
  /** Request body limit (default 3 MiB, like kube-apiserver). */
  maxBodyBytes?: number;
  /** Unsent watch output beyond which a slow watcher is disconnected (default 16 MiB). */
  maxWatchBufferedBytes?: number;
}

export type ListenAddress = { host?: string; port: number } | { path: string };

export interface ApiServerStats extends HandlerStats {
  watchesActive: number;
  watchesTotal: number;
}

export interface ApiServer {
  /** The request handler (can be mounted on another http.Server). */
  readonly handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Starts one more listener; resolves with its address (AddressInfo for TCP, the path for a unix socket). */
  listen(addr: ListenAddress): Promise<AddressInfo | string>;
  /** http://host:port of the first TCP listener. */
  url(): string | undefined;
  stats(): ApiServerStats;
  /**
   * Ends every open watch response (as an API server restart would); clients
   * reconnect from their last resourceVersion. Returns how many were open.
   */
  dropWatches(): number;
  /**
   * Makes every open watch stop delivering (no events, no bookmarks) while
   * its connection stays open: a watch gone silent, for fault tests. Watches
   * opened later deliver normally. Returns how many were stalled.
   */
  stallWatches(): number;
  /**
   * Closes the TCP listeners and every connection on them (watches
   * included), as an API server that went away; unix-socket listeners keep
   * serving (the lab CLI uses them). Resolves with the addresses closed.
   */
  stopTcp(): Promise<Array<{ host: string; port: number }>>;
  /** Listens again on the TCP addresses stopTcp closed. */
  startTcp(): Promise<void>;
  /** Ends open watches, closes every listener and connection, removes unix sockets. */
  close(): Promise<void>;
}

export function createApiServer(store: Store, opts: ApiServerOptions = {}): ApiServer {
  const logger = childLogger(opts.logger ?? silentLogger, { component: 'apiserver' });
  const stats: HandlerStats = { requests: 0, byCode: {}, badRequests: 0, invalid: 0, serverErrors: 0 };
  const watches = new WatchRegistry();
  const maxBodyBytes = opts.maxBodyBytes ?? 3 * 1024 * 1024;
  const handler = createRequestHandler({
    store,
    logger,
    watches,
    watchOptions: {
      bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 30_000,
      minRequestTimeoutSeconds: opts.minRequestTimeoutSeconds ?? 1800,
      maxBufferedBytes: opts.maxWatchBufferedBytes ?? 16 * 1024 * 1024,
      logger,
    },
    maxBodyBytes,
    stats,
    labRoutes: createLabRoutes(store, stats, logger, maxBodyBytes),
    pages: new ListPages<KubeObject>(),
    ...(opts.extraRoutes ? { extraRoutes: opts.extraRoutes } : {}),
  });

  const servers: Array<{ server: http.Server; path?: string; tcp?: { host: string; port: number } }> = [];
  let stoppedTcp: Array<{ host: string; port: number }> = [];
  let firstURL: string | undefined;
  let closing: Promise<void> | undefined;

  const listen = (addr: ListenAddress): Promise<AddressInfo | string> => {
    if (closing) return Promise.reject(new Error('API server is closed'));
    const server = http.createServer({ keepAliveTimeout: 65_000 }, handler);
    server.on('clientError', (err, socket) => {
      stats.badRequests++;
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
      logger.debug({ err }, 'client error');
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      if ('path' in addr) {
        try {
          if (fs.lstatSync(addr.path).isSocket()) fs.unlinkSync(addr.path); // stale socket of an earlier run
        } catch {
          // absent
        }
        const oldMask = process.umask(0o177);
        try {
          server.listen(addr.path, () => {
            try {
              fs.chmodSync(addr.path, 0o600);
            } catch (e) {
              reject(e as Error);
              return;
            }
            servers.push({ server, path: addr.path });
            logger.info({ path: addr.path }, 'API server listening');
            resolve(addr.path);
          });
        } finally {
          process.umask(oldMask);
        }
      } else {
        server.listen(addr.port, addr.host ?? '127.0.0.1', () => {
          const a = server.address() as AddressInfo;
          servers.push({ server, tcp: { host: addr.host ?? '127.0.0.1', port: a.port } });
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          firstURL ??= `http://${host}:${a.port}`;
          logger.info({ address: a.address, port: a.port }, 'API server listening');
          resolve(a);
        });
      }
    });
  };

  const close = (): Promise<void> => {
    closing ??= (async () => {
      watches.closeAll();
      await Promise.all(
        servers.map(
          ({ server, path }) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeIdleConnections();
              // Requests still in flight get a moment to finish, then their connections go.
              setTimeout(() => server.closeAllConnections(), 200).unref();
              if (path) {
                try {
                  fs.unlinkSync(path);
                } catch {
                  // already gone
                }
              }
            }),
        ),
      );
    })();
    return closing;
  };

  return {
    handler,
    listen,
    url: () => firstURL,
    stallWatches: () => watches.stallAll(),
    async stopTcp() {
      const tcp = servers.filter((s) => s.tcp);
      for (const s of tcp) servers.splice(servers.indexOf(s), 1);
      await Promise.all(tcp.map(({ server }) => new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })));
      const addrs = tcp.map((s) => s.tcp!);
      stoppedTcp.push(...addrs);
      if (addrs.length) logger.info({ addresses: addrs }, 'API server stopped listening on TCP');
      return addrs;
    },
    async startTcp() {
      const addrs = stoppedTcp;
      stoppedTcp = [];
      for (const a of addrs) await listen(a);
    },
    dropWatches: () => {
      const n = watches.active;
      watches.closeAll();
      return n;
    },
    stats: () => ({ ...stats, byCode: { ...stats.byCode }, watchesActive: watches.active, watchesTotal: watches.total }),
    close,
  };
}
