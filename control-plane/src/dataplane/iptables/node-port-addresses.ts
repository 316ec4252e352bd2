// kube-proxy's --nodeport-addresses (NodePortAddresses), for one IP family:
// the CIDRs of that family only; none, or the family's zero CIDR (0.0.0.0/0,
// ::/0), means every local address (the single "-m addrtype --dst-type
// LOCAL" jump); otherwise the node's addresses inside the listed CIDRs, one
// jump each. "primary" stands for the node IP of the family. Localhost
// NodePorts exist for IPv4 only (route_localnet): containsIPv4Loopback is
// always false for IPv6, as in kube-proxy.
import { cidrContains, isIPv4, parseCidr } from '../../util/ipv4.js';
import { parseAddress, parsePrefix, prefixContains, type IPFamily } from '../../util/ip.js';

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

/** An IPv6 CIDR as kube-proxy reads it (sloppy), never an IPv4-mapped one. */
function validV6Cidr(c: string): boolean {
  const p = parsePrefix(c);
  return p !== undefined && p.family === 'IPv6' && !p.ipv4Mapped;
}

function isFamily(ip: string, family: IPFamily): boolean {
  return family === 'IPv4' ? isIPv4(ip) : parseAddress(ip)?.family === 'IPv6';
}

export function nodePortAddresses(list: string[] | undefined, nodeIP: string | undefined, family: IPFamily = 'IPv4'): NodePortAddresses {
  const cidrs: string[] = [];
  let matchAll = false;
  for (const raw of list ?? []) {
    const s = raw.trim();
    if (s === 'primary') {
      if (nodeIP && isFamily(nodeIP, family)) cidrs.push(family === 'IPv4' ? `${nodeIP}/32` : `${nodeIP}/128`);
      continue;
    }
    if (family === 'IPv4') {
      if (!validV4Cidr(s)) continue; // other families, or garbage, are not ours
      if (s === '0.0.0.0/0') matchAll = true;
    } else {
      if (!validV6Cidr(s)) continue;
      if (s === '::/0') matchAll = true; // kube-proxy's IsZeroCIDR compares the text
    }
    cidrs.push(s);
  }
  if (cidrs.length === 0) matchAll = true;
  const containsIPv4Loopback = family === 'IPv4' && (matchAll || cidrs.some((c) => cidrContains(c, '127.0.0.1')));
  return { matchAll, cidrs, containsIPv4Loopback };
}

/** The local addresses the NodePort jumps are written for (GetNodeIPs), in address order, deduplicated. */
export function nodePortIPs(npa: NodePortAddresses, localAddresses: string[], family: IPFamily = 'IPv4'): string[] {
  const out: string[] = [];
  for (const raw of localAddresses) {
    if (family === 'IPv4') {
      if (!isIPv4(raw) || out.includes(raw)) continue;
      if (npa.cidrs.some((c) => cidrContains(c, raw))) out.push(raw);
    } else {
      const a = parseAddress(raw);
      if (!a || a.family !== 'IPv6' || out.includes(a.text)) continue;
      if (npa.cidrs.some((c) => prefixContains(c, a))) out.push(a.text);
    }
  }
  return out;
}
