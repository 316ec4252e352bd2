// Turns the back-end-neutral desired state into map content: ids for
// frontends, tables and backends, one Maglev table per traffic scope of a
// ServicePort, service flags. Tables are cached by their backend set so an
// unchanged service costs no table rebuild, and groups with the same backend
// set and table size share one table (computed once, held once).
import { serviceKeyOfPort, type ServiceKey } from '../../model/service-key.js';
import { createHash } from 'node:crypto';
import { intToIpv4, parseCidr } from '../../util/ipv4.js';
import { formatIP, parsePrefix, type IPFamily } from '../../util/ip.js';
import type { DesiredServicePort } from '../desired-state.js';
import type { EndpointInfo } from '../../model/types.js';
import { protoNumber } from '../flow-hash.js';
import { buildMaglevTable, chooseTableSize, type MaglevSizing } from '../maglev.js';
import { IdAllocator } from './id-allocator.js';
import { emptyMapsContent, type MapsContent, type SourceRange } from './maps-content.js';
import { BackendFlags, BackendState, SvcFlags, SY_SCOPE_EXTERNAL, SY_SCOPE_INTERNAL, svcKeyString, type BackendValue, type RevNatValue, type SvcKey, type SvcValue } from './map-values.js';

export interface MapBuilderOptions {
  seed: number;
  sizing: MaglevSizing;
}

export interface FrontendRecord {
  servicePort: string;
  kind: 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';
  key: SvcKey;
  value: SvcValue;
}

/** A backend's identity (Maglev hashes it): "ip:port/proto", an IPv6 address in brackets as Go's JoinHostPort writes it. */
export function backendIdentity(ip: string, port: number, proto: number): string {
  return ip.includes(':') ? `[${ip}]:${port}/${proto}` : `${ip}:${port}/${proto}`;
}

/**
 * The Maglev group name of a ServicePort's traffic scope. Both families of a
 * dual-stack Service share the ServicePort key but have their own backends,
 * so the IPv6 tables get names (and group ids) of their own; IPv4 keeps the
 * names it always had.
 */
export function groupName(servicePortKey: string, family: IPFamily, scope: 'internal' | 'external'): string {
  return family === 'IPv6' ? `${servicePortKey}#IPv6#${scope}` : `${servicePortKey}#${scope}`;
}

function sameEndpointSet(a: EndpointInfo[], b: EndpointInfo[]): boolean {
  if (a.length !== b.length) return false;
  const ka = a.map((e) => `${e.ip}:${e.port}`).sort(), kb = b.map((e) => `${e.ip}:${e.port}`).sort();
  return ka.every((k, i) => k === kb[i]);
}

/** "a.b.c.d/n" or an IPv6 CIDR (or a bare address) -> network address and prefix length; undefined if unusable. */
export function parseSourceRange(cidr: string): { addr: string; prefixLen: number } | undefined {
  if (cidr.includes(':')) {
    const t = cidr.trim();
    const p = parsePrefix(t.includes('/') ? t : `${t}/128`);
    return p && p.family === 'IPv6' ? { addr: formatIP(p.bytes), prefixLen: p.prefix } : undefined;
  }
  try {
    const c = cidr.includes('/') ? cidr.trim() : `${cidr.trim()}/32`;
    const { base, prefix } = parseCidr(c);
    return { addr: intToIpv4(base), prefixLen: prefix };
  } catch {
    return undefined;
  }
}

/** A collision-safe short key for a long text (SHA-256, base64). */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

const zoneIds = new Map<string, number>();
export function zoneId(zone: string): number {
  if (!zone) return 0;
  let id = zoneIds.get(zone);
  if (id === undefined) {
    id = createHash('sha256').update(zone).digest().readUInt32LE(0) || 1;
    if (zoneIds.size < 10_000) zoneIds.set(zone, id);
  }
  return id;
}

/** What one Service (all its ports) puts in the maps. */
interface Contribution {
  services: Map<string, { key: SvcKey; value: SvcValue }>;
  revnat: Map<number, RevNatValue>;
  maglev: Map<number, Uint32Array>;
  sourceRanges: Map<string, SourceRange>;
  /** Backends by identity (shared between Services: reference counted). */
  backends: Map<string, BackendValue>;
  groups: Set<string>;
  frontends: FrontendRecord[];
}

/** The source ranges of the (many) Services without any: one empty map, never written (contribute makes its own). */
const NO_SOURCE_RANGES: ReadonlyMap<string, SourceRange> = new Map();

