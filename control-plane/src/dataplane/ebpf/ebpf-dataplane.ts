// The eBPF back end: builds map content from the desired state, diffs it
// against what the pinned maps hold and sends the loader only the changes.
// Programmed state is read back from the maps at start and after any failed
// write, so the agent can restart (or the loader vanish) without losing track.
import type { Logger } from 'pino';
import type { Dataplane, SyncOptions, SyncOutcome } from '../dataplane.js';
import type { DesiredServicePort } from '../desired-state.js';
import type { ServiceKey } from '../../model/service-key.js';
import type { MaglevSizing } from '../maglev.js';
import { ipv4ToBytes } from '../../util/ipv4.js';
import { DesiredMapsBuilder } from './desired-maps.js';
import { SyncRun } from './sync-plan.js';
import { ConntrackGcSchedule } from './conntrack-gc.js';
import { warmUpChangePath } from './warm-up.js';
import { checkDrift as compareMaps, writtenContent, type WriteGauge, type WrittenContent } from './drift-check.js';
import { LoaderError, type LoaderClient } from './loader-client.js';
import { cidrContains, intToIpv4, parseCidr } from '../../util/ipv4.js';
import { emptyMapsContent, sameBackend, sameRevNat, sameSvcValue, sameTable, type MapsContent } from './maps-content.js';
import { decodeEntries } from './map-codecs.js';
import { ConfigFlags, svcKeyString } from './map-values.js';
import { mustParseIP, parsePrefix, prefixContains } from '../../util/ip.js';
import { ms2 } from '../../util/ms.js';

export interface EbpfDataplaneOptions {
  seed: number;
  sizing: MaglevSizing;
  nodeIP: string;
  /** sy_config.flags (CONFIG_FLAGS). */
  configFlags?: number;
  /** sy_config.snat_port_min/max (unset: the datapath's built-in range). */
  snatPorts?: { min: number; max: number };
  /** sy_config.svc_net/svc_mask: the Service CIDR "a.b.c.d/len" (--service-cluster-ip-range; unset: none). */
  serviceCIDR?: string;
  /** --nodeport-addresses: CIDRs (or "primary") the NodePort frontends are limited to (either family). */
  nodePortAddresses?: string[];
  /** This node's IPv6 address (sy_config6.node_addr: SNAT source; IPv6 NodePorts); unset: none. */
  nodeIP6?: string;
  /** sy_config6.svc_net/svc_mask: the IPv6 Service CIDR (unset: none). */
  serviceCIDR6?: string;
  /** Upper bound of one ApplyRequest's encoded size (the loader refuses more). */
  maxBatchBytes?: number;
  /** Map sizes the configuration asks for (--map-max-entries): checked against the loader's. */
  mapMaxEntries?: Record<string, number>;
}

/** A large map is read whole for the drift check at most once per this many times its read's duration. */
export const VERIFY_BUDGET = 10;

/** A map this full (entries / max_entries) is reported before it fills up. */
export const PRESSURE_WARN = 0.9;
/** Delay of the map pressure warnings after a sync that moved a map size (ms): they are logged off the sync, at most this often. */
export const PRESSURE_CHECK_DELAY_MS = 1000;

/** sy_config.flags bits (SY_CFG_F_*, from the layout contract). */
export const CONFIG_FLAGS = ConfigFlags;

export class EbpfDataplane implements Dataplane {
  readonly mode = 'ebpf' as const;
  readonly capabilities = { partialSync: true, conntrackGC: true, ipFamilies: ['IPv4', 'IPv6'] } as const;
  readonly builder: DesiredMapsBuilder;
  private programmed: MapsContent | undefined;

  constructor(readonly loader: LoaderClient, private readonly opts: EbpfDataplaneOptions, private readonly log: Logger) {
    this.builder = new DesiredMapsBuilder({ seed: opts.seed, sizing: opts.sizing });
    this.conntrackGc = new ConntrackGcSchedule(() => this.gcConntrack(), log);
  }

