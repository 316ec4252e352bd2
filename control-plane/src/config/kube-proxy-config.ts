// The agent's configuration file (`switchyard agent --config FILE`): YAML or
// JSON, either a kube-proxy configuration as kubeadm writes it into the
// kube-proxy ConfigMap, or Switchyard's own kind, which embeds the same fields
// and adds Switchyard's:
//
//   apiVersion: kubeproxy.config.k8s.io/v1alpha1      apiVersion: switchyard.io/v1alpha1
//   kind: KubeProxyConfiguration                      kind: SwitchyardConfiguration
//   mode: ""                                          mode: ebpf
//   clusterCIDR: 10.244.0.0/16                        clusterCIDR: 10.244.0.0/16
//   iptables: {masqueradeBit: 14, syncPeriod: 30s}    devices: [eth0, "veth+"]
//   ...                                               maglev: {seed: 0x5317c4d1}
//
// Decoding is strict like kube-proxy's: an unknown field (case-sensitive), a
// duplicate key or a value of the wrong type is an error that names the field
// path; every problem of the file is reported at once. As in kube-proxy, null,
// "" and zero durations mean "not set" (the default applies). Fields kube-proxy
// knows but Switchyard does not act on (ipvs, nftables, winkernel, profiling,
// client QPS, ...) are accepted and listed in `ignored` when set, so an
// existing kube-proxy configuration loads as it is.
//
// This module is pure apart from loadSwitchyardConfigFile's read: the agent
// merges the result under its command-line flags with configFlagValues()
// (flags > file > defaults).
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseBindAddress } from '../util/bind-address.js';
import { isIPv4, parseCidr } from '../util/ipv4.js';
import { parseAddress, parsePrefix } from '../util/ip.js';
import { MAGLEV_PRIMES, validateSizing } from '../dataplane/maglev.js';
import { parsePortRange } from './snat-ports.js';

/** Maps whose max_entries the loader sets (--map-max-entries NAME=N). */
export const SIZED_MAPS = ['sy_services', 'sy_backends', 'sy_revnat', 'sy_maglev', 'sy_conntrack', 'sy_affinity', 'sy_svc_stats', 'sy_source_ranges', 'sy_sock_revnat', 'sy_fib_cache', 'sy_services6', 'sy_backends6', 'sy_revnat6', 'sy_conntrack6', 'sy_affinity6', 'sy_source_ranges6', 'sy_sock_revnat6'] as const;

export const KUBE_PROXY_API_VERSION = 'kubeproxy.config.k8s.io/v1alpha1';
export const KUBE_PROXY_KIND = 'KubeProxyConfiguration';
export const SWITCHYARD_API_VERSION = 'switchyard.io/v1alpha1';
export const SWITCHYARD_KIND = 'SwitchyardConfiguration';

export type ConfigKind = typeof KUBE_PROXY_KIND | typeof SWITCHYARD_KIND;
export type ConfigMode = 'ebpf' | 'iptables' | 'auto';

/** What a configuration file sets; absent = not set (the flag or the default applies). */
export interface SwitchyardConfig {
  apiVersion: string;
  kind: ConfigKind;
  /** clientConnection.kubeconfig */
  kubeconfig?: string;
  /** hostnameOverride (trimmed, lower-cased as kube-proxy does): the Node name. */
  hostnameOverride?: string;
  /** bindAddress when it is a specific IPv4 address: kube-proxy's override of the node IP. */
  nodeIP?: string;
  mode?: ConfigMode;
  /** The IPv4 entry of clusterCIDR. */
  clusterCIDR?: string;
  /** The IPv6 entry of clusterCIDR (alone, or the second of a dual-stack pair). */
  clusterCIDR6?: string;
  /** IPv4 CIDRs and "primary" ("all" and "localhost" are expanded to their IPv4 CIDRs). */
  nodePortAddresses?: string[];
  /** host:port (a missing port gets kube-proxy's default 10256). */
  healthzBindAddress?: string;
  /** host:port (a missing port gets kube-proxy's default 10249). */
  metricsBindAddress?: string;
  /** Top-level syncPeriod, or iptables.syncPeriod (they must agree when both are set). */
  syncPeriodMs?: number;
  minSyncPeriodMs?: number;
  iptables: { masqueradeAll?: boolean; masqueradeBit?: number; localhostNodePorts?: boolean };
  conntrack: {
    maxPerCore?: number;
    min?: number;
    tcpEstablishedTimeoutMs?: number;
    tcpCloseWaitTimeoutMs?: number;
    tcpBeLiberal?: boolean;
    udpTimeoutMs?: number;
    udpStreamTimeoutMs?: number;
  };
  /** SwitchyardConfiguration only from here on. Device names; a '+' suffix matches a prefix. */
  devices?: string[];
  maglev: { seed?: number; tableFloor?: number; tableCeiling?: number };
  lbAlgorithm?: 'maglev' | 'random';
  /** max_entries per map name (the loader's --map-max-entries). */
  mapMaxEntries?: Record<string, number>;
  /** The external IP policy (off by default, as in kube-proxy): see --refuse-cluster-ip-external-ips, --external-ip-cidrs. */
  externalIPs: { refuseClusterIPs?: boolean; allowedCIDRs?: string[] };
  loaderSocket?: string;
  iptablesBackend?: 'legacy' | 'nft' | 'auto';
  logLevel?: string;
  /** A watch that delivers nothing (no event, no bookmark) for this long is restarted. */
  watchSilenceTimeoutMs?: number;
  /** "MIN-MAX": source ports of SNATed NodePort/ExternalIP/LoadBalancer flows (see config/snat-ports.ts). */
  snatPortRange?: string;
  /** Fields set in the file that this build accepts but does not act on, with the reason. */
  ignored: string[];
}

