// GET /v1/conntrack: sy_conntrack entries joined with their backend
// (sy_backends), frontend (sy_revnat) and Service (desired state).
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import type { MapEntry } from '../dataplane/ebpf/loader-client.js';
import { decodeEntries, encodeKey } from '../dataplane/ebpf/map-codecs.js';
import {
  BackendState, CtDir, CtFlags, SY_SCOPE_EXTERNAL, SY_SCOPE_INTERNAL, type BackendValue, type CtKey, type RevNatValue,
} from '../dataplane/ebpf/map-values.js';
import { servicePortString } from '../model/types.js';
import { decodeEntry } from './decode.js';
import { FrontendResolver, type EbpfSnapshot, type Frontend } from './ebpf-view.js';
import { lookupTyped } from './map-reads.js';
import type { LoaderView } from './source.js';

/**
 * What the rows of these conntrack entries name, read with lookups only: the
 * backends and frontends (sy_revnat) they point at, and the sy_services
 * entries of those frontends (for the Service's name). No service map is
 * walked, so the cost follows the entries shown, not the maps' sizes.
 */
export async function conntrackSnapshot(loader: LoaderView, entries: MapEntry[], family: CtFamily = 'IPv4'): Promise<EbpfSnapshot> {
  const v6 = family === 'IPv6';
  const beIds = new Set<number>(), rnIds = new Map<number, number>();
  for (const { key, value } of decodeCt(family, entries)) {
    beIds.add(value.backendId);
    rnIds.set(value.revNatId, key.proto);
  }
  const beList = [...beIds], rnList = [...rnIds.keys()];
  // The family's own maps: an IPv6 flow names IPv6 backends and frontends.
  const [bes, rns] = await Promise.all([
    v6 ? lookupTyped(loader, 'sy_backends6', beList) : lookupTyped(loader, 'sy_backends', beList),
    v6 ? lookupTyped(loader, 'sy_revnat6', rnList) : lookupTyped(loader, 'sy_revnat', rnList),
  ]);
  const backends = new Map<number, BackendValue>();
  beList.forEach((id, i) => { if (bes[i]) backends.set(id, bes[i]!); });
  const revnat = new Map<number, RevNatValue>();
  rnList.forEach((id, i) => { if (rns[i]) revnat.set(id, rns[i]!); });
  // A frontend's sy_services entry, by its address, port, protocol and either scope.
  const keys = [...revnat].flatMap(([id, r]) => [SY_SCOPE_INTERNAL, SY_SCOPE_EXTERNAL].map((scope) => ({ id, key: { addr: r.addr, port: r.port, proto: rnIds.get(id)!, scope } })));
  const svcs = v6 ? await lookupTyped(loader, 'sy_services6', keys.map((k) => k.key)) : await lookupTyped(loader, 'sy_services', keys.map((k) => k.key));
  const frontends: Frontend[] = [];
  keys.forEach((k, i) => {
    const v = svcs[i];
    if (v && v.id === k.id) frontends.push({ key: k.key, value: v });
  });
  return { frontends, backends, revnat, maglev: new Map(), sourceRanges: [], config: undefined };
}

/** The family of a conntrack map: sy_conntrack (IPv4) or sy_conntrack6. */
export type CtFamily = 'IPv4' | 'IPv6';

/** Entries of either conntrack map, decoded to the fields both share. */
function decodeCt(family: CtFamily, entries: readonly MapEntry[]): Array<{ key: CtKey; value: { backendId: number; revNatId: number; flags: number; natAddr: string; natPort: number } }> {
  return family === 'IPv6' ? decodeEntries('sy_conntrack6', entries) : decodeEntries('sy_conntrack', entries);
}

/**
 * One flow's entries by key: the entry itself and its other direction
 * (forward <-> reply), by lookups; an IPv6 key (its addresses IPv6) in
 * sy_conntrack6, its backend and frontend in sy_backends6 / sy_revnat6.
 */
export async function conntrackFlow(loader: LoaderView, k: CtKey): Promise<MapEntry[]> {
  const v6 = k.saddr.includes(':');
  const map = v6 ? 'sy_conntrack6' : 'sy_conntrack';
  const key = encodeKey(map, k);
  const [v] = await loader.lookup(map, [key]);
  if (!v) return [];
  const out: MapEntry[] = [{ key, value: v }];
  const val = decodeCt(v6 ? 'IPv6' : 'IPv4', out)[0]!.value;
  const snat = (val.flags & CtFlags.SNAT) !== 0;
  let twin: CtKey | undefined;
  if (k.dir === CtDir.FORWARD) {
    const [be] = await lookupTyped(loader, v6 ? 'sy_backends6' : 'sy_backends', [val.backendId]);
    // The reply comes from the backend to the client (a SNATed flow: to the node's NAT address and port).
    if (be) twin = { saddr: be.addr, daddr: snat ? val.natAddr : k.saddr, sport: be.port, dport: snat ? val.natPort : k.sport, proto: k.proto, dir: CtDir.REPLY };
  } else {
    const [rn] = await lookupTyped(loader, v6 ? 'sy_revnat6' : 'sy_revnat', [val.revNatId]);
    if (rn) twin = { saddr: snat ? val.natAddr : k.daddr, daddr: rn.addr, sport: snat ? val.natPort : k.dport, dport: rn.port, proto: k.proto, dir: CtDir.FORWARD };
  }
  if (twin) {
    const twinKey = encodeKey(map, twin);
    const [tv] = await loader.lookup(map, [twinKey]);
    if (tv) out.push({ key: twinKey, value: tv });
  }
  return out;
}

