// kube-proxy's conntrack cleanup for UDP: iptables only translates the first
// packet of a flow, so a UDP "flow" (e.g. a DNS client reusing its socket)
// stays pinned by netfilter conntrack to an endpoint that is gone, or to the
// REJECT of a Service that had no endpoints. After each sync we delete those
// entries with the conntrack tool, as kube-proxy does with netlink. An
// endpoint's entries stay while it is serving, also when it is terminating or
// no longer takes new flows (traffic policy, topology): kube-proxy's
// CleanStaleEntries keeps every serving endpoint's flows, as TCP keeps its
// connections, and so does the ebpf datapath's conntrack. An endpoint's
// entries are named by the reply's source (--reply-src, kube-proxy's filter):
// conntrack-tools 1.4.7 ignores an IPv6 address given to --dst-nat and
// deletes every entry of the frontend. The conntrack tool works on IPv4
// unless told otherwise: IPv6 Services' deletions carry "-f ipv6".
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
  /** The serving endpoints (whose flows stay): endpointKey ("ip:port", "[ip]:port") -> ip. */
  serving: Map<string, string>;
  /** Some endpoint takes new flows (none: the Service REJECTs). */
  takesNewFlows: boolean;
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
    const serving = new Map(d.allEndpoints.filter((e) => e.ready || e.serving).map((e) => [endpointKey(e), e.ip]));
    const takesNewFlows = d.internalEndpoints.length + d.externalEndpoints.length > 0;
    out.set(s.key, { frontends, serving, takesNewFlows, familyArgs: s.family === 'IPv6' ? ['-f', 'ipv6'] : [] });
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
    for (const [ep, ip] of p.serving) {
      if (n?.serving.has(ep)) continue;
      for (const f of p.frontends) out.push({ why: `${key}: endpoint ${ep} no longer serving`, args: ['-p', 'udp', ...frontendArgs(f), '--reply-src', ip, ...p.familyArgs] });
    }
  }
  for (const [key, n] of next) {
    const p = prev.get(key);
    // From no endpoint (REJECT cached in conntrack) to some.
    if (n.takesNewFlows && !p?.takesNewFlows) {
      for (const f of n.frontends) out.push({ why: `${key}: endpoints appeared`, args: ['-p', 'udp', ...frontendArgs(f), ...n.familyArgs] });
    }
  }
  return out;
}