function emptyContribution(): Contribution {
  return { services: new Map(), revnat: new Map(), maglev: new Map(), sourceRanges: NO_SOURCE_RANGES as Map<string, SourceRange>, backends: new Map(), groups: new Set(), frontends: [] };
}

export class DesiredMapsBuilder {
  readonly frontendIds = new IdAllocator();
  readonly groupIds = new IdAllocator();
  readonly backendIds = new IdAllocator();
  /** Each table group's current table: the signature it was built for and the key of its content. */
  private readonly tableCache = new Map<string, { signature: string; content: string; table: Uint32Array }>();
  /**
   * Tables by content: groups with the same backend set, table size and
   * backend ids get one table (one Maglev computation, one array, shared
   * read-only), counted by the groups using it.
   */
  private readonly tablesByContent = new Map<string, { table: Uint32Array; users: number }>();
  private contributions = new Map<ServiceKey, Contribution>();
  /** identity -> number of Services using the backend, and its current value. */
  private backendRefs = new Map<string, { count: number; value: BackendValue; ident: string }>();
  private restoredGroups = new Map<string, number>();
  /** During a full build: each backend identity seen so far, as first built (see sharedBackend). */
  private building: Map<string, { ident: string; value: BackendValue }> | undefined;
  /** Node addresses NodePorts answer on (nodePortAddresses, or the node IP). */
  nodeAddresses: string[] = [];
  /** This node's own address: an endpoint there is a hostNetwork pod on this node (SvcFlags.HOST_EP). */
  nodeIP = '';
  /** The same two for IPv6 ServicePorts (sy_services6). */
  nodeAddresses6: string[] = [];
  nodeIP6 = '';

  constructor(private readonly opts: MapBuilderOptions) {}

  /** Frontends of every Service, for the admin API and explain. */
  get frontends(): FrontendRecord[] {
    const out: FrontendRecord[] = [];
    for (const c of this.contributions.values()) out.push(...c.frontends);
    return out;
  }

  /** Seeds the allocators from what the pinned maps already hold. */
  adopt(programmed: MapsContent): void {
    for (const [k, e] of programmed.services) {
      this.frontendIds.adopt(k, e.value.id);
      this.groupIds.reserve(e.value.group);
    }
    for (const [id, b] of programmed.backends) this.backendIds.adopt(backendIdentity(b.addr, b.port, b.proto), id);
    for (const id of programmed.revnat.keys()) this.frontendIds.reserve(id);
    for (const g of programmed.maglev.keys()) this.groupIds.reserve(g);
    this.restoredGroups = new Map([...programmed.services].map(([k, e]) => [k, e.value.group]));
  }

  /** Full build from the whole desired state; returns the whole map content. */
  build(desired: DesiredServicePort[]): MapsContent {
    const byService = new Map<ServiceKey, DesiredServicePort[]>();
    for (const d of desired) {
      const k = serviceKeyOfPort(d.svc.name);
      let l = byService.get(k);
      if (!l) byService.set(k, (l = []));
      l.push(d);
    }
    const next = new Map<ServiceKey, Contribution>();
    this.building = new Map();
    try {
      for (const [k, dsps] of byService) next.set(k, this.contribute(dsps));
    } finally {
      this.building = undefined;
    }
    this.contributions = next;
    this.backendRefs = new Map();
    for (const c of next.values()) for (const [ident, v] of c.backends) this.ref(ident, v);
    // Free the ids of everything no longer wanted.
    const liveFrontends = new Set<string>(), liveGroups = new Set<string>();
    for (const c of next.values()) {
      for (const k of c.services.keys()) liveFrontends.add(k);
      for (const g of c.groups) liveGroups.add(g);
    }
    for (const name of this.tableCache.keys()) if (!liveGroups.has(name)) this.forgetTable(name);
    this.frontendIds.retain(liveFrontends, new Set());
    this.groupIds.retain(liveGroups, new Set());
    this.backendIds.retain(new Set(this.backendRefs.keys()), new Set());
    this.restoredGroups.clear();
    return this.content();
  }

