// kube-proxy's iptables chain names. Fixed chains carry their upstream names;
// per-service chains are "KUBE-XXX-" + the first 16 characters of
// base32(sha256(servicePortName + protocol [+ endpoint])), exactly as
// pkg/proxy/iptables/proxier.go's portProtoHash and
// servicePortEndpointChainName compute them (protocol lower case, the
// ServicePortName in its String() form "ns/name:port").
import { hash } from 'node:crypto';

export type Table = 'filter' | 'nat' | 'mangle';

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
export const KUBE_PROXY_CANARY = 'KUBE-PROXY-CANARY';
/** kube-proxy's duplicate of kubelet's anti-martian chain (localhost NodePorts). */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

export const SVC_PREFIX = 'KUBE-SVC-';
export const SVL_PREFIX = 'KUBE-SVL-';
export const FW_PREFIX = 'KUBE-FW-';
export const EXT_PREFIX = 'KUBE-EXT-';
export const SEP_PREFIX = 'KUBE-SEP-';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 with the standard alphabet and '=' padding (Go's base32.StdEncoding). */
export function base32Std(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of data) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  while (out.length % 8 !== 0) out += '=';
  return out;
}

/**
 * The first 16 base32 characters of sha256(s): exactly the first 10 bytes of
 * the digest (80 bits), so no padding and no slice of a longer encoding. A
 * cold sync names every chain (30,000 at 10,000 Services x 2 endpoints): the
 * one-shot hash() is about twice as fast as createHash() there.
 */
function hash16(s: string): string {
  return base32Std(hash('sha256', s, 'buffer').subarray(0, 10));
}

/** portProtoHash(servicePortName, protocol): protocol must be lower case ("tcp"). */
export function portProtoHash(servicePortName: string, protocol: string): string {
  return hash16(servicePortName + protocol);
}

export function servicePortPolicyClusterChain(servicePortName: string, protocol: string): string {
  return SVC_PREFIX + portProtoHash(servicePortName, protocol);
}

export function servicePortPolicyLocalChainName(servicePortName: string, protocol: string): string {
  return SVL_PREFIX + portProtoHash(servicePortName, protocol);
}

export function serviceFirewallChainName(servicePortName: string, protocol: string): string {
  return FW_PREFIX + portProtoHash(servicePortName, protocol);
}

export function serviceExternalChainName(servicePortName: string, protocol: string): string {
  return EXT_PREFIX + portProtoHash(servicePortName, protocol);
}

/** KUBE-SEP-: endpoint is "ip:port" (BaseEndpointInfo.String()). */
export function servicePortEndpointChainName(servicePortName: string, protocol: string, endpoint: string): string {
  return SEP_PREFIX + hash16(servicePortName + protocol + endpoint);
}

/** One of the per-service chains (what kube-proxy deletes when stale). */
export function isServiceChainName(chain: string): boolean {
  return [SVC_PREFIX, SVL_PREFIX, SEP_PREFIX, FW_PREFIX, EXT_PREFIX].some((p) => chain.startsWith(p));
}

/** The chain names of one service port. */
export interface ServiceChains {
  /** kube-proxy's svcPortNameString, "ns/name:port". */
  name: string;
  protocol: string;
  cluster: string;
  local: string;
  firewall: string;
  external: string;
}

export function serviceChains(servicePortName: string, protocolUpper: string): ServiceChains {
  const protocol = protocolUpper.toLowerCase();
  // The four chains share one hash (portProtoHash): computed once.
  const h = portProtoHash(servicePortName, protocol);
  return {
    name: servicePortName,
    protocol,
    cluster: SVC_PREFIX + h,
    local: SVL_PREFIX + h,
    firewall: FW_PREFIX + h,
    external: EXT_PREFIX + h,
  };
}
