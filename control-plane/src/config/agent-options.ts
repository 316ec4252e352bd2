// The agent's command-line options, parsed with node:util's parseArgs.
import { parseArgs } from 'node:util';
import { SIZED_MAPS, configFlagValues, loadSwitchyardConfigFile } from './kube-proxy-config.js';
import { parseDurationMs } from '../util/duration.js';
import { parseBindAddress } from '../util/bind-address.js';
import { cidrContains, intToIpv4, isIPv4, parseCidr } from '../util/ipv4.js';
import { parsePortRange, type PortRange } from './snat-ports.js';
import { DEFAULT_MAGLEV_SIZING, validateSizing, type MaglevSizing } from '../dataplane/maglev.js';
import { parseAddress, parsePrefix, prefixContains, type IPFamily } from '../util/ip.js';

export type Mode = 'ebpf' | 'iptables' | 'auto';

export interface AgentOptions {
  kubeconfig?: string;
  nodeName: string;
  nodeIP?: string;
  /** --node-ip's IPv6 address (given alone or after the IPv4 one, as kubelet's --node-ip). */
  nodeIP6?: string;
  /**
   * --ip-families: the families to program. Unset: the families of the node's
   * addresses (kube-proxy's detectNodeIPs: --node-ip, else the Node's
   * InternalIP of each family), IPv4 when none is known.
   */
  ipFamilies?: IPFamily[];
  loaderSocket: string;
  mode: Mode;
  devices: string;
  podDevices: string;
  xdp: boolean;
  socketLB: boolean;
  cgroupPath?: string;
  health: { host: string; port: number };
  maglevSeed: number;
  maglevSizing: MaglevSizing;
  lbAlgorithm: 'maglev' | 'random';
  /**
   * --map-max-entries / mapMaxEntries: the map sizes this node should have.
   * The loader creates the maps (its own --map-max-entries, which the lab
   * and the DaemonSet pass from the same setting); the agent compares them
   * with what the loader reports and warns on a difference.
   */
  mapMaxEntries: Record<string, number>;
  /** Refuse ExternalIPs equal to a ClusterIP or outside these CIDRs (both off by default, as in kube-proxy). */
  externalIPPolicy: { refuseClusterIPs: boolean; allowedCIDRs: string[] };
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  healthTimeoutMs: number;
  /** A watch silent this long is restarted (0: never). */
  watchSilenceTimeoutMs: number;
  logLevel: string;
  pretendMissing: string[];
  /** --snat-port-range; unset: chosen outside the node's ip_local_port_range at start (config/snat-ports.ts). */
  snatPortRange?: PortRange;
  /** --service-cluster-ip-range, its IPv4 CIDR ("a.b.c.d/len"): packets to it skip the datapath's reply lookup. */
  serviceCIDR?: string;
  /** --service-cluster-ip-range's IPv6 CIDR (sy_config6.svc_net/svc_mask). */
  serviceCIDR6?: string;
  /** Fields of the --config file accepted but without effect in this build. */
  configIgnored: string[];
  iptables: {
    backend: 'legacy' | 'nft' | 'auto';
    clusterCIDR?: string;
    /** --cluster-cidr's IPv6 entry (for a back end that programs IPv6 rules). */
    clusterCIDR6?: string;
    masqueradeAll: boolean;
    masqueradeBit: number;
    nodePortAddresses: string[];
  };
}