export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------
// Schema

type FieldType =
  | { t: 'string' }
  | { t: 'bool' }
  | { t: 'int'; min: number; max: number }
  | { t: 'float'; min: number }
  | { t: 'duration' }
  /** component-base's flushFrequency: a duration string or nanoseconds. */
  | { t: 'durationOrInt' }
  /** resource.QuantityValue: "0", "1Mi" or a number. */
  | { t: 'quantity' }
  | { t: 'strings' }
  | { t: 'boolMap' }
  | { t: 'list'; of: FieldType }
  | { t: 'object'; fields: Fields };
type Fields = Readonly<Record<string, FieldType>>;

const str: FieldType = { t: 'string' };
const bool: FieldType = { t: 'bool' };
const dur: FieldType = { t: 'duration' };
const int = (min: number, max: number): FieldType => ({ t: 'int', min, max });
const int32 = int(-(2 ** 31), 2 ** 31 - 1);
const obj = (fields: Fields): FieldType => ({ t: 'object', fields });

const LOG_FORMAT_OPTIONS = obj({ splitStream: bool, infoBufferSize: { t: 'quantity' } });

/** kube-proxy's v1alpha1 fields (k8s.io/kube-proxy/config/v1alpha1), plus v1alpha2's top-level sync periods. */
const KUBE_PROXY_FIELDS: Fields = {
  featureGates: { t: 'boolMap' },
  clientConnection: obj({
    kubeconfig: str,
    acceptContentTypes: str,
    contentType: str,
    qps: { t: 'float', min: 0 },
    burst: int32,
  }),
  logging: obj({
    format: str,
    flushFrequency: { t: 'durationOrInt' },
    verbosity: int(0, 2 ** 32 - 1),
    vmodule: { t: 'list', of: obj({ filePattern: str, verbosity: int(0, 2 ** 32 - 1) }) },
    options: obj({ text: LOG_FORMAT_OPTIONS, json: LOG_FORMAT_OPTIONS }),
  }),
  hostnameOverride: str,
  bindAddress: str,
  healthzBindAddress: str,
  metricsBindAddress: str,
  bindAddressHardFail: bool,
  enableProfiling: bool,
  showHiddenMetricsForVersion: str,
  mode: str,
  iptables: obj({
    masqueradeBit: int(0, 31),
    masqueradeAll: bool,
    localhostNodePorts: bool,
    snatNodeInternalIP: bool,
    syncPeriod: dur,
    minSyncPeriod: dur,
  }),
  ipvs: obj({
    syncPeriod: dur,
    minSyncPeriod: dur,
    scheduler: str,
    excludeCIDRs: { t: 'strings' },
    strictARP: bool,
    tcpTimeout: dur,
    tcpFinTimeout: dur,
    udpTimeout: dur,
  }),
  nftables: obj({ masqueradeBit: int(0, 31), masqueradeAll: bool, syncPeriod: dur, minSyncPeriod: dur }),
  winkernel: obj({
    networkName: str,
    sourceVip: str,
    enableDSR: bool,
    rootHnsEndpointName: str,
    forwardHealthCheckVip: bool,
  }),
  detectLocalMode: str,
  detectLocal: obj({ bridgeInterface: str, interfaceNamePrefix: str }),
  clusterCIDR: str,
  nodePortAddresses: { t: 'strings' },
  oomScoreAdj: int(-1000, 1000),
  conntrack: obj({
    maxPerCore: int(0, 2 ** 31 - 1),
    min: int(0, 2 ** 31 - 1),
    tcpEstablishedTimeout: dur,
    tcpCloseWaitTimeout: dur,
    tcpBeLiberal: bool,
    udpTimeout: dur,
    udpStreamTimeout: dur,
  }),
  configSyncPeriod: dur,
  portRange: str,
  windowsRunAsService: bool,
  syncPeriod: dur,
  minSyncPeriod: dur,
};

