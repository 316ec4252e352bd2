// Which IP families the agent programs (kube-proxy's detectNodeIPs and its
// dual-stack decision): --ip-families when given; else the families of the
// node's addresses, from --node-ip or else the Node's InternalIPs; IPv4 when
// nothing says. IPv4 comes first when both are served, so that an IPv4
// object is handled as it always was.
import type { V1Node } from '@kubernetes/client-node';
import { parseAddress, type IPFamily } from '../util/ip.js';

export interface FamilyChoice {
  families: IPFamily[];
  /** What decided: 'flag' (--ip-families), 'node-ip' (--node-ip), 'node' (the Node's InternalIPs), 'default'. */
  source: 'flag' | 'node-ip' | 'node' | 'default';
}

/** The Node's InternalIP of each family (the first of each), canonical text. */
export function nodeInternalIPs(n: V1Node | undefined): { IPv4?: string; IPv6?: string } {
  const out: { IPv4?: string; IPv6?: string } = {};
  for (const a of n?.status?.addresses ?? []) {
    if (a.type !== 'InternalIP') continue;
    const p = parseAddress(a.address);
    if (!p || p.ipv4Mapped || out[p.family] !== undefined) continue;
    out[p.family] = p.text;
  }
  return out;
}

const ordered = (s: Set<IPFamily>): IPFamily[] => (['IPv4', 'IPv6'] as const).filter((f) => s.has(f));

export function chooseIPFamilies(opts: { ipFamilies?: IPFamily[]; nodeIP?: string; nodeIP6?: string }, node: V1Node | undefined): FamilyChoice {
  if (opts.ipFamilies && opts.ipFamilies.length > 0) return { families: ordered(new Set(opts.ipFamilies)), source: 'flag' };
  const given = new Set<IPFamily>();
  if (opts.nodeIP) given.add('IPv4');
  if (opts.nodeIP6) given.add('IPv6');
  if (given.size > 0) return { families: ordered(given), source: 'node-ip' };
  const ips = nodeInternalIPs(node);
  const seen = new Set<IPFamily>(Object.keys(ips) as IPFamily[]);
  if (seen.size > 0) return { families: ordered(seen), source: 'node' };
  return { families: ['IPv4'], source: 'default' };
}
