// kube-proxy's conntrack cleanup for UDP: iptables only translates the first
// packet of a flow, so a UDP "flow" (e.g. a DNS client reusing its socket)
// stays pinned by netfilter conntrack to an endpoint that is gone, or to the
// REJECT of a Service that had no endpoints. After each sync we delete those
// entries with the conntrack tool, as kube-proxy does with netlink.
import type { DesiredServicePort } from '../desired-state.js';

export interface ConntrackDeletion {
  /** Human-readable reason, for logs. */
  why: string;
  /** Arguments after `conntrack -D`. */
  args: string[];
}

interface UdpPortState {
  frontends: Array<{ addr?: string; port: number }>;
  endpoints: Set<string>;
}

function udpState(desired: DesiredServicePort[]): Map<string, UdpPortState> {
  const out = new Map<string, UdpPortState>();
  for (const d of desired) {
    const s = d.svc;
    if (s.protocol !== 'UDP') continue;
    const frontends: UdpPortState['frontends'] = [{ addr: s.clusterIP, port: s.port }];
    for (const a of [...s.externalIPs, ...s.loadBalancerIPs]) frontends.push({ addr: a, port: s.port });
    if (s.nodePort > 0) frontends.push({ port: s.nodePort });
    const endpoints = new Set([...d.internalEndpoints, ...d.externalEndpoints].map((e) => `${e.ip}:${e.port}`));
    out.set(s.key, { frontends, endpoints });
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
    for (const ep of p.endpoints) {
      if (n?.endpoints.has(ep)) continue;
      const ip = ep.slice(0, ep.lastIndexOf(':'));
      for (const f of p.frontends) out.push({ why: `${key}: endpoint ${ep} gone`, args: ['-p', 'udp', ...frontendArgs(f), '--dst-nat', ip] });
    }
  }
  for (const [key, n] of next) {
    const p = prev.get(key);
    // From no endpoint (REJECT cached in conntrack) to some.
    if (n.endpoints.size > 0 && (!p || p.endpoints.size === 0)) {
      for (const f of n.frontends) out.push({ why: `${key}: endpoints appeared`, args: ['-p', 'udp', ...frontendArgs(f)] });
    }
  }
  return out;
}
