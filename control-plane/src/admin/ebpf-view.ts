// The ebpf datapath as programmed: the service maps read back through the
// loader, joined with the agent's desired state for names.
import { describeLostFrontend } from '../model/frontend-claims.js';
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import {
  BackendFlags, SVC_FLAG_NAMES, SvcFlags, flagNames, frontendKind, protoName, scopeName,
  type BackendValue, type ConfigValue, type RevNatValue, type SvcKey, type SvcValue,
} from '../dataplane/ebpf/map-values.js';
import { protoNumber } from '../dataplane/flow-hash.js';
import { chooseTableSize, DEFAULT_MAGLEV_SIZING, type MaglevSizing, type TableSizeChoice } from '../dataplane/maglev.js';
import type { EndpointInfo } from '../model/types.js';
import { servicePortString } from '../model/types.js';
import { backendStateName, slotCounts } from './decode.js';
import { dumpOptional, dumpTyped } from './map-reads.js';
import type { LoaderView } from './source.js';

export interface Frontend { key: SvcKey; value: SvcValue }

export interface EbpfSnapshot {
  frontends: Frontend[];
  backends: Map<number, BackendValue>;
  revnat: Map<number, RevNatValue>;
  maglev: Map<number, Uint32Array>;
  sourceRanges: Array<{ frontendId: number; addr: string; prefixLen: number }>;
  config: ConfigValue | undefined;
}

/** Reads the service maps (one dump each, in the loader's order of requests). */
export async function readSnapshot(loader: LoaderView): Promise<EbpfSnapshot> {
  const [svcs, bes, rns, mgl, srs, cfg] = await Promise.all([
    dumpTyped(loader, 'sy_services'), dumpTyped(loader, 'sy_backends'), dumpTyped(loader, 'sy_revnat'), dumpTyped(loader, 'sy_maglev'),
    dumpOptional(loader, 'sy_source_ranges'), dumpOptional(loader, 'sy_config'),
  ]);
  // The IPv6 twins, in the same picture (ids are one space; optional: an older loader has none).
  const [svcs6, bes6, rns6, srs6] = await Promise.all([
    dumpOptional(loader, 'sy_services6'), dumpOptional(loader, 'sy_backends6'), dumpOptional(loader, 'sy_revnat6'), dumpOptional(loader, 'sy_source_ranges6'),
  ]);
  return {
    frontends: [...svcs, ...svcs6],
    backends: new Map([...bes.map((e) => [e.key, e.value] as const), ...bes6.map((e) => [e.key, e.value] as const)]),
    revnat: new Map([...rns.map((e) => [e.key, e.value] as const), ...rns6.map((e) => [e.key, e.value] as const)]),
    maglev: new Map(mgl.map((e) => [e.key, e.value])),
    sourceRanges: [...srs.map((e) => e.key), ...srs6.map((e) => e.key)],
    config: cfg[0]?.value,
  };
}

/** Which desired ServicePort a frontend entry belongs to, by kind, address, port and protocol. */
export class FrontendResolver {
  private readonly index = new Map<string, DesiredServicePort>();

  constructor(desired: readonly DesiredServicePort[]) {
    for (const d of desired) {
      const s = d.svc;
      let proto: number;
      try {
        proto = protoNumber(s.protocol);
      } catch {
        continue;
      }
      this.index.set(`ClusterIP|${s.clusterIP}|${s.port}|${proto}`, d);
      // NodePorts of both families share the port: keyed by family (the node addresses differ).
      if (s.nodePort > 0) this.index.set(`NodePort|${s.family === 'IPv6' ? '*6' : '*'}|${s.nodePort}|${proto}`, d);
      for (const a of s.externalIPs) this.index.set(`ExternalIP|${a}|${s.port}|${proto}`, d);
      for (const a of s.loadBalancerIPs) this.index.set(`LoadBalancer|${a}|${s.port}|${proto}`, d);
    }
  }

  resolve(key: SvcKey, flags: number): DesiredServicePort | undefined {
    const kind = frontendKind(flags);
    const addr = kind === 'NodePort' ? (key.addr.includes(':') ? '*6' : '*') : key.addr;
    return this.index.get(`${kind}|${addr}|${key.port}|${key.proto}`);
  }
}

export interface BackendRow {
  id: number | null;
  address: string;
  port: number;
  /** active / terminating as the map says; "missing" when the desired backend is not in sy_backends. */
  state: string;
  local: boolean;
  zone: string;
  zoneId: number;
  node: string;
  ready: boolean | null;
  serving: boolean | null;
  terminating: boolean | null;
}

export interface TableBackendRow extends BackendRow {
  slots: number;
  /** slots / table size. */
  share: number;
}

