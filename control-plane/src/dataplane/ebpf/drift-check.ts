// The periodic drift check of the service maps, run beside the syncs (the
// proxier holds no sync for it, so a change never waits behind it): the maps
// are read in small pages and compared with what the agent programmed.
//
// Syncs go on while the maps are read, so two rules keep their writes from
// passing for drift:
//  - a page is judged only if no write was on its way while it was read
//    (else it is read again): what the page shows and what the agent
//    believes are then of the same moment;
//  - an entry a sync wrote or deleted since the check began is not judged
//    at all (the agent wrote it: its belief is exact), nor is a missing
//    entry that was written meanwhile.
// A map that never gets a quiet page within QUIET_TIMEOUT_MS leaves the check
// incomplete: nothing is reported for it, the next check tries again. After
// each page the check pauses as long as the page took, so on a busy machine
// it takes at most half of the agent's time.
import { decodeEntries } from './map-codecs.js';
import { LoaderError, type LoaderClient, type MapEntry } from './loader-client.js';
import { sameBackend, sameRevNat, sameSvcValue, sameTable, type MapsContent, type SourceRange } from './maps-content.js';
import { svcKeyString, type BackendValue, type RevNatValue, type SvcKey, type SvcValue } from './map-values.js';

/** Bytes per dump page: each page costs the agent a short decode and the loader a short walk, so a write waits little. */
export const DRIFT_PAGE_BYTES = 128 << 10;
/** How long one page may wait for a moment without writes before the check of its map is given up. */
export const QUIET_TIMEOUT_MS = 5_000;

/** A map that also remembers which keys were deleted: the keys a sync touched during a drift check. */
export class WrittenKeys<K, V> extends Map<K, V> {
  readonly deleted = new Set<K>();

  override delete(k: K): boolean {
    this.deleted.add(k);
    return super.delete(k);
  }

  touched(k: K): boolean {
    return this.has(k) || this.deleted.has(k);
  }
}

/** What syncs wrote during a check: PlanOp.commit() applied to it records every key set or deleted. */
export interface WrittenContent extends MapsContent {
  services: WrittenKeys<string, { key: SvcKey; value: SvcValue }>;
  backends: WrittenKeys<number, BackendValue>;
  revnat: WrittenKeys<number, RevNatValue>;
  maglev: WrittenKeys<number, Uint32Array>;
  sourceRanges: WrittenKeys<string, SourceRange>;
}

export function writtenContent(): WrittenContent {
  return { services: new WrittenKeys(), backends: new WrittenKeys(), revnat: new WrittenKeys(), maglev: new WrittenKeys(), sourceRanges: new WrittenKeys() };
}

/** The writes of the agent, as the check sees them: started so far (epoch) and not yet answered (inFlight). */
export interface WriteGauge {
  epoch: number;
  inFlight: number;
}

export interface DriftCheckInput {
  loader: Pick<LoaderClient, 'dumpPage'>;
  /** What the agent believes programmed, read at each page (a sync updates it as its writes land). */
  belief: MapsContent;
  written: WrittenContent;
  writes: WriteGauge;
  /** Which of the families' maps to read, by their IPv4 name (sy_services, sy_backends, ...). */
  read: ReadonlySet<string>;
  pageBytes?: number;
  quietTimeoutMs?: number;
}