  /** Dataplane.warmUp: the change path on a builder and picture of its own (warm-up.ts). */
  warmUp(changes: ReadonlyArray<ReadonlyMap<ServiceKey, DesiredServicePort[]>>): Promise<number> {
    return warmUpChangePath({ seed: this.opts.seed, sizing: this.opts.sizing }, changes);
  }

  /** What the service maps hold as far as the agent knows (undefined until read back): metrics count and name from it. */
  get programmedMaps(): MapsContent | undefined {
    return this.programmed;
  }

  /** Sets sy_config.flags bits (written by init()). */
  addConfigFlags(flags: number): void {
    this.opts.configFlags = (this.opts.configFlags ?? 0) | flags;
  }

  setNodeIP(ip: string): void {
    this.opts.nodeIP = ip;
    const ok = ip !== '0.0.0.0' && nodePortAddressAllowed(this.opts.nodePortAddresses ?? [], ip, (c) => cidrContains(c, ip));
    this.builder.nodeAddresses = ok ? [ip] : [];
    this.builder.nodeIP = ip === '0.0.0.0' ? '' : ip;
  }

  /** The node's IPv6 address (undefined: none): IPv6 NodePorts answer on it, SNATed IPv6 flows leave from it (written by init()). */
  setNodeIP6(ip: string | undefined): void {
    if (ip === undefined) delete this.opts.nodeIP6;
    else this.opts.nodeIP6 = ip;
    const ok = ip !== undefined && nodePortAddressAllowed(this.opts.nodePortAddresses ?? [], ip, (c) => prefixContains(c, ip));
    this.builder.nodeAddresses6 = ok && ip !== undefined ? [ip] : [];
    this.builder.nodeIP6 = ip ?? '';
  }

  /**
   * What the service maps hold, read back through the loader. The one read
   * path of the agent (restore at start, drift checks): a paginated dump
   * goes here. `truncated` names maps the dump could not return whole (the
   * loader's message limit): their missing keys are unknown, not absent.
   */
  async readMaps(only?: ReadonlySet<string>): Promise<{ content: MapsContent; truncated: Set<string> }> {
    const content = emptyMapsContent();
    const truncated = new Set<string>();
    const read = async (map: string, optional = false): Promise<Array<{ key: Uint8Array; value: Uint8Array }>> => {
      if (only && !only.has(map.replace(/6$/, ''))) return [];
      let r: Awaited<ReturnType<LoaderClient['dump']>>;
      try {
        r = await this.loader.dump(map);
      } catch (err) {
        if (optional && err instanceof LoaderError && err.code === 'NOT_FOUND') return [];
        throw err;
      }
      const entries = r.entries ?? [];
      if (r.info && Number(r.info.entries) > entries.length) truncated.add(map);
      if (r.info) this.capacities.set(map, Number(r.info.maxEntries));
      return entries;
    };
    for (const e of decodeEntries('sy_services', await read('sy_services'))) content.services.set(svcKeyString(e.key), e);
    for (const e of decodeEntries('sy_backends', await read('sy_backends'))) content.backends.set(e.key, e.value);
    for (const e of decodeEntries('sy_revnat', await read('sy_revnat'))) content.revnat.set(e.key, e.value);
    for (const e of decodeEntries('sy_maglev', await read('sy_maglev'))) content.maglev.set(e.key, e.value);
    for (const { key: r } of decodeEntries('sy_source_ranges', await read('sy_source_ranges', true))) {
      content.sourceRanges.set(`${r.frontendId}/${r.addr}/${r.prefixLen}`, r);
    }
    // The IPv6 twins, in the same picture: keys never collide (addresses are
    // text of their family; ids are one space). Optional: a loader older
    // than the twins has none.
    if (!only || only.has('sy_services')) for (const e of decodeEntries('sy_services6', await read('sy_services6', true))) content.services.set(svcKeyString(e.key), e);
    if (!only || only.has('sy_backends')) for (const e of decodeEntries('sy_backends6', await read('sy_backends6', true))) content.backends.set(e.key, e.value);
    if (!only || only.has('sy_revnat')) for (const e of decodeEntries('sy_revnat6', await read('sy_revnat6', true))) content.revnat.set(e.key, e.value);
    if (!only || only.has('sy_source_ranges')) {
      for (const { key: r } of decodeEntries('sy_source_ranges6', await read('sy_source_ranges6', true))) {
        content.sourceRanges.set(`${r.frontendId}/${r.addr}/${r.prefixLen}`, r);
      }
    }
    return { content, truncated };
  }