  /**
   * Partial build: only the Services in `changed` (their new ports; an empty
   * list when the Service is gone). Returns the touched map entries before and
   * after, whose diff is exactly what the loader must be told.
   */
  update(changed: ReadonlyMap<ServiceKey, DesiredServicePort[]>): { before: MapsContent; after: MapsContent } {
    const before = emptyMapsContent(), after = emptyMapsContent();
    const touched = new Set<string>();
    const plans: Array<{ key: ServiceKey; old: Contribution; neu: Contribution; gone: boolean }> = [];
    const keptFrontends = new Set<string>(), keptGroups = new Set<string>();
    for (const [key, dsps] of changed) {
      const old = this.contributions.get(key) ?? emptyContribution();
      const neu = dsps.length > 0 ? this.contribute(dsps) : emptyContribution();
      plans.push({ key, old, neu, gone: dsps.length === 0 });
      copyInto(before, old);
      copyInto(after, neu);
      for (const ident of old.backends.keys()) touched.add(ident);
      for (const ident of neu.backends.keys()) touched.add(ident);
      for (const ks of neu.services.keys()) keptFrontends.add(ks);
      for (const g of neu.groups) keptGroups.add(g);
    }
    // Backend values as programmed, before any reference moves.
    for (const ident of touched) {
      const r = this.backendRefs.get(ident);
      const id = this.backendIds.get(ident);
      if (r && id !== undefined) before.backends.set(id, r.value);
    }
    for (const { key, old, neu, gone } of plans) {
      for (const ident of old.backends.keys()) this.unref(ident);
      for (const [ident, v] of neu.backends) this.ref(ident, v);
      // Release what no changed Service has any more.
      for (const ks of old.services.keys()) if (!keptFrontends.has(ks)) this.frontendIds.release(ks);
      for (const g of old.groups) {
        if (keptGroups.has(g)) continue;
        this.groupIds.release(g);
        this.forgetTable(g);
      }
      if (gone) this.contributions.delete(key);
      else this.contributions.set(key, neu);
    }
    for (const ident of touched) {
      const r = this.backendRefs.get(ident);
      const id = this.backendIds.get(ident);
      if (r && id !== undefined) after.backends.set(id, r.value);
      if (!r) this.backendIds.release(ident);
    }
    this.restoredGroups.clear();
    return { before, after };
  }

  /** The Services ("ns/name") that have map entries. */
  serviceKeys(): IterableIterator<ServiceKey> {
    return this.contributions.keys();
  }

  /** want() of each of `keys` that has entries: what one sync hands SyncRun.run. */
  wants(keys: Iterable<ServiceKey>): Map<ServiceKey, MapsContent> {
    const out = new Map<ServiceKey, MapsContent>();
    for (const k of keys) {
      const w = this.want(k);
      if (w) out.set(k, w);
    }
    return out;
  }

  /**
   * One Service's entries, backends with their current (shared) values; the
   * maps are the builder's own, to read only. undefined: no entries.
   */
  want(key: ServiceKey): MapsContent | undefined {
    const c = this.contributions.get(key);
    if (!c) return undefined;
    const backends = new Map<number, BackendValue>();
    for (const ident of c.backends.keys()) {
      const id = this.backendIds.get(ident), r = this.backendRefs.get(ident);
      if (id !== undefined && r) backends.set(id, r.value);
    }
    return { services: c.services, revnat: c.revnat, maglev: c.maglev, sourceRanges: c.sourceRanges, backends };
  }

  /** The union of every Service's contribution. */
  content(): MapsContent {
    const out = emptyMapsContent();
    for (const c of this.contributions.values()) copyInto(out, c, false);
    for (const [ident, r] of this.backendRefs) {
      const id = this.backendIds.get(ident);
      if (id !== undefined) out.backends.set(id, r.value);
    }
    return out;
  }

  private ref(ident: string, value: BackendValue): void {
    const r = this.backendRefs.get(ident);
    if (r) {
      r.count++;
      r.value = value;
    } else this.backendRefs.set(ident, { count: 1, value, ident });
  }

  private unref(ident: string): void {
    const r = this.backendRefs.get(ident);
    if (!r) return;
    if (--r.count <= 0) this.backendRefs.delete(ident);
  }

  /**
   * A backend's identity string and value, the ones already held when an
   * equal backend is (Services that share endpoints hold one copy, not one
   * each: the benchmark's 10,000 Services share 10); a new one otherwise.
   */
  private sharedBackend(ident: string, addr: string, port: number, proto: number, state: number, flags: number, zone: number): { ident: string; value: BackendValue } {
    const held = this.building?.get(ident) ?? this.backendRefs.get(ident);
    if (held && held.value.addr === addr && held.value.port === port && held.value.proto === proto &&
      held.value.state === state && held.value.flags === flags && held.value.zone === zone) return held;
    const b = { ident: held?.ident ?? ident, value: { addr, port, proto, state, flags, zone } };
    this.building?.set(b.ident, b);
    return b;
  }

