// GET /v1/conntrack: sy_conntrack entries joined with their backend
// (sy_backends), frontend (sy_revnat) and Service (desired state).
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import type { MapEntry } from '../dataplane/ebpf/loader-client.js';
import { CtFlags, decodeCtKey, decodeCtValue } from '../dataplane/ebpf/map-values.js';
import { servicePortString } from '../model/types.js';
import { decodeEntry } from './decode.js';
import { FrontendResolver, type EbpfSnapshot } from './ebpf-view.js';

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

export function conntrackRows(entries: MapEntry[], snap: EbpfSnapshot, desired: readonly DesiredServicePort[], now: bigint): ConntrackRow[] {
  // rev_nat_id is the frontend id: its sy_services entry names the Service.
  const resolver = new FrontendResolver(desired);
  const serviceOf = new Map<number, string>();
  for (const f of snap.frontends) {
    const d = resolver.resolve(f.key, f.value.flags);
    if (d) serviceOf.set(f.value.id, servicePortString(d.svc.name));
  }
  return entries.map((e) => {
    const k = decodeCtKey(e.key), v = decodeCtValue(e.value);
    const d = decodeEntry('sy_conntrack', e.key, e.value, { now });
    const rn = snap.revnat.get(v.revNatId);
    const be = snap.backends.get(v.backendId);
    const reply = k.dir === 1;
    // A SNATed flow's reply entry is keyed by the node's NAT address; the client is in nat_addr.
    const snat = (v.flags & CtFlags.SNAT) !== 0;
    const service = serviceOf.get(v.revNatId) ?? null;
    return {
      dir: d.dir as string, proto: d.proto as string,
      client: reply ? (snat ? v.natAddr : k.daddr) : k.saddr, clientPort: reply ? (snat ? v.natPort : k.dport) : k.sport,
      frontend: rn ? `${rn.addr}:${rn.port}` : null,
      backend: be ? `${be.addr}:${be.port}` : null,
      backendId: v.backendId, backendState: be ? (be.state === 0 ? 'active' : 'terminating') : 'gone',
      service,
      saddr: k.saddr, sport: k.sport, daddr: k.daddr, dport: k.dport,
      ageSeconds: d.ageSeconds as number, lifetimeSeconds: d.lifetimeSeconds as number, expired: d.expired as boolean,
      flags: d.flags as string[], tcpFlags: d.tcpFlags as string[],
      nat: snat ? `${v.natAddr}:${v.natPort}` : null,
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
