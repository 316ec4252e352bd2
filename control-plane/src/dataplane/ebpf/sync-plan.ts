// One sync of the eBPF maps, planned so that map pressure stays local:
//  1. frees first: frontends, source ranges, reverse NAT entries, tables and
//     backends nobody wants any more (Cilium's delete order), so a full map
//     has room before anything claims a slot;
//  2. then one group of ops per Service, in Cilium's write order (backends,
//     Maglev tables, source ranges, reverse NAT, service entries, tables that
//     shrink, affinity flushes); Services that claim no new key go first;
//  3. last, deletes that had to wait for the writes (a table still used by a
//     service entry until that entry moved, backends still in an old table).
// Groups travel in large batches (the loader rewrites a table of the same
// size in place, only its changed slots, and swaps up to 256 new or resized
// tables per RCU grace period). In-place writes rely on the order above: a
// backend a table will name is written before the table, one it stops
// naming is deleted after it (phase 3). And when the loader refuses an op it says which
// (ApplyResult.failed_op): what landed before it is recorded, the Service
// owning it is refused with the loader's reason and every other Service goes
// on. A map found full refuses at once, without a round trip, every later
// Service of this sync that needs a new key in it.
import type { ServiceKey } from '../../model/service-key.js';
import type { MapOp_op, ServiceKeyInit } from './loader-messages.js';
import { addrBytes } from './addr-bytes.js';
import { LoaderError } from './loader-client.js';
import { sameBackend, sameRevNat, sameSvcValue, sameTable, type MapsContent } from './maps-content.js';
import { SvcFlags, type SvcKey } from './map-values.js';

/** One map operation of an ApplyRequest (loader.proto's MapOp, generated). */
export type LoaderOp = MapOp_op;

export interface DiffStats {
  backendsUpserted: number; backendsDeleted: number;
  tablesSet: number; tablesDeleted: number;
  revnatUpserted: number; revnatDeleted: number;
  servicesUpserted: number; servicesDeleted: number;
  sourceRangesUpserted: number; sourceRangesDeleted: number;
}

export function emptyStats(): DiffStats {
  return {
    backendsUpserted: 0, backendsDeleted: 0, tablesSet: 0, tablesDeleted: 0,
    revnatUpserted: 0, revnatDeleted: 0, servicesUpserted: 0, servicesDeleted: 0,
    sourceRangesUpserted: 0, sourceRangesDeleted: 0,
  };
}

/** A loader op, the map it writes, and what it does to the programmed picture once it landed. */
export interface PlanOp {
  op: LoaderOp;
  stat?: keyof DiffStats;
  commit(p: MapsContent): void;
  /**
   * Place in Cilium's write order (0 backends, 1 tables, 2 source ranges,
   * 3 reverse NAT, 4 service entries, 5 shrinking tables, 6 affinity
   * flushes). A batch of Services is sent sorted by it: each Service keeps
   * its order, and the loader swaps runs of tables with one RCU wait.
   */
  stage?: number;
}

/** The maps a Service can claim new keys in. */
export type ClaimedMap = 'sy_services' | 'sy_revnat' | 'sy_maglev' | 'sy_backends' | 'sy_source_ranges';

function keyMsg(k: SvcKey): ServiceKeyInit {
  return { addr: addrBytes(k.addr), port: k.port, proto: k.proto, scope: k.scope };
}

