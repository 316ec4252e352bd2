// Builders shared by the iptables back end's unit and namespace tests:
// ServicePortInfo / EndpointInfo values, the desired state through the real
// model (computeDesiredState), and kube-proxy's sortIPTablesRules so restore
// inputs compare independently of service order.
import { computeDesiredState, type DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import type { IptablesNodeConfig } from '../../control-plane/src/dataplane/iptables/render.js';
import { servicePortKey, type EndpointInfo, type ServicePortInfo, type ServiceType } from '../../control-plane/src/model/types.js';

export const NODE = 'node-a';

export interface SvcSpec {
  ns?: string;
  name: string;
  port?: string;
  protocol?: 'TCP' | 'UDP';
  type?: ServiceType;
  clusterIP: string;
  svcPort?: number;
  nodePort?: number;
  externalIPs?: string[];
  lbIPs?: string[];
  sourceRanges?: string[];
  affinity?: number;
  eTPLocal?: boolean;
  iTPLocal?: boolean;
  hcnp?: number;
  /** 'IPv6' tags the port as the model does for IPv6 (IPv4 ports carry no family). */
  family?: 'IPv6';
}

export function svcPort(s: SvcSpec): ServicePortInfo {
  const name = { namespace: s.ns ?? 'ns1', name: s.name, port: s.port ?? 'p80', protocol: s.protocol ?? 'TCP' };
  return {
    name,
    key: servicePortKey(name),
    type: s.type ?? 'ClusterIP',
    clusterIP: s.clusterIP,
    port: s.svcPort ?? 80,
    protocol: name.protocol,
    nodePort: s.nodePort ?? 0,
    externalIPs: s.externalIPs ?? [],
    loadBalancerIPs: s.lbIPs ?? [],
    loadBalancerSourceRanges: s.sourceRanges ?? [],
    affinityTimeoutSeconds: s.affinity ?? 0,
    externalPolicyLocal: s.eTPLocal ?? false,
    internalPolicyLocal: s.iTPLocal ?? false,
    healthCheckNodePort: s.hcnp ?? 0,
    algorithm: 'random',
    ...(s.family ? { family: s.family } : {}),
  };
}

export interface EpSpec { local?: boolean; ready?: boolean; serving?: boolean; terminating?: boolean; port?: number }

export function ep(ip: string, o: EpSpec = {}): EndpointInfo {
  const ready = o.ready ?? true;
  return {
    ip,
    port: o.port ?? 80,
    ready,
    serving: o.serving ?? ready,
    terminating: o.terminating ?? false,
    nodeName: o.local ? NODE : 'node-other',
    zone: '',
    isLocal: o.local ?? false,
  };
}

/** The desired state of these service ports, through the model's endpoint selection. */
export function desiredOf(entries: Array<[ServicePortInfo, EndpointInfo[]]>): DesiredServicePort[] {
  const services = new Map<string, ServicePortInfo>();
  const endpoints = new Map<string, EndpointInfo[]>();
  for (const [s, e] of entries) {
    services.set(s.key, s);
    endpoints.set(s.key, e);
  }
  return computeDesiredState(services, endpoints, { nodeName: NODE, zone: '' });
}

interface Chain { name: string; decl: string; rules: string[] }

function commentServiceName(rule: string): string | undefined {
  const m = / --comment (?:"([^"]*)"|(\S+))/.exec(rule);
  const c = m ? (m[1] ?? m[2] ?? '') : undefined;
  if (c === undefined) return undefined;
  const i = c.search(/[ :]/);
  return i === -1 ? c : c.slice(0, i);
}

function stableSort<T>(a: T[], less: (x: T, y: T) => boolean): T[] {
  return a.map((v, i) => [v, i] as const).sort(([x, i], [y, j]) => (less(x, y) ? -1 : less(y, x) ? 1 : i - j)).map(([v]) => v);
}

const byService = (x: string, y: string): boolean => {
  const a = commentServiceName(x);
  const b = commentServiceName(y);
  return a !== undefined && b !== undefined && a < b;
};

/** kube-proxy's sortIPTablesRules (proxier_test.go) for restore input text. */
export function sortIPTablesRules(text: string): string {
  const tables: Array<{ name: string; chains: Chain[] }> = [];
  let cur: { name: string; chains: Chain[] } | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line === 'COMMIT' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { name: line.slice(1), chains: [] };
      tables.push(cur);
    } else if (line.startsWith(':') && cur) {
      const name = line.slice(1).split(' ')[0]!;
      if (!cur.chains.some((c) => c.name === name)) cur.chains.push({ name, decl: line, rules: [] });
    } else if (cur) {
      const name = line.split(' ')[1]!;
      const chain = cur.chains.find((c) => c.name === name);
      if (!chain) throw new Error(`rule for undeclared chain: ${line}`);
      chain.rules.push(line);
    }
  }
  tables.sort((a, b) => (a.name < b.name ? -1 : 1));
  const rank = (n: string): number => (n === 'KUBE-NODEPORTS' ? 0 : n === 'KUBE-SERVICES' ? 1 : n.startsWith('KUBE-') ? 2 : 3);
  const out: string[] = [];
  for (const t of tables) {
    t.chains.sort((a, b) => rank(a.name) - rank(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const c of t.chains) {
      if (c.name === 'KUBE-NODEPORTS') c.rules = stableSort(c.rules, byService);
      if (c.name === 'KUBE-SERVICES' && t.name === 'filter') c.rules = stableSort(c.rules, byService);
      if (c.name === 'KUBE-SERVICES' && t.name === 'nat') {
        c.rules = stableSort(c.rules, (x, y) => {
          if (x.includes('must be the last rule')) return false;
          if (y.includes('must be the last rule')) return true;
          return byService(x, y);
        });
      }
    }
    out.push(`*${t.name}`, ...t.chains.map((c) => c.decl), ...t.chains.flatMap((c) => c.rules), 'COMMIT');
  }
  return out.join('\n') + '\n';
}

