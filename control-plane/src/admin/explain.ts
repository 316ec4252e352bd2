// GET /v1/explain: what the tc datapath does with the first packet of a
// flow, step for step as sy_lb_decide() (bpf/include/sy_lb.h) does it: reply
// entry, forward entry, frontend by device role and scope, no-endpoint
// verdict, source ranges, affinity, Maglev slot, DNAT, SNAT; from the maps
// as they are now. The flow hash is flow-hash.ts, the function the datapath
// runs, with the seed sy_config holds. An IPv6 tuple walks the IPv6 twins
// (sy_services6, sy_conntrack6, sy_affinity6, sy_source_ranges6,
// sy_backends6, sy_revnat6, sy_config6) as sy_lb6_decide() does.
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import {
  BackendFlags, CT_FLAG_NAMES, CtDir, CtFlags, SvcFlags, SY_SCOPE_EXTERNAL, SY_SCOPE_INTERNAL,
  ctLifetimeSeconds, flagNames, frontendKind, hookName, protoName, scopeName,
  SVC_FLAG_NAMES, type AffinityValue, type BackendValue, type CtKey, type CtValue, type RevNatValue,
} from '../dataplane/ebpf/map-values.js';
import { flowHash } from '../dataplane/flow-hash.js';
import { servicePortString } from '../model/types.js';
import { parseAddress, prefixContains, type IPFamily } from '../util/ip.js';
import { ageSeconds, backendStateName, monotonicNowNs, slotCounts } from './decode.js';
import { FrontendResolver, type EbpfSnapshot, type Frontend } from './ebpf-view.js';
import { dumpOptional, lookupOptional, lookupTyped } from './map-reads.js';
import type { LoaderView } from './source.js';
import { HttpError } from './errors.js';

export type ArrivalRole = 'pod' | 'external';

export interface ExplainInput {
  src: string;
  dst: string;
  dport: number;
  /** IP protocol number (6, 17). */
  proto: number;
  /** Unknown: the slot cannot be computed unless the Service hashes without it (ClientIP affinity). */
  sport?: number | undefined;
  /** Where the packet enters: a pod's veth (sy_tc_ingress) or the node's external device (sy_tc_external). */
  from?: ArrivalRole | undefined;
}

export interface ExplainState {
  snapshot: EbpfSnapshot;
  /** Flow hash seed used when sy_config cannot be read. */
  seed: number;
  desired: readonly DesiredServicePort[];
  conntrack(key: { saddr: string; daddr: string; sport: number; dport: number; proto: number; dir: number }): CtValue | undefined;
  affinity(client: string, group: number): AffinityValue | undefined;
  /** bpf_ktime_get_ns() now. */
  now: bigint;
  /** Pod CIDR: without `from`, sources inside it arrive from a pod, others on the external device. */
  clusterCIDR?: string | undefined;
  /** The IPv6 pod CIDR, for IPv6 sources (as clusterCIDR). */
  clusterCIDR6?: string | undefined;
  /** sy_config6 (IPv6 tuples): the node's IPv6 SNAT source. */
  config6?: { nodeAddr: string } | undefined;
  /** Cgroups carrying the socket-level LB programs (sy_attach, hook sock_lb). */
  socketLB?: string[] | undefined;
}

export interface ExplainBackend {
  id: number;
  address: string;
  port: number;
  state: string;
  local: boolean;
  zone: number;
}