export interface FrontendRow {
  kind: string;
  address: string;
  port: number;
  protocol: string;
  scope: string;
  id: number;
  group: number;
  flags: string[];
  count: number;
  tableSize: number;
  /** How the table size was chosen (default sizing, floor, ceiling, annotation); null without a table. */
  tableSizing: TableSizeChoice | null;
  algorithm: 'maglev' | 'random';
  affinityTimeout: number;
  sourceRanges: string[];
  /** The backends of this frontend's Maglev table with their slot share. */
  backends: TableBackendRow[];
  problems: string[];
}

export interface ServiceRow {
  /** "ns/name:port" (kube-proxy's service port name). */
  name: string;
  key: string;
  namespace: string;
  service: string;
  portName: string;
  protocol: string;
  type: string;
  clusterIP: string;
  port: number;
  nodePort: number;
  algorithm: string;
  affinityTimeoutSeconds: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
  internalTrafficPolicy: 'Cluster' | 'Local';
  /** The Maglev table of the ServicePort's cluster traffic: its size and how it was chosen (null sizes without endpoints). */
  maglev: MaglevSizingRow;
  frontends: FrontendRow[];
  /** Every endpoint the agent knows for the port (including terminating ones). */
  backends: BackendRow[];
  problems: string[];
}

export interface MaglevSizingRow {
  tableSize: number | null;
  chosenBy: TableSizeChoice | null;
  /** switchyard.io/maglev-table-size as written, when the Service carries it. */
  annotation: string | null;
  /** Why the annotation was refused, when it was. */
  annotationRefused: string | null;
}

/** The sizing of a ServicePort's internal table from the desired state (what the builder chose, by the same function). */
function maglevSizingOf(d: DesiredServicePort, sizing: MaglevSizing): MaglevSizingRow {
  const a = d.svc.tableSizeAnnotation;
  const n = new Set(d.internalEndpoints.map((e) => `${e.ip}:${e.port}`)).size;
  const c = n > 0 ? chooseTableSize(n, sizing, a?.pinned) : undefined;
  return { tableSize: c?.size ?? null, chosenBy: c?.chosenBy ?? null, annotation: a?.value ?? null, annotationRefused: a?.refused ?? null };
}

function endpointOf(d: DesiredServicePort | undefined, addr: string, port: number): EndpointInfo | undefined {
  return d?.allEndpoints.find((e) => e.ip === addr && e.port === port);
}

function backendRow(id: number | null, b: BackendValue | undefined, e: EndpointInfo | undefined, addr: string, port: number): BackendRow {
  return {
    id, address: addr, port,
    state: b ? backendStateName(b.state) : 'missing',
    local: b ? (b.flags & BackendFlags.LOCAL) !== 0 : e?.isLocal ?? false,
    zone: e?.zone ?? '', zoneId: b?.zone ?? 0, node: e?.nodeName ?? '',
    ready: e ? e.ready : null, serving: e ? e.serving : null, terminating: e ? e.terminating : null,
  };
}

function serviceRowOf(d: DesiredServicePort, sizing: MaglevSizing): ServiceRow {
  const s = d.svc;
  return {
    name: servicePortString(s.name), key: s.key, namespace: s.name.namespace, service: s.name.name, portName: s.name.port,
    protocol: s.protocol, type: s.type, clusterIP: s.clusterIP, port: s.port, nodePort: s.nodePort, algorithm: s.algorithm,
    affinityTimeoutSeconds: s.affinityTimeoutSeconds,
    externalTrafficPolicy: s.externalPolicyLocal ? 'Local' : 'Cluster',
    internalTrafficPolicy: s.internalPolicyLocal ? 'Local' : 'Cluster',
    maglev: maglevSizingOf(d, sizing),
    frontends: [], backends: [],
    problems: [...(s.tableSizeAnnotation?.refused ? [s.tableSizeAnnotation.refused] : []), ...(s.lostFrontends ?? []).map(describeLostFrontend)],
  };
}

const KIND_ORDER = ['ClusterIP', 'NodePort', 'ExternalIP', 'LoadBalancer', 'unknown'];