export interface ConntrackRow {
  dir: string;
  proto: string;
  /** The client of the flow (forward: the source; reply: the destination). */
  client: string;
  clientPort: number;
  frontend: string | null;
  backend: string | null;
  backendId: number;
  backendState: string;
  service: string | null;
  saddr: string; sport: number; daddr: string; dport: number;
  ageSeconds: number;
  lifetimeSeconds: number;
  expired: boolean;
  flags: string[];
  tcpFlags: string[];
  /** SNATed flows: forward, the source the packets get (node:port); reply, the client restored. */
  nat: string | null;
}

export interface ConntrackFilter {
  /** "ns/name", "ns/name:port" or a frontend "addr:port". */
  service?: string | undefined;
  client?: string | undefined;
  /** "addr" or "addr:port". */
  backend?: string | undefined;
  dir?: 'forward' | 'reply' | undefined;
}

export function conntrackRows(entries: MapEntry[], snap: EbpfSnapshot, desired: readonly DesiredServicePort[], now: bigint, family: CtFamily = 'IPv4'): ConntrackRow[] {
  const map = family === 'IPv6' ? 'sy_conntrack6' : 'sy_conntrack';
  // rev_nat_id is the frontend id: its sy_services entry names the Service.
  const resolver = new FrontendResolver(desired);
  const serviceOf = new Map<number, string>();
  for (const f of snap.frontends) {
    const d = resolver.resolve(f.key, f.value.flags);
    if (d) serviceOf.set(f.value.id, servicePortString(d.svc.name));
  }
  const typed = decodeCt(family, entries);
  const hp = (a: string, p: number): string => (a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`);
  return entries.map((e, i) => {
    const { key: k, value: v } = typed[i]!;
    const d = decodeEntry(map, e.key, e.value, { now });
    const rn = snap.revnat.get(v.revNatId);
    const be = snap.backends.get(v.backendId);
    const reply = k.dir === CtDir.REPLY;
    // A SNATed flow's reply entry is keyed by the node's NAT address; the client is in nat_addr.
    const snat = (v.flags & CtFlags.SNAT) !== 0;
    const service = serviceOf.get(v.revNatId) ?? null;
    return {
      dir: d.dir as string, proto: d.proto as string,
      client: reply ? (snat ? v.natAddr : k.daddr) : k.saddr, clientPort: reply ? (snat ? v.natPort : k.dport) : k.sport,
      frontend: rn ? hp(rn.addr, rn.port) : null,
      backend: be ? hp(be.addr, be.port) : null,
      backendId: v.backendId, backendState: be ? (be.state === BackendState.ACTIVE ? 'active' : 'terminating') : 'gone',
      service,
      saddr: k.saddr, sport: k.sport, daddr: k.daddr, dport: k.dport,
      ageSeconds: d.ageSeconds as number, lifetimeSeconds: d.lifetimeSeconds as number, expired: d.expired as boolean,
      flags: d.flags as string[], tcpFlags: d.tcpFlags as string[],
      nat: snat ? hp(v.natAddr, v.natPort) : null,
    };
  });
}

export function filterConntrack(rows: ConntrackRow[], f: ConntrackFilter): ConntrackRow[] {
  return rows.filter((r) => {
    if (f.dir && r.dir !== f.dir) return false;
    if (f.client && r.client !== f.client) return false;
    if (f.backend) {
      if (!r.backend) return false;
      if (f.backend.includes(':') ? r.backend !== f.backend : r.backend.split(':')[0] !== f.backend) return false;
    }
    if (f.service) {
      const s = f.service;
      const byName = r.service !== null && (r.service === s || r.service.startsWith(`${s}:`));
      if (!byName && r.frontend !== s) return false;
    }
    return true;
  }).sort((a, b) => (a.service ?? '').localeCompare(b.service ?? '') || a.client.localeCompare(b.client)
    || a.clientPort - b.clientPort || a.dir.localeCompare(b.dir));
}