/** Phase 1 and 3: entries of `deletable` that `desired` no longer has. */
export function freeOps(programmed: MapsContent, deletable: MapsContent, desired: MapsContent): { early: PlanOp[]; deferredGroups: number[]; deferredBackends: number[] } {
  const early: PlanOp[] = [];
  for (const [k, e] of deletable.services) {
    if (desired.services.has(k) || !programmed.services.has(k)) continue;
    early.push({ op: { deleteService: { key: keyMsg(e.key) } }, stat: 'servicesDeleted', commit: (p) => p.services.delete(k) });
  }
  for (const [k, r] of deletable.sourceRanges) {
    if (desired.sourceRanges.has(k) || !programmed.sourceRanges.has(k)) continue;
    early.push({ op: { deleteSourceRange: { frontendId: r.frontendId, addr: addrBytes(r.addr), prefixLen: r.prefixLen } }, stat: 'sourceRangesDeleted', commit: (p) => p.sourceRanges.delete(k) });
  }
  for (const id of deletable.revnat.keys()) {
    if (desired.revnat.has(id) || !programmed.revnat.has(id)) continue;
    early.push({ op: { deleteRevnat: { id } }, stat: 'revnatDeleted', commit: (p) => p.revnat.delete(id) });
  }
  // A gone table still named by a service entry that stays (it moves to
  // another table in phase 2) is deleted after that entry moved.
  const stillUsed = new Set<number>();
  for (const k of desired.services.keys()) {
    const old = programmed.services.get(k);
    if (old) stillUsed.add(old.value.group);
  }
  const deferredGroups: number[] = [];
  for (const g of deletable.maglev.keys()) {
    if (desired.maglev.has(g) || !programmed.maglev.has(g)) continue;
    if (stillUsed.has(g)) deferredGroups.push(g);
    else early.push({ op: { deleteMaglev: { group: g } }, stat: 'tablesDeleted', commit: (p) => p.maglev.delete(g) });
  }
  // A gone backend still in a table that phase 2 rewrites waits for that.
  const oldRefs = new Set<number>();
  const addRefs = (t: Uint32Array | undefined): void => {
    if (t) for (let i = 0; i < t.length; i++) oldRefs.add(t[i]!);
  };
  for (const [g, t] of desired.maglev) {
    const old = programmed.maglev.get(g);
    if (old && old !== t && !sameTable(old, t)) addRefs(old);
  }
  for (const g of deferredGroups) addRefs(programmed.maglev.get(g));
  const deferredBackends: number[] = [];
  for (const id of deletable.backends.keys()) {
    if (desired.backends.has(id) || !programmed.backends.has(id)) continue;
    if (oldRefs.has(id)) deferredBackends.push(id);
    else early.push({ op: { deleteBackend: { id } }, stat: 'backendsDeleted', commit: (p) => p.backends.delete(id) });
  }
  return { early, deferredGroups, deferredBackends };
}

/**
 * Phase 2 for one Service: its entries in `want` that the maps do not hold
 * yet (or hold with another value). `pending` holds backends already written
 * by an earlier group of the same batch (backends are shared by Services).
 */
export function serviceOps(programmed: MapsContent, want: MapsContent, pending: Set<number>): { ops: PlanOp[]; claims: Set<ClaimedMap> } {
  const ops: PlanOp[] = [];
  const claims = new Set<ClaimedMap>();
  for (const [id, b] of want.backends) {
    const old = programmed.backends.get(id);
    if (sameBackend(old, b) || pending.has(id)) continue;
    if (!old) claims.add('sy_backends');
    pending.add(id);
    ops.push({
      op: { upsertBackend: { id, addr: addrBytes(b.addr), port: b.port, proto: b.proto, state: b.state, flags: b.flags, zone: b.zone } },
      stat: 'backendsUpserted', commit: (p) => p.backends.set(id, b), stage: 0,
    });
  }
  // A table that shrinks is installed after the service entries that index
  // it with the smaller size, or a packet could index past its end.
  const shrinking = new Set<number>();
  for (const [k, e] of want.services) {
    const old = programmed.services.get(k);
    const oldTable = programmed.maglev.get(e.value.group);
    if (old && oldTable && e.value.tableSize < oldTable.length) shrinking.add(e.value.group);
  }
  const late: PlanOp[] = [];
  for (const [group, t] of want.maglev) {
    const old = programmed.maglev.get(group);
    if (sameTable(old, t)) continue;
    if (!old) claims.add('sy_maglev');
    // The table itself, not a copy: protobufjs encodes a typed array as it does an array.
    const isLate = shrinking.has(group);
    (isLate ? late : ops).push({ op: { setMaglev: { group, backendIds: t } }, stat: 'tablesSet', commit: (p) => p.maglev.set(group, t), stage: isLate ? 5 : 1 });
  }
  for (const [k, r] of want.sourceRanges) {
    if (programmed.sourceRanges.has(k)) continue;
    claims.add('sy_source_ranges');
    ops.push({
      op: { upsertSourceRange: { frontendId: r.frontendId, addr: addrBytes(r.addr), prefixLen: r.prefixLen } },
      stat: 'sourceRangesUpserted', commit: (p) => p.sourceRanges.set(k, r), stage: 2,
    });
  }
  for (const [id, r] of want.revnat) {
    const old = programmed.revnat.get(id);
    if (sameRevNat(old, r)) continue;
    if (!old) claims.add('sy_revnat');
    ops.push({ op: { upsertRevnat: { id, addr: addrBytes(r.addr), port: r.port } }, stat: 'revnatUpserted', commit: (p) => p.revnat.set(id, r), stage: 3 });
  }
  const affinityFlush = new Set<number>();
  for (const [k, e] of want.services) {
    const old = programmed.services.get(k)?.value;
    if (sameSvcValue(old, e.value)) continue;
    if (!old) claims.add('sy_services');
    const v = e.value;
    // Affinity switched on, off or retimed: entries made under the old
    // setting must not pin clients (kube-proxy's recent list starts empty too).
    if (old && ((old.flags ^ v.flags) & SvcFlags.AFFINITY || old.affinityTimeout !== v.affinityTimeout)) affinityFlush.add(v.group);
    ops.push({
      op: { upsertService: { key: keyMsg(e.key), id: v.id, group: v.group, count: v.count, flags: v.flags, affinityTimeout: v.affinityTimeout, tableSize: v.tableSize } },
      stat: 'servicesUpserted', commit: (p) => p.services.set(k, e), stage: 4,
    });
  }
  ops.push(...late);
  for (const group of affinityFlush) ops.push({ op: { deleteAffinity: { group } }, commit: () => undefined, stage: 6 });
  return { ops, claims };
}