  /** Entries in a map, counted by the loader over its keys alone (no values cross the socket). */
  private async countEntries(map: string): Promise<number> {
    return Number((await this.loader.dump(map, 1)).info?.entries ?? 0);
  }

  async init(): Promise<void> {
    await this.loader.apply([{ setConfig: { flowHashSeed: this.opts.seed >>> 0, flags: this.opts.configFlags ?? 0, nodeAddr: ipv4ToBytes(this.opts.nodeIP),
      snatPortMin: this.opts.snatPorts?.min ?? 0, snatPortMax: this.opts.snatPorts?.max ?? 0, ...serviceCIDRConfig(this.opts.serviceCIDR),
      ...(this.opts.nodeIP6 ? { nodeAddr6: mustParseIP(this.opts.nodeIP6).bytes } : {}), ...serviceCIDR6Config(this.opts.serviceCIDR6) } }]);
    await this.restore();
    await this.readCapacities();
  }

  /** max_entries of every map, as the loader created them; warns where the configuration asked for another size. */
  private async readCapacities(): Promise<void> {
    try {
      const st = await this.loader.status();
      for (const m of (st.maps ?? []) as Array<{ name: string; maxEntries: number }>) this.capacities.set(m.name, Number(m.maxEntries));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'could not read the map capacities from the loader');
    }
    for (const [map, want] of Object.entries(this.opts.mapMaxEntries ?? {})) {
      const have = this.capacities.get(map);
      if (have !== undefined && have !== want) {
        this.log.warn({ map, configured: want, actual: have },
          'map capacity differs from the configuration: the loader sizes maps when it creates them (--map-max-entries), and a pinned map keeps its size until its pin is removed');
      }
    }
  }

  /** Reads the service maps back into `programmed` and seeds the id allocators. */
  async restore(): Promise<void> {
    const { content } = await this.readMaps();
    this.builder.adopt(content);
    this.programmed = content;
    this.incrementalReady = false;
    this.log.info({ services: content.services.size, backends: content.backends.size, tables: content.maglev.size }, 'restored programmed state from pinned maps');
  }

  /**
   * Replaces what the agent believes programmed with what the maps hold and
   * counts the difference (entries deleted, changed or added behind the
   * agent's back); the sync that follows repairs it.
   *
   * Frontend maps (sy_services, sy_revnat, sy_source_ranges: one entry per
   * frontend) are read whole every time. sy_backends and sy_maglev are the
   * large ones (300,000 backends and 30,000 tables of ~1,000 slots at
   * 30,000 x 10): each time the loader counts their keys (cheap: no values
   * cross the socket), and a count that differs from the agent's reads the
   * map whole at once; otherwise a map is read whole when VERIFY_BUDGET times
   * its last read's duration has passed since, so checking it costs at most
   * 1/VERIFY_BUDGET of the agent's time (small maps: every time).
   */
  private async verify(): Promise<Record<string, number>> {
    const belief = this.programmed!;
    const now = Date.now();
    const read = await this.mapsToRead(belief, now);
    const t0 = Date.now();
    const { content: actual, truncated } = await this.readMaps(read);
    const readMs = Date.now() - t0;
    for (const map of read) this.lastFullRead.set(map, { at: now, ms: readMs });
    // Maps not read this time: as believed.
    if (!read.has('sy_backends')) actual.backends = new Map(belief.backends);
    if (!read.has('sy_maglev')) actual.maglev = new Map(belief.maglev);
    else {
      // A table read back as believed keeps the believed array: groups with
      // one backend set share it (desired-maps.ts); 10,000 decoded copies
      // would hold 40 MiB at 10,000 Services x 10 endpoints.
      for (const [g, t] of actual.maglev) {
        const b = belief.maglev.get(g);
        if (b && b !== t && sameTable(b, t)) actual.maglev.set(g, b);
      }
    }
    const drift: Record<string, number> = {};
    const count = <K, V>(map: string, want: Map<K, V>, have: Map<K, V>, same: (a: V | undefined, b: V) => boolean): void => {
      let n = 0;
      const partial = truncated.has(map);
      for (const [k, v] of want) {
        const h = have.get(k);
        if (h === undefined) {
          // Not returned by a cut dump: unknown, kept as believed.
          if (partial) have.set(k, v);
          else n++;
        } else if (!same(h, v)) n++;
      }
      for (const k of have.keys()) if (!want.has(k)) n++;
      if (n > 0) drift[map] = n;
    };
    count('sy_services', belief.services, actual.services, (a, b) => !!a && sameSvcValue(a.value, b.value));
    count('sy_backends', belief.backends, actual.backends, sameBackend);
    count('sy_revnat', belief.revnat, actual.revnat, sameRevNat);
    count('sy_maglev', belief.maglev, actual.maglev, sameTable);
    count('sy_source_ranges', belief.sourceRanges, actual.sourceRanges, (a) => a !== undefined);
    if (truncated.size > 0 && !this.warnedTruncated) {
      this.warnedTruncated = true;
      this.log.warn({ maps: [...truncated] }, 'dump cut at the loader\'s message limit: entries beyond it are not checked for drift');
    }
    this.programmed = actual;
    this.lastVerify = { at: now, ms: Date.now() - now, maps: [...read] };
    return drift;
  }

  /** The maps a drift check reads whole (see verify()). */
  private async mapsToRead(belief: MapsContent, now: number): Promise<Set<string>> {
    const read = new Set(['sy_services', 'sy_revnat', 'sy_source_ranges']);
    for (const [map, believed] of [['sy_backends', belief.backends.size], ['sy_maglev', belief.maglev.size]] as const) {
      const last = this.lastFullRead.get(map);
      // Backends of both families are one picture: count both maps.
      const count = async (): Promise<number> => (await this.countEntries(map)) + (map === 'sy_backends' ? await this.countEntries('sy_backends6').catch(() => 0) : 0);
      if (!last || now - last.at >= last.ms * VERIFY_BUDGET || (await count()) !== believed) read.add(map);
    }
    return read;
  }

  /** Writes started (epoch) and not yet answered (inFlight): a drift check reads only between them. */
  private readonly writes: WriteGauge = { epoch: 0, inFlight: 0 };
  /** While a drift check runs: every key the syncs write. */
  private written: WrittenContent | undefined;

  /**
   * The periodic drift check beside the syncs (drift-check.ts): the same maps
   * as verify() reads, compared with what the agent programmed, without
   * holding any sync. Returns the entries that drifted; the proxier then runs
   * a full sync with verify(), which repairs them. 0 when there is nothing
   * to compare yet (a full sync is due anyway) or a check already runs.
   */
  async checkDrift(): Promise<number> {
    const belief = this.programmed;
    if (!belief || !this.incrementalReady || this.written) return 0;
    const now = Date.now();
    const written = writtenContent();
    this.written = written;
    let result;
    try {
      const read = await this.mapsToRead(belief, now);
      result = await compareMaps({ loader: this.loader, belief, written, writes: this.writes, read });
      const ms = Date.now() - now;
      for (const map of read) if (!result.incomplete.includes(map)) this.lastFullRead.set(map, { at: now, ms });
      this.lastVerify = { at: now, ms, maps: [...read].filter((m) => !result!.incomplete.includes(m)) };
    } finally {
      this.written = undefined;
    }
    // Read back meanwhile (a failed write): the full sync that follows compares anew.
    if (this.programmed !== belief) return 0;
    if (result.incomplete.length > 0) this.log.info({ maps: result.incomplete }, 'drift check incomplete: writes left no quiet moment to read these maps; the next check tries again');
    const total = Object.values(result.drift).reduce((a, b) => a + b, 0);
    if (total > 0) this.log.warn({ drift: result.drift }, 'drift check: map entries differ from what the agent programmed');
    else this.log.info({ maps: this.lastVerify?.maps, ms: this.lastVerify?.ms }, 'drift check done');
    return total;
  }

  private readonly lastFullRead = new Map<string, { at: number; ms: number }>();
  /** The last drift check: when, how long, which maps it read whole. */
  lastVerify: { at: number; ms: number; maps: string[] } | undefined;
  private warnedTruncated = false;

  async sync(desired: DesiredServicePort[], changed?: ReadonlyMap<ServiceKey, DesiredServicePort[]>, opts: SyncOptions = {}): Promise<SyncOutcome> {
    if (changed && this.programmed && this.incrementalReady && !opts.verify) return this.syncPartial(changed);
    if (!this.programmed) await this.restore();
    let drift: Record<string, number> = {};
    const t0 = Date.now();
    if (opts.verify && this.incrementalReady) drift = await this.verify();
    const t1 = Date.now();
    const want = this.builder.build(desired);
    const wants = this.builder.wants(this.builder.serviceKeys());
    const t2 = Date.now();
    this.shareProgrammedTables(want);
    const { run, loaderMs } = await this.execute(wants, this.programmed!, want);
    const phases = { verifyMs: t1 - t0, buildMs: t2 - t1, executeMs: Date.now() - t2, loaderMs };
    this.incrementalReady = true;
    const driftTotal = Object.values(drift).reduce((a, b) => a + b, 0);
    if (driftTotal > 0) {
      this.driftRepaired += driftTotal;
      for (const [map, n] of Object.entries(drift)) this.driftByMap.set(map, (this.driftByMap.get(map) ?? 0) + n);
      this.log.warn({ drift }, 'datapath drift repaired: map entries deleted, changed or added behind the agent\'s back were put back as desired');
    }
    // buildMs: map content and tables; executeMs: planning, encoding and the loader's writes (`requests` of them), loaderMs of it with a request at the loader (planning and encoding the next batch overlap it).
    return { changes: run.landed, detail: { ...run.stats, ...phases, full: 1, drift: driftTotal, refused: run.refused.size, requests: run.requests }, refused: run.refused };
  }

  /**
   * Tables the maps hold as wanted (read back at start or by a drift check)
   * become the builder's arrays: groups with one backend set share one
   * (desired-maps.ts), where decoded copies would hold 4 bytes a slot each
   * (40 MiB at 10,000 Services x 10 endpoints).
   */
  private shareProgrammedTables(want: MapsContent): void {
    const held = this.programmed!.maglev;
    for (const [g, t] of want.maglev) {
      const p = held.get(g);
      if (p && p !== t && sameTable(p, t)) held.set(g, t);
    }
  }

  /** Set after a full sync: the builder's contributions then mirror the maps. */
  private incrementalReady = false;

  /** Only the changed Services: their entries before vs after. */
  private async syncPartial(changed: ReadonlyMap<ServiceKey, DesiredServicePort[]>): Promise<SyncOutcome> {
    const t0 = performance.now();
    const { before, after } = this.builder.update(changed);
    const wants = this.builder.wants(changed.keys());
    const t1 = performance.now();
    const { run, loaderMs } = await this.execute(wants, before, after);
    const phases = { buildMs: ms2(t1 - t0), executeMs: ms2(performance.now() - t1), loaderMs };
    return { changes: run.landed, detail: { ...run.stats, ...phases, full: 0, refused: run.refused.size }, refused: run.refused };
  }

  /** Runs the plan; on a failure that is nobody's in particular, the maps are read again next time. */
  private async execute(wants: Map<ServiceKey, MapsContent>, deletable: MapsContent, desired: MapsContent): Promise<{ run: SyncRun; loaderMs: number }> {
    // loaderMs: time with at least one request at the loader (two may travel at once).
    // Only syncs write, one at a time, and a sync returns or throws with no write in flight.
    let loaderMs = 0, since = 0;
    const run = new SyncRun(this.programmed!, {
      send: async (ops, onWritten) => {
        this.writes.epoch++;
        if (this.writes.inFlight++ === 0) since = performance.now();
        try {
          await this.loader.apply(ops, onWritten);
        } finally {
          if (--this.writes.inFlight === 0) loaderMs += performance.now() - since;
        }
      },
      maxBatchBytes: this.opts.maxBatchBytes ?? 4 << 20,
      onCommit: (o) => {
        if (this.written) o.commit(this.written);
      },
    });
    try {
      await run.run(wants, deletable, desired);
    } catch (err) {
      this.programmed = undefined;
      this.incrementalReady = false;
      throw err;
    }
    if (run.stats.backendsDeleted > 0) this.conntrackGc.soon();
    // Pressure walks every entry (per family): only when a map's size moved,
    // not for each change of values, and after the sync, not inside it.
    const sizes = mapSizes(this.programmed!);
    if (sizes !== this.pressureSizes) {
      this.pressureSizes = sizes;
      this.schedulePressureCheck();
    }
    return { run, loaderMs: ms2(loaderMs) };
  }

  /** The map sizes at the last pressure check (mapSizes()). */
  private pressureSizes = '';

  /** Capacity (max_entries) of each map, from the loader. */
  private readonly capacities = new Map<string, number>();
  private readonly pressureWarned = new Set<string>();
  /** Drift repaired since start, in total and per map. */
  driftRepaired = 0;
  readonly driftByMap = new Map<string, number>();

  /**
   * Entries per capacity of each service map, from what the agent programmed
   * (no dump). Warns (log) when a map reaches PRESSURE_WARN.
   */
  mapPressure(): Array<{ map: string; entries: number; capacity: number; ratio: number; warning: boolean }> {
    const p = this.programmed;
    if (!p) return [];
    // Each family's entries against its own map (IPv6 addresses hold ':').
    const v6 = (addr: string): boolean => addr.includes(':');
    const n6 = <V>(m: Map<unknown, V>, addr: (v: V) => string): number => {
      let n = 0;
      for (const v of m.values()) if (v6(addr(v))) n++;
      return n;
    };
    const s6 = n6(p.services, (e) => e.key.addr), r6 = n6(p.revnat, (v) => v.addr), b6 = n6(p.backends, (v) => v.addr), sr6 = n6(p.sourceRanges, (v) => v.addr);
    const sizes: Array<[string, number]> = [
      ['sy_services', p.services.size - s6], ['sy_revnat', p.revnat.size - r6], ['sy_maglev', p.maglev.size],
      ['sy_backends', p.backends.size - b6], ['sy_source_ranges', p.sourceRanges.size - sr6],
    ];
    // The IPv6 twins only once they hold something: IPv4-only nodes report as before.
    if (s6 + r6 + b6 + sr6 > 0) sizes.push(['sy_services6', s6], ['sy_revnat6', r6], ['sy_backends6', b6], ['sy_source_ranges6', sr6]);
    return sizes.map(([map, entries]) => {
      const capacity = this.capacities.get(map) ?? 0;
      const ratio = capacity > 0 ? entries / capacity : 0;
      return { map, entries, capacity, ratio, warning: ratio >= PRESSURE_WARN };
    });
  }

  private pressureTimer: NodeJS.Timeout | undefined;

  /**
   * The pressure warnings at most once per PRESSURE_CHECK_DELAY_MS, off the
   * sync: a change that adds or removes a backend moves a size, and the walk
   * (every entry of every service map, for the family split) took 26 ms the
   * first time at 10,000 Services x 10 (V8 runs a function's first calls
   * uncompiled), inside the sync of the first EndpointSlice change after a
   * start. What /v1/status and the metrics show is computed when read.
   */
  private schedulePressureCheck(): void {
    if (this.pressureTimer) return;
    this.pressureTimer = setTimeout(() => {
      this.pressureTimer = undefined;
      this.checkPressure();
    }, PRESSURE_CHECK_DELAY_MS);
    this.pressureTimer.unref();
  }

  private checkPressure(): void {
    for (const m of this.mapPressure()) {
      if (m.warning && !this.pressureWarned.has(m.map)) {
        this.pressureWarned.add(m.map);
        this.log.warn({ map: m.map, entries: m.entries, capacity: m.capacity },
          `map ${m.map} is ${Math.round(m.ratio * 100)} % full: Services that need new entries will be refused once it is full (raise --map-max-entries)`);
      } else if (!m.warning && m.ratio < PRESSURE_WARN - 0.05) {
        this.pressureWarned.delete(m.map);
      }
    }
  }

  /** sy_conntrack's GC: after backend deletions, and periodically once startConntrackGc() ran. */
  readonly conntrackGc: ConntrackGcSchedule;

  /** Deletes expired and orphaned conntrack entries; returns how many. */
  async gcConntrack(): Promise<number> {
    return Number((await this.loader.gcConntrack()).deleted ?? 0);
  }

  async close(): Promise<void> {
    this.conntrackGc.stop();
    if (this.pressureTimer) clearTimeout(this.pressureTimer);
    this.pressureTimer = undefined;
    this.loader.close();
  }
}

