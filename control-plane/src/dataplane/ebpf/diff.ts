// Desired vs programmed map content -> loader ops in a safe order (Cilium's):
// backends, Maglev tables, reverse NAT, then service entries; deletions in
// the reverse order. A packet therefore never finds a service entry pointing
// at a table or backend that is not there yet, nor one already gone.
import { ipv4ToBytes } from '../../util/ipv4.js';
import { sameBackend, sameRevNat, sameSvcValue, sameTable, type MapsContent } from './maps-content.js';
import { SvcFlags, type SvcKey } from './map-values.js';

export type LoaderOp = Record<string, unknown>;

function keyMsg(k: SvcKey): Record<string, unknown> {
  return { addr: ipv4ToBytes(k.addr), port: k.port, proto: k.proto, scope: k.scope };
}

export interface DiffStats {
  backendsUpserted: number; backendsDeleted: number;
  tablesSet: number; tablesDeleted: number;
  revnatUpserted: number; revnatDeleted: number;
  servicesUpserted: number; servicesDeleted: number;
  sourceRangesUpserted: number; sourceRangesDeleted: number;
}

export function diffMaps(programmed: MapsContent, desired: MapsContent): { ops: LoaderOp[]; stats: DiffStats } {
  const stats: DiffStats = {
    backendsUpserted: 0, backendsDeleted: 0, tablesSet: 0, tablesDeleted: 0,
    revnatUpserted: 0, revnatDeleted: 0, servicesUpserted: 0, servicesDeleted: 0,
    sourceRangesUpserted: 0, sourceRangesDeleted: 0,
  };
  const ops: LoaderOp[] = [];
  for (const [id, b] of desired.backends) {
    if (sameBackend(programmed.backends.get(id), b)) continue;
    ops.push({ upsertBackend: { id, addr: ipv4ToBytes(b.addr), port: b.port, proto: b.proto, state: b.state, flags: b.flags, zone: b.zone } });
    stats.backendsUpserted++;
  }
  // A table that shrinks must be installed after the service entries that
  // index it with the smaller size, or a packet could index past its end.
  const shrinking = new Set<number>();
  for (const e of desired.services.values()) {
    const old = programmed.services.get(`${e.key.addr}:${e.key.port}/${e.key.proto}/${e.key.scope}`);
    const oldTable = programmed.maglev.get(e.value.group);
    if (old && oldTable && e.value.tableSize < oldTable.length) shrinking.add(e.value.group);
  }
  const late: LoaderOp[] = [];
  for (const [group, t] of desired.maglev) {
    if (sameTable(programmed.maglev.get(group), t)) continue;
    // The table itself, not a copy: protobufjs encodes a typed array as it does an array.
    (shrinking.has(group) ? late : ops).push({ setMaglev: { group, backendIds: t } });
    stats.tablesSet++;
  }
  for (const [k, r] of desired.sourceRanges) {
    if (programmed.sourceRanges.has(k)) continue;
    ops.push({ upsertSourceRange: { frontendId: r.frontendId, addr: ipv4ToBytes(r.addr), prefixLen: r.prefixLen } });
    stats.sourceRangesUpserted++;
  }
  for (const [id, r] of desired.revnat) {
    if (sameRevNat(programmed.revnat.get(id), r)) continue;
    ops.push({ upsertRevnat: { id, addr: ipv4ToBytes(r.addr), port: r.port } });
    stats.revnatUpserted++;
  }
  const affinityFlush = new Set<number>();
  for (const [k, e] of desired.services) {
    const old = programmed.services.get(k)?.value;
    if (sameSvcValue(old, e.value)) continue;
    const v = e.value;
    // Affinity switched on, off or retimed: entries made under the old
    // setting must not pin clients (kube-proxy's recent list starts empty too).
    if (old && ((old.flags ^ v.flags) & SvcFlags.AFFINITY || old.affinityTimeout !== v.affinityTimeout)) affinityFlush.add(v.group);
    ops.push({
      upsertService: {
        key: keyMsg(e.key), id: v.id, group: v.group, count: v.count, flags: v.flags,
        affinityTimeout: v.affinityTimeout, tableSize: v.tableSize,
      },
    });
    stats.servicesUpserted++;
  }
  ops.push(...late);
  for (const group of affinityFlush) ops.push({ deleteAffinity: { group } });
  for (const [k, e] of programmed.services) {
    if (desired.services.has(k)) continue;
    ops.push({ deleteService: { key: keyMsg(e.key) } });
    stats.servicesDeleted++;
  }
  for (const [k, r] of programmed.sourceRanges) {
    if (desired.sourceRanges.has(k)) continue;
    ops.push({ deleteSourceRange: { frontendId: r.frontendId, addr: ipv4ToBytes(r.addr), prefixLen: r.prefixLen } });
    stats.sourceRangesDeleted++;
  }
  for (const id of programmed.revnat.keys()) {
    if (desired.revnat.has(id)) continue;
    ops.push({ deleteRevnat: { id } });
    stats.revnatDeleted++;
  }
  for (const group of programmed.maglev.keys()) {
    if (desired.maglev.has(group)) continue;
    ops.push({ deleteMaglev: { group } });
    stats.tablesDeleted++;
  }
  for (const id of programmed.backends.keys()) {
    if (desired.backends.has(id)) continue;
    ops.push({ deleteBackend: { id } });
    stats.backendsDeleted++;
  }
  return { ops, stats };
}