/**
 * Whether a Service needs a key the maps do not hold yet (true), only
 * updates (false), or possibly nothing (undefined: serviceOps decides). No
 * ops are built: this only orders the Services of a sync.
 */
export function claimsNewKeys(programmed: MapsContent, want: MapsContent): boolean | undefined {
  for (const k of want.services.keys()) if (!programmed.services.has(k)) return true;
  for (const id of want.revnat.keys()) if (!programmed.revnat.has(id)) return true;
  for (const g of want.maglev.keys()) if (!programmed.maglev.has(g)) return true;
  for (const id of want.backends.keys()) if (!programmed.backends.has(id)) return true;
  for (const k of want.sourceRanges.keys()) if (!programmed.sourceRanges.has(k)) return true;
  return undefined;
}

const CLAIMED_BY: Record<string, ClaimedMap> = {
  upsertService: 'sy_services', upsertRevnat: 'sy_revnat', setMaglev: 'sy_maglev', upsertBackend: 'sy_backends', upsertSourceRange: 'sy_source_ranges',
};

/** E2BIG from a hash map, ENOSPC from an LPM trie: the map is full. */
function isFull(message: string): boolean {
  return /E2BIG|ENOSPC|Argument list too long|No space left/.test(message);
}

export interface SyncRunOptions {
  /**
   * Sends one ApplyRequest; throws LoaderError (with the apply result) when
   * refused. onWritten, when the sender can tell: the whole request has left
   * this process (the loader can read it while this process plans the next).
   */
  send(ops: LoaderOp[], onWritten?: () => void): Promise<void>;
  /** Upper bound of one request's encoded size. */
  maxBatchBytes: number;
  /** Called with every op once it landed (after it is committed to `programmed`). */
  onCommit?(o: PlanOp): void;
}

/** Rough encoded size of an op (a table costs up to 5 bytes a slot). */
function opBytes(op: LoaderOp): number {
  const t = (op.setMaglev as { backendIds?: ArrayLike<number> } | undefined)?.backendIds;
  return 64 + (t ? t.length * 5 : 0);
}

/**
 * Runs one sync against `programmed` (the maps as the agent knows them),
 * which it keeps exact: every op that landed is committed to it. Throws only
 * when the loader fails for everyone (unreachable, an op that belongs to no
 * Service); then `programmed` is as exact as the failure lets it be and the
 * caller reads the maps back.
 */
export class SyncRun {
  /** "ns/name" -> why the loader refused it (this sync). */
  readonly refused = new Map<ServiceKey, string>();
  /** Maps found full in this sync -> the loader's message. */
  readonly fullMaps = new Map<ClaimedMap, string>();
  readonly stats = emptyStats();
  /** Ops that landed. */
  landed = 0;
  /** Requests sent. */
  requests = 0;

  constructor(private readonly programmed: MapsContent, private readonly opts: SyncRunOptions) {}

