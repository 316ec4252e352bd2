// Lab-only endpoints served beside the Kubernetes API:
//
//   PUT /lab/v1/namespaces/{ns}/pods/{name}/readiness  {"ready": true|false|null}
//       The lab's `set-ready`: overrides the pod's readiness as a readiness
//       probe would (null removes the override). The kubelet controller of
//       the pod's node then reports the Ready condition accordingly.
//   GET /lab/v1/namespaces/{ns}/pods/{name}/readiness
//       The current override ({"ready": null} when none).

import type http from 'node:http';
import { ApiError, badRequest, methodNotAllowed, notFound } from './errors.js';
import { countResponse, parseBody, readBody, sendError, sendJSON, type HandlerStats } from './http-handler.js';
import type { Logger } from './logger.js';
import { RESOURCES } from './resources.js';
import type { Store } from './store.js';
import { isObject } from './validation.js';

const READINESS = /^\/lab\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/readiness\/?$/;

export function createLabRoutes(store: Store, stats: HandlerStats, logger: Logger, maxBodyBytes: number) {
  return (req: http.IncomingMessage, res: http.ServerResponse, url: URL): boolean => {
    const m = READINESS.exec(url.pathname);
    if (!m) return false;
    const run = async (): Promise<void> => {
      let ns: string;
      let name: string;
      try {
        ns = decodeURIComponent(m[1] as string);
        name = decodeURIComponent(m[2] as string);
      } catch {
        throw badRequest('malformed path');
      }
      const pod = store.peek('pods', name, ns);
      if (!pod) throw notFound(RESOURCES.pods, name);
      const ident = { namespace: ns, name, uid: pod.metadata.uid as string };
      if (req.method === 'GET') {
        sendJSON(res, 200, { kind: 'PodReadinessOverride', ...ident, ready: store.readiness.get(ident.uid) ?? null }, stats);
        return;
      }
      if (req.method !== 'PUT' && req.method !== 'POST') throw methodNotAllowed();
      const body = parseBody(await readBody(req, maxBodyBytes), req.headers['content-type']);
      if (!isObject(body) || !('ready' in body) || (typeof body.ready !== 'boolean' && body.ready !== null)) {
        throw badRequest('the body must be {"ready": true|false|null}');
      }
      store.readiness.set(ident, body.ready as boolean | null);
      logger.info({ pod: `${ns}/${name}`, ready: body.ready }, 'readiness override set');
      sendJSON(res, 200, { kind: 'PodReadinessOverride', ...ident, ready: body.ready }, stats);
    };
    run().catch((e: unknown) => {
      if (e instanceof ApiError) sendError(res, e, stats);
      else {
        logger.error({ err: e }, 'lab route failed');
        countResponse(stats, 500);
        res.writeHead(500).end();
      }
    });
    return true;
  };
}
