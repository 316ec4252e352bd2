// Client for the switchyard-loader unix socket protocol (loader/loader.proto),
// used by the loader tests. Messages are protobufjs encodeDelimited frames.
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** The repository root: the nearest ancestor holding loader/loader.proto. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, "loader", "loader.proto")) && existsSync(path.join(dir, "package.json"))) {
      return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("repository root (loader/loader.proto) not found");
    dir = parent;
  }
}

const root = protobuf.loadSync(path.join(repoRoot(), "loader", "loader.proto"));
const RequestType = root.lookupType("switchyard.loader.v1.Request");
const ResponseType = root.lookupType("switchyard.loader.v1.Response");

// The messages' types are generated from loader.proto (scripts/gen-loader-messages.mjs).
export type { Attachment, Feature, MapEntry, MapInfo, Response } from "../../control-plane/src/dataplane/ebpf/loader-messages.js";
import type { Response } from "../../control-plane/src/dataplane/ebpf/loader-messages.js";

export function encodeRequest(req: Record<string, unknown>): Uint8Array {
  // fromObject accepts enum names ("TC_INGRESS"); verify then checks the
  // converted message (field types, oneofs).
  const msg = RequestType.fromObject(req);
  const err = RequestType.verify(msg);
  if (err) throw new Error(`bad request object: ${err}`);
  return RequestType.encodeDelimited(msg).finish();
}

export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = BigInt(n);
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

function decodeResponse(bytes: Uint8Array): Response {
  const msg = ResponseType.decode(bytes);
  return ResponseType.toObject(msg, {
    longs: Number,
    enums: String,
    defaults: true,
    arrays: true,
    oneofs: true,
  }) as Response;
}

interface Waiter {
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class LoaderClient {
  private buf = Buffer.alloc(0);
  private ready: Response[] = [];
  private waiters: Waiter[] = [];
  private seq = 1;
  private closedFlag = false;
  private closeWaiters: Array<() => void> = [];
  private lastError: Error | undefined;

  private constructor(private readonly sock: net.Socket) {
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("error", (e) => {
      this.lastError = e;
    });
    sock.on("close", () => {
      this.closedFlag = true;
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed${this.lastError ? `: ${this.lastError.message}` : ""}`));
      }
      for (const c of this.closeWaiters.splice(0)) c();
    });
  }

  static connect(socketPath: string, timeoutMs = 3000): Promise<LoaderClient> {
    return new Promise((resolve, reject) => {
      const sock = net.createConnection(socketPath);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error(`connect ${socketPath}: timeout`));
      }, timeoutMs);
      sock.once("connect", () => {
        clearTimeout(timer);
        resolve(new LoaderClient(sock));
      });
      sock.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private onData(chunk: Buffer): void {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      let len = 0;
      let shift = 0;
      let hdr = 0;
      for (let i = 0; i < this.buf.length && i < 10; i++) {
        const b = this.buf[i]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(b & 0x80)) {
          hdr = i + 1;
          break;
        }
      }
      if (!hdr || this.buf.length < hdr + len) return;
      const body = this.buf.subarray(hdr, hdr + len);
      this.buf = this.buf.subarray(hdr + len);
      const resp = decodeResponse(body);
      const w = this.waiters.shift();
      if (w) {
        clearTimeout(w.timer);
        w.resolve(resp);
      } else {
        this.ready.push(resp);
      }
    }
  }

  /** The next response, in arrival order. */
  next(timeoutMs = 5000): Promise<Response> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.closedFlag) return Promise.reject(new Error("connection closed"));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new Error(`no response within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.waiters.push(w);
    });
  }

  sendRaw(bytes: Uint8Array): void {
    this.sock.write(bytes);
  }

  /** Sends one request (op fields only; seq is assigned) and awaits its response. */
  async request(op: Record<string, unknown>, timeoutMs = 10000): Promise<Response> {
    const seq = this.seq++;
    this.sendRaw(encodeRequest({ seq, ...op }));
    const resp = await this.next(timeoutMs);
    if (resp.seq !== seq) throw new Error(`response seq ${resp.seq} for request ${seq}`);
    return resp;
  }

  /** Half-closes: no more requests, responses still readable. */
  end(): void {
    this.sock.end();
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** Connects, sends one request, closes. Throws unless the code is OK. */
export async function call(socketPath: string, op: Record<string, unknown>, timeoutMs = 10000): Promise<Response> {
  const c = await LoaderClient.connect(socketPath);
  try {
    const r = await c.request(op, timeoutMs);
    if (r.code !== "OK") throw new Error(`${Object.keys(op)[0]}: ${r.code}: ${r.error}`);
    return r;
  } finally {
    c.destroy();
  }
}