  /**
   * wants: the Services of this sync ("ns/name" -> their entries, backends
   * with their current values); deletable: entries that may go (all of
   * `programmed` for a full sync, the changed Services' old entries for a
   * partial one); desired: everything wanted (membership only).
   */
  async run(wants: ReadonlyMap<ServiceKey, MapsContent>, deletable: MapsContent, desired: MapsContent): Promise<void> {
    const frees = freeOps(this.programmed, deletable, desired);
    await this.sendGroups([{ owner: undefined, ops: frees.early }]);

    // Services that claim no new key first: they cannot fail for room.
    const order: ServiceKey[] = [], claiming: ServiceKey[] = [];
    for (const [key, want] of wants) {
      const c = claimsNewKeys(this.programmed, want);
      if (c === undefined) order.push(key);
      else (c ? claiming : order).push(key);
    }
    order.push(...claiming);
    await this.runServices(order, wants);

    // Deferred deletes, unless a refused Service still uses them.
    const keepGroups = new Set<number>(), keepBackends = new Set<number>();
    if (this.refused.size > 0) {
      for (const key of this.refused.keys()) {
        const want = wants.get(key);
        if (!want) continue;
        for (const k of want.services.keys()) {
          const g = this.programmed.services.get(k)?.value.group;
          if (g !== undefined) keepGroups.add(g);
        }
        for (const g of want.maglev.keys()) {
          const t = this.programmed.maglev.get(g);
          if (t) for (let i = 0; i < t.length; i++) keepBackends.add(t[i]!);
        }
      }
      for (const g of frees.deferredGroups) {
        const t = keepGroups.has(g) ? this.programmed.maglev.get(g) : undefined;
        if (t) for (let i = 0; i < t.length; i++) keepBackends.add(t[i]!);
      }
    }
    const late: PlanOp[] = [];
    for (const g of frees.deferredGroups) {
      if (keepGroups.has(g)) continue;
      late.push({ op: { deleteMaglev: { group: g } }, stat: 'tablesDeleted', commit: (p) => p.maglev.delete(g) });
    }
    for (const id of frees.deferredBackends) {
      if (keepBackends.has(id)) continue;
      late.push({ op: { deleteBackend: { id } }, stat: 'backendsDeleted', commit: (p) => p.backends.delete(id) });
    }
    await this.sendGroups([{ owner: undefined, ops: late }]);
  }

  /**
   * Phase 2: batches of whole Services, each sized to travel as one request,
   * with one batch at the loader while the next is planned and encoded (a cold
   * start of 10,000 Services is a dozen requests of 4 MiB: the loader writes
   * one's tables while this process builds the next). Two batches share no
   * Service; what they can share is backends, which each batch writes itself
   * (a batch planned while the one before it travels writes again a backend
   * that one carries), and the loader applies requests in the order they
   * arrive, so each batch keeps Cilium's order on its own. A refusal restarts
   * from the refused batch's first Service without the refused one, once the
   * batch behind it answered too: what landed is committed, so it is not sent
   * twice.
   */
  private async runServices(order: ServiceKey[], wants: ReadonlyMap<ServiceKey, MapsContent>): Promise<void> {
    let pos = 0;
    let ahead: SentBatch | undefined;
    while (pos < order.length || ahead) {
      let next: SentBatch | undefined;
      if (pos < order.length) {
        const { groups, end } = this.planBatch(order, pos, wants);
        if (groups.length > 0) next = this.launch(pos, groups);
        pos = end;
      }
      if (ahead) {
        let failed: ServiceKey | undefined;
        try {
          failed = await ahead.done;
        } catch (err) {
          if (next) await next.done.catch(() => undefined);
          throw err;
        }
        if (failed !== undefined) {
          if (next) await next.done;
          pos = ahead.from;
          ahead = undefined;
          continue;
        }
      }
      // The loader holds the whole request before this process plans again:
      // planning blocks the event loop, which hands a large write over.
      if (next && pos < order.length) await next.written;
      ahead = next;
    }
  }

  /** Sends a batch without waiting for its answer. */
  private launch(from: number, groups: Array<{ owner: ServiceKey | undefined; ops: PlanOp[] }>): SentBatch {
    let markWritten!: () => void;
    const written = new Promise<void>((resolve) => { markWritten = resolve; });
    const done = this.sendGroups(groups, markWritten);
    // An answer (or a failure) means written too, from a sender that cannot tell.
    done.then(markWritten, markWritten);
    return { from, done, written };
  }

  /**
   * The Services from `pos` that fit one request (one larger than a request
   * goes alone), with their ops. Services whose maps are known full are
   * refused here, without a round trip.
   */
  private planBatch(order: ServiceKey[], pos: number, wants: ReadonlyMap<ServiceKey, MapsContent>): { groups: Array<{ owner: ServiceKey | undefined; ops: PlanOp[] }>; end: number } {
    const groups: Array<{ owner: ServiceKey | undefined; ops: PlanOp[] }> = [];
    const pending = new Set<number>();
    let bytes = 0, next = pos;
    for (; next < order.length; next++) {
      const key = order[next]!;
      if (this.refused.has(key)) continue;
      const { ops, claims } = serviceOps(this.programmed, wants.get(key)!, pending);
      if (ops.length === 0) continue;
      // Backends this Service would have written are left for whoever writes them.
      const release = () => {
        for (const o of ops) if (o.op.upsertBackend) pending.delete((o.op.upsertBackend as { id: number }).id);
      };
      const full = [...claims].find((m) => this.fullMaps.has(m));
      if (full) {
        // The loader would refuse it too: no new key fits this sync.
        release();
        this.refused.set(key, `${full} is full: ${this.fullMaps.get(full)}`);
        continue;
      }
      let b = 0;
      for (const o of ops) b += opBytes(o.op);
      if (groups.length > 0 && bytes + b > this.opts.maxBatchBytes) {
        release();
        break;
      }
      bytes += b;
      groups.push({ owner: key, ops });
    }
    return { groups, end: next };
  }