export interface DriftCheckResult {
  /** Entries that differ, per map (IPv4 name; the IPv6 twin counts with it). */
  drift: Record<string, number>;
  /** Maps not judged: no quiet page in time. */
  incomplete: string[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Every page of `map`, each read while no write was on its way; onPage gets
 * its entries. false: no quiet moment came in time. A map the loader does
 * not have (an optional twin) has no pages.
 */
async function readQuietly(input: DriftCheckInput, map: string, optional: boolean, onPage: (entries: MapEntry[]) => void): Promise<boolean> {
  const timeout = input.quietTimeoutMs ?? QUIET_TIMEOUT_MS;
  let cursor: Uint8Array = new Uint8Array(0);
  let since = Date.now();
  for (;;) {
    if (input.writes.inFlight > 0) {
      if (Date.now() - since > timeout) return false;
      await sleep(1);
      continue;
    }
    const epoch = input.writes.epoch;
    const t0 = performance.now();
    let page;
    try {
      page = await input.loader.dumpPage(map, cursor, 0, input.pageBytes ?? DRIFT_PAGE_BYTES);
    } catch (err) {
      if (optional && err instanceof LoaderError && err.code === 'NOT_FOUND') return true;
      throw err;
    }
    if (input.writes.epoch !== epoch || input.writes.inFlight > 0) {
      if (Date.now() - since > timeout) return false;
      // A write started meanwhile: this page may show it before the agent knows it landed.
      await sleep(1);
      continue;
    }
    onPage(page.entries ?? []);
    if (!page.more) return true;
    cursor = page.nextCursor;
    // As long a pause as the page took: the check takes at most half of the agent's (and the loader's) time.
    await sleep(Math.ceil(performance.now() - t0));
    since = Date.now();
  }
}

/** One map (and its IPv6 twin): entries that differ from the belief, or are extra, or missing, and were not written meanwhile. */
async function checkMap<K, V>(
  input: DriftCheckInput, maps: Array<[string, boolean]>, decode: (map: string, entries: MapEntry[]) => Array<[K, V]>,
  belief: Map<K, V>, written: WrittenKeys<K, V>, same: (have: V, want: V) => boolean,
): Promise<number | undefined> {
  const seen = new Set<K>();
  const differs = new Set<K>();
  for (const [map, optional] of maps) {
    const ok = await readQuietly(input, map, optional, (entries) => {
      for (const [k, v] of decode(map, entries)) {
        seen.add(k);
        const want = belief.get(k);
        if (want === undefined || !same(v, want)) differs.add(k);
      }
    });
    if (!ok) return undefined;
  }
  let n = 0;
  for (const k of differs) if (!written.touched(k)) n++;
  for (const k of belief.keys()) if (!seen.has(k) && !written.touched(k)) n++;
  return n;
}

/** Reads the maps in input.read and counts the entries that drifted. */
export async function checkDrift(input: DriftCheckInput): Promise<DriftCheckResult> {
  const b = input.belief, w = input.written;
  const out: DriftCheckResult = { drift: {}, incomplete: [] };
  const note = (map: string, n: number | undefined): void => {
    if (n === undefined) out.incomplete.push(map);
    else if (n > 0) out.drift[map] = n;
  };
  if (input.read.has('sy_services')) {
    note('sy_services', await checkMap(input, [['sy_services', false], ['sy_services6', true]],
      (map, es) => decodeEntries(map as 'sy_services', es).map((e) => [svcKeyString(e.key), e]),
      b.services, w.services, (have, want) => sameSvcValue(have.value, want.value)));
  }
  if (input.read.has('sy_backends')) {
    note('sy_backends', await checkMap(input, [['sy_backends', false], ['sy_backends6', true]],
      (map, es) => decodeEntries(map as 'sy_backends', es).map((e) => [e.key, e.value]),
      b.backends, w.backends, (have, want) => sameBackend(have, want)));
  }
  if (input.read.has('sy_revnat')) {
    note('sy_revnat', await checkMap(input, [['sy_revnat', false], ['sy_revnat6', true]],
      (map, es) => decodeEntries(map as 'sy_revnat', es).map((e) => [e.key, e.value]),
      b.revnat, w.revnat, (have, want) => sameRevNat(have, want)));
  }
  if (input.read.has('sy_maglev')) {
    note('sy_maglev', await checkMap(input, [['sy_maglev', false]],
      (map, es) => decodeEntries(map as 'sy_maglev', es).map((e) => [e.key, e.value]),
      b.maglev, w.maglev, (have, want) => sameTable(have, want)));
  }
  if (input.read.has('sy_source_ranges')) {
    note('sy_source_ranges', await checkMap(input, [['sy_source_ranges', true], ['sy_source_ranges6', true]],
      (map, es) => decodeEntries(map as 'sy_source_ranges', es).map((e) => {
        const r = e.key;
        return [`${r.frontendId}/${r.addr}/${r.prefixLen}`, r];
      }),
      b.sourceRanges, w.sourceRanges, () => true));
  }
  return out;
}