const SWITCHYARD_FIELDS: Fields = {
  ...KUBE_PROXY_FIELDS,
  devices: { t: 'strings' },
  maglev: obj({ seed: int(0, 2 ** 32 - 1), tableFloor: int(1, 2 ** 31 - 1), tableCeiling: int(1, 2 ** 31 - 1) }),
  lbAlgorithm: str,
  mapMaxEntries: obj(Object.fromEntries(SIZED_MAPS.map((m) => [m, int(1, 2 ** 26)]))),
  externalIPs: obj({ refuseClusterIPs: bool, allowedCIDRs: { t: 'strings' } }),
  loaderSocket: str,
  iptablesBackend: str,
  logLevel: str,
  watchSilenceTimeout: dur,
  snatPortRange: str,
};

/** Accepted, but nothing in Switchyard acts on them (reported in `ignored` when set). */
const NOT_ACTED_ON: ReadonlyArray<[string, string]> = [
  ['featureGates', 'no feature gates'],
  ['clientConnection.acceptContentTypes', 'client-node always speaks JSON'],
  ['clientConnection.contentType', 'client-node always speaks JSON'],
  ['clientConnection.qps', 'no client-side rate limit'],
  ['clientConnection.burst', 'no client-side rate limit'],
  ['logging', 'use logLevel (SwitchyardConfiguration) or --log-level'],
  ['bindAddressHardFail', 'binding the health port always fails hard'],
  ['enableProfiling', 'no profiling handlers'],
  ['showHiddenMetricsForVersion', 'no hidden metrics'],
  ['iptables.localhostNodePorts', 'localhost NodePorts follow nodePortAddresses'],
  ['iptables.snatNodeInternalIP', 'not implemented'],
  ['ipvs', 'no ipvs mode'],
  ['nftables', 'no nftables mode'],
  ['winkernel', 'Linux only'],
  ['windowsRunAsService', 'Linux only'],
  ['detectLocalMode', 'local traffic is detected by clusterCIDR'],
  ['detectLocal', 'local traffic is detected by clusterCIDR'],
  ['oomScoreAdj', 'set it on the container'],
  ['configSyncPeriod', 'informers do not resync'],
  ['portRange', 'unused by kube-proxy too'],
];

// ---------------------------------------------------------------------------
// Decoding

type Decoded = undefined | string | number | boolean | string[] | Decoded[] | Record<string, boolean> | DecodedObject;
interface DecodedObject { [k: string]: Decoded }

const GO_DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};

/** Go's time.ParseDuration ("300ms", "1.5h", "2h45m", "0"), in milliseconds; null when malformed. */
export function parseGoDurationMs(s: string): number | null {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return null;
  const re = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) return null;
    total += Number(m[1]) * GO_DURATION_UNITS_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

