// The CLI's client of the lab API server, over the unix socket in the lab's
// state directory (the CLI runs in the root namespace and never uses the
// lab's IP addresses).
import fs from 'node:fs';
import http from 'node:http';
import { labStateDir, validateLabName } from '../netns/plan.js';
import { stateDirFiles } from '../netns/layout.js';

export class LabError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

export class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown, method: string, path: string) {
    const msg = (body as { message?: unknown } | undefined)?.message;
    super(`${method} ${path}: ${status}${typeof msg === 'string' ? ` ${msg}` : typeof body === 'string' && body ? ` ${body.slice(0, 300)}` : ''}`);
  }

  get reason(): string | undefined {
    const r = (this.body as { reason?: unknown } | undefined)?.reason;
    return typeof r === 'string' ? r : undefined;
  }
}

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

export class LabClient {
  constructor(readonly socketPath: string, private readonly timeoutMs = 30_000) {}

  request(method: string, path: string, body?: unknown, timeoutMs = this.timeoutMs): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request({
        socketPath: this.socketPath,
        method,
        path,
        headers: {
          Accept: 'application/json',
          Host: 'lab',
          ...(data !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}),
        },
        timeout: timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** A request that must succeed (2xx); returns the parsed body. */
  async call<T = unknown>(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
    const r = await this.request(method, path, body, timeoutMs);
    if (r.status < 200 || r.status >= 300) throw new ApiError(r.status, r.body, method, path);
    return r.body as T;
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  /** GET that maps 404 to undefined. */
  async getOptional<T = unknown>(path: string): Promise<T | undefined> {
    const r = await this.request('GET', path);
    if (r.status === 404) return undefined;
    if (r.status < 200 || r.status >= 300) throw new ApiError(r.status, r.body, 'GET', path);
    return r.body as T;
  }

  /** True when the API answers at all. */
  async ping(timeoutMs = 2000): Promise<boolean> {
    try {
      const r = await this.request('GET', '/api/v1/nodes', undefined, timeoutMs);
      return r.status === 200;
    } catch {
      return false;
    }
  }
}

/** The client of lab `name`, or a clear error when that lab is not up. */
export function labClient(name: string): LabClient {
  const err = validateLabName(name);
  if (err) throw new LabError(err, 2);
  const dir = labStateDir(name);
  const files = stateDirFiles(dir);
  if (!fs.existsSync(dir)) {
    throw new LabError(`no lab named "${name}" is up (no ${dir}); start one with \`switchyard lab up${name === 'sy' ? '' : ` --name ${name}`}\``);
  }
  if (!fs.existsSync(files.apiSocket)) {
    throw new LabError(`lab "${name}" has no API socket (${files.apiSocket}): its daemon is not running; see \`switchyard lab logs daemon\`, or run \`switchyard lab down${name === 'sy' ? '' : ` --name ${name}`}\``);
  }
  return new LabClient(files.apiSocket);
}