export interface ExplainResult {
  tuple: { family: IPFamily; src: string; sport: number | null; dst: string; dport: number; proto: string };
  /** The device role the packet was explained for, and the program that sees it. */
  from: ArrivalRole;
  program: 'sy_tc_ingress' | 'sy_tc_external';
  /** dnat, reverse-nat, reject, drop, pass (not a frontend: untouched). */
  verdict: 'dnat' | 'reverse-nat' | 'reject' | 'drop' | 'pass';
  /** How the backend was chosen: conntrack, affinity, maglev, random, or null. */
  decidedBy: 'conntrack' | 'affinity' | 'maglev' | 'random' | null;
  service: string | null;
  frontend: {
    kind: string; address: string; port: number; protocol: string; scope: string; id: number; group: number;
    flags: string[]; count: number; tableSize: number; affinityTimeout: number;
  } | null;
  conntrack: {
    reply: CtSummary | null;
    forward: CtSummary | null;
    /** The forward entry decides the backend (live, backend present, not a closed flow reopened by a SYN). */
    overrides: boolean;
  };
  sourceRanges: { ranges: string[]; allowed: boolean } | null;
  /** Cgroups with socket-level LB: connect() of their processes is translated before any packet (per-socket hash). */
  socketLB: string[];
  affinity: { backendId: number; ageSeconds: number; timeoutSeconds: number; applies: boolean; why: string } | null;
  maglev: { seed: number; hash: number | null; slot: number | null; tableSize: number; sportHashed: number | null; backendId: number | null } | null;
  /** What the Maglev table says for this tuple now (even when conntrack or affinity decides), for comparison. */
  newFlowBackend: ExplainBackend | null;
  backend: ExplainBackend | null;
  /** When the backend cannot be known (random selection, or no sport): every backend of the table with its share. */
  candidates: Array<ExplainBackend & { slots: number; share: number }>;
  nat: {
    dnat: { from: string; to: string } | null;
    snat: { to: string; reason: string } | null;
    reverse: { source: string; destination: string | null } | null;
  };
  steps: string[];
}

export interface CtSummary {
  backendId: number;
  revNatId: number;
  ageSeconds: number;
  lifetimeSeconds: number;
  expired: boolean;
  flags: string[];
  nat: string | null;
}

/** addr:port, IPv6 as [addr]:port (RFC 5952 section 6). */
export function hostPort(addr: string, port: number | string): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

function familyOf(addr: string): IPFamily {
  return addr.includes(':') ? 'IPv6' : 'IPv4';
}

/**
 * An address the explain and conntrack queries take: IPv4, IPv6 in any
 * RFC 4291 form or in brackets ("[fd00::1]"); returned in canonical text
 * (RFC 5952), which is how the maps' keys are shown. Throws a 400 naming
 * the field otherwise.
 */
export function parseQueryAddress(field: string, raw: string): string {
  const inner = /^\[(.*)\]$/.exec(raw)?.[1] ?? raw;
  const a = parseAddress(inner);
  if (!a || (a.family === 'IPv6' && inner.includes('%'))) {
    throw new HttpError(400, `query parameter ${JSON.stringify(field)} must be an IPv4 or IPv6 address (got ${JSON.stringify(raw)})`);
  }
  return a.text;
}

/** Both ends of a flow in one family, canonical; a 400 when they differ. */
export function parseFlowAddresses(src: [string, string], dst: [string, string]): { src: string; dst: string } {
  const s = parseQueryAddress(src[0], src[1]), d = parseQueryAddress(dst[0], dst[1]);
  if (familyOf(s) !== familyOf(d)) {
    throw new HttpError(400, `query parameters ${JSON.stringify(src[0])} (${s}) and ${JSON.stringify(dst[0])} (${d}) must be of one IP family`);
  }
  return { src: s, dst: d };
}

function ctSummary(v: CtValue, proto: number, now: bigint): CtSummary {
  const age = ageSeconds(v.lastSeen, now);
  const lifetime = ctLifetimeSeconds(proto, v.flags);
  // sy_ct_expired: now > last_seen && now - last_seen > lifetime.
  const expired = v.lastSeen < now && now - v.lastSeen > BigInt(lifetime) * 1_000_000_000n;
  return {
    backendId: v.backendId, revNatId: v.revNatId, ageSeconds: Math.round(age * 1000) / 1000, lifetimeSeconds: lifetime, expired,
    flags: flagNames(v.flags, CT_FLAG_NAMES), nat: v.flags & CtFlags.SNAT ? hostPort(v.natAddr, v.natPort) : null,
  };
}

function backendOf(snap: EbpfSnapshot, id: number): ExplainBackend | null {
  const b = snap.backends.get(id);
  if (!b) return null;
  return { id, address: b.addr, port: b.port, state: backendStateName(b.state), local: (b.flags & BackendFlags.LOCAL) !== 0, zone: b.zone };
}

