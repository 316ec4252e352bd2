// GET /v1/explain: what the datapath does with the first packet of a flow,
// step for step as bpf/tc_ingress.c does it (reply entry, forward entry,
// frontend, no-endpoint verdict, affinity, Maglev slot, DNAT), from the maps
// as they are now. The flow hash is flow-hash.ts, the same function the
// datapath runs, with the seed sy_config holds.
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import {
  BackendFlags, CtFlags, SvcFlags, SY_SCOPE_EXTERNAL, SY_SCOPE_INTERNAL,
  decodeAffinityKey, decodeAffinityValue, decodeCtKey, decodeCtValue, flagNames, frontendKind, protoName, scopeName,
  SVC_FLAG_NAMES, type AffinityValue, type CtValue,
} from '../dataplane/ebpf/map-values.js';
import { flowHash } from '../dataplane/flow-hash.js';
import { servicePortString } from '../model/types.js';
import { cidrContains } from '../util/ipv4.js';
import { ageSeconds, backendStateName, ctLifetimeSeconds, monotonicNowNs, slotCounts } from './decode.js';
import { FrontendResolver, dumpOptional, readSnapshot, type EbpfSnapshot, type Frontend } from './ebpf-view.js';
import type { LoaderView } from './source.js';

export interface ExplainInput {
  src: string;
  dst: string;
  dport: number;
  /** IP protocol number (6, 17). */
  proto: number;
  /** Unknown: the slot cannot be computed unless the Service hashes without it (ClientIP affinity). */
  sport?: number | undefined;
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
  /** sy_conntrack carries NAT fields (the SNAT-capable layout). */
  snatCapable: boolean;
  /** Pod CIDR: sources inside it match internal-scope frontends first. */
  clusterCIDR?: string | undefined;
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
  tuple: { src: string; sport: number | null; dst: string; dport: number; proto: string };
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
  affinity: { backendId: number; ageSeconds: number; timeoutSeconds: number; applies: boolean; why: string } | null;
  maglev: { seed: number; hash: number | null; slot: number | null; tableSize: number; sportHashed: number | null; backendId: number | null } | null;
  /** What Maglev would pick now (even when conntrack or affinity decides): for comparison. */
  newFlowBackend: ExplainBackend | null;
  backend: ExplainBackend | null;
  /** When the slot cannot be computed: every backend of the table with its share. */
  candidates: Array<ExplainBackend & { slots: number; share: number }>;
  nat: {
    dnat: { from: string; to: string } | null;
    snat: { to: string; reason: string } | null;
    reverse: { from: string; to: string } | null;
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

function ctSummary(v: CtValue, proto: number, now: bigint): CtSummary {
  const age = ageSeconds(v.lastSeen, now);
  const lifetime = ctLifetimeSeconds(proto, v.flags);
  const flags: string[] = [];
  if (v.flags & CtFlags.SEEN_REPLY) flags.push('SeenReply');
  if (v.flags & CtFlags.CLOSING) flags.push('Closing');
  if (v.flags & CtFlags.SNAT) flags.push('SNAT');
  // sy_ct_expired: now > last_seen && now - last_seen > lifetime.
  const expired = v.lastSeen < now && now - v.lastSeen > BigInt(lifetime) * 1_000_000_000n;
  return {
    backendId: v.backendId, revNatId: v.revNatId, ageSeconds: Math.round(age * 1000) / 1000, lifetimeSeconds: lifetime, expired, flags,
    nat: v.flags & CtFlags.SNAT ? `${v.natAddr}:${v.natPort}` : null,
  };
}

function backendOf(snap: EbpfSnapshot, id: number): ExplainBackend | null {
  const b = snap.backends.get(id);
  if (!b) return null;
  return { id, address: b.addr, port: b.port, state: backendStateName(b.state), local: (b.flags & BackendFlags.LOCAL) !== 0, zone: b.zone };
}

/** The frontend entry a packet to dst:dport/proto from src hits. */
export function lookupFrontend(snap: EbpfSnapshot, t: ExplainInput, clusterCIDR?: string): Frontend | undefined {
  const find = (scope: number): Frontend | undefined =>
    snap.frontends.find((f) => f.key.addr === t.dst && f.key.port === t.dport && f.key.proto === t.proto && f.key.scope === scope);
  const internal = clusterCIDR !== undefined && cidrContains(clusterCIDR, t.src) ? find(SY_SCOPE_INTERNAL) : undefined;
  return internal ?? find(SY_SCOPE_EXTERNAL);
}

export function explainFlow(t: ExplainInput, st: ExplainState): ExplainResult {
  const snap = st.snapshot;
  const seed = snap.config?.flowHashSeed ?? st.seed;
  const steps: string[] = [];
  const res: ExplainResult = {
    tuple: { src: t.src, sport: t.sport ?? null, dst: t.dst, dport: t.dport, proto: protoName(t.proto) },
    verdict: 'pass', decidedBy: null, service: null, frontend: null,
    conntrack: { reply: null, forward: null, overrides: false },
    affinity: null, maglev: null, newFlowBackend: null, backend: null, candidates: [],
    nat: { dnat: null, snat: null, reverse: null }, steps,
  };
  const tuple = `${t.src}:${t.sport ?? '*'} -> ${t.dst}:${t.dport}/${protoName(t.proto)}`;

  // 1. A reply of a tracked flow is reverse-NATed, whatever else matches.
  if (t.sport !== undefined) {
    const rep = st.conntrack({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto: t.proto, dir: 1 });
    if (rep) {
      res.conntrack.reply = ctSummary(rep, t.proto, st.now);
      if (!res.conntrack.reply.expired) {
        const rn = snap.revnat.get(rep.revNatId);
        if (rn) {
          res.verdict = 'reverse-nat';
          res.decidedBy = 'conntrack';
          res.nat.reverse = { from: `${t.src}:${t.sport}`, to: `${rn.addr}:${rn.port}` };
          steps.push(`${tuple} matches a live REPLY conntrack entry: it is a backend's answer; its source becomes the frontend ${rn.addr}:${rn.port}`);
        } else {
          res.verdict = 'pass';
          steps.push(`${tuple} matches a REPLY entry whose frontend ${rep.revNatId} is gone: passed untouched`);
        }
        return res;
      }
      steps.push('a REPLY entry exists but has expired: ignored');
    }
  }

  // The frontend (needed for names even when conntrack decides).
  const fe = lookupFrontend(snap, t, st.clusterCIDR);
  if (fe) {
    const d = new FrontendResolver(st.desired).resolve(fe.key, fe.value.flags);
    res.service = d ? servicePortString(d.svc.name) : null;
    res.frontend = {
      kind: frontendKind(fe.value.flags), address: fe.key.addr, port: fe.key.port, protocol: protoName(fe.key.proto),
      scope: scopeName(fe.key.scope), id: fe.value.id, group: fe.value.group, flags: flagNames(fe.value.flags, SVC_FLAG_NAMES),
      count: fe.value.count, tableSize: fe.value.tableSize, affinityTimeout: fe.value.affinityTimeout,
    };
  }

  // 2. A live forward entry keeps the flow on its backend.
  if (t.sport !== undefined) {
    const fwd = st.conntrack({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto: t.proto, dir: 0 });
    if (fwd) {
      const s = ctSummary(fwd, t.proto, st.now);
      res.conntrack.forward = s;
      const be = backendOf(snap, fwd.backendId);
      // A SYN on a closed flow's tuple starts over (sy_ct_reopens).
      const reopened = t.proto === 6 && (fwd.flags & CtFlags.CLOSING) !== 0;
      if (s.expired) steps.push(`a FORWARD conntrack entry exists (backend ${fwd.backendId}) but has expired: a new flow`);
      else if (!be) steps.push(`the FORWARD entry's backend ${fwd.backendId} is gone: a SYN or datagram picks again (a mid-stream TCP segment would get a reset)`);
      else if (reopened) steps.push(`the FORWARD entry belongs to a closed flow (FIN/RST seen): a new SYN picks again; packets of the old flow still go to backend ${be.id}`);
      else {
        res.conntrack.overrides = true;
        res.decidedBy = 'conntrack';
        res.backend = be;
        res.verdict = 'dnat';
        res.nat.dnat = { from: `${t.dst}:${t.dport}`, to: `${be.address}:${be.port}` };
        if (s.nat) res.nat.snat = { to: s.nat, reason: 'recorded in the flow\'s conntrack entry' };
        steps.push(`${tuple} is a tracked flow (FORWARD entry, ${s.ageSeconds}s idle of ${s.lifetimeSeconds}s): it stays on backend ${be.id} ${be.address}:${be.port}`);
      }
    }
  }

  // 3. Is it a frontend?
  if (!fe) {
    if (!res.conntrack.overrides) {
      steps.push(`no sy_services entry for ${t.dst}:${t.dport}/${protoName(t.proto)}: not a frontend, the packet passes untouched`);
      res.verdict = 'pass';
    }
    return res;
  }
  const v = fe.value;
  const fdesc = `${res.frontend!.kind} frontend ${fe.key.addr}:${fe.key.port}/${protoName(fe.key.proto)} (scope ${scopeName(fe.key.scope)}, id ${v.id}, group ${v.group}${res.service ? `, ${res.service}` : ''})`;
  if (!res.conntrack.overrides) steps.push(`matches the ${fdesc}`);

  // 4. No endpoint.
  if (v.count === 0) {
    if (!res.conntrack.overrides) {
      if (v.flags & SvcFlags.DROP_NO_EP) {
        res.verdict = 'drop';
        steps.push('the frontend has no usable endpoint and drops (internal/externalTrafficPolicy=Local without a local endpoint)');
      } else {
        res.verdict = 'reject';
        steps.push(`the frontend has no endpoint: rejected (${t.proto === 6 ? 'TCP reset' : 'ICMP port unreachable'} from ${fe.key.addr}:${fe.key.port})`);
      }
    }
    return res;
  }

  // 5. Affinity.
  let chosen: ExplainBackend | null = null;
  let decided: ExplainResult['decidedBy'] = null;
  if (v.flags & SvcFlags.AFFINITY) {
    const a = st.affinity(t.src, v.group);
    if (a) {
      // now - last_used < timeout (unsigned: a stamp ahead of now never applies).
      const live = st.now >= a.lastUsed && st.now - a.lastUsed < BigInt(v.affinityTimeout) * 1_000_000_000n;
      const be = backendOf(snap, a.backendId);
      let why: string;
      if (!live) why = 'older than the affinity timeout';
      else if (!be) why = 'its backend is gone';
      else if (be.state !== 'active') why = 'its backend is terminating';
      else why = 'live';
      const applies = why === 'live';
      res.affinity = { backendId: a.backendId, ageSeconds: Math.round(ageSeconds(a.lastUsed, st.now) * 1000) / 1000, timeoutSeconds: v.affinityTimeout, applies, why };
      if (applies) {
        chosen = be;
        decided = 'affinity';
      }
      steps.push(applies
        ? `ClientIP affinity: ${t.src} was sent to backend ${a.backendId} ${res.affinity.ageSeconds}s ago (timeout ${v.affinityTimeout}s): the new flow goes there`
        : `an affinity entry for ${t.src} exists (backend ${a.backendId}) but ${why}: Maglev picks`);
    } else {
      steps.push(`ClientIP affinity: no entry for ${t.src} yet: Maglev picks (hash without the source port) and records the choice`);
    }
  }

  // 6. Maglev (or random).
  const table = snap.maglev.get(v.group);
  const candidates = (table ? slotCounts(table) : []).flatMap(({ id, slots }) => {
    const b = backendOf(snap, id);
    return b ? [{ ...b, slots, share: slots / (table?.length || 1) }] : [];
  });
  if (v.flags & SvcFlags.RANDOM) {
    res.maglev = { seed, hash: null, slot: null, tableSize: v.tableSize, sportHashed: null, backendId: null };
    res.candidates = candidates;
    steps.push(`random selection: a random slot of the ${v.tableSize}-slot table (${candidates.length} backends)`);
  } else {
    const sport = v.flags & SvcFlags.AFFINITY ? 0 : t.sport;
    if (sport === undefined) {
      res.maglev = { seed, hash: null, slot: null, tableSize: v.tableSize, sportHashed: null, backendId: null };
      res.candidates = candidates;
      steps.push(`the Maglev slot depends on the source port: pass sport to know it (${candidates.length} backends share the ${v.tableSize} slots)`);
    } else {
      const hash = flowHash({ saddr: t.src, daddr: t.dst, sport, dport: t.dport, proto: t.proto }, seed);
      const slot = v.tableSize > 0 ? hash % v.tableSize : 0;
      const id = table && slot < table.length ? table[slot]! : undefined;
      res.maglev = { seed, hash, slot, tableSize: v.tableSize, sportHashed: sport, backendId: id ?? null };
      const be = id === undefined ? null : backendOf(snap, id);
      res.newFlowBackend = be;
      if (id === undefined) steps.push(`flow hash ${hash} -> slot ${slot}, but the table of group ${v.group} ${table ? 'is shorter' : 'is missing'}: dropped`);
      else if (!be) steps.push(`flow hash ${hash} -> slot ${slot} -> backend ${id}, which is not in sy_backends: dropped`);
      else steps.push(`flow hash ${hash} (seed ${seed}${v.flags & SvcFlags.AFFINITY ? ', source port left out for affinity' : ''}) mod ${v.tableSize} = slot ${slot} -> backend ${id} ${be.address}:${be.port}`);
      if (!chosen) {
        chosen = be;
        decided = 'maglev';
        if (!be && !res.conntrack.overrides) {
          res.verdict = 'drop';
          return res;
        }
      }
    }
  }

  if (res.conntrack.overrides) {
    if (res.newFlowBackend && res.backend && res.newFlowBackend.id !== res.backend.id) {
      steps.push(`(a new flow would go to backend ${res.newFlowBackend.id} instead: conntrack keeps this one where it is)`);
    }
    return res;
  }
  res.decidedBy = decided ?? (v.flags & SvcFlags.RANDOM ? 'random' : 'maglev');
  res.verdict = 'dnat';
  res.backend = chosen;
  if (chosen) {
    res.nat.dnat = { from: `${t.dst}:${t.dport}`, to: `${chosen.address}:${chosen.port}` };
    steps.push(`DNAT ${t.dst}:${t.dport} -> ${chosen.address}:${chosen.port}; conntrack entries are created for both directions`);
    const node = snap.config?.nodeAddr;
    if (st.snatCapable && node && node !== '0.0.0.0') {
      if (chosen.address === t.src) {
        res.nat.snat = { to: node, reason: 'hairpin: the backend is the client itself' };
      } else if (v.flags & (SvcFlags.NODEPORT | SvcFlags.EXTERNALIP | SvcFlags.LOADBALANCER)
        && !(v.flags & SvcFlags.LOCAL_EXT) && fe.key.scope === SY_SCOPE_EXTERNAL && !chosen.local) {
        res.nat.snat = { to: node, reason: 'externalTrafficPolicy=Cluster with a backend on another node' };
      }
      if (res.nat.snat) steps.push(`SNAT to the node address ${node} (${res.nat.snat.reason})`);
    }
  } else {
    steps.push('the backend depends on what the datapath draws or on the source port; candidates are listed');
  }
  return res;
}

/** Reads the maps explain needs through the loader. */
export async function readExplainState(loader: LoaderView, base: Omit<ExplainState, 'snapshot' | 'conntrack' | 'affinity' | 'now' | 'snatCapable'>): Promise<ExplainState> {
  const [snapshot, ct, aff] = await Promise.all([readSnapshot(loader), loader.dump('sy_conntrack'), dumpOptional(loader, 'sy_affinity')]);
  const now = monotonicNowNs();
  const ctIndex = new Map<string, CtValue>();
  for (const e of ct.entries ?? []) {
    const k = decodeCtKey(e.key);
    ctIndex.set(`${k.saddr}|${k.daddr}|${k.sport}|${k.dport}|${k.proto}|${k.dir}`, decodeCtValue(e.value));
  }
  const affIndex = new Map<string, AffinityValue>();
  for (const e of aff) {
    const k = decodeAffinityKey(e.key);
    affIndex.set(`${k.client}|${k.group}`, decodeAffinityValue(e.value));
  }
  return {
    ...base, snapshot, now, snatCapable: (ct.info?.valueSize ?? 0) >= 26,
    conntrack: (k) => ctIndex.get(`${k.saddr}|${k.daddr}|${k.sport}|${k.dport}|${k.proto}|${k.dir}`),
    affinity: (client, group) => affIndex.get(`${client}|${group}`),
  };
}