function decode(type: FieldType, v: unknown, path: string, problems: string[]): Decoded {
  if (v === null || v === undefined) return undefined;
  const bad = (want: string): undefined => {
    problems.push(`field "${path}": expected ${want}, got ${describe(v)}`);
    return undefined;
  };
  switch (type.t) {
    case 'string':
      return typeof v === 'string' ? v : bad('a string');
    case 'bool':
      return typeof v === 'boolean' ? v : bad('true or false');
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v)) return bad('an integer');
      if (v < type.min || v > type.max) {
        problems.push(`field "${path}": ${v} is out of range [${type.min}, ${type.max}]`);
        return undefined;
      }
      return v;
    case 'float':
      if (typeof v !== 'number' || !Number.isFinite(v)) return bad('a number');
      if (v < type.min) {
        problems.push(`field "${path}": ${v} must be at least ${type.min}`);
        return undefined;
      }
      return v;
    case 'duration': {
      if (typeof v !== 'string') return bad('a duration string such as "30s" or "1m"');
      const ms = parseGoDurationMs(v);
      if (ms === null) return bad('a duration such as "30s", "1m" or "1h30m"');
      if (ms < 0) {
        problems.push(`field "${path}": duration ${JSON.stringify(v)} must not be negative`);
        return undefined;
      }
      return ms;
    }
    case 'durationOrInt':
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v / 1e6;
      if (typeof v === 'string' && parseGoDurationMs(v) !== null) return parseGoDurationMs(v)!;
      return bad('a duration or a number of nanoseconds');
    case 'quantity':
      if (typeof v === 'number' && v >= 0) return v;
      if (typeof v === 'string' && /^\d+(\.\d+)?([KMGTPE]i?|[mkMGTPE]|e\d+)?$/.test(v)) return v;
      return bad('a quantity such as "0" or "64Ki"');
    case 'strings': {
      if (!Array.isArray(v)) return bad('a list of strings');
      const out: string[] = [];
      v.forEach((x, i) => {
        if (typeof x === 'string') out.push(x);
        else problems.push(`field "${path}[${i}]": expected a string, got ${describe(x)}`);
      });
      return out;
    }
    case 'boolMap': {
      if (typeof v !== 'object' || Array.isArray(v)) return bad('a map of names to true/false');
      const out: Record<string, boolean> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (typeof x === 'boolean') out[k] = x;
        else problems.push(`field "${path}.${k}": expected true or false, got ${describe(x)}`);
      }
      return out;
    }
    case 'list': {
      if (!Array.isArray(v)) return bad('a list');
      return v.map((x, i) => decode(type.of, x, `${path}[${i}]`, problems));
    }
    case 'object': {
      if (typeof v !== 'object' || Array.isArray(v)) return bad('an object');
      return decodeFields(type.fields, v as Record<string, unknown>, path, problems);
    }
  }
}

function decodeFields(fields: Fields, v: Record<string, unknown>, prefix: string, problems: string[]): DecodedObject {
  const out: DecodedObject = {};
  for (const [k, x] of Object.entries(v)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const type = Object.hasOwn(fields, k) ? fields[k] : undefined;
    if (!type) {
      problems.push(`unknown field "${path}"`);
      continue;
    }
    const d = decode(type, x, path, problems);
    if (d !== undefined) out[k] = d;
  }
  return out;
}

/** True when a decoded value is a zero value ("", 0 duration, false, empty list/map, object of zeros). */
function isZero(v: Decoded): boolean {
  if (v === undefined || v === '' || v === '0' || v === false || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v).every((x) => isZero(x as Decoded));
  return false;
}

function at(root: DecodedObject, path: string): Decoded {
  let cur: Decoded = root;
  for (const part of path.split('.')) {
    if (cur === undefined || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as DecodedObject)[part];
  }
  return cur;
}

