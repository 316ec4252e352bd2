// The proxy's view of Kubernetes, reduced to what the datapath needs. Both
// back ends (ebpf and iptables) are fed from these types.
import type { TableSizeAnnotation } from './maglev-table-size-annotation.js';
import type { LostFrontend } from './frontend-claims.js';
import type { IPFamily } from '../util/ip.js';

export type { IPFamily } from '../util/ip.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export { servicePortKey, servicePortString, type ServicePortName, type ServicePortKey, type ServiceKey } from './service-key.js';
import type { ServicePortName, ServicePortKey } from './service-key.js';

export type ServiceType = 'ClusterIP' | 'NodePort' | 'LoadBalancer';

/** One ServicePort as the proxy programs it. */
export interface ServicePortInfo {
  name: ServicePortName;
  key: ServicePortKey;
  type: ServiceType;
  /**
   * The ServicePort is programmed in this family only; absent means IPv4
   * (so IPv4 ports read exactly as before dual-stack). A dual-stack Service
   * gives one ServicePortInfo per family, with the same key.
   */
  family?: IPFamily;
  /** The cluster IP of this port's family (spec.clusterIPs[i] where spec.ipFamilies[i] is the family). */
  clusterIP: string;
  port: number;
  protocol: Protocol;
  nodePort: number;
  /** spec.externalIPs of this port's family (RFC 5952 text for IPv6). */
  externalIPs: string[];
  /** status.loadBalancer.ingress IPs with ipMode unset or VIP, of this port's family. */
  loadBalancerIPs: string[];
  /** spec.loadBalancerSourceRanges of this port's family. */
  loadBalancerSourceRanges: string[];
  /** ClientIP affinity timeout in seconds; 0 when sessionAffinity is None. */
  affinityTimeoutSeconds: number;
  externalPolicyLocal: boolean;
  internalPolicyLocal: boolean;
  healthCheckNodePort: number;
  /** Backend selection: Maglev consistent hashing or a random slot per new flow. */
  algorithm: 'maglev' | 'random';
  /** switchyard.io/maglev-table-size when the Service carries it: the pinned size, or why it was refused. */
  tableSizeAnnotation?: TableSizeAnnotation;
  /**
   * spec.loadBalancerSourceRanges had entries, whether or not any is a valid
   * range of this family: the LoadBalancer IPs then admit only `loadBalancerSourceRanges`
   * (none: nothing). Unset means no filter unless ranges are given.
   */
  sourceRangesGiven?: boolean;
  /** Frontends this port claims but another ServicePort owns (left out of both back ends). */
  lostFrontends?: LostFrontend[];
}

/** One endpoint of one ServicePort after slice merging. */
export interface EndpointInfo {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName: string;
  zone: string;
  /** Topology hints: zones / nodes this endpoint is meant for; undefined when the slice has none. */
  zoneHints?: string[];
  nodeHints?: string[];
  /** Runs on the node this agent programs. */
  isLocal: boolean;
}

/** "ip:port", with an IPv6 address in brackets as Go's net.JoinHostPort writes it ("[fd00::1]:80"). */
export function endpointKey(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}
