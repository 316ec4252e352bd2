// The loader's event stream: a connection of its own that sends the monitor
// request (loader.proto) and then receives a Response with the same seq for
// every batch of datapath events (struct sy_event, raw bytes). It never
// carries another request, so map writes and reads on the agent's other
// connections are not delayed by it, nor it by them.
import net from 'node:net';
import { RequestType, ResponseType, TO_OBJECT } from './loader-protocol.js';
import type { Response } from './loader-messages.js';

export interface EventBatch {
  /** struct sy_event each, in the ring buffer's order. */
  events: Uint8Array[];
  /** Events the loader could not send to this stream since the previous batch (it read too slowly). */
  missed: number;
}

export interface LoaderEventStreamOptions {
  socketPath: string;
  onBatch(batch: EventBatch): void;
  /** Subscribed (true) or lost (false, with why); reconnects follow by themselves. */
  onState?(up: boolean, why?: string): void;
  /** Wait between reconnection attempts, ms (default 1000). */
  retryMs?: number;
}

export class LoaderEventStream {
  private sock: net.Socket | undefined;
  private buf: Buffer = Buffer.alloc(0);
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  /** True while subscribed (the loader answered the monitor request OK). */
  subscribed = false;

  constructor(private readonly opts: LoaderEventStreamOptions) {}

  start(): void {
    if (this.closed || this.sock) return;
    const s = net.createConnection(this.opts.socketPath);
    this.sock = s;
    this.buf = Buffer.alloc(0);
    s.on('connect', () => s.write(RequestType.encodeDelimited(RequestType.fromObject({ seq: 1, monitor: {} })).finish()));
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('error', () => undefined); // 'close' follows
    s.on('close', () => {
      if (this.sock !== s) return;
      this.sock = undefined;
      const was = this.subscribed;
      this.subscribed = false;
      if (was) this.opts.onState?.(false, 'connection to the loader closed');
      if (!this.closed) {
        this.retry = setTimeout(() => this.start(), this.opts.retryMs ?? 1000);
        this.retry.unref();
      }
    });
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
      if (i >= this.buf.length || i === 10) return;
      const start = i + 1;
      if (this.buf.length < start + len) return;
      const body = this.buf.subarray(start, start + len);
      this.buf = this.buf.subarray(start + len);
      const msg = ResponseType.toObject(ResponseType.decode(body), TO_OBJECT) as Response;
      if (msg.code !== 'OK') {
        // An older loader (no monitor) or a datapath without sy_events: say so once, retry later.
        this.opts.onState?.(false, `loader: ${msg.code}: ${msg.error}`);
        this.sock?.destroy();
        return;
      }
      if (!this.subscribed) {
        this.subscribed = true;
        this.opts.onState?.(true);
      }
      const ev = msg.monitor;
      if (ev && (ev.events.length > 0 || ev.missed > 0)) this.opts.onBatch({ events: ev.events, missed: ev.missed });
    }
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.sock?.destroy();
    this.sock = undefined;
    this.subscribed = false;
  }
}
