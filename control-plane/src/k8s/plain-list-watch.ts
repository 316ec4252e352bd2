// client-node's ListWatch (cache, resourceVersion bookkeeping, relist on
// 410) fed with plain JSON objects that went through a lean function first.
//
// makeInformer() lists through the generated API client, which turns every
// item of the list into class instances (ObjectSerializer: a second copy of
// the whole list, 0.3 s at 10,000 EndpointSlices), while the watch hands
// out the plain JSON it parsed: objects of two shapes in one cache. Here the
// list is one GET of the same path the watch uses, parsed as the watch
// parses (JSON.parse), and both the listed and the watched objects are
// leaned (lean-objects.ts) before the cache keeps them.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

/** A failed list, with the HTTP status where there was one (ListWatch reads statusCode). */
export class ListError extends Error {
  constructor(message: string, readonly statusCode?: number) {
    super(message);
  }
}

/** GETs `path` (a list) from the current cluster with the kubeconfig's credentials and parses it as JSON. */
export async function listPlain<T extends KubernetesObject>(kc: KubeConfig, path: string, query: Record<string, string> = {}): Promise<KubernetesListObject<T>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ListError('no current cluster in the kubeconfig');
  const url = new URL(cluster.server + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  headers['Accept'] = 'application/json';
  headers['Accept-Encoding'] = 'gzip';
  const get = url.protocol === 'https:' ? https.get : http.get;
  const body = await new Promise<Buffer>((resolve, reject) => {
    const req = get(url, { ...opts, headers }, (res) => {
      const chunks: Buffer[] = [];
      const stream = res.headers['content-encoding'] === 'gzip' ? res.pipe(zlib.createGunzip()) : res;
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', reject);
      stream.on('end', () => {
        const buf = Buffer.concat(chunks);
        const status = res.statusCode ?? 0;
        if (status === 200) resolve(buf);
        else reject(new ListError(`list ${path}: HTTP ${status} ${buf.toString('utf8', 0, Math.min(buf.length, 300))}`, status));
      });
    });
    req.on('error', reject);
  });
  const list = JSON.parse(body.toString('utf8')) as KubernetesListObject<T>;
  if (!list || typeof list !== 'object' || (list.items !== undefined && list.items !== null && !Array.isArray(list.items))) {
    throw new ListError(`list ${path}: the answer is not a list`);
  }
  return list;
}

/** Hands the watch's objects to `lean` before the cache sees them. */
class LeanWatch extends Watch {
  constructor(kc: KubeConfig, private readonly lean: (o: any) => any) {
    super(kc);
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: any, watchObj?: any) => void, done: (err: any) => void): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, obj, watchObj) => {
      callback(phase, phase === 'ERROR' || phase === 'BOOKMARK' ? obj : this.lean(obj), watchObj);
    }, done);
  }
}

/** A ListWatch of `path` (not started) holding lean plain objects. */
export function makePlainInformer<T extends KubernetesObject>(kc: KubeConfig, path: string, lean: (o: T) => T, fieldSelector?: string): ListWatch<T> {
  const list = async (): Promise<KubernetesListObject<T>> => {
    const l = await listPlain<T>(kc, path, fieldSelector ? { fieldSelector } : {});
    return { ...l, items: (l.items ?? []).map(lean) };
  };
  return new ListWatch<T>(path, new LeanWatch(kc, lean), list, false, undefined, fieldSelector);
}
