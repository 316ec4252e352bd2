// Client of the loader's unix socket: varint-length-delimited protobuf
// requests, one response per request, matched by seq.
import net from 'node:net';
import { OpType, RequestType, ResponseType, TO_OBJECT } from './loader-protocol.js';
import type { AttachResult, DumpResult, GcConntrackResult, MapEntry as MapEntryMessage, MapInfo as MapInfoMessage, MapOp_op, ProbeResult, Request_op, Response, StatusResult, TestRunResult } from './loader-messages.js';

/**
 * The request as protobufjs should encode it. Small requests go through
 * fromObject + verify (a request that does not fit loader.proto is refused
 * here with the field named). Map writes are built by our own typed code and
 * can hold millions of table slots (a cold start of 10,000 Services: 10
 * million), which fromObject would copy and verify would walk one by one: they
 * are checked op by op with the tables left out, and encoded as they are
 * (a Uint32Array encodes like an array).
 */
export function checkedRequest(payload: Record<string, unknown>): Record<string, unknown> {
  const ops = (payload.apply as { ops?: Array<Record<string, unknown>> } | undefined)?.ops;
  if (!ops) {
    const msg = RequestType.fromObject(payload);
    const err = RequestType.verify(msg);
    if (err) throw new LoaderError('INVALID', `request does not fit loader.proto: ${err}`);
    return msg as unknown as Record<string, unknown>;
  }
  for (const op of ops) {
    const table = (op.setMaglev as { backendIds?: unknown } | undefined)?.backendIds;
    const light = table === undefined ? op : { ...op, setMaglev: { ...(op.setMaglev as object), backendIds: [] } };
    const err = OpType.verify(light);
    if (err) throw new LoaderError('INVALID', `request does not fit loader.proto: ${err}`);
    if (table !== undefined && !(table instanceof Uint32Array) && !(Array.isArray(table) && table.every((x) => Number.isInteger(x) && x >= 0 && x <= 0xffffffff))) {
      throw new LoaderError('INVALID', 'request does not fit loader.proto: setMaglev.backendIds: uint32 values expected');
    }
  }
  return payload;
}

export class LoaderError extends Error {
  /** apply requests: the loader's ApplyResult (applied, failedOp) also on failure. */
  readonly apply: { applied?: number; failedOp?: number; deleted?: number } | undefined;

  constructor(readonly code: string, message: string, apply?: { applied?: number; failedOp?: number; deleted?: number }) {
    super(`loader: ${code}: ${message}`);
    this.apply = apply;
  }
}

/** A decoded Response (loader.proto, generated types). */
export type LoaderResponse = Response;

interface Pending { resolve(r: LoaderResponse): void; reject(e: Error): void; timer: NodeJS.Timeout }

export type MapInfo = MapInfoMessage;
export type MapEntry = MapEntryMessage;
export type DumpPage = DumpResult;

/** The result member of an answer; an OK answer without it is the loader breaking the protocol. */
function resultOf<K extends NonNullable<Response['result']>>(res: Response, key: K): NonNullable<Response[K]> {
  const r = res[key];
  if (r === undefined || r === null) throw new LoaderError('MALFORMED', `the loader's answer has no ${key} result`);
  return r as NonNullable<Response[K]>;
}

/** Reads every page of a map dump; entries repeated by a restarted walk keep their last value. */
export async function dumpAllPages(page: (cursor: Uint8Array) => Promise<DumpPage>): Promise<{ info: MapInfo; entries: MapEntry[] }> {
  const first = await page(new Uint8Array(0));
  if (!first.more) return { info: first.info, entries: first.entries ?? [] };
  const byKey = new Map<string, MapEntry>();
  const add = (es: MapEntry[] | undefined): void => {
    for (const e of es ?? []) byKey.set(Buffer.from(e.key).toString('hex'), e);
  };
  add(first.entries);
  // A hash walk whose cursor key was deleted starts over: bound the pages read
  // so a map churning faster than it can be read fails instead of looping.
  const bound = 2 * Math.max(first.info?.maxEntries ?? 0, first.info?.entries ?? 0) + 1024;
  let seen = first.entries?.length ?? 0;
  let cur = first;
  while (cur.more) {
    cur = await page(cur.nextCursor);
    add(cur.entries);
    seen += cur.entries?.length ?? 0;
    if (seen > bound) throw new LoaderError('KERNEL', `dump ${first.info?.name}: more than ${bound} entries read: the map changes faster than it can be read`);
  }
  return { info: first.info, entries: [...byKey.values()] };
}

