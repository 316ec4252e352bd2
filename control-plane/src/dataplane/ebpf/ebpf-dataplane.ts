// The eBPF back end: builds map content from the desired state, diffs it
// against what the pinned maps hold and sends the loader only the changes.
// Programmed state is read back from the maps at start and after any failed
// write, so the agent can restart (or the loader vanish) without losing track.
import type { Logger } from 'pino';
import type { Dataplane, SyncOutcome } from '../dataplane.js';
import type { DesiredServicePort } from '../desired-state.js';
import type { MaglevSizing } from '../maglev.js';
import { ipv4ToBytes } from '../../util/ipv4.js';
import { DesiredMapsBuilder } from './desired-maps.js';
import { diffMaps, type LoaderOp } from './diff.js';
import { LoaderError, type LoaderClient } from './loader-client.js';
import { cidrContains } from '../../util/ipv4.js';
import { emptyMapsContent, type MapsContent } from './maps-content.js';
import { decodeBackend, decodeRevNat, decodeSourceRangeKey, decodeSvcKey, decodeSvcValue, decodeU32, decodeU32Array, svcKeyString } from './map-values.js';

export interface EbpfDataplaneOptions {
  seed: number;
  sizing: MaglevSizing;
  nodeIP: string;
  /** sy_config.flags (CONFIG_FLAGS). */
  configFlags?: number;
  /** sy_config.snat_port_min/max (unset: the datapath's built-in range). */
  snatPorts?: { min: number; max: number };
  /** --nodeport-addresses: CIDRs (or "primary") the NodePort frontends are limited to. */
  nodePortAddresses?: string[];
  /** Upper bound of one ApplyRequest's encoded size (the loader refuses more). */
  maxBatchBytes?: number;
}

/** sy_config.flags bits (bpf/include/sy_structs.h). */
export const CONFIG_FLAGS = { NO_XDP_TX: 1 << 0, POD_UDP_CONNECT_TC: 1 << 1 } as const;

export class EbpfDataplane implements Dataplane {
  readonly mode = 'ebpf' as const;
  readonly builder: DesiredMapsBuilder;
  private programmed: MapsContent | undefined;

  constructor(readonly loader: LoaderClient, private readonly opts: EbpfDataplaneOptions, private readonly log: Logger) {
    this.builder = new DesiredMapsBuilder({ seed: opts.seed, sizing: opts.sizing });
  }

  /** Sets sy_config.flags bits (written by init()). */
  addConfigFlags(flags: number): void {
    this.opts.configFlags = (this.opts.configFlags ?? 0) | flags;
  }

  setNodeIP(ip: string): void {
    this.opts.nodeIP = ip;
    const ranges = this.opts.nodePortAddresses ?? [];
    const ok = ip !== '0.0.0.0' && (ranges.length === 0 || ranges.some((c) => c === 'primary' || (c.includes('/') && cidrContains(c, ip))));
    this.builder.nodeAddresses = ok ? [ip] : [];
    this.builder.nodeIP = ip === '0.0.0.0' ? '' : ip;
  }

