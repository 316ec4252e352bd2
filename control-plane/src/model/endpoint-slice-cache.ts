// Holds every EndpointSlice of every Service and merges them per ServicePort,
// as kube-proxy's EndpointSliceCache does: slices are matched to Service ports
// by port name and protocol, endpoints are deduplicated by ip:port with the
// non-terminating copy winning, and only addresses[0] is used. Slices are kept
// per address family (kube-proxy: one EndpointsChangeTracker per family, each
// ignoring slices of the other addressType); a back end asks for one family.
import { isDeepStrictEqual } from 'node:util';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { isValidPort } from '../util/ipv4.js';
import { isIPFamily, parseAddress, type IPFamily } from '../util/ip.js';
import { ObjectProblems, type ObjectProblem } from './object-problems.js';
import { endpointKey, type EndpointInfo, type Protocol } from './types.js';
import { serviceKey, servicePortKey, splitServiceKey, type ServiceKey, type ServicePortKey } from './service-key.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

interface SlicePort { name: string; port: number; protocol: Protocol }
interface SliceEndpoint {
  ip: string; ready: boolean; serving: boolean; terminating: boolean;
  nodeName: string; zone: string; zoneHints?: string[]; nodeHints?: string[];
}
interface ParsedSlice { family: IPFamily; ports: SlicePort[]; endpoints: SliceEndpoint[] }

export type SliceSkipReason = 'no-service-name' | 'address-type' | 'invalid-object';

export interface SliceParse {
  serviceKey?: ServiceKey;
  skipped?: SliceSkipReason;
  problems: ObjectProblem[];
}

function parseSlice(slice: V1EndpointSlice, families: readonly IPFamily[]): { parsed?: ParsedSlice; serviceKey?: ServiceKey; result: SliceParse } {
  const problems: ObjectProblem[] = [];
  const serviceKey = serviceOfSlice(slice);
  if (!serviceKey) return { result: { skipped: 'no-service-name', problems } };
  // FQDN slices are ignored by kube-proxy, and so are slices of a family it does not serve.
  const family = slice.addressType;
  if (!isIPFamily(family) || !families.includes(family)) return { serviceKey, result: { serviceKey, skipped: 'address-type', problems } };
  const ports: SlicePort[] = [];
  const names = new Set<string>();
  (slice.ports ?? []).forEach((p, i) => {
    const f = `ports[${i}]`;
    // kube-proxy ignores a port with a nil field (a nil port means "all ports", which it does not proxy).
    if (!isValidPort(p.port)) {
      problems.push({ reason: 'port-out-of-range', field: `${f}.port`, message: `port ${JSON.stringify(p.name ?? '')}: ${JSON.stringify(p.port ?? null)} is not in [1, 65535]; port ignored` });
      return;
    }
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    if (protocol !== 'TCP' && protocol !== 'UDP') {
      problems.push({ reason: 'unsupported-protocol', field: `${f}.protocol`, message: `port ${JSON.stringify(p.name ?? '')}: protocol ${String(protocol)} is not supported; port ignored` });
      return;
    }
    const id = `${p.name ?? ''}/${protocol}`;
    if (names.has(id)) {
      problems.push({ reason: 'duplicate-port', field: f, message: `port ${JSON.stringify(p.name ?? '')}/${protocol} repeats an earlier port; ignored` });
      return;
    }
    names.add(id);
    ports.push({ name: p.name ?? '', port: p.port, protocol });
  });
  const endpoints: SliceEndpoint[] = [];
  const seen = new Set<string>();
  (slice.endpoints ?? []).forEach((e, i) => {
    const f = `endpoints[${i}].addresses[0]`;
    const raw = e.addresses?.[0];
    const a = raw === undefined ? undefined : parseAddress(raw);
    if (!a) {
      problems.push({ reason: 'invalid-ip', field: f, message: `${JSON.stringify(raw ?? null)} is not an IP address; endpoint ignored` });
      return;
    }
    if (a.ipv4Mapped) {
      problems.push({ reason: 'ipv4-mapped-ipv6', field: f, message: `${JSON.stringify(raw)} is an IPv4-mapped IPv6 address, which kube-apiserver refuses; endpoint ignored` });
      return;
    }
    if (a.family !== family) {
      problems.push({ reason: 'other-family', field: f, message: `${a.text} is not ${family} in an ${family} slice; endpoint ignored` });
      return;
    }
    if (a.normalized) {
      const why = family === 'IPv4' ? 'leading zeros are decimal, as kube-proxy reads them' : 'RFC 5952 form';
      problems.push({ reason: 'non-canonical-ip', field: f, message: `${JSON.stringify(raw)} read as ${a.text} (${why})` });
    }
    if (seen.has(a.text)) problems.push({ reason: 'duplicate-address', field: f, message: `${a.text} is listed twice; the non-terminating copy is used` });
    seen.add(a.text);
    const ip = a.text;
    // Unset conditions mean ready/serving (the API's defaults); terminating defaults to false.
    const ready = e.conditions?.ready ?? true;
    const serving = e.conditions?.serving ?? ready;
    const terminating = e.conditions?.terminating ?? false;
    const zoneHints = e.hints?.forZones?.map((z) => z.name);
    const nodeHints = (e.hints as { forNodes?: Array<{ name: string }> } | undefined)?.forNodes?.map((n) => n.name);
    // Hints are set only where present (not spread in: one shape for the rest).
    const ep: SliceEndpoint = { ip, ready, serving, terminating, nodeName: e.nodeName ?? '', zone: e.zone ?? '' };
    if (zoneHints) ep.zoneHints = zoneHints;
    if (nodeHints) ep.nodeHints = nodeHints;
    endpoints.push(ep);
  });
  return { parsed: { family, ports, endpoints }, serviceKey, result: { serviceKey, problems } };
}