export const AGENT_USAGE = `switchyard agent --node-name NAME [options]
  --config FILE                KubeProxyConfiguration or SwitchyardConfiguration (YAML/JSON); flags override it
  --kubeconfig FILE            kubeconfig (default: in-cluster configuration)
  --node-name NAME             this node's name (default: $NODE_NAME)
  --node-ip IP[,IP6]           this node's IPv4 and/or IPv6 address (default, or empty: the Node's InternalIP of each
                               family, followed when it appears later)
  --ip-families LIST           IPv4, IPv6 or IPv4,IPv6: the families to program (default: those of the node's addresses)
  --loader-socket PATH         the loader's unix socket (default /run/switchyard/loader.sock)
  --mode ebpf|iptables|auto    datapath (default auto: ebpf when the kernel has every feature)
  --devices LIST               external devices (NodePort/ExternalIP/LB traffic), comma separated, '+' suffix = prefix match (default eth0)
  --pod-devices LIST           pod-facing devices (node side of pod veths), same syntax (default: none)
  --xdp=true|false             also handle external traffic in XDP on --devices (default true; tc takes over where XDP cannot attach)
  --socket-lb=true|false       socket-level balancing with cgroup sock_addr hooks (default true when --cgroup-path is set)
  --cgroup-path DIR            cgroup v2 directory whose processes get socket-level balancing (never the root cgroup)
  --health-bind-address H:P    /healthz and /livez (default 0.0.0.0:10256)
  --maglev-seed N              cluster-wide seed of Maglev and flow hashes (default 0x5317c4d1)
  --maglev-table-floor M       smallest Maglev table (prime, default 251)
  --maglev-table-ceiling M     largest Maglev table (prime, default 131071)
  --lb-algorithm maglev|random default backend selection (per Service: annotation switchyard.io/lb-algorithm)
  --map-max-entries NAME=N,... map sizes of this node (sy_services, sy_backends, ...; docs/maps.md); the loader
                               creates the maps with its own --map-max-entries, the agent warns when they differ
  --refuse-cluster-ip-external-ips=true|false
                               ignore externalIPs equal to any Service's ClusterIP (default false)
  --external-ip-cidrs LIST     ignore externalIPs outside these CIDRs, comma separated (default: none, all allowed)
  --min-sync-period D          minimum time between syncs (default 0s)
  --sync-period D              full resync period (default 30s)
  --watch-silence-timeout D    restart a watch that delivered nothing for this long (default 5m; 0 = never)
  --pretend-missing FEATURE    report a kernel feature missing (testing the fallback), repeatable
  --iptables-backend B         iptables mode: legacy, nft or auto (default auto, as kube-proxy picks)
  --cluster-cidr CIDR[,CIDR6]  iptables mode: pod CIDR (one per family); traffic from outside it to a ClusterIP is masqueraded
  --masquerade-all             iptables mode: masquerade all Service traffic
  --iptables-masquerade-bit N  iptables mode: fwmark bit for masquerading (default 14)
  --nodeport-addresses LIST    CIDRs (or "primary") of the node addresses NodePorts answer on
  --snat-port-range MIN-MAX    ebpf mode: source ports of NodePort/ExternalIP/LB flows SNATed to the node (default: the
                               largest stretch outside net.ipv4.ip_local_port_range, ports < 1024 and 30000-32767;
                               a range overlapping ip_local_port_range is refused)
  --service-cluster-ip-range CIDR[,CIDR6]
                               ebpf mode: the range ClusterIPs come from (as kube-apiserver's flag); packets to it skip
                               the reply lookup (one conntrack lookup less per packet), per family. Unset: no skip
  --log-level LEVEL            pino level (default info)`;

/**
 * --service-cluster-ip-range: kube-apiserver's form (one CIDR, or an IPv4 and an IPv6 one); returns the IPv4
 * CIDR with its host bits cleared. Refused (the datapath would take replies for Service traffic): no IPv4 entry,
 * two of them, a prefix of 0, or a range holding the node IP.
 */
export function parseServiceCIDR(v: string, nodeIP: string | undefined): string {
  const flag = '--service-cluster-ip-range';
  const parts = v.split(',').map((x) => x.trim()).filter(Boolean);
  const v4 = parts.filter((p) => !p.includes(':'));
  if (v4.length !== 1) throw new Error(`${flag} ${JSON.stringify(v)}: expected one IPv4 CIDR (and at most one IPv6 one), found ${v4.length}`);
  let cidr: { base: number; prefix: number };
  try {
    cidr = parseCidr(v4[0]!);
  } catch {
    throw new Error(`${flag}: ${JSON.stringify(v4[0])} is not an IPv4 CIDR`);
  }
  if (cidr.prefix === 0) throw new Error(`${flag} ${v4[0]}: a /0 range would hold every address`);
  const s = `${intToIpv4(cidr.base)}/${cidr.prefix}`;
  if (nodeIP !== undefined && cidrContains(s, nodeIP)) throw new Error(`${flag} ${s} holds the node IP ${nodeIP}`);
  return s;
}