// ---------------------------------------------------------------------------
// Public API

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses and validates a configuration document; throws ConfigError listing every problem. */
export function parseSwitchyardConfig(text: string, source = 'config'): SwitchyardConfig {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `not valid YAML or JSON: ${e.message.split('\n')[0]}`));
  }
  const raw: unknown = doc.toJS({ maxAliasCount: 100 });
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, [`expected an object with apiVersion and kind, got ${describe(raw ?? null)}`]);
  }
  const problems: string[] = [];
  const { apiVersion, kind, ...rest } = raw as Record<string, unknown>;
  let fields: Fields;
  let cfgKind: ConfigKind;
  if (apiVersion === KUBE_PROXY_API_VERSION && kind === KUBE_PROXY_KIND) {
    fields = KUBE_PROXY_FIELDS;
    cfgKind = KUBE_PROXY_KIND;
  } else if (apiVersion === SWITCHYARD_API_VERSION && kind === SWITCHYARD_KIND) {
    fields = SWITCHYARD_FIELDS;
    cfgKind = SWITCHYARD_KIND;
  } else {
    throw new ConfigError(source, [
      `apiVersion/kind ${JSON.stringify(apiVersion ?? null)}/${JSON.stringify(kind ?? null)} is not supported `
      + `(use ${SWITCHYARD_API_VERSION} ${SWITCHYARD_KIND}, or ${KUBE_PROXY_API_VERSION} ${KUBE_PROXY_KIND})`,
    ]);
  }
  const d = decodeFields(fields, rest, '', problems);
  const cfg: SwitchyardConfig = { apiVersion: apiVersion as string, kind: cfgKind, iptables: {}, conntrack: {}, maglev: {}, externalIPs: {}, ignored: [] };
  const fail = (path: string, msg: string): void => void problems.push(`field "${path}": ${msg}`);
  const s = (path: string): string | undefined => {
    const v = at(d, path);
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  const n = (path: string): number | undefined => {
    const v = at(d, path);
    return typeof v === 'number' ? v : undefined;
  };
  const b = (path: string): boolean | undefined => {
    const v = at(d, path);
    return typeof v === 'boolean' ? v : undefined;
  };
  /** A duration, with kube-proxy's "zero means default". */
  const ms = (path: string): number | undefined => {
    const v = n(path);
    return v !== undefined && v > 0 ? v : undefined;
  };
  const list = (path: string): string[] | undefined => {
    const v = at(d, path);
    return Array.isArray(v) ? (v as string[]) : undefined;
  };

  const kubeconfig = s('clientConnection.kubeconfig');
  if (kubeconfig !== undefined) cfg.kubeconfig = kubeconfig;
  const host = s('hostnameOverride');
  if (host !== undefined) cfg.hostnameOverride = host.toLowerCase();

  const bind = s('bindAddress');
  if (bind !== undefined) {
    if (isIPv4(bind)) {
      if (bind !== '0.0.0.0') cfg.nodeIP = bind;
    } else if (bind.includes(':')) {
      // kube-proxy: a bindAddress of the IPv6 family names the node's IPv6 address (:: = detect it).
      const a = parseAddress(bind);
      if (!a || a.ipv4Mapped) fail('bindAddress', `${JSON.stringify(bind)} is not an IP address`);
      else if (a.text !== '::') cfg.nodeIP = a.text;
    } else fail('bindAddress', `${JSON.stringify(bind)} is not an IP address`);
  }

  const mode = s('mode');
  if (mode !== undefined) {
    if (mode === 'ebpf' || mode === 'iptables' || mode === 'auto') cfg.mode = mode;
    else fail('mode', `${JSON.stringify(mode)} is not supported by Switchyard (ebpf, iptables or auto; empty means auto)`);
  }

  const clusterCIDR = s('clusterCIDR');
  if (clusterCIDR !== undefined) {
    const parts = clusterCIDR.split(',').map((x) => x.trim()).filter(Boolean);
    const v4: string[] = [], v6: string[] = [];
    for (const p of parts) {
      if (p.includes(':')) {
        const c = parsePrefix(p);
        if (c && c.family === 'IPv6' && !c.ipv4Mapped) v6.push(p);
        else fail('clusterCIDR', `${JSON.stringify(p)} is not an IPv6 CIDR`);
      } else if (validCidr(p)) v4.push(p);
      else fail('clusterCIDR', `${JSON.stringify(p)} is not an IPv4 CIDR`);
    }
    if (v4.length > 1) fail('clusterCIDR', `more than one IPv4 CIDR (${v4.join(', ')}); a dual-stack pair has one of each family`);
    else if (v4[0] !== undefined) cfg.clusterCIDR = v4[0];
    if (v6.length > 1) fail('clusterCIDR', `more than one IPv6 CIDR (${v6.join(', ')}); a dual-stack pair has one of each family`);
    else if (v6[0] !== undefined) cfg.clusterCIDR6 = v6[0];
  }

  const npa = list('nodePortAddresses');
  if (npa !== undefined && npa.length > 0) {
    const out: string[] = [];
    npa.forEach((raw, i) => {
      const e = raw.trim();
      if (e === 'primary') out.push('primary');
      else if (e === 'all') out.push('0.0.0.0/0');
      else if (e === 'localhost') out.push('127.0.0.0/8');
      else if (e.includes(':')) {
        // IPv6 NodePort addresses limit the IPv6 NodePorts (each family by its own CIDRs, as kube-proxy).
        const c = parsePrefix(e);
        if (c && c.family === 'IPv6' && !c.ipv4Mapped) out.push(e);
        else fail(`nodePortAddresses[${i}]`, `${JSON.stringify(e)} is not an IPv6 CIDR`);
      } else if (validCidr(e)) out.push(e);
      else fail(`nodePortAddresses[${i}]`, `${JSON.stringify(e)} is not an IPv4 or IPv6 CIDR, "primary", "all" or "localhost"`);
    });
    if (out.length > 0) cfg.nodePortAddresses = out;
  }

  for (const [key, defaultPort] of [['healthzBindAddress', 10256], ['metricsBindAddress', 10249]] as const) {
    const v = s(key);
    if (v === undefined) continue;
    const withPort = isIPv4(v) || /^\[.*\]$/.test(v) ? `${v}:${defaultPort}` : v;
    try {
      const { host: h, port } = parseBindAddress(withPort);
      if (!isIPv4(h) && !h.includes(':')) throw new Error('not an IP address');
      if (port === 0 && key === 'healthzBindAddress') throw new Error('port 0');
      cfg[key] = withPort;
    } catch {
      fail(key, `${JSON.stringify(v)} is not IP:port (e.g. 0.0.0.0:${defaultPort})`);
    }
  }

  // Sync periods: v1alpha2 has them at the top level, v1alpha1 under iptables.
  for (const [key, field] of [['syncPeriod', 'syncPeriodMs'], ['minSyncPeriod', 'minSyncPeriodMs']] as const) {
    const top = ms(key);
    const ipt = ms(`iptables.${key}`);
    if (top !== undefined && ipt !== undefined && top !== ipt) {
      fail(key, `conflicts with iptables.${key} (set one of them)`);
      continue;
    }
    const v = top ?? ipt;
    if (v !== undefined) cfg[field] = v;
  }

  const masqAll = b('iptables.masqueradeAll');
  if (masqAll !== undefined) cfg.iptables.masqueradeAll = masqAll;
  const masqBit = n('iptables.masqueradeBit');
  if (masqBit !== undefined) cfg.iptables.masqueradeBit = masqBit;
  const lhnp = b('iptables.localhostNodePorts');
  if (lhnp !== undefined) cfg.iptables.localhostNodePorts = lhnp;

  const ct = cfg.conntrack;
  const setIf = <K extends keyof SwitchyardConfig['conntrack']>(k: K, v: SwitchyardConfig['conntrack'][K] | undefined): void => {
    if (v !== undefined) ct[k] = v;
  };
  setIf('maxPerCore', n('conntrack.maxPerCore'));
  setIf('min', n('conntrack.min'));
  setIf('tcpEstablishedTimeoutMs', ms('conntrack.tcpEstablishedTimeout'));
  setIf('tcpCloseWaitTimeoutMs', ms('conntrack.tcpCloseWaitTimeout'));
  setIf('tcpBeLiberal', b('conntrack.tcpBeLiberal'));
  setIf('udpTimeoutMs', ms('conntrack.udpTimeout'));
  setIf('udpStreamTimeoutMs', ms('conntrack.udpStreamTimeout'));

  // Switchyard's own fields (absent from `d` for KubeProxyConfiguration: rejected above as unknown).
  const devices = list('devices');
  if (devices !== undefined && devices.length > 0) {
    devices.forEach((dev, i) => {
      if (!/^[^\s,/]{1,15}\+?$/.test(dev) || dev === '+') fail(`devices[${i}]`, `${JSON.stringify(dev)} is not a device name (up to 15 characters, optional '+' suffix for a prefix)`);
    });
    cfg.devices = devices;
  }
  const seed = n('maglev.seed');
  if (seed !== undefined) cfg.maglev.seed = seed;
  const floor = n('maglev.tableFloor');
  const ceiling = n('maglev.tableCeiling');
  for (const [k, v] of [['tableFloor', floor], ['tableCeiling', ceiling]] as const) {
    if (v !== undefined && !(MAGLEV_PRIMES as readonly number[]).includes(v)) fail(`maglev.${k}`, `${v} is not one of ${MAGLEV_PRIMES.join(', ')}`);
    else if (v !== undefined) cfg.maglev[k] = v;
  }
  if (cfg.maglev.tableFloor !== undefined && cfg.maglev.tableCeiling !== undefined) {
    try {
      validateSizing({ floor: cfg.maglev.tableFloor, ceiling: cfg.maglev.tableCeiling });
    } catch (err) {
      fail('maglev', (err as Error).message);
    }
  }
  const lb = s('lbAlgorithm');
  if (lb !== undefined) {
    if (lb === 'maglev' || lb === 'random') cfg.lbAlgorithm = lb;
    else fail('lbAlgorithm', `${JSON.stringify(lb)} is not maglev or random`);
  }
  for (const m of SIZED_MAPS) {
    const v = n(`mapMaxEntries.${m}`);
    if (v !== undefined) (cfg.mapMaxEntries ??= {})[m] = v;
  }
  const refuse = b('externalIPs.refuseClusterIPs');
  if (refuse !== undefined) cfg.externalIPs.refuseClusterIPs = refuse;
  const allowed = list('externalIPs.allowedCIDRs');
  if (allowed !== undefined && allowed.length > 0) {
    allowed.forEach((c, i) => {
      if (!validCidr(c)) fail(`externalIPs.allowedCIDRs[${i}]`, `${JSON.stringify(c)} is not an IPv4 CIDR`);
    });
    cfg.externalIPs.allowedCIDRs = allowed;
  }
  const sock = s('loaderSocket');
  if (sock !== undefined) {
    if (sock.startsWith('/')) cfg.loaderSocket = sock;
    else fail('loaderSocket', `${JSON.stringify(sock)} is not an absolute path`);
  }
  const backend = s('iptablesBackend');
  if (backend !== undefined) {
    if (backend === 'legacy' || backend === 'nft' || backend === 'auto') cfg.iptablesBackend = backend;
    else fail('iptablesBackend', `${JSON.stringify(backend)} is not legacy, nft or auto`);
  }
  const silence = ms('watchSilenceTimeout');
  if (silence !== undefined) cfg.watchSilenceTimeoutMs = silence;
  const snatPorts = s('snatPortRange');
  if (snatPorts !== undefined) {
    try {
      parsePortRange(snatPorts, 'snatPortRange');
      cfg.snatPortRange = snatPorts;
    } catch (err) {
      fail('snatPortRange', (err as Error).message);
    }
  }
  const level = s('logLevel');
  if (level !== undefined) {
    if (LOG_LEVELS.includes(level)) cfg.logLevel = level;
    else fail('logLevel', `${JSON.stringify(level)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  for (const [path, why] of NOT_ACTED_ON) {
    if (!isZero(at(d, path))) cfg.ignored.push(`${path} (${why})`);
  }

  if (problems.length > 0) throw new ConfigError(source, problems);
  return cfg;
}

/** Reads and parses a configuration file (YAML or JSON). */
export function loadSwitchyardConfigFile(file: string): SwitchyardConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as Error).message}`]);
  }
  return parseSwitchyardConfig(text, file);
}