/** Strips a template's common indentation (Go's dedent) and the leading newline. */
export function dedent(s: string): string {
  const lines = s.replace(/^\n/, '').split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^\s*/.exec(l)![0].length);
  const n = Math.min(...indents);
  return lines.map((l) => l.slice(n)).join('\n').replace(/\s+$/, '') + '\n';
}

/** The rule lines of one chain in restore text. */
export function chainRules(text: string, table: string, chain: string): string[] {
  const out: string[] = [];
  let inTable = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) inTable = line === `*${table}`;
    else if (inTable && line.startsWith(`-A ${chain} `)) out.push(line);
  }
  return out;
}

/** The flags of kube-proxy's NewFakeProxier (proxier_test.go). */
export const UPSTREAM_CFG: IptablesNodeConfig = {
  nodeName: 'test-node',
  nodeIPs: ['192.168.0.2'],
  clusterCIDR: '10.0.0.0/8',
  masqueradeMark: '0x4000',
  localhostNodePorts: true,
  nfacct: { ctStateInvalidDropped: true, localhostNodePortsAccepted: true },
};

/** The services and endpoints of kube-proxy's TestOverallIPTablesRules. */
export function upstreamOverallDesired() {
  return desiredOf([
    [svcPort({ ns: 'ns1', name: 'svc1', clusterIP: '172.30.0.41' }), [ep('10.180.0.1')]],
    [svcPort({
      ns: 'ns2', name: 'svc2', type: 'LoadBalancer', eTPLocal: true, clusterIP: '172.30.0.42', nodePort: 3001,
      lbIPs: ['1.2.3.4'], externalIPs: ['192.168.99.22'], hcnp: 30000,
    }), [ep('10.180.0.2')]],
    [svcPort({ ns: 'ns3', name: 'svc3', type: 'NodePort', clusterIP: '172.30.0.43', nodePort: 3003 }), [ep('10.180.0.3')]],
    [svcPort({ ns: 'ns4', name: 'svc4', type: 'NodePort', clusterIP: '172.30.0.44', externalIPs: ['192.168.99.33'] }),
      [ep('10.180.0.4'), ep('10.180.0.5', { local: true })]],
    [svcPort({
      ns: 'ns5', name: 'svc5', type: 'LoadBalancer', clusterIP: '172.30.0.45', nodePort: 3002, lbIPs: ['5.6.7.8'],
      hcnp: 30000, sourceRanges: [' 203.0.113.0/25'], affinity: 10800,
    }), [ep('10.180.0.3')]],
    [svcPort({ ns: 'ns6', name: 'svc6', clusterIP: '172.30.0.46' }), []],
  ]);
}

/** kube-proxy's TestOverallIPTablesRules services with IPv6 addresses, plus a UDP NodePort. */
export function upstreamOverallDesiredV6() {
  return desiredOf([
    [svcPort({ family: 'IPv6', ns: 'ns1', name: 'svc1', clusterIP: 'fd00:172:30::41' }), [ep('fd00:10:180::1')]],
    [svcPort({
      family: 'IPv6', ns: 'ns2', name: 'svc2', type: 'LoadBalancer', eTPLocal: true, clusterIP: 'fd00:172:30::42', nodePort: 3001,
      lbIPs: ['2001:db8:1::4'], externalIPs: ['2001:db8:99::22'], hcnp: 30000,
    }), [ep('fd00:10:180::2')]],
    [svcPort({ family: 'IPv6', ns: 'ns3', name: 'svc3', type: 'NodePort', clusterIP: 'fd00:172:30::43', nodePort: 3003, protocol: 'UDP', port: 'dns', svcPort: 53 }),
      [ep('fd00:10:180::3', { port: 5353 })]],
    [svcPort({ family: 'IPv6', ns: 'ns4', name: 'svc4', clusterIP: 'fd00:172:30::44', externalIPs: ['2001:db8:99::33'] }),
      [ep('fd00:10:180::4'), ep('fd00:10:180::5', { local: true })]],
    [svcPort({
      family: 'IPv6', ns: 'ns5', name: 'svc5', type: 'LoadBalancer', clusterIP: 'fd00:172:30::45', nodePort: 3002, lbIPs: ['2001:db8:5::8'],
      // Upper case and host bits are normalised; an IPv4 range is not this family's; the node is inside the last one.
      sourceRanges: [' 2001:DB8:203::1/64', '203.0.113.0/25', 'fd00:192:168::/48'], affinity: 10800,
    }), [ep('fd00:10:180::3')]],
    [svcPort({ family: 'IPv6', ns: 'ns6', name: 'svc6', clusterIP: 'fd00:172:30::46' }), []],
  ]);
}

/** The IPv6 proxier's flags for it (family cluster CIDR and node IP among dual-stack values). */
export const UPSTREAM_CFG_V6: IptablesNodeConfig = {
  nodeName: 'node-a', family: 'IPv6', masqueradeMark: '0x4000', nodeIPs: ['192.168.0.2', 'fd00:192:168::2'], clusterCIDR: '10.0.0.0/8,fd00:10::/32',
  localhostNodePorts: true, nfacct: { ctStateInvalidDropped: true, localhostNodePortsAccepted: true },
};