  /**
   * Sends groups in requests of at most maxBatchBytes. Returns the owner of
   * a refused op (its Service is then refused); throws when the refusal
   * belongs to no Service or the loader failed as a whole.
   */
  private async sendGroups(groups: Array<{ owner: ServiceKey | undefined; ops: PlanOp[] }>, onWritten?: () => void): Promise<ServiceKey | undefined> {
    let flat: PlanOp[] = [], owners: Array<ServiceKey | undefined> = [];
    for (const g of groups) for (const o of g.ops) {
      flat.push(o);
      owners.push(g.owner);
    }
    if (groups.length > 1) {
      // By stage, stable: every Service keeps Cilium's order, and tables
      // travel together (one RCU grace period per 256 swaps, not per table).
      const idx = flat.map((_, i) => i).sort((a, b) => (flat[a]!.stage ?? 0) - (flat[b]!.stage ?? 0) || a - b);
      flat = idx.map((i) => flat[i]!);
      owners = idx.map((i) => owners[i]);
    }
    let start = 0;
    while (start < flat.length) {
      let end = start, bytes = 0;
      while (end < flat.length) {
        const b = opBytes(flat[end]!.op);
        if (end > start && bytes + b > this.opts.maxBatchBytes) break;
        bytes += b;
        end++;
      }
      const batch = flat.slice(start, end);
      this.requests++;
      try {
        await this.opts.send(batch.map((o) => o.op), onWritten);
      } catch (err) {
        const f = failedIndex(err);
        if (f === undefined || f.at >= batch.length) throw err;
        const at = f.at;
        // Ops before the refused one landed (none when the request was invalid).
        for (let i = 0; i < Math.min(f.applied, at); i++) this.commit(batch[i]!);
        const owner = owners[start + at];
        if (owner === undefined) throw err;
        const message = (err as Error).message;
        const kind = Object.keys(batch[at]!.op)[0]!;
        const map = CLAIMED_BY[kind];
        if (map && isFull(message)) this.fullMaps.set(map, message);
        this.refused.set(owner, message);
        return owner;
      }
      for (let i = 0; i < batch.length; i++) this.commit(batch[i]!);
      start = end;
    }
    return undefined;
  }

  private commit(o: PlanOp): void {
    o.commit(this.programmed);
    this.opts.onCommit?.(o);
    this.landed++;
    if (o.stat) this.stats[o.stat]++;
  }
}

/** A batch of Services sent: where it started in the sync's order, its answer (a refused Service or none), and when it left this process. */
interface SentBatch { from: number; done: Promise<ServiceKey | undefined>; written: Promise<void> }

/** The refused op of a failed ApplyRequest and how many ops landed, when the loader said. */
export function failedIndex(err: unknown): { at: number; applied: number } | undefined {
  if (!(err instanceof LoaderError) || !err.apply) return undefined;
  if (err.code !== 'KERNEL' && err.code !== 'INVALID') return undefined;
  const failed = Number(err.apply.failedOp ?? 0), applied = Number(err.apply.applied ?? 0);
  // A loader older than failed_op reports only how many ops were applied.
  return { at: applied > failed ? applied : failed, applied };
}

/**
 * The whole plan as one list, assuming every op lands: for tests and for
 * callers that diff two pictures (desired against desired).
 */
export function diffMaps(programmed: MapsContent, desired: MapsContent): { ops: LoaderOp[]; stats: DiffStats } {
  const stats = emptyStats();
  const frees = freeOps(programmed, programmed, desired);
  const { ops } = serviceOps(programmed, desired, new Set());
  const all = [...frees.early, ...ops];
  for (const g of frees.deferredGroups) all.push({ op: { deleteMaglev: { group: g } }, stat: 'tablesDeleted', commit: () => undefined });
  for (const id of frees.deferredBackends) all.push({ op: { deleteBackend: { id } }, stat: 'backendsDeleted', commit: () => undefined });
  for (const o of all) if (o.stat) stats[o.stat]++;
  return { ops: all.map((o) => o.op), stats };
}