/** The sizes of the service maps as one string, to see at no cost whether any moved. */
function mapSizes(p: MapsContent): string {
  return `${p.services.size},${p.backends.size},${p.revnat.size},${p.maglev.size},${p.sourceRanges.size}`;
}

/**
 * Whether NodePorts answer on the node address `ip` under --nodeport-addresses
 * (kube-proxy's NewNodePortAddresses, per family): only the CIDRs of ip's
 * family count, "primary" is the node address itself, and a list with none
 * of them allows every address of the family.
 */
export function nodePortAddressAllowed(ranges: readonly string[], ip: string, contains: (cidr: string) => boolean): boolean {
  const v6 = ip.includes(':');
  const mine = ranges.filter((c) => c === 'primary' || (c.includes('/') && c.includes(':') === v6));
  return mine.length === 0 || mine.some((c) => c === 'primary' || contains(c));
}

/** SetConfig's service_cidr6_addr/prefix_len fields for an IPv6 CIDR (none: unset). */
function serviceCIDR6Config(cidr: string | undefined): { serviceCidr6Addr?: Uint8Array; serviceCidr6PrefixLen?: number } {
  if (cidr === undefined) return {};
  const p = parsePrefix(cidr);
  if (!p || p.family !== 'IPv6') throw new Error(`IPv6 Service CIDR ${JSON.stringify(cidr)} is not an IPv6 CIDR`);
  return { serviceCidr6Addr: p.bytes, serviceCidr6PrefixLen: p.prefix };
}

/** SetConfig's service_cidr_addr/prefix_len fields for a CIDR "a.b.c.d/len" (none: the fields stay unset). */
function serviceCIDRConfig(cidr: string | undefined): { serviceCidrAddr?: Uint8Array; serviceCidrPrefixLen?: number } {
  if (cidr === undefined) return {};
  const { base, prefix } = parseCidr(cidr);
  return { serviceCidrAddr: ipv4ToBytes(intToIpv4(base)), serviceCidrPrefixLen: prefix };
}