  /** The map entries of one Service's ports. */
  private contribute(dsps: DesiredServicePort[]): Contribution {
    const out = emptyContribution();
    for (const d of dsps) {
      const svc = d.svc;
      const proto = protoNumber(svc.protocol);
      // Each family has its own node addresses; its entries go to its maps
      // (the loader picks them by address length).
      const family: IPFamily = svc.family ?? 'IPv4';
      const nodeIP = family === 'IPv6' ? this.nodeIP6 : this.nodeIP;
      const nodeAddresses = family === 'IPv6' ? this.nodeAddresses6 : this.nodeAddresses;
      // Every known endpoint becomes a backend so established flows keep a
      // target; for UDP only a serving one: kube-proxy deletes the UDP flows
      // of an endpoint that stops serving (CleanStaleEntries), and with no
      // backend the datapath starts such a flow over on a serving one.
      let hostEndpoint = false;
      for (const e of d.allEndpoints) {
        if (svc.protocol === 'UDP' && !e.ready && !e.serving) continue;
        if (e.ip === nodeIP) hostEndpoint = true;
        const b = this.sharedBackend(backendIdentity(e.ip, e.port, proto), e.ip, e.port, proto,
          e.ready ? BackendState.ACTIVE : BackendState.TERMINATING, e.isLocal ? BackendFlags.LOCAL : 0, zoneId(e.zone));
        this.backendIds.allocate(b.ident);
        out.backends.set(b.ident, b.value);
      }
      // One table per traffic scope; a ServicePort whose policies select the
      // same endpoints for both shares one table.
      const internalGroup = groupName(svc.key, family, 'internal');
      const externalSame = sameEndpointSet(d.internalEndpoints, d.externalEndpoints);
      const externalGroup = externalSame ? internalGroup : groupName(svc.key, family, 'external');
      const tables = new Map<string, { id: number; table: { ids: Uint32Array; count: number } | undefined }>();
      const tableFor = (groupName: string, eps: EndpointInfo[], frontendKey: string) => {
        let t = tables.get(groupName);
        if (!t) {
          const id = this.groupFor(groupName, frontendKey);
          out.groups.add(groupName);
          const table = this.table(groupName, eps, proto, svc.tableSizeAnnotation?.pinned);
          if (table) out.maglev.set(id, table.ids);
          t = { id, table };
          tables.set(groupName, t);
        }
        return t;
      };
      let common = 0;
      if (svc.affinityTimeoutSeconds > 0) common |= SvcFlags.AFFINITY;
      if (hostEndpoint) common |= SvcFlags.HOST_EP;
      if (svc.algorithm === 'random') common |= SvcFlags.RANDOM;
      const addFrontend = (kind: FrontendRecord['kind'], addr: string, port: number, scope: number, groupName: string, eps: EndpointInfo[], flags: number) => {
        const key: SvcKey = { addr, port, proto, scope };
        const ks = svcKeyString(key);
        const t = tableFor(groupName, eps, ks);
        const id = this.frontendIds.allocate(ks);
        const value: SvcValue = {
          id, group: t.id, count: t.table ? t.table.count : 0, flags: flags | common,
          affinityTimeout: svc.affinityTimeoutSeconds, tableSize: t.table ? t.table.ids.length : 0,
        };
        out.services.set(ks, { key, value });
        out.revnat.set(id, { addr, port });
        out.frontends.push({ servicePort: svc.key, kind, key, value });
        return id;
      };

      // ClusterIP: in-cluster traffic, the internal table (unless another Service owns the address, see frontend-claims.ts).
      if (!svc.lostFrontends?.some((l) => l.kind === 'ClusterIP')) {
        addFrontend('ClusterIP', svc.clusterIP, svc.port, SY_SCOPE_EXTERNAL, internalGroup, d.internalEndpoints,
          SvcFlags.CLUSTERIP | (svc.internalPolicyLocal ? SvcFlags.LOCAL_INT | SvcFlags.DROP_NO_EP : 0));
      }

      // External frontends: the external table; when it differs from the
      // internal one, an internal-scope twin serves sources inside the cluster.
      const extFlags = svc.externalPolicyLocal ? SvcFlags.LOCAL_EXT | SvcFlags.DROP_NO_EP : 0;
      const external: Array<[FrontendRecord['kind'], string, number, number]> = [];
      if (svc.nodePort > 0) for (const a of nodeAddresses) external.push(['NodePort', a, svc.nodePort, SvcFlags.NODEPORT]);
      for (const a of svc.externalIPs) external.push(['ExternalIP', a, svc.port, SvcFlags.EXTERNALIP]);
      for (const a of svc.loadBalancerIPs) {
        // Ranges given but none valid still filter: fail closed.
        const filtered = svc.sourceRangesGiven || svc.loadBalancerSourceRanges.length > 0;
        external.push(['LoadBalancer', a, svc.port, SvcFlags.LOADBALANCER | (filtered ? SvcFlags.SOURCE_RANGE : 0)]);
      }
      for (const [kind, addr, port, kindFlag] of external) {
        const id = addFrontend(kind, addr, port, SY_SCOPE_EXTERNAL, externalGroup, d.externalEndpoints, kindFlag | extFlags);
        if (!externalSame) {
          addFrontend(kind, addr, port, SY_SCOPE_INTERNAL, internalGroup, d.internalEndpoints,
            kindFlag | (svc.internalPolicyLocal ? SvcFlags.LOCAL_INT | SvcFlags.DROP_NO_EP : 0));
        }
        if (kindFlag & SvcFlags.SOURCE_RANGE) {
          for (const cidr of svc.loadBalancerSourceRanges) {
            const r = parseSourceRange(cidr);
            if (!r) continue;
            if (out.sourceRanges === NO_SOURCE_RANGES) out.sourceRanges = new Map();
            out.sourceRanges.set(`${id}/${r.addr}/${r.prefixLen}`, { frontendId: id, ...r });
          }
        }
      }
    }
    return out;
  }