/**
 * The configuration as the values parseArgs would give for the agent's flags,
 * so the agent merges `{ ...fileValues, ...flagValues }` (flags win) and then
 * applies its defaults and validation to the result. Flag names follow the
 * agent's (--node-name, --health-bind-address, ...) and, where the agent has
 * none yet, kube-proxy's (--metrics-bind-address, --conntrack-*).
 */
export interface ConfigFlagValues {
  kubeconfig?: string;
  'node-name'?: string;
  'node-ip'?: string;
  'loader-socket'?: string;
  mode?: string;
  devices?: string;
  'health-bind-address'?: string;
  'metrics-bind-address'?: string;
  'maglev-seed'?: string;
  'maglev-table-floor'?: string;
  'maglev-table-ceiling'?: string;
  'lb-algorithm'?: string;
  'map-max-entries'?: string;
  'min-sync-period'?: string;
  'sync-period'?: string;
  'log-level'?: string;
  'watch-silence-timeout'?: string;
  'iptables-backend'?: string;
  'cluster-cidr'?: string;
  'masquerade-all'?: boolean;
  'iptables-masquerade-bit'?: string;
  'nodeport-addresses'?: string;
  'refuse-cluster-ip-external-ips'?: string;
  'external-ip-cidrs'?: string;
  'snat-port-range'?: string;
  'conntrack-max-per-core'?: string;
  'conntrack-min'?: string;
  'conntrack-tcp-timeout-established'?: string;
  'conntrack-tcp-timeout-close-wait'?: string;
  'conntrack-tcp-be-liberal'?: boolean;
  'conntrack-udp-timeout'?: string;
  'conntrack-udp-timeout-stream'?: string;
}