/** The loader's time per slice of a conntrack GC walk (µs): what a map write sent during a walk waits at most, about. */
export const GC_SLICE_US = 2000;

export class LoaderClient {
  private sock: net.Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private connecting: Promise<void> | undefined;
  /** Reads (dump pages, lookups, status) go on a connection of their own. */
  private reader: LoaderClient | undefined;

  /**
   * separateReads: dump, lookup and status use a second connection. The loader
   * serves connections in turn, one request each, so map writes on this one
   * wait for at most one read request, never for a queue of them.
   */
  constructor(readonly socketPath: string, private readonly timeoutMs = 30_000, private readonly separateReads = true) {}

  private reads(): LoaderClient {
    if (!this.separateReads) return this;
    this.reader ??= new LoaderClient(this.socketPath, this.timeoutMs, false);
    return this.reader;
  }

  /** Connections made so far: a new one after a close means the loader may have restarted (an upgrade). */
  connections = 0;
  private readonly connectListeners: Array<(connections: number) => void> = [];

  /** Calls `l` after every connection this client makes (the first and each renewal), with the count so far. */
  onConnect(l: (connections: number) => void): void {
    this.connectListeners.push(l);
  }

  get connected(): boolean {
    return this.sock !== undefined && !this.sock.destroyed;
  }

  private connect(): Promise<void> {
    if (this.connected) return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.connecting = new Promise<void>((resolve, reject) => {
      const s = net.createConnection(this.socketPath);
      s.once('connect', () => {
        this.connections++;
        this.sock = s;
        this.buf = Buffer.alloc(0);
        this.connecting = undefined;
        resolve();
        for (const l of this.connectListeners) l(this.connections);
      });
      s.once('error', (err) => {
        this.connecting = undefined;
        this.failAll(new LoaderError('UNAVAILABLE', `${this.socketPath}: ${err.message}`));
        s.destroy();
        if (this.sock === s) this.sock = undefined;
        reject(new LoaderError('UNAVAILABLE', `${this.socketPath}: ${err.message}`));
      });
      s.on('data', (d) => this.onData(d));
      s.on('close', () => {
        if (this.sock === s) this.sock = undefined;
        this.failAll(new LoaderError('UNAVAILABLE', 'connection to the loader closed'));
      });
    });
    return this.connecting;
  }

