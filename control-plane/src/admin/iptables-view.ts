// The iptables back end as programmed: iptables-save of the agent's
// namespace (or, when that fails, the last iptables-restore input), and the
// kube-proxy chain names of every ServicePort.
import { describeLostFrontend } from '../model/frontend-claims.js';
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import { serviceChains, servicePortEndpointChainName } from '../dataplane/iptables/chain-names.js';
import { parseSave } from '../dataplane/iptables/cleanup.js';
import { servicePortString } from '../model/types.js';
import type { IptablesView } from './source.js';

export interface SavedChain { table: string; chain: string; builtin: boolean; rules: string[] }

export interface RulesSnapshot {
  /** "iptables-save" or "last-restore-input" (partial: only what the last sync wrote). */
  source: string;
  chains: SavedChain[];
}

export async function readRules(v: IptablesView): Promise<RulesSnapshot> {
  let text: string | undefined;
  let source = 'iptables-save';
  if (v.save) {
    try {
      text = await v.save();
    } catch {
      text = undefined;
    }
  }
  if (text === undefined) {
    text = v.lastRestoreInput ?? '';
    source = 'last-restore-input';
  }
  const chains: SavedChain[] = [];
  for (const [table, t] of parseSave(text)) {
    for (const [chain, c] of t.chains) chains.push({ table, chain, builtin: c.builtin, rules: c.rules });
  }
  return { source, chains };
}

export interface IptablesServiceRow {
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
  affinityTimeoutSeconds: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
  internalTrafficPolicy: 'Cluster' | 'Local';
  frontends: Array<{ kind: string; address: string; port: number; protocol: string }>;
  chains: Array<{ role: string; chain: string; programmed: boolean; rules: number }>;
  backends: Array<{
    address: string; port: number; state: string; local: boolean; zone: string; node: string;
    chain: string; programmed: boolean; probability: number | null;
  }>;
  problems: string[];
}

export function iptablesServices(desired: readonly DesiredServicePort[], rules: RulesSnapshot): IptablesServiceRow[] {
  const nat = new Map(rules.chains.filter((c) => c.table === 'nat').map((c) => [c.chain, c]));
  return desired.map((d): IptablesServiceRow => {
    const s = d.svc;
    const name = servicePortString(s.name);
    const names = serviceChains(name, s.protocol);
    const chains = (['cluster', 'local', 'external', 'firewall'] as const).map((role) => {
      const c = nat.get(names[role]);
      return { role, chain: names[role], programmed: c !== undefined, rules: c?.rules.length ?? 0 };
    }).filter((c) => c.programmed || c.role === 'cluster');
    const frontends = s.lostFrontends?.some((l) => l.kind === 'ClusterIP') ? [] : [{ kind: 'ClusterIP', address: s.clusterIP, port: s.port, protocol: s.protocol }];
    if (s.nodePort > 0) frontends.push({ kind: 'NodePort', address: '*', port: s.nodePort, protocol: s.protocol });
    for (const a of s.externalIPs) frontends.push({ kind: 'ExternalIP', address: a, port: s.port, protocol: s.protocol });
    for (const a of s.loadBalancerIPs) frontends.push({ kind: 'LoadBalancer', address: a, port: s.port, protocol: s.protocol });
    const inTable = d.internalEndpoints;
    const backends = d.allEndpoints.map((e) => {
      const chain = servicePortEndpointChainName(name, names.protocol, `${e.ip}:${e.port}`);
      const taking = inTable.some((x) => x.ip === e.ip && x.port === e.port);
      return {
        address: e.ip, port: e.port, state: e.ready ? 'active' : 'terminating', local: e.isLocal, zone: e.zone, node: e.nodeName,
        chain, programmed: nat.has(chain), probability: taking && inTable.length > 0 ? 1 / inTable.length : null,
      };
    });
    const problems: string[] = (s.lostFrontends ?? []).map(describeLostFrontend);
    if (rules.source === 'iptables-save' && inTable.length > 0 && !nat.has(names.cluster) && !nat.has(names.local)) problems.push(`chain ${names.cluster} is not programmed`);
    return {
      name, key: s.key, namespace: s.name.namespace, service: s.name.name, portName: s.name.port, protocol: s.protocol, type: s.type,
      clusterIP: s.clusterIP, port: s.port, nodePort: s.nodePort, affinityTimeoutSeconds: s.affinityTimeoutSeconds,
      externalTrafficPolicy: s.externalPolicyLocal ? 'Local' : 'Cluster', internalTrafficPolicy: s.internalPolicyLocal ? 'Local' : 'Cluster',
      frontends, chains, backends, problems,
    };
  }).sort((a, b) => a.key.localeCompare(b.key));
}
