// kube-proxy's conntrack cleanup for UDP: iptables only translates the first
// packet of a flow, so a UDP "flow" (e.g. a DNS client reusing its socket)
// stays pinned by netfilter conntrack to an endpoint that is gone, or to the
// REJECT of a Service that had no endpoints. After each sync we delete those
// entries with the conntrack tool, as kube-proxy does with netlink. The
// conntrack tool works on IPv4 unless told otherwise: IPv6 Services' deletions
// carry "-f ipv6" (kube-proxy's ClearEntriesForNAT appends it for IPv6 too).
import type { DesiredServicePort } from '../desired-state.js';
import { endpointKey } from '../../model/types.js';

export interface ConntrackDeletion {
  /** Human-readable reason, for logs. */
  why: string;
  /** Arguments after `conntrack -D`. */
  args: string[];
}

interface UdpPortState {
  frontends: Array<{ addr?: string; port: number }>;
  /** endpointKey ("ip:port", "[ip]:port") -> ip. */
  endpoints: Map<string, string>;
  /** ["-f", "ipv6"] for IPv6, nothing for IPv4 (the tool's default). */
  familyArgs: string[];
}

function udpState(desired: DesiredServicePort[]): Map<string, UdpPortState> {
  const out = new Map<string, UdpPortState>();
  for (const d of desired) {
    const s = d.svc;
    if (s.protocol !== 'UDP') continue;
    const frontends: UdpPortState['frontends'] = [{ addr: s.clusterIP, port: s.port }];
    for (const a of [...s.externalIPs, ...s.loadBalancerIPs]) frontends.push({ addr: a, port: s.port });
    if (s.nodePort > 0) frontends.push({ port: s.nodePort });
    const endpoints = new Map([...d.internalEndpoints, ...d.externalEndpoints].map((e) => [endpointKey(e), e.ip]));
    out.set(s.key, { frontends, endpoints, familyArgs: s.family === 'IPv6' ? ['-f', 'ipv6'] : [] });
  }
  return out;
}

function frontendArgs(f: { addr?: string; port: number }): string[] {
  return f.addr ? ['--orig-dst', f.addr, '--orig-port-dst', String(f.port)] : ['--orig-port-dst', String(f.port)];
}

/** The conntrack deletions a change from `before` to `after` calls for. */
export function staleUdpDeletions(before: DesiredServicePort[], after: DesiredServicePort[]): ConntrackDeletion[] {
  const prev = udpState(before), next = udpState(after);
  const out: ConntrackDeletion[] = [];
  for (const [key, p] of prev) {
    const n = next.get(key);
    for (const [ep, ip] of p.endpoints) {
      if (n?.endpoints.has(ep)) continue;
      for (const f of p.frontends) out.push({ why: `${key}: endpoint ${ep} gone`, args: ['-p', 'udp', ...frontendArgs(f), '--dst-nat', ip, ...p.familyArgs] });
    }
  }
  for (const [key, n] of next) {
    const p = prev.get(key);
    // From no endpoint (REJECT cached in conntrack) to some.
    if (n.endpoints.size > 0 && (!p || p.endpoints.size === 0)) {
      for (const f of n.frontends) out.push({ why: `${key}: endpoints appeared`, args: ['-p', 'udp', ...frontendArgs(f), ...n.familyArgs] });
    }
  }
  return out;
}