/** sy_lookup_frontend: from a pod the internal-scope entry first, then the external one; on an external device the external one only. */
export function lookupFrontend(snap: EbpfSnapshot, t: Pick<ExplainInput, 'dst' | 'dport' | 'proto'>, from: ArrivalRole): Frontend | undefined {
  const find = (scope: number): Frontend | undefined =>
    snap.frontends.find((f) => f.key.addr === t.dst && f.key.port === t.dport && f.key.proto === t.proto && f.key.scope === scope);
  return (from === 'pod' ? find(SY_SCOPE_INTERNAL) : undefined) ?? find(SY_SCOPE_EXTERNAL);
}

function inRange(ip: string, addr: string, prefixLen: number): boolean {
  return prefixContains(`${addr}/${prefixLen}`, ip);
}

const EXTERNAL_KINDS = SvcFlags.NODEPORT | SvcFlags.EXTERNALIP | SvcFlags.LOADBALANCER;

export function explainFlow(t: ExplainInput, st: ExplainState): ExplainResult {
  const snap = st.snapshot;
  const seed = snap.config?.flowHashSeed ?? st.seed;
  const family = familyOf(t.src);
  const v6 = family === 'IPv6';
  const hp = hostPort;
  // The SNAT source: sy_config.node_addr, or sy_config6.node_addr for IPv6 (all zero: nothing is SNATed).
  const nodeAddr = v6 ? st.config6?.nodeAddr : snap.config?.nodeAddr;
  const node = nodeAddr && nodeAddr !== '0.0.0.0' && nodeAddr !== '::' ? nodeAddr : undefined;
  const podCIDR = v6 ? st.clusterCIDR6 : st.clusterCIDR;
  const from: ArrivalRole = t.from ?? (podCIDR && !prefixContains(podCIDR, t.src) ? 'external' : 'pod');
  const steps: string[] = [];
  const res: ExplainResult = {
    tuple: { family, src: t.src, sport: t.sport ?? null, dst: t.dst, dport: t.dport, proto: protoName(t.proto) },
    from, program: from === 'pod' ? 'sy_tc_ingress' : 'sy_tc_external',
    verdict: 'pass', decidedBy: null, service: null, frontend: null,
    conntrack: { reply: null, forward: null, overrides: false }, sourceRanges: null, socketLB: st.socketLB ?? [],
    affinity: null, maglev: null, newFlowBackend: null, backend: null, candidates: [],
    nat: { dnat: null, snat: null, reverse: null }, steps,
  };
  const tuple = `${hp(t.src, t.sport ?? '*')} -> ${hp(t.dst, t.dport)}/${protoName(t.proto)}`;
  steps.push(`${tuple} arrives ${from === 'pod' ? 'from a pod (sy_tc_ingress on its veth)' : 'on the node\'s external device (sy_tc_external)'}`
    + (v6 ? ': an IPv6 packet, decided on the IPv6 maps (sy_services6, sy_conntrack6, ...)' : ''));
  if (res.socketLB.length > 0) {
    steps.push(`note: socket-level LB is attached to ${res.socketLB.join(', ')}: a process there has its connect() translated to a backend `
      + '(per-socket hash, not this tuple\'s) and its packets never carry the frontend, except a pod\'s connected UDP socket when tc serves '
      + 'the pod devices (POD_UDP_CONNECT_TC): its datagrams carry the frontend and are translated here; this explains a packet that does');
  }

  // 1. A reply of a tracked flow is reverse-NATed, whatever else matches.
  if (t.sport !== undefined) {
    const rep = st.conntrack({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto: t.proto, dir: 1 });
    if (rep) {
      res.conntrack.reply = ctSummary(rep, t.proto, st.now);
      if (!res.conntrack.reply.expired) {
        const rn = snap.revnat.get(rep.revNatId);
        res.decidedBy = 'conntrack';
        if (rn) {
          res.verdict = 'reverse-nat';
          const snat = (rep.flags & CtFlags.SNAT) !== 0;
          res.nat.reverse = { source: hp(rn.addr, rn.port), destination: snat ? hp(rep.natAddr, rep.natPort) : null };
          steps.push(`it matches a live REPLY conntrack entry: a backend's answer; its source becomes the frontend ${hp(rn.addr, rn.port)}`
            + (snat ? ` and its destination the client ${hp(rep.natAddr, rep.natPort)} (the flow was SNATed)` : ''));
        } else {
          steps.push(`it matches a REPLY entry whose frontend ${rep.revNatId} is gone: passed untouched`);
        }
        return res;
      }
      steps.push('a REPLY entry exists but has expired: ignored');
    }
  }

  const fe = lookupFrontend(snap, t, from);
  if (fe) {
    const d = new FrontendResolver(st.desired).resolve(fe.key, fe.value.flags);
    res.service = d ? servicePortString(d.svc.name) : null;
    res.frontend = {
      kind: frontendKind(fe.value.flags), address: fe.key.addr, port: fe.key.port, protocol: protoName(fe.key.proto),
      scope: scopeName(fe.key.scope), id: fe.value.id, group: fe.value.group, flags: flagNames(fe.value.flags, SVC_FLAG_NAMES),
      count: fe.value.count, tableSize: fe.value.tableSize, affinityTimeout: fe.value.affinityTimeout,
    };
  }

  // 2. A live forward entry keeps the flow on its backend (explained for a
  // connection's first packet: a TCP SYN, a UDP datagram).
  if (t.sport !== undefined) {
    const fwd = st.conntrack({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto: t.proto, dir: 0 });
    if (fwd) {
      const s = ctSummary(fwd, t.proto, st.now);
      res.conntrack.forward = s;
      const be = backendOf(snap, fwd.backendId);
      const reopened = t.proto === 6 && (fwd.flags & CtFlags.CLOSING) !== 0;
      if (s.expired) steps.push(`a FORWARD conntrack entry exists (backend ${fwd.backendId}) but has expired: a new flow`);
      else if (reopened) steps.push(`the FORWARD entry belongs to a closed flow (FIN/RST seen): a new SYN picks again (packets of the old flow would still go to backend ${fwd.backendId})`);
      else if (!be) steps.push(`the FORWARD entry's backend ${fwd.backendId} is gone: a SYN or datagram picks again (a mid-stream TCP segment would get a reset)`);
      else {
        res.conntrack.overrides = true;
        res.decidedBy = 'conntrack';
        res.backend = be;
        res.verdict = 'dnat';
        res.nat.dnat = { from: hp(t.dst, t.dport), to: hp(be.address, be.port) };
        if (s.nat) res.nat.snat = { to: s.nat, reason: 'recorded in the flow\'s conntrack entry' };
        steps.push(`it is a tracked flow (FORWARD entry, ${s.ageSeconds}s idle of ${s.lifetimeSeconds}s): it stays on backend ${be.id} ${hp(be.address, be.port)}${s.nat ? `, source NATed to ${s.nat}` : ''}`);
      }
    }
  }

  // 3. Is it a frontend?
  if (!fe) {
    if (!res.conntrack.overrides) steps.push(`no ${v6 ? 'sy_services6' : 'sy_services'} entry for ${hp(t.dst, t.dport)}/${protoName(t.proto)}${from === 'pod' ? ' (scope internal or external)' : ' (scope external)'}: not a frontend, the packet passes untouched`);
    return res;
  }
  const v = fe.value;
  const fdesc = `${res.frontend!.kind} frontend ${hp(fe.key.addr, fe.key.port)}/${protoName(fe.key.proto)} (scope ${scopeName(fe.key.scope)}, id ${v.id}, group ${v.group}${res.service ? `, ${res.service}` : ''})`;
  const fresh = !res.conntrack.overrides;
  if (fresh) steps.push(`it matches the ${fdesc}`);

  // 4. No endpoint.
  if (v.count === 0) {
    if (fresh) {
      if (v.flags & SvcFlags.DROP_NO_EP) {
        res.verdict = 'drop';
        steps.push('the frontend has no usable endpoint and drops (a Local traffic policy without a local endpoint)');
      } else {
        res.verdict = 'reject';
        steps.push(`the frontend has no endpoint: rejected (${t.proto === 6 ? 'TCP reset' : v6 ? 'ICMPv6 port unreachable' : 'ICMP port unreachable'} from ${hp(fe.key.addr, fe.key.port)})`);
      }
    }
    return res;
  }

  // 5. loadBalancerSourceRanges.
  if (v.flags & SvcFlags.SOURCE_RANGE) {
    const ranges = snap.sourceRanges.filter((r) => r.frontendId === v.id);
    const allowed = ranges.some((r) => inRange(t.src, r.addr, r.prefixLen));
    res.sourceRanges = { ranges: ranges.map((r) => `${r.addr}/${r.prefixLen}`), allowed };
    if (fresh) {
      steps.push(allowed ? `${t.src} is inside the frontend's source ranges` : `${t.src} is outside the frontend's source ranges (${res.sourceRanges.ranges.join(', ') || 'none'}): dropped`);
      if (!allowed) {
        res.verdict = 'drop';
        return res;
      }
    }
  }

  // 6. Affinity.
  let chosen: ExplainBackend | null = null;
  let decided: ExplainResult['decidedBy'] = null;
  if (v.flags & SvcFlags.AFFINITY) {
    const a = st.affinity(t.src, v.group);
    if (a) {
      // now - last_used < timeout, unsigned: a stamp ahead of now never applies.
      const live = st.now >= a.lastUsed && st.now - a.lastUsed < BigInt(v.affinityTimeout) * 1_000_000_000n;
      const be = backendOf(snap, a.backendId);
      const why = !live ? 'older than the affinity timeout' : !be ? 'its backend is gone' : be.state !== 'active' ? 'its backend is terminating' : 'live';
      const applies = why === 'live';
      res.affinity = { backendId: a.backendId, ageSeconds: Math.round(ageSeconds(a.lastUsed, st.now) * 1000) / 1000, timeoutSeconds: v.affinityTimeout, applies, why };
      if (applies) {
        chosen = be;
        decided = 'affinity';
      }
      if (fresh) {
        steps.push(applies
          ? `ClientIP affinity: ${t.src} was sent to backend ${a.backendId} ${res.affinity.ageSeconds}s ago (timeout ${v.affinityTimeout}s): the new flow goes there`
          : `an affinity entry for ${t.src} exists (backend ${a.backendId}) but ${why}: Maglev picks`);
      }
    } else if (fresh) {
      steps.push(`ClientIP affinity: no entry for ${t.src} yet: Maglev picks (hash without the source port) and records the choice`);
    }
  }

  // 7. Maglev (or random).
  const table = snap.maglev.get(v.group);
  const candidates = (table ? slotCounts(table) : []).flatMap(({ id, slots }) => {
    const b = backendOf(snap, id);
    return b ? [{ ...b, slots, share: slots / (table?.length || 1) }] : [];
  });
  if (v.flags & SvcFlags.RANDOM) {
    res.maglev = { seed, hash: null, slot: null, tableSize: v.tableSize, sportHashed: null, backendId: null };
    if (!chosen) {
      res.candidates = candidates;
      decided = 'random';
      if (fresh) steps.push(`random selection: a random slot of the ${v.tableSize}-slot table (${candidates.length} backends)`);
    }
  } else {
    const sport = v.flags & SvcFlags.AFFINITY ? 0 : t.sport;
    if (sport === undefined) {
      res.maglev = { seed, hash: null, slot: null, tableSize: v.tableSize, sportHashed: null, backendId: null };
      if (!chosen) {
        res.candidates = candidates;
        decided = 'maglev';
        if (fresh) steps.push(`the Maglev slot depends on the source port: give sport to know it (${candidates.length} backends share the ${v.tableSize} slots)`);
      }
    } else {
      const hash = flowHash({ saddr: t.src, daddr: t.dst, sport, dport: t.dport, proto: t.proto }, seed);
      const slot = v.tableSize > 0 ? hash % v.tableSize : 0;
      const id = table && slot < table.length && table[slot] !== 0 ? table[slot]! : undefined;
      res.maglev = { seed, hash, slot, tableSize: v.tableSize, sportHashed: sport, backendId: id ?? null };
      const be = id === undefined ? null : backendOf(snap, id);
      res.newFlowBackend = be;
      if (!chosen) {
        if (fresh) {
          if (id === undefined) steps.push(`flow hash ${hash} -> slot ${slot}, but the table of group ${v.group} ${table ? 'has no such slot' : 'is missing'}: dropped`);
          else if (!be) steps.push(`flow hash ${hash} -> slot ${slot} -> backend ${id}, which is not in sy_backends: dropped`);
          else steps.push(`flow hash ${hash} (seed ${seed}${v6 ? ', each address folded to one word' : ''}${v.flags & SvcFlags.AFFINITY ? ', source port left out for affinity' : ''}) mod ${v.tableSize} = slot ${slot} -> backend ${id} ${hp(be.address, be.port)}`);
        }
        chosen = be;
        decided = 'maglev';
        if (!be && fresh) {
          res.verdict = 'drop';
          return res;
        }
      }
    }
  }

  if (!fresh) {
    if (res.newFlowBackend && res.backend && res.newFlowBackend.id !== res.backend.id) {
      steps.push(`(a new flow would go to backend ${res.newFlowBackend.id} instead: conntrack keeps this one where it is)`);
    }
    return res;
  }
  res.decidedBy = decided;
  res.verdict = 'dnat';
  res.backend = chosen;
  if (!chosen) {
    steps.push('the backend is drawn per flow; the candidates are listed');
    return res;
  }
  res.nat.dnat = { from: hp(t.dst, t.dport), to: hp(chosen.address, chosen.port) };
  steps.push(`DNAT ${hp(t.dst, t.dport)} -> ${hp(chosen.address, chosen.port)}; conntrack entries are created for both directions`);
  // 8. Source NAT (sy_lb_decide): hairpin anywhere; from outside to a remote backend unless eTP=Local.
  if (node) {
    let reason: string | undefined;
    if (chosen.address === t.src) reason = 'hairpin: the backend is the client itself';
    else if (from === 'external' && !(v.flags & SvcFlags.LOCAL_EXT) && !chosen.local) {
      reason = `${v.flags & EXTERNAL_KINDS ? 'externalTrafficPolicy=Cluster' : 'arrived from outside'} with a backend on another node`;
    }
    if (reason) {
      const to = t.sport !== undefined ? hp(node, t.sport) : node;
      res.nat.snat = { to, reason };
      steps.push(`SNAT to the node address ${to}${t.sport !== undefined ? ` (port ${t.sport} if free, else a random one in 32768-60999)` : ''}: ${reason}`);
    }
  }
  return res;
}

