// explain in iptables mode: kube-proxy's rules pick an endpoint at random
// (-m statistic) so only the candidates and their probability are known;
// ClientIP affinity (-m recent) lives in the kernel and is not visible here.
import type { DesiredServicePort } from '../dataplane/desired-state.js';
import { protoNumber } from '../dataplane/flow-hash.js';
import { protoName } from '../dataplane/ebpf/map-values.js';
import { servicePortString } from '../model/types.js';
import type { ExplainInput } from './explain.js';

export function iptablesExplain(t: ExplainInput, desired: readonly DesiredServicePort[]): Record<string, unknown> {
  const steps: string[] = [];
  const tuple = { src: t.src, sport: t.sport ?? null, dst: t.dst, dport: t.dport, proto: protoName(t.proto) };
  const match = (d: DesiredServicePort): string | undefined => {
    const s = d.svc;
    let p: number;
    try {
      p = protoNumber(s.protocol);
    } catch {
      return undefined;
    }
    if (p !== t.proto) return undefined;
    if (s.clusterIP === t.dst && s.port === t.dport) return 'ClusterIP';
    if (s.externalIPs.includes(t.dst) && s.port === t.dport) return 'ExternalIP';
    if (s.loadBalancerIPs.includes(t.dst) && s.port === t.dport) return 'LoadBalancer';
    if (s.nodePort > 0 && s.nodePort === t.dport) return 'NodePort';
    return undefined;
  };
  for (const d of desired) {
    const kind = match(d);
    if (!kind) continue;
    const eps = kind === 'ClusterIP' ? d.internalEndpoints : d.externalEndpoints;
    const name = servicePortString(d.svc.name);
    steps.push(`matches the ${kind} rule of ${name} in KUBE-SERVICES`);
    if (eps.length === 0) {
      steps.push(d.allEndpoints.length === 0 ? 'no endpoints: REJECT in the filter table' : 'no usable endpoint for this traffic policy: DROP');
      return { mode: 'iptables', tuple, verdict: d.allEndpoints.length === 0 ? 'reject' : 'drop', service: name, frontend: kind, candidates: [], steps };
    }
    if (d.svc.affinityTimeoutSeconds > 0) steps.push(`ClientIP affinity: a client seen within ${d.svc.affinityTimeoutSeconds}s goes back to its endpoint (-m recent, kernel state)`);
    steps.push(`a new connection picks one of ${eps.length} endpoints at random (-m statistic), each with probability 1/${eps.length}; conntrack keeps established connections`);
    return {
      mode: 'iptables', tuple, verdict: 'dnat', decidedBy: 'random', service: name, frontend: kind,
      candidates: eps.map((e) => ({ address: e.ip, port: e.port, local: e.isLocal, share: 1 / eps.length })),
      steps,
    };
  }
  steps.push('no Service rule matches: the packet is not NATed');
  return { mode: 'iptables', tuple, verdict: 'pass', service: null, candidates: [], steps };
}