/**
 * Maps a configuration to flag values. `knownFlags` are the agent's parseArgs
 * option names: a field whose flag the agent does not have lands in `ignored`
 * (with the fields nothing acts on), so the agent can log it.
 */
export function configFlagValues(cfg: SwitchyardConfig, knownFlags: Iterable<string>): { values: ConfigFlagValues; ignored: string[] } {
  const known = new Set(knownFlags);
  const values: Record<string, string | boolean> = {};
  const ignored = [...cfg.ignored];
  const dur = (v: number | undefined): string | undefined => (v === undefined ? undefined : `${v}ms`);
  const entries: Array<[keyof ConfigFlagValues, string, string | boolean | undefined]> = [
    ['kubeconfig', 'clientConnection.kubeconfig', cfg.kubeconfig],
    ['node-name', 'hostnameOverride', cfg.hostnameOverride],
    ['node-ip', 'bindAddress', cfg.nodeIP],
    ['loader-socket', 'loaderSocket', cfg.loaderSocket],
    ['mode', 'mode', cfg.mode],
    ['devices', 'devices', cfg.devices?.join(',')],
    ['health-bind-address', 'healthzBindAddress', cfg.healthzBindAddress],
    ['metrics-bind-address', 'metricsBindAddress', cfg.metricsBindAddress],
    ['maglev-seed', 'maglev.seed', cfg.maglev.seed?.toString()],
    ['maglev-table-floor', 'maglev.tableFloor', cfg.maglev.tableFloor?.toString()],
    ['maglev-table-ceiling', 'maglev.tableCeiling', cfg.maglev.tableCeiling?.toString()],
    ['lb-algorithm', 'lbAlgorithm', cfg.lbAlgorithm],
    ['map-max-entries', 'mapMaxEntries', cfg.mapMaxEntries ? Object.entries(cfg.mapMaxEntries).map(([k, v]) => `${k}=${v}`).join(',') : undefined],
    ['min-sync-period', 'minSyncPeriod', dur(cfg.minSyncPeriodMs)],
    ['sync-period', 'syncPeriod', dur(cfg.syncPeriodMs)],
    ['log-level', 'logLevel', cfg.logLevel],
    ['watch-silence-timeout', 'watchSilenceTimeout', dur(cfg.watchSilenceTimeoutMs)],
    ['iptables-backend', 'iptablesBackend', cfg.iptablesBackend],
    ['cluster-cidr', 'clusterCIDR', [cfg.clusterCIDR, cfg.clusterCIDR6].filter((x) => x !== undefined).join(',') || undefined],
    ['masquerade-all', 'iptables.masqueradeAll', cfg.iptables.masqueradeAll],
    ['iptables-masquerade-bit', 'iptables.masqueradeBit', cfg.iptables.masqueradeBit?.toString()],
    ['nodeport-addresses', 'nodePortAddresses', cfg.nodePortAddresses?.join(',')],
    ['refuse-cluster-ip-external-ips', 'externalIPs.refuseClusterIPs', cfg.externalIPs.refuseClusterIPs?.toString()],
    ['external-ip-cidrs', 'externalIPs.allowedCIDRs', cfg.externalIPs.allowedCIDRs?.join(',')],
    ['snat-port-range', 'snatPortRange', cfg.snatPortRange],
    ['conntrack-max-per-core', 'conntrack.maxPerCore', cfg.conntrack.maxPerCore?.toString()],
    ['conntrack-min', 'conntrack.min', cfg.conntrack.min?.toString()],
    ['conntrack-tcp-timeout-established', 'conntrack.tcpEstablishedTimeout', dur(cfg.conntrack.tcpEstablishedTimeoutMs)],
    ['conntrack-tcp-timeout-close-wait', 'conntrack.tcpCloseWaitTimeout', dur(cfg.conntrack.tcpCloseWaitTimeoutMs)],
    ['conntrack-tcp-be-liberal', 'conntrack.tcpBeLiberal', cfg.conntrack.tcpBeLiberal || undefined],
    ['conntrack-udp-timeout', 'conntrack.udpTimeout', dur(cfg.conntrack.udpTimeoutMs)],
    ['conntrack-udp-timeout-stream', 'conntrack.udpStreamTimeout', dur(cfg.conntrack.udpStreamTimeoutMs)],
  ];
  for (const [flag, path, v] of entries) {
    if (v === undefined) continue;
    if (known.has(flag)) values[flag] = v;
    else if (v !== false) ignored.push(`${path} (this agent has no --${flag})`);
  }
  return { values: values as ConfigFlagValues, ignored };
}

function validCidr(c: string): boolean {
  try {
    parseCidr(c);
    return true;
  } catch {
    return false;
  }
}