  private failAll(err: Error): void {
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(seq);
    }
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    for (;;) {
      let len = 0, shift = 0, i = 0;
      for (; i < this.buf.length && i < 10; i++) {
        const b = this.buf[i]!;
        len += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
      }
      if (i >= this.buf.length || i === 10) return; // varint incomplete
      const start = i + 1;
      if (this.buf.length < start + len) return;
      const body = this.buf.subarray(start, start + len);
      this.buf = this.buf.subarray(start + len);
      const msg = ResponseType.toObject(ResponseType.decode(body), TO_OBJECT) as LoaderResponse;
      const p = this.pending.get(Number(msg.seq));
      if (!p) continue;
      this.pending.delete(Number(msg.seq));
      clearTimeout(p.timer);
      p.resolve(msg);
    }
  }

  /**
   * Sends one request ({probe: {}}, {apply: {ops}}, ...) and returns the
   * response's result. onWritten: called once the whole request is in the
   * kernel's socket buffer, where the loader can read it without this process
   * running (a large write is otherwise handed over piece by piece by the
   * event loop).
   */
  async call(op: Request_op, onWritten?: () => void): Promise<LoaderResponse> {
    await this.connect();
    const seq = ++this.seq;
    const payload = { seq, ...op };
    const bytes = RequestType.encodeDelimited(checkedRequest(payload)).finish();
    const res = await new Promise<LoaderResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new LoaderError('TIMEOUT', `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      this.sock!.write(bytes, onWritten);
    });
    if (res.code !== 'OK') throw new LoaderError(String(res.code), String(res.error), res.apply ?? undefined);
    return res;
  }

  async probe(pretendMissing: string[] = []): Promise<ProbeResult> {
    return resultOf(await this.call({ probe: { pretendMissing } }), 'probe');
  }

  /** tc (role POD: pod-facing, EXTERNAL: the node's external devices) or XDP on a device. */
  async attach(ifname: string, hook: 'TC_INGRESS' | 'XDP' = 'TC_INGRESS', role: 'POD' | 'EXTERNAL' = 'POD'): Promise<AttachResult> {
    return resultOf(await this.call({ attach: { ifname, hook, role } }), 'attach');
  }

  async detach(ifname: string, hook: 'TC_INGRESS' | 'XDP' = 'TC_INGRESS'): Promise<void> {
    await this.call({ detach: { ifname, hook } });
  }

  /** Socket-level balancing: the cgroup sock_addr programs on a cgroup v2 directory. */
  async attachSocketLB(cgroupPath: string): Promise<AttachResult> {
    return resultOf(await this.call({ attach: { hook: 'SOCK_LB', cgroupPath } }), 'attach');
  }

  async detachSocketLB(cgroupPath: string): Promise<void> {
    await this.call({ detach: { hook: 'SOCK_LB', cgroupPath } });
  }

  /** onWritten: as call()'s. */
  async apply(ops: MapOp_op[], onWritten?: () => void): Promise<number> {
    return resultOf(await this.call({ apply: { ops } }, onWritten), 'apply').applied;
  }

  /**
   * Garbage-collects sy_conntrack (expired and orphaned entries): one walk,
   * in slices of about `sliceUs` of the loader's time (0: one request), so
   * a map write sent meanwhile waits for one slice, not for the walk (a
   * whole walk of a full map took 1.3 s). The counts are the whole walk's.
   */
  async gcConntrack(sliceUs = GC_SLICE_US): Promise<GcConntrackResult & { slices: number }> {
    const sum = { deleted: 0, scanned: 0, expired: 0, orphanedBackend: 0, orphanedFrontend: 0, nextCursor: 0, slices: 0 };
    let cursor = 0;
    do {
      const r = resultOf(await this.call({ gcConntrack: { cursor, budgetUs: sliceUs } }), 'gcConntrack');
      sum.slices++;
      sum.deleted += Number(r.deleted ?? 0);
      sum.scanned += Number(r.scanned ?? 0);
      sum.expired += Number(r.expired ?? 0);
      sum.orphanedBackend += Number(r.orphanedBackend ?? 0);
      sum.orphanedFrontend += Number(r.orphanedFrontend ?? 0);
      // A loader without slices answers no cursor: its one request was the whole walk.
      const next = Number(r.nextCursor ?? 0);
      // The cursor (family, next bucket) only grows: anything else would never end.
      if (next !== 0 && next <= cursor) throw new LoaderError('INVALID', `gc_conntrack: cursor ${next} after ${cursor}: not a walk forward`);
      cursor = next;
    } while (cursor !== 0);
    return sum;
  }

  /** Every entry of a map (limit 0: all pages, read one request each), or the first `limit` entries. */
  async dump(map: string, limit = 0): Promise<{ info: MapInfo; entries: MapEntry[] }> {
    if (limit > 0) return this.dumpPage(map, new Uint8Array(0), limit);
    return dumpAllPages((cursor) => this.dumpPage(map, cursor));
  }

  /** One page of a dump, from the key after `cursor` (empty: the first). */
  async dumpPage(map: string, cursor: Uint8Array, limit = 0, pageBytes = 0): Promise<DumpPage> {
    return resultOf(await this.reads().call({ dump: { map, limit, cursor, pageBytes } }), 'dump');
  }

  /** Single keys: the value (as a dump returns it) or undefined when the key is absent. */
  async lookup(map: string, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
    if (keys.length === 0) return [];
    const out: Array<Uint8Array | undefined> = [];
    for (let i = 0; i < keys.length; i += 4096) {
      const r = resultOf(await this.reads().call({ lookup: { map, keys: keys.slice(i, i + 4096) } }), 'lookup');
      for (const v of r.values ?? []) out.push(v.found ? v.value : undefined);
    }
    return out;
  }

  /** skipEntryCounts: leave MapInfo.entries at 0 (counting walks every map); countMaps: count only these. */
  async status(opts: { skipEntryCounts?: boolean; countMaps?: string[] } = {}): Promise<StatusResult> {
    return resultOf(await this.reads().call({ status: { skipEntryCounts: opts.skipEntryCounts ?? false, countMaps: opts.countMaps ?? [] } }), 'status');
  }

  async cleanup(): Promise<void> {
    await this.call({ cleanup: {} });
  }

  async testRun(program: string, data: Uint8Array, repeat = 1, ifindex = 0): Promise<TestRunResult> {
    return resultOf(await this.call({ testRun: { program, data, repeat, ifindex } }), 'testRun');
  }

  close(): void {
    if (this.reader !== this) this.reader?.close();
    this.reader = undefined;
    this.sock?.destroy();
    this.sock = undefined;
    this.failAll(new LoaderError('UNAVAILABLE', 'client closed'));
  }
}