  private groupFor(groupName: string, frontendKey: string): number {
    const have = this.groupIds.get(groupName);
    if (have !== undefined) return have;
    const restored = this.restoredGroups.get(frontendKey);
    if (restored !== undefined) {
      this.groupIds.adopt(groupName, restored);
      return restored;
    }
    return this.groupIds.allocate(groupName);
  }

  /** The table of backend ids for an endpoint set, rebuilt only when the set changes. */
  private table(groupName: string, eps: EndpointInfo[], proto: number, pinned: number | undefined): { ids: Uint32Array; count: number } | undefined {
    if (eps.length === 0) {
      this.forgetTable(groupName);
      return undefined;
    }
    const idents = [...new Set(eps.map((e) => backendIdentity(e.ip, e.port, proto)))].sort();
    const m = chooseTableSize(idents.length, this.opts.sizing, pinned).size;
    // Kept as digests: the texts grow with the backends (two of ~250 bytes
    // per group at 10 endpoints, held for every group).
    const signature = digest(`${m}|${idents.join(',')}`);
    const cached = this.tableCache.get(groupName);
    if (cached && cached.signature === signature) return { ids: cached.table, count: idents.length };
    // idents is sorted and deduplicated: buildMaglevTable's `order` is idents itself.
    const idOf = idents.map((ident) => this.backendIds.allocate(ident));
    // The ids belong in the key: a table names backends by id, and an
    // identity that was released and allocated again may have another one.
    const content = digest(`${signature}|${idOf.join(',')}`);
    let shared = this.tablesByContent.get(content);
    if (!shared) {
      const { table } = buildMaglevTable(idents, m, this.opts.seed);
      const ids = new Uint32Array(m);
      for (let i = 0; i < m; i++) ids[i] = idOf[table[i]!]!;
      this.tablesByContent.set(content, (shared = { table: ids, users: 0 }));
    }
    this.forgetTable(groupName);
    shared.users++;
    this.tableCache.set(groupName, { signature, content, table: shared.table });
    return { ids: shared.table, count: idents.length };
  }

  /** Drops a group's table; a table no group uses any more is dropped too. */
  private forgetTable(groupName: string): void {
    const cur = this.tableCache.get(groupName);
    if (!cur) return;
    this.tableCache.delete(groupName);
    const shared = this.tablesByContent.get(cur.content);
    if (shared && --shared.users <= 0) this.tablesByContent.delete(cur.content);
  }

  /** Distinct tables held (groups with the same content share one): for tests and the memory benchmark. */
  get distinctTables(): number {
    return this.tablesByContent.size;
  }
}

/** Adds a contribution's entries to `into` (backends too unless told not to). */
function copyInto(into: MapsContent, c: Contribution, withBackends = false): void {
  for (const [k, v] of c.services) into.services.set(k, v);
  for (const [k, v] of c.revnat) into.revnat.set(k, v);
  for (const [k, v] of c.maglev) into.maglev.set(k, v);
  for (const [k, v] of c.sourceRanges) into.sourceRanges.set(k, v);
  void withBackends;
}
