// A small HTTP client of the agent's admin API, over TCP or a unix socket.
import http from 'node:http';

export type AdminTarget = { url: string } | { socketPath: string };

export interface AdminResponse { status: number; contentType: string; body: string }

export class AdminUnreachable extends Error {}

export function adminGet(target: AdminTarget, pathAndQuery: string, timeoutMs = 30_000): Promise<AdminResponse> {
  return new Promise((resolve, reject) => {
    let opts: http.RequestOptions;
    let where: string;
    if ('socketPath' in target) {
      opts = { socketPath: target.socketPath, path: pathAndQuery, method: 'GET', headers: { host: 'switchyard-admin' } };
      where = target.socketPath;
    } else {
      const u = new URL(pathAndQuery, target.url.endsWith('/') ? target.url : `${target.url}/`);
      opts = { host: u.hostname, port: u.port || 80, path: u.pathname + u.search, method: 'GET' };
      where = target.url;
    }
    const req = http.request({ ...opts, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({
        status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8'),
      }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new AdminUnreachable(`${where}: no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err instanceof AdminUnreachable ? err : new AdminUnreachable(`cannot reach the admin API at ${where}: ${err.message}`)));
    req.end();
  });
}

/** GET returning parsed JSON; a non-2xx answer throws with the server's message. */
export async function adminJSON<T = any>(target: AdminTarget, pathAndQuery: string): Promise<T> {
  const r = await adminGet(target, pathAndQuery);
  let body: any;
  try {
    body = JSON.parse(r.body);
  } catch {
    throw new Error(`${pathAndQuery}: HTTP ${r.status}, not JSON: ${r.body.slice(0, 200)}`);
  }
  if (r.status < 200 || r.status >= 300) throw new AdminHttpError(r.status, String(body?.message ?? r.body));
  return body as T;
}

export class AdminHttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}