/**
 * --service-cluster-ip-range's IPv6 CIDR (undefined: none given), host bits
 * cleared. Refused: two of them, a prefix of 0, a range holding the node's
 * IPv6 address.
 */
export function parseServiceCIDR6(v: string, nodeIP6: string | undefined): string | undefined {
  const flag = '--service-cluster-ip-range';
  const v6 = v.split(',').map((x) => x.trim()).filter((p) => p.includes(':'));
  if (v6.length === 0) return undefined;
  if (v6.length > 1) throw new Error(`${flag} ${JSON.stringify(v)}: expected at most one IPv6 CIDR, found ${v6.length}`);
  const p = parsePrefix(v6[0]!);
  if (!p || p.family !== 'IPv6') throw new Error(`${flag}: ${JSON.stringify(v6[0])} is not an IPv6 CIDR`);
  if (p.prefix === 0) throw new Error(`${flag} ${v6[0]}: a /0 range would hold every address`);
  if (nodeIP6 !== undefined && prefixContains(p.cidr, nodeIP6)) throw new Error(`${flag} ${p.cidr} holds the node IP ${nodeIP6}`);
  return p.cidr;
}

/** --cluster-cidr: an IPv4 CIDR, an IPv6 one, or one of each (kube-proxy's dual-stack form). */
export function parseClusterCIDRs(v: string | undefined): { v4?: string; v6?: string } {
  if (v === undefined) return {};
  const out: { v4?: string; v6?: string } = {};
  for (const part of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    const k = part.includes(':') ? 'v6' : 'v4';
    if (k === 'v4') parseCidr(part);
    else {
      const p = parsePrefix(part);
      if (!p || p.family !== 'IPv6') throw new Error(`--cluster-cidr: ${JSON.stringify(part)} is not an IPv6 CIDR`);
    }
    if (out[k] !== undefined) throw new Error(`--cluster-cidr ${v}: two CIDRs of one family`);
    out[k] = part;
  }
  return out;
}

/** --node-ip: an IPv4 address, an IPv6 one, or one of each (comma separated, as kubelet's --node-ip). */
export function parseNodeIPs(v: string | undefined): { v4?: string; v6?: string } {
  if (v === undefined) return {};
  const out: { v4?: string; v6?: string } = {};
  for (const part of v.split(',').map((x) => x.trim())) {
    const a = parseAddress(part);
    if (!a || a.ipv4Mapped) throw new Error(`--node-ip ${v}: ${JSON.stringify(part)} is not an IPv4 or IPv6 address`);
    const k = a.family === 'IPv4' ? 'v4' : 'v6';
    if (out[k] !== undefined) throw new Error(`--node-ip ${v}: two ${a.family} addresses`);
    out[k] = a.family === 'IPv4' ? part : a.text;
  }
  if (out.v4 !== undefined && !isIPv4(out.v4)) throw new Error(`--node-ip ${v}: ${out.v4} is not an IPv4 address`);
  return out;
}

/** --ip-families: "IPv4", "IPv6" or both, comma separated (case-insensitive; "dual" = both). */
export function parseIPFamilies(v: string): IPFamily[] {
  const out: IPFamily[] = [];
  for (const part of v.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    const fs: IPFamily[] = part === 'ipv4' ? ['IPv4'] : part === 'ipv6' ? ['IPv6'] : part === 'dual' ? ['IPv4', 'IPv6'] : [];
    if (fs.length === 0) throw new Error(`--ip-families: ${JSON.stringify(part)} is not IPv4, IPv6 or dual`);
    for (const f of fs) if (!out.includes(f)) out.push(f);
  }
  if (out.length === 0) throw new Error('--ip-families: empty');
  return out;
}

function parseBool(v: string | undefined, dflt: boolean, flag: string): boolean {
  if (v === undefined) return dflt;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`${flag} must be true or false, not ${JSON.stringify(v)}`);
}