export class EndpointSliceCache {
  /** service key -> slice name -> parsed slice */
  private readonly slices = new Map<ServiceKey, Map<string, ParsedSlice>>();
  private readonly changed = new Set<ServiceKey>();
  /** Merged endpoints per Service and family ("family|service key"), until one of its slices changes. */
  private readonly merged = new Map<string, Map<ServicePortKey, EndpointInfo[]>>();
  /** The address families whose slices are kept (default IPv4 only). */
  readonly ipFamilies: readonly IPFamily[];

  /** Problems of the slices seen, for status, metrics and logs. */
  readonly problems = new ObjectProblems();

  constructor(private readonly nodeName: string, opts: { ipFamilies?: readonly IPFamily[] } = {}) {
    this.ipFamilies = opts.ipFamilies && opts.ipFamilies.length > 0 ? [...new Set(opts.ipFamilies)] : ['IPv4'];
  }

  update(slice: V1EndpointSlice): SliceParse {
    let parse: ReturnType<typeof parseSlice>;
    try {
      parse = parseSlice(slice, this.ipFamilies);
    } catch (err) {
      // Whatever shape the object has, it must not take the informer (and the agent) down.
      const serviceKey = serviceOfSlice(slice);
      parse = { ...(serviceKey ? { serviceKey } : {}), result: { ...(serviceKey ? { serviceKey } : {}), skipped: 'invalid-object', problems: [{ reason: 'invalid-object', field: '', message: `cannot be read (${(err as Error).message}); slice ignored` }] } };
    }
    const { parsed, serviceKey, result } = parse;
    const name = slice.metadata?.name ?? '';
    this.problems.set('EndpointSlice', slice.metadata?.namespace ?? 'default', name, result.problems);
    if (!serviceKey) return result;
    let bySlice = this.slices.get(serviceKey);
    if (!parsed) {
      // A slice can change address type only by being recreated; drop whatever we held.
      if (bySlice?.delete(name)) {
        this.changed.add(serviceKey);
        this.forget(serviceKey);
      }
      return result;
    }
    if (!bySlice) this.slices.set(serviceKey, (bySlice = new Map()));
    // kube-proxy drops updates that change nothing it reads (a resync, a label).
    if (isDeepStrictEqual(bySlice.get(name), parsed)) return result;
    bySlice.set(name, parsed);
    this.changed.add(serviceKey);
    this.forget(serviceKey);
    return result;
  }

