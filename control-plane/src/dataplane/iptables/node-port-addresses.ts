// kube-proxy's --nodeport-addresses (NodePortAddresses, IPv4 family only):
// empty or containing 0.0.0.0/0 means every local address (the single
// "-m addrtype --dst-type LOCAL" jump); otherwise the node's addresses inside
// the listed CIDRs, one jump each. "primary" stands for the node IP.
import { cidrContains, isIPv4, parseCidr } from '../../util/ipv4.js';

export interface NodePortAddresses {
  matchAll: boolean;
  cidrs: string[];
  /** Whether 127.0.0.1 is selected (localhost NodePorts stay possible). */
  containsIPv4Loopback: boolean;
}

function validV4Cidr(c: string): boolean {
  try {
    parseCidr(c);
    return true;
  } catch {
    return false;
  }
}

export function nodePortAddresses(list: string[] | undefined, nodeIP: string | undefined): NodePortAddresses {
  const cidrs: string[] = [];
  let matchAll = false;
  for (const raw of list ?? []) {
    const s = raw.trim();
    if (s === 'primary') {
      if (nodeIP && isIPv4(nodeIP)) cidrs.push(`${nodeIP}/32`);
      continue;
    }
    if (!validV4Cidr(s)) continue; // other families, or garbage, are not ours
    if (s === '0.0.0.0/0') matchAll = true;
    cidrs.push(s);
  }
  if (cidrs.length === 0) matchAll = true;
  const containsIPv4Loopback = matchAll || cidrs.some((c) => cidrContains(c, '127.0.0.1'));
  return { matchAll, cidrs, containsIPv4Loopback };
}

/** The local addresses the NodePort jumps are written for (GetNodeIPs), in address order, deduplicated. */
export function nodePortIPs(npa: NodePortAddresses, localAddresses: string[]): string[] {
  const out: string[] = [];
  for (const ip of localAddresses) {
    if (!isIPv4(ip) || out.includes(ip)) continue;
    if (npa.cidrs.some((c) => cidrContains(c, ip))) out.push(ip);
  }
  return out;
}