  /** Dump of a map this datapath build may not have (older pins): empty when absent. */
  private async dumpIfPresent(map: string): Promise<Array<{ key: Uint8Array; value: Uint8Array }>> {
    try {
      return (await this.loader.dump(map)).entries ?? [];
    } catch (err) {
      if (err instanceof LoaderError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  async init(): Promise<void> {
    await this.loader.apply([{ setConfig: { flowHashSeed: this.opts.seed >>> 0, flags: this.opts.configFlags ?? 0, nodeAddr: ipv4ToBytes(this.opts.nodeIP),
      snatPortMin: this.opts.snatPorts?.min ?? 0, snatPortMax: this.opts.snatPorts?.max ?? 0 } }]);
    await this.restore();
  }

  /** Reads the service maps back into `programmed` and seeds the id allocators. */
  async restore(): Promise<void> {
    const content = emptyMapsContent();
    for (const e of (await this.loader.dump('sy_services')).entries ?? []) {
      const key = decodeSvcKey(e.key);
      content.services.set(svcKeyString(key), { key, value: decodeSvcValue(e.value) });
    }
    for (const e of (await this.loader.dump('sy_backends')).entries ?? []) content.backends.set(decodeU32(e.key), decodeBackend(e.value));
    for (const e of (await this.loader.dump('sy_revnat')).entries ?? []) content.revnat.set(decodeU32(e.key), decodeRevNat(e.value));
    for (const e of (await this.loader.dump('sy_maglev')).entries ?? []) content.maglev.set(decodeU32(e.key), decodeU32Array(e.value));
    for (const e of await this.dumpIfPresent('sy_source_ranges')) {
      const r = decodeSourceRangeKey(e.key);
      content.sourceRanges.set(`${r.frontendId}/${r.addr}/${r.prefixLen}`, r);
    }
    this.builder.adopt(content);
    this.programmed = content;
    this.incrementalReady = false;
    this.log.info({ services: content.services.size, backends: content.backends.size, tables: content.maglev.size }, 'restored programmed state from pinned maps');
  }

  async sync(desired: DesiredServicePort[], changed?: ReadonlyMap<string, DesiredServicePort[]>): Promise<SyncOutcome> {
    if (changed && this.programmed && this.incrementalReady) return this.syncPartial(changed);
    if (!this.programmed) await this.restore();
    const want = this.builder.build(desired);
    const { ops, stats } = diffMaps(this.programmed!, want);

    try {
      for (const batch of this.batches(ops)) await this.loader.apply(batch);
    } catch (err) {
      // Some ops may have landed: forget what we believe and read the maps again next time.
      this.programmed = undefined;
      throw err;
    }
    this.programmed = want;
    this.incrementalReady = true;
    if (stats.backendsDeleted > 0) this.gcSoon();
    return { changes: ops.length, detail: { ...stats, full: 1 } };
  }

  /** Set after a full sync: the builder's contributions then mirror the maps. */
  private incrementalReady = false;

  /** Only the changed Services: their entries before vs after. */
  private async syncPartial(changed: ReadonlyMap<string, DesiredServicePort[]>): Promise<SyncOutcome> {
    const { before, after } = this.builder.update(changed);
    const { ops, stats } = diffMaps(before, after);

    try {
      for (const batch of this.batches(ops)) await this.loader.apply(batch);
    } catch (err) {
      this.programmed = undefined;
      this.incrementalReady = false;
      throw err;
    }
    // Keep the full picture of the maps current.
    const p = this.programmed!;
    for (const k of before.services.keys()) if (!after.services.has(k)) p.services.delete(k);
    for (const k of before.revnat.keys()) if (!after.revnat.has(k)) p.revnat.delete(k);
    for (const k of before.maglev.keys()) if (!after.maglev.has(k)) p.maglev.delete(k);
    for (const k of before.sourceRanges.keys()) if (!after.sourceRanges.has(k)) p.sourceRanges.delete(k);
    for (const k of before.backends.keys()) if (!after.backends.has(k)) p.backends.delete(k);
    for (const [k, v] of after.services) p.services.set(k, v);
    for (const [k, v] of after.revnat) p.revnat.set(k, v);
    for (const [k, v] of after.maglev) p.maglev.set(k, v);
    for (const [k, v] of after.sourceRanges) p.sourceRanges.set(k, v);
    for (const [k, v] of after.backends) p.backends.set(k, v);
    if (stats.backendsDeleted > 0) this.gcSoon();
    return { changes: ops.length, detail: { ...stats, full: 0 } };
  }

  /** Splits ops so no request exceeds the loader's message limit. */
  private *batches(ops: LoaderOp[]): Generator<LoaderOp[]> {
    const limit = this.opts.maxBatchBytes ?? 4 << 20;
    let cur: LoaderOp[] = [];
    let size = 0;
    for (const op of ops) {
      const t = (op.setMaglev as { backendIds?: ArrayLike<number> } | undefined)?.backendIds;
      const est = 64 + (t ? t.length * 5 : 0);
      if (cur.length > 0 && size + est > limit) {
        yield cur;
        cur = [];
        size = 0;
      }
      cur.push(op);
      size += est;
    }
    if (cur.length > 0) yield cur;
  }

  private gcTimer: NodeJS.Timeout | undefined;

  /**
   * Conntrack entries of deleted backends are removed shortly after a sync,
   * off the sync path: a gc walks the whole conntrack map, and a burst of
   * deletions should cost one walk. Flows are not waiting on it (a packet
   * whose backend is gone picks again, or gets a reset), only memory is.
   */
  private gcSoon(delayMs = 200): void {
    if (this.gcTimer) return;
    this.gcTimer = setTimeout(() => {
      this.gcTimer = undefined;
      this.gcConntrack().catch(() => undefined);
    }, delayMs);
    this.gcTimer.unref();
  }

  /** Deletes expired and orphaned conntrack entries; returns how many. */
  async gcConntrack(): Promise<number> {
    const r = await this.loader.call({ apply: { ops: [{ gcConntrack: {} }] } });
    return Number(r.apply?.deleted ?? 0);
  }

  async close(): Promise<void> {
    if (this.gcTimer) clearTimeout(this.gcTimer);
    this.loader.close();
  }
}