  delete(slice: V1EndpointSlice): void {
    this.problems.delete('EndpointSlice', slice.metadata?.namespace ?? 'default', slice.metadata?.name ?? '');
    const serviceKey = serviceOfSlice(slice);
    if (!serviceKey) return;
    const bySlice = this.slices.get(serviceKey);
    if (bySlice?.delete(slice.metadata?.name ?? '')) {
      if (bySlice.size === 0) this.slices.delete(serviceKey);
      this.changed.add(serviceKey);
      this.forget(serviceKey);
    }
  }

  /** Merged endpoints of one family (default: the first served) of every ServicePort of one Service ("ns/name"), keyed by servicePortKey. */
  endpointsOfService(serviceKey: ServiceKey, family: IPFamily = this.ipFamilies[0]!): Map<ServicePortKey, EndpointInfo[]> {
    const cacheKey = `${family}|${serviceKey}`;
    const cached = this.merged.get(cacheKey);
    if (cached) return cached;
    const result = this.mergeService(serviceKey, family);
    this.merged.set(cacheKey, result);
    return result;
  }

  /** Drops the merged endpoints of every family of one Service. */
  private forget(serviceKey: ServiceKey): void {
    for (const f of this.ipFamilies) this.merged.delete(`${f}|${serviceKey}`);
  }

  private mergeService(serviceKey: ServiceKey, family: IPFamily): Map<ServicePortKey, EndpointInfo[]> {
    const out = new Map<ServicePortKey, Map<string, EndpointInfo>>();
    const bySlice = this.slices.get(serviceKey);
    if (!bySlice) return new Map();
    const { namespace, name } = splitServiceKey(serviceKey);
    // Slice names in sorted order so the merge result never depends on event order.
    for (const sliceName of [...bySlice.keys()].sort()) {
      const s = bySlice.get(sliceName)!;
      if (s.family !== family) continue;
      for (const port of s.ports) {
        const key = servicePortKey({ namespace, name, port: port.name, protocol: port.protocol });
        let set = out.get(key);
        if (!set) out.set(key, (set = new Map()));
        for (const e of s.endpoints) {
          const ep = endpointInfo(e, port.port, e.nodeName !== '' && e.nodeName === this.nodeName);
          const k = endpointKey(ep);
          const cur = set.get(k);
          if (cur && !cur.terminating) continue; // the non-terminating copy wins
          if (cur && ep.terminating) continue;
          set.set(k, ep);
        }
      }
    }
    const result = new Map<ServicePortKey, EndpointInfo[]>();
    for (const [k, set] of out) result.set(k, [...set.values()].sort(compareEndpoints));
    return result;
  }

  /** Merged endpoints of one family (default: the first served) of every ServicePort of every Service. */
  allEndpoints(family: IPFamily = this.ipFamilies[0]!): Map<ServicePortKey, EndpointInfo[]> {
    const result = new Map<ServicePortKey, EndpointInfo[]>();
    for (const svc of this.slices.keys()) for (const [k, v] of this.endpointsOfService(svc, family)) result.set(k, v);
    return result;
  }

  takeChanged(): Set<ServiceKey> {
    const c = new Set(this.changed);
    this.changed.clear();
    return c;
  }
}

/** The Service a slice belongs to (its kubernetes.io/service-name label), or undefined when it has none. */
function serviceOfSlice(slice: V1EndpointSlice): ServiceKey | undefined {
  const svcName = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return svcName ? serviceKey(slice.metadata?.namespace, svcName) : undefined;
}

/**
 * One endpoint at one port, built field by field: an object spread
 * (`{ ...e, port }`) of 100,000 endpoints took a quarter of a second of a
 * cold start's merge; every EndpointInfo also gets one shape this way.
 */
function endpointInfo(e: SliceEndpoint, port: number, isLocal: boolean): EndpointInfo {
  const ep: EndpointInfo = {
    ip: e.ip, ready: e.ready, serving: e.serving, terminating: e.terminating,
    nodeName: e.nodeName, zone: e.zone, port, isLocal,
  };
  if (e.zoneHints) ep.zoneHints = e.zoneHints;
  if (e.nodeHints) ep.nodeHints = e.nodeHints;
  return ep;
}

function compareEndpoints(a: EndpointInfo, b: EndpointInfo): number {
  return a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1;
}