/** The maps one family's datapath decides on (sy_lb_decide / sy_lb6_decide). */
const FAMILY_MAPS = {
  IPv4: { services: 'sy_services', conntrack: 'sy_conntrack', affinity: 'sy_affinity', revnat: 'sy_revnat', backends: 'sy_backends', ranges: 'sy_source_ranges' },
  IPv6: { services: 'sy_services6', conntrack: 'sy_conntrack6', affinity: 'sy_affinity6', revnat: 'sy_revnat6', backends: 'sy_backends6', ranges: 'sy_source_ranges6' },
} as const;

/**
 * Reads what explaining one tuple needs with single-key lookups, never a
 * walk of a map: sy_config, the frontend (both scopes), the tuple's two
 * conntrack entries, the affinity entry, the frontend's Maglev table, the
 * backends it and the entries name, the reply's frontend. The snapshot it
 * returns holds only those entries. Source ranges: the frontend's ranges
 * are listed from sy_source_ranges (a dump, only for a frontend that has
 * ranges). sy_attach (one entry per hooked device) is read whole. An IPv6
 * tuple reads the IPv6 twins, and sy_config6 for the node's IPv6 address
 * (sy_maglev and sy_config are shared by both families).
 */
export async function readExplainState(loader: LoaderView, base: Omit<ExplainState, 'snapshot' | 'conntrack' | 'affinity' | 'now'>, t: ExplainInput): Promise<ExplainState> {
  const proto = t.proto;
  const v6 = familyOf(t.src) === 'IPv6';
  const M = FAMILY_MAPS[v6 ? 'IPv6' : 'IPv4'];
  const fwdKey: CtKey | undefined = t.sport === undefined ? undefined : { saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto, dir: CtDir.FORWARD };
  const repKey: CtKey | undefined = fwdKey && { ...fwdKey, dir: CtDir.REPLY };
  const scopes = [SY_SCOPE_INTERNAL, SY_SCOPE_EXTERNAL].map((scope) => ({ addr: t.dst, port: t.dport, proto, scope }));
  const [[cfg], [cfg6], svcs, [fwd, rep], att] = await Promise.all([
    lookupOptional(loader, 'sy_config', [0]),
    v6 ? lookupOptional(loader, 'sy_config6', [0]) : Promise.resolve([undefined]),
    lookupTyped(loader, M.services, scopes),
    fwdKey ? lookupTyped(loader, M.conntrack, [fwdKey, repKey!]) : Promise.resolve([undefined, undefined]),
    dumpOptional(loader, 'sy_attach'),
  ]);
  const frontends: Frontend[] = [];
  scopes.forEach((key, i) => {
    const value = svcs[i];
    if (value) frontends.push({ key, value });
  });
  const groups = [...new Set(frontends.map((f) => f.value.group))];
  const affGroups = [...new Set(frontends.filter((f) => f.value.flags & SvcFlags.AFFINITY).map((f) => f.value.group))];
  const ranged = frontends.filter((f) => f.value.flags & SvcFlags.SOURCE_RANGE);
  const [tables, affs, rn, ranges] = await Promise.all([
    lookupTyped(loader, 'sy_maglev', groups),
    lookupOptional(loader, M.affinity, affGroups.map((group) => ({ client: t.src, group }))),
    rep ? lookupTyped(loader, M.revnat, [rep.revNatId]) : Promise.resolve([]),
    ranged.length ? dumpOptional(loader, M.ranges) : Promise.resolve([]),
  ]);
  const maglev = new Map<number, Uint32Array>();
  groups.forEach((g, i) => { if (tables[i]) maglev.set(g, tables[i]!); });
  const affIndex = new Map<string, AffinityValue>();
  affGroups.forEach((g, i) => { if (affs[i]) affIndex.set(`${t.src}|${g}`, affs[i]!); });
  const ids = new Set<number>();
  for (const table of maglev.values()) for (const id of table) if (id !== 0) ids.add(id);
  if (fwd) ids.add(fwd.backendId);
  for (const a of affIndex.values()) ids.add(a.backendId);
  const idList = [...ids];
  const bes = await lookupTyped(loader, M.backends, idList);
  const backends = new Map<number, BackendValue>();
  idList.forEach((id, i) => { if (bes[i]) backends.set(id, bes[i]!); });
  const revnat = new Map<number, RevNatValue>();
  if (rep && rn[0]) revnat.set(rep.revNatId, rn[0]);
  const ct = new Map<number, CtValue>();
  if (fwd) ct.set(CtDir.FORWARD, fwd);
  if (rep) ct.set(CtDir.REPLY, rep);
  const snapshot: EbpfSnapshot = {
    frontends, backends, revnat, maglev,
    sourceRanges: ranges.map((e) => e.key).filter((r) => ranged.some((f) => f.value.id === r.frontendId)),
    config: cfg,
  };
  const same = (k: { saddr: string; daddr: string; sport: number; dport: number; proto: number }) =>
    !!fwdKey && k.saddr === fwdKey.saddr && k.daddr === fwdKey.daddr && k.sport === fwdKey.sport && k.dport === fwdKey.dport && k.proto === fwdKey.proto;
  return {
    ...base, snapshot, now: monotonicNowNs(),
    ...(cfg6 ? { config6: { nodeAddr: cfg6.nodeAddr } } : {}),
    socketLB: att.filter((e) => hookName(e.key.hook) === 'sock_lb').map((e) => `cgroup ${e.value.ifname}`),
    conntrack: (k) => (same(k) ? ct.get(k.dir) : undefined),
    affinity: (client, group) => affIndex.get(`${client}|${group}`),
  };
}
