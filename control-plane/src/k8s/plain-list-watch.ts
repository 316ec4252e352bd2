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

/** Items per page of a list, as client-go's pager asks by default. */
export const LIST_PAGE_SIZE = 500;

/**
 * Lists `path` in pages of `pageSize` (limit and continue, one snapshot),
 * each page leaned before the next is asked for: the whole list is never
 * held as text or as parsed objects at once (10,000 EndpointSlices are 24 MB
 * of JSON). Asking for the next page before leaning this one (so the server
 * serializes it meanwhile) was tried: against a lab API server in another
 * process (5,000 Services, 10 pages) the list took as long, within the
 * noise of a busy machine (2026-12-07). A continue token
 * that expired (410) means the list is read again whole, as client-go's
 * pager does.
 */
export async function listPaged<T extends KubernetesObject>(kc: KubeConfig, path: string, query: Record<string, string>, lean: (o: T) => T, pageSize = LIST_PAGE_SIZE): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let first: KubernetesListObject<T> | undefined;
  let token: string | undefined;
  do {
    let page: KubernetesListObject<T>;
    try {
      page = await listPlain<T>(kc, path, { ...query, limit: String(pageSize), ...(token ? { continue: token } : {}) });
    } catch (err) {
      if (!token || !(err instanceof ListError) || err.statusCode !== 410) throw err;
      const whole = await listPlain<T>(kc, path, query);
      return { ...whole, items: (whole.items ?? []).map(lean) };
    }
    first ??= page;
    for (const o of page.items ?? []) items.push(lean(o));
    // The JSON field is `continue` (client-node's typed models call it _continue).
    token = (page.metadata as { continue?: string } | undefined)?.continue || undefined;
  } while (token);
  // The list's resourceVersion is the first page's (every page has the same snapshot).
  const { metadata } = first!;
  return { ...first!, metadata: { ...(metadata?.resourceVersion !== undefined ? { resourceVersion: metadata.resourceVersion } : {}) }, items };
}

/** A ListWatch of `path` (not started) holding lean plain objects. */
export function makePlainInformer<T extends KubernetesObject>(kc: KubeConfig, path: string, lean: (o: T) => T, fieldSelector?: string): ListWatch<T> {
  const list = (): Promise<KubernetesListObject<T>> => listPaged<T>(kc, path, fieldSelector ? { fieldSelector } : {}, lean);
  return new ListWatch<T>(path, new LeanWatch(kc, lean), list, false, undefined, fieldSelector);
}
