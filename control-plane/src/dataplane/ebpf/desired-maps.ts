// Turns the back-end-neutral desired state into map content: ids for
// frontends, tables and backends, one Maglev table per traffic scope of a
// ServicePort, service flags. Tables are cached by their backend set so an
// unchanged service costs no table rebuild.
import { createHash } from 'node:crypto';
import type { DesiredServicePort } from '../desired-state.js';
import type { EndpointInfo } from '../../model/types.js';
import { protoNumber } from '../flow-hash.js';
import { buildMaglevTable, maglevTableSize, type MaglevSizing } from '../maglev.js';
import { IdAllocator } from './id-allocator.js';
import { emptyMapsContent, type MapsContent } from './maps-content.js';
import { BackendFlags, BackendState, SvcFlags, SY_SCOPE_EXTERNAL, svcKeyString, type SvcKey, type SvcValue } from './map-values.js';

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

export function backendIdentity(ip: string, port: number, proto: number): string {
  return `${ip}:${port}/${proto}`;
}

export function zoneId(zone: string): number {
  if (!zone) return 0;
  return createHash('sha256').update(zone).digest().readUInt32LE(0) || 1;
}

export class DesiredMapsBuilder {
  readonly frontendIds = new IdAllocator();
  readonly groupIds = new IdAllocator();
  readonly backendIds = new IdAllocator();
  private readonly tableCache = new Map<string, { signature: string; table: Uint32Array }>();
  /** Frontends of the last build, for the admin API and explain. */
  frontends: FrontendRecord[] = [];

  constructor(private readonly opts: MapBuilderOptions) {}

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

  private restoredGroups = new Map<string, number>();

  build(desired: DesiredServicePort[]): MapsContent {
    const out = emptyMapsContent();
    const frontends: FrontendRecord[] = [];
    const liveGroups = new Set<string>();
    const liveBackends = new Set<string>();
    const liveFrontends = new Set<string>();

    for (const d of desired) {
      const svc = d.svc;
      const proto = protoNumber(svc.protocol);
      // Every known endpoint becomes a backend so established flows keep a target.
      for (const e of d.allEndpoints) {
        const ident = backendIdentity(e.ip, e.port, proto);
        const id = this.backendIds.allocate(ident);
        liveBackends.add(ident);
        out.backends.set(id, {
          addr: e.ip, port: e.port, proto,
          state: e.ready ? BackendState.ACTIVE : BackendState.TERMINATING,
          flags: e.isLocal ? BackendFlags.LOCAL : 0,
          zone: zoneId(e.zone),
        });
      }
      // ClusterIP frontend: internal traffic, table of the internal endpoints.
      const key: SvcKey = { addr: svc.clusterIP, port: svc.port, proto, scope: SY_SCOPE_EXTERNAL };
      const ks = svcKeyString(key);
      const groupName = `${svc.key}#internal`;
      const group = this.groupFor(groupName, ks);
      liveGroups.add(groupName);
      const table = this.table(groupName, d.internalEndpoints, proto);
      for (const e of d.internalEndpoints) {
        // An endpoint can be selected without being in allEndpoints only if the model changes; be safe.
        const ident = backendIdentity(e.ip, e.port, proto);
        if (!liveBackends.has(ident)) liveBackends.add(ident);
      }
      if (table) out.maglev.set(group, table.ids);
      let flags = SvcFlags.CLUSTERIP;
      if (svc.internalPolicyLocal) flags |= SvcFlags.LOCAL_INT | SvcFlags.DROP_NO_EP;
      if (svc.affinityTimeoutSeconds > 0) flags |= SvcFlags.AFFINITY;
      if (svc.algorithm === 'random') flags |= SvcFlags.RANDOM;
      const id = this.frontendIds.allocate(ks);
      liveFrontends.add(ks);
      const value: SvcValue = {
        id, group, count: table ? table.count : 0, flags,
        affinityTimeout: svc.affinityTimeoutSeconds, tableSize: table ? table.ids.length : 0,
      };
      out.services.set(ks, { key, value });
      out.revnat.set(id, { addr: svc.clusterIP, port: svc.port });
      frontends.push({ servicePort: svc.key, kind: 'ClusterIP', key, value });
    }

    for (const name of this.tableCache.keys()) if (!liveGroups.has(name)) this.tableCache.delete(name);
    this.frontendIds.retain(liveFrontends, new Set());
    this.groupIds.retain(liveGroups, new Set());
    this.backendIds.retain(liveBackends, new Set());
    this.restoredGroups.clear();
    this.frontends = frontends;
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
  private table(groupName: string, eps: EndpointInfo[], proto: number): { ids: Uint32Array; count: number } | undefined {
    if (eps.length === 0) {
      this.tableCache.delete(groupName);
      return undefined;
    }
    const idents = [...new Set(eps.map((e) => backendIdentity(e.ip, e.port, proto)))].sort();
    const m = maglevTableSize(idents.length, this.opts.sizing);
    const signature = `${m}|${idents.join(',')}`;
    const cached = this.tableCache.get(groupName);
    if (cached && cached.signature === signature) return { ids: cached.table, count: idents.length };
    const { order, table } = buildMaglevTable(idents, m, this.opts.seed);
    const idOf = order.map((ident) => this.backendIds.allocate(ident));
    const ids = new Uint32Array(m);
    for (let i = 0; i < m; i++) ids[i] = idOf[table[i]!]!;
    this.tableCache.set(groupName, { signature, table: ids });
    return { ids, count: idents.length };
  }
}
