// A Service's cluster IP per IP family, as kube-proxy's
// GetClusterIPByFamily reads it (pkg/proxy/util): with spec.ipFamilies set,
// the family's cluster IP is spec.clusterIPs[i] where ipFamilies[i] is that
// family; without it (objects from before dual-stack), the family of each
// address decides. kube-apiserver keeps clusterIP == clusterIPs[0] and
// ipFamilies[i] == family(clusterIPs[i]); an object that breaks either is
// not programmed in any family (fail closed), since which address was meant
// cannot be known. ipFamilyPolicy is the API server's allocation rule; the
// proxy programs the families the Service has, and reports a policy that
// its cluster IPs contradict.
import type { V1ServiceSpec } from '@kubernetes/client-node';
import { isIPFamily, parseAddress, type IPFamily, type ParsedAddress } from '../util/ip.js';
import type { ObjectProblem } from './object-problems.js';

export const IP_FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const;

export interface ClusterIPs {
  /** No cluster IP at all ("None", empty): a headless Service. */
  headless: boolean;
  /** The spec contradicts itself: nothing is programmed. */
  inconsistent: boolean;
  /** Each family's cluster IP as parsed (canonical text in `.text`), with its field. */
  byFamily: Partial<Record<IPFamily, { ip: ParsedAddress; field: string; raw: string }>>;
}

/** Reads clusterIP/clusterIPs/ipFamilies/ipFamilyPolicy; problems about them are appended to `problems`. */
export function clusterIPsOf(spec: V1ServiceSpec, problems: ObjectProblem[]): ClusterIPs {
  const byFamily: ClusterIPs['byFamily'] = {};
  const list: unknown[] = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (list.length === 0 || list[0] === 'None' || list[0] === '') return { headless: true, inconsistent: false, byFamily };
  const inconsistent = (field: string, message: string): ClusterIPs => {
    problems.push({ reason: 'cluster-ips-inconsistent', field, message: `${message}; Service not programmed in any family (fail closed)` });
    return { headless: false, inconsistent: true, byFamily: {} };
  };
  const fieldOf = (i: number): string => (spec.clusterIPs && spec.clusterIPs.length > 0 ? `spec.clusterIPs[${i}]` : 'spec.clusterIP');

  const parsed = list.map((raw, i) => {
    const p = parseAddress(raw);
    if (!p) {
      problems.push({ reason: 'invalid-cluster-ip', field: fieldOf(i), message: `${JSON.stringify(raw)} is not an IP address` });
      return undefined;
    }
    if (p.ipv4Mapped) {
      problems.push({ reason: 'ipv4-mapped-ipv6', field: fieldOf(i), message: `${JSON.stringify(raw)} is an IPv4-mapped IPv6 address, which kube-apiserver refuses; not a cluster IP of either family` });
      return undefined;
    }
    return p;
  });

  if (spec.clusterIP && spec.clusterIPs && spec.clusterIPs.length > 0 && spec.clusterIP !== spec.clusterIPs[0]) {
    const a = parseAddress(spec.clusterIP), b = parsed[0];
    if (!a || !b || a.text !== b.text) {
      return inconsistent('spec.clusterIP', `${JSON.stringify(spec.clusterIP)} is not spec.clusterIPs[0] ${JSON.stringify(spec.clusterIPs[0])} (the API server keeps them equal)`);
    }
  }
  if (list.length > 2) return inconsistent('spec.clusterIPs', `${list.length} cluster IPs; a Service has at most one per family`);

  const families = spec.ipFamilies ?? [];
  if (families.length > 0) {
    if (families.length > 2 || !families.every(isIPFamily) || (families.length === 2 && families[0] === families[1])) {
      return inconsistent('spec.ipFamilies', `${JSON.stringify(families)} is not one or two distinct families of IPv4, IPv6`);
    }
    if (list.length > families.length) {
      return inconsistent('spec.ipFamilies', `${list.length} cluster IPs but ${families.length} ipFamilies`);
    }
    for (let i = 0; i < list.length; i++) {
      const p = parsed[i];
      if (!p) continue;
      if (p.family !== families[i]) {
        return inconsistent(fieldOf(i), `${p.text} is ${p.family} but spec.ipFamilies[${i}] is ${families[i]}`);
      }
      byFamily[p.family] = { ip: p, field: fieldOf(i), raw: String(list[i]) };
    }
  } else {
    parsed.forEach((p, i) => {
      if (!p) return;
      if (byFamily[p.family]) {
        problems.push({ reason: 'cluster-ips-inconsistent', field: fieldOf(i), message: `${p.text} is a second ${p.family} cluster IP; ignored (one per family)` });
        return;
      }
      byFamily[p.family] = { ip: p, field: fieldOf(i), raw: String(list[i]) };
    });
  }

  const policy = spec.ipFamilyPolicy;
  const n = Object.keys(byFamily).length;
  if (policy !== undefined && policy !== null && !(IP_FAMILY_POLICIES as readonly string[]).includes(policy)) {
    problems.push({ reason: 'ip-family-policy', field: 'spec.ipFamilyPolicy', message: `${JSON.stringify(policy)} is not one of ${IP_FAMILY_POLICIES.join(', ')}; the families of spec.clusterIPs are programmed` });
  } else if (policy === 'SingleStack' && list.length > 1) {
    // Fail closed: the Service asked for one family, so only the primary (clusterIPs[0]) is programmed.
    const primary = parsed[0]?.family;
    for (const f of Object.keys(byFamily) as IPFamily[]) if (f !== primary) delete byFamily[f];
    problems.push({ reason: 'ip-family-policy', field: 'spec.clusterIPs', message: `SingleStack with ${list.length} cluster IPs; only the primary family${primary ? ` (${primary})` : ''} is programmed` });
  } else if (policy === 'RequireDualStack' && n < 2 && parsed.every((p) => p !== undefined)) {
    problems.push({ reason: 'ip-family-policy', field: 'spec.clusterIPs', message: `RequireDualStack with a cluster IP of one family only; that family is programmed` });
  }
  return { headless: false, inconsistent: false, byFamily };
}