/** GET /v1/services in ebpf mode: every ServicePort with its frontends and backends as the maps hold them. */
export function ebpfServices(snap: EbpfSnapshot, desired: readonly DesiredServicePort[], sizing: MaglevSizing = DEFAULT_MAGLEV_SIZING): ServiceRow[] {
  const resolver = new FrontendResolver(desired);
  const byIdent = new Map<string, number>();
  for (const [id, b] of snap.backends) byIdent.set(`${b.addr}:${b.port}/${b.proto}`, id);
  // One row per ServicePort: a dual-stack Service's two families share the key,
  // so the second family adds its problems and endpoints to the first's row.
  const rows = new Map<string, { row: ServiceRow; d: DesiredServicePort | undefined; all: DesiredServicePort[] }>();
  for (const d of desired) {
    const have = rows.get(d.svc.key);
    if (!have) {
      rows.set(d.svc.key, { row: serviceRowOf(d, sizing), d, all: [d] });
      continue;
    }
    have.all.push(d);
    for (const p of serviceRowOf(d, sizing).problems) if (!have.row.problems.includes(p)) have.row.problems.push(p);
  }

  for (const f of snap.frontends) {
    const d = resolver.resolve(f.key, f.value.flags);
    let entry = d ? rows.get(d.svc.key) : undefined;
    if (!entry) {
      // Programmed but unknown to the agent (a leftover, or the agent has not synced yet).
      const key = `unknown/${f.key.addr}:${f.key.port}/${protoName(f.key.proto)}`;
      entry = rows.get(key);
      if (!entry) {
        entry = {
          d: undefined, all: [],
          row: {
            name: key, key, namespace: '', service: '', portName: '', protocol: protoName(f.key.proto), type: '',
            clusterIP: '', port: f.key.port, nodePort: 0, algorithm: f.value.flags & SvcFlags.RANDOM ? 'random' : 'maglev',
            affinityTimeoutSeconds: f.value.affinityTimeout, externalTrafficPolicy: 'Cluster', internalTrafficPolicy: 'Cluster',
            maglev: { tableSize: null, chosenBy: null, annotation: null, annotationRefused: null },
            frontends: [], backends: [], problems: ['frontend not in the agent\'s desired state'],
          },
        };
        rows.set(key, entry);
      }
    }
    const table = snap.maglev.get(f.value.group);
    const problems: string[] = [];
    if (f.value.count > 0 && !table) problems.push(`no Maglev table for group ${f.value.group}`);
    if (table && table.length !== f.value.tableSize) problems.push(`table has ${table.length} slots, entry says ${f.value.tableSize}`);
    const backends: TableBackendRow[] = (table && f.value.count > 0 ? slotCounts(table) : []).map(({ id, slots }) => {
      const b = snap.backends.get(id);
      if (!b) problems.push(`backend ${id} of the table is not in sy_backends`);
      const e = b ? endpointOf(d ?? entry.d, b.addr, b.port) : undefined; // the frontend's own family
      return { ...backendRow(id, b, e, b?.addr ?? '', b?.port ?? 0), slots, share: table ? slots / table.length : 0 };
    });
    let tableSizing: TableSizeChoice | null = null;
    if (f.value.count > 0) {
      const chosen = chooseTableSize(f.value.count, sizing, (d ?? entry.d)?.svc.tableSizeAnnotation?.pinned);
      tableSizing = chosen.chosenBy;
      if (entry.d && chosen.size !== f.value.tableSize) problems.push(`table has ${f.value.tableSize} slots; the sizing (${chosen.chosenBy}) gives ${chosen.size} for ${f.value.count} backends`);
    }
    entry.row.frontends.push({
      kind: frontendKind(f.value.flags), address: f.key.addr, port: f.key.port, protocol: protoName(f.key.proto),
      scope: scopeName(f.key.scope), id: f.value.id, group: f.value.group, flags: flagNames(f.value.flags, SVC_FLAG_NAMES),
      count: f.value.count, tableSize: f.value.tableSize, tableSizing, algorithm: f.value.flags & SvcFlags.RANDOM ? 'random' : 'maglev',
      affinityTimeout: f.value.affinityTimeout,
      sourceRanges: snap.sourceRanges.filter((r) => r.frontendId === f.value.id).map((r) => `${r.addr}/${r.prefixLen}`),
      backends, problems,
    });
  }

  for (const { row, d, all } of rows.values()) {
    row.frontends.sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind)
      || a.address.localeCompare(b.address) || a.port - b.port || a.scope.localeCompare(b.scope));
    if (!d) continue;
    if (row.frontends.length === 0) row.problems.push('no frontend programmed');
    let proto = 0;
    try {
      proto = protoNumber(d.svc.protocol);
    } catch { /* SCTP etc.: not programmed */ }
    row.backends = all.flatMap((fd) => fd.allEndpoints).map((e) => {
      const id = byIdent.get(`${e.ip}:${e.port}/${proto}`);
      return backendRow(id ?? null, id === undefined ? undefined : snap.backends.get(id), e, e.ip, e.port);
    });
    for (const b of row.backends) if (b.state === 'missing') row.problems.push(`backend ${b.address}:${b.port} is not in sy_backends`);
  }
  return [...rows.values()].map((r) => r.row).sort((a, b) => a.key.localeCompare(b.key));
}