/** "sy_services=64,sy_backends=1024" -> {sy_services: 64, ...}; throws on an unknown map or a bad size. */
export function parseMapMaxEntries(v: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of v.split(',').map((x) => x.trim()).filter(Boolean)) {
    const m = /^([a-z_]+)=(\d+)$/.exec(item);
    if (!m) throw new Error(`--map-max-entries: ${JSON.stringify(item)} is not NAME=N`);
    if (!(SIZED_MAPS as readonly string[]).includes(m[1]!)) throw new Error(`--map-max-entries: ${m[1]} is not one of ${SIZED_MAPS.join(', ')}`);
    const n = Number(m[2]);
    if (n < 1 || n > 2 ** 26) throw new Error(`--map-max-entries: ${m[1]}=${n} is not in [1, 2^26]`);
    out[m[1]!] = n;
  }
  return out;
}

export function parseAgentOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const options = {
    config: { type: 'string' },
    kubeconfig: { type: 'string' },
    'node-name': { type: 'string' },
    'node-ip': { type: 'string' },
    'ip-families': { type: 'string' },
    'loader-socket': { type: 'string' },
    mode: { type: 'string' },
    devices: { type: 'string' },
    'pod-devices': { type: 'string' },
    xdp: { type: 'string' },
    'socket-lb': { type: 'string' },
    'cgroup-path': { type: 'string' },
    'health-bind-address': { type: 'string' },
    'maglev-seed': { type: 'string' },
    'maglev-table-floor': { type: 'string' },
    'maglev-table-ceiling': { type: 'string' },
    'lb-algorithm': { type: 'string' },
    'map-max-entries': { type: 'string' },
    'min-sync-period': { type: 'string' },
    'sync-period': { type: 'string' },
    'pretend-missing': { type: 'string', multiple: true },
    'log-level': { type: 'string' },
    'watch-silence-timeout': { type: 'string' },
    'iptables-backend': { type: 'string' },
    'cluster-cidr': { type: 'string' },
    'masquerade-all': { type: 'boolean' },
    'iptables-masquerade-bit': { type: 'string' },
    'nodeport-addresses': { type: 'string' },
    'refuse-cluster-ip-external-ips': { type: 'string' },
    'external-ip-cidrs': { type: 'string' },
    'snat-port-range': { type: 'string' },
    'service-cluster-ip-range': { type: 'string' },
  } as const;
  const { values: flags } = parseArgs({ args: argv, strict: true, allowPositionals: false, options });
  // A KubeProxyConfiguration-like file fills what the flags leave unset (flags > file > defaults).
  const file = flags.config !== undefined ? configFlagValues(loadSwitchyardConfigFile(flags.config), Object.keys(options)) : undefined;
  const values = { ...file?.values, ...flags } as typeof flags;
  const nodeName = values['node-name'] ?? env.NODE_NAME;
  if (!nodeName) throw new Error('--node-name (or $NODE_NAME) is required');
  const mode = (values.mode ?? 'auto') as Mode;
  if (!['ebpf', 'iptables', 'auto'].includes(mode)) throw new Error(`--mode must be ebpf, iptables or auto, not ${JSON.stringify(mode)}`);
  // An empty --node-ip= (e.g. after a configuration file's) means: learn it from the Node.
  if (values['node-ip'] === '') delete values['node-ip'];
  const nodeIPs = parseNodeIPs(values['node-ip']);
  const ipFamilies = values['ip-families'] !== undefined ? parseIPFamilies(values['ip-families']) : undefined;
  const serviceRange = values['service-cluster-ip-range'];
  // An IPv4 proxier needs the IPv4 range (the refusal of an IPv6-only value stays for IPv4 clusters).
  const ipv6Only = ipFamilies !== undefined && !ipFamilies.includes('IPv4');
  const seed = Number(values['maglev-seed'] ?? 0x5317c4d1);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error('--maglev-seed must be an integer in [0, 2^32)');
  const sizing: MaglevSizing = {
    floor: Number(values['maglev-table-floor'] ?? DEFAULT_MAGLEV_SIZING.floor),
    ceiling: Number(values['maglev-table-ceiling'] ?? DEFAULT_MAGLEV_SIZING.ceiling),
  };
  validateSizing(sizing);
  if (values['socket-lb'] === 'true' && values['cgroup-path'] === undefined) throw new Error('--socket-lb=true needs --cgroup-path');
  const lb = values['lb-algorithm'] ?? 'maglev';
  if (lb !== 'maglev' && lb !== 'random') throw new Error('--lb-algorithm must be maglev or random');
  const syncPeriodMs = parseDurationMs(values['sync-period'] ?? '30s');
  const mapMaxEntries = parseMapMaxEntries(values['map-max-entries'] ?? '');
  const iptBackend = values['iptables-backend'] ?? 'auto';
  if (iptBackend !== 'legacy' && iptBackend !== 'nft' && iptBackend !== 'auto') throw new Error('--iptables-backend must be legacy, nft or auto');
  const masqBit = Number(values['iptables-masquerade-bit'] ?? 14);
  if (!Number.isInteger(masqBit) || masqBit < 0 || masqBit > 31) throw new Error('--iptables-masquerade-bit must be in [0, 31]');
  const clusterCIDRs = parseClusterCIDRs(values['cluster-cidr']);
  const externalIPCIDRs = (values['external-ip-cidrs'] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  for (const c of externalIPCIDRs) {
    try {
      parseCidr(c);
    } catch {
      throw new Error(`--external-ip-cidrs: ${JSON.stringify(c)} is not an IPv4 CIDR`);
    }
  }
  return {
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    nodeName,
    ...(nodeIPs.v4 !== undefined ? { nodeIP: nodeIPs.v4 } : {}),
    ...(nodeIPs.v6 !== undefined ? { nodeIP6: nodeIPs.v6 } : {}),
    ...(ipFamilies ? { ipFamilies } : {}),
    loaderSocket: values['loader-socket'] ?? '/run/switchyard/loader.sock',
    mode,
    devices: values.devices ?? 'eth0',
    podDevices: values['pod-devices'] ?? '',
    xdp: parseBool(values.xdp, true, '--xdp'),
    socketLB: parseBool(values['socket-lb'], values['cgroup-path'] !== undefined, '--socket-lb'),
    ...(values['cgroup-path'] !== undefined ? { cgroupPath: values['cgroup-path'] } : {}),
    health: parseBindAddress(values['health-bind-address'] ?? '0.0.0.0:10256'),
    maglevSeed: seed,
    maglevSizing: sizing,
    lbAlgorithm: lb,
    mapMaxEntries,
    externalIPPolicy: {
      refuseClusterIPs: parseBool(values['refuse-cluster-ip-external-ips'], false, '--refuse-cluster-ip-external-ips'),
      allowedCIDRs: externalIPCIDRs,
    },
    minSyncPeriodMs: parseDurationMs(values['min-sync-period'] ?? '0s'),
    syncPeriodMs,
    healthTimeoutMs: Math.max(2 * syncPeriodMs, 10_000),
    watchSilenceTimeoutMs: values['watch-silence-timeout'] === '0' ? 0 : parseDurationMs(values['watch-silence-timeout'] ?? '5m'),
    logLevel: values['log-level'] ?? 'info',
    pretendMissing: values['pretend-missing'] ?? [],
    ...(values['snat-port-range'] !== undefined ? { snatPortRange: parsePortRange(values['snat-port-range'], '--snat-port-range') } : {}),
    ...(serviceRange !== undefined && !ipv6Only ? { serviceCIDR: parseServiceCIDR(serviceRange, nodeIPs.v4) } : {}),
    ...(serviceRange !== undefined && parseServiceCIDR6(serviceRange, nodeIPs.v6) !== undefined ? { serviceCIDR6: parseServiceCIDR6(serviceRange, nodeIPs.v6)! } : {}),
    configIgnored: file?.ignored ?? [],
    iptables: {
      backend: iptBackend,
      ...(clusterCIDRs.v4 !== undefined ? { clusterCIDR: clusterCIDRs.v4 } : {}),
      ...(clusterCIDRs.v6 !== undefined ? { clusterCIDR6: clusterCIDRs.v6 } : {}),
      masqueradeAll: values['masquerade-all'] ?? false,
      masqueradeBit: masqBit,
      nodePortAddresses: (values['nodeport-addresses'] ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    },
  };
}
