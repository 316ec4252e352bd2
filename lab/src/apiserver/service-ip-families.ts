// A Service's IP family fields, as kube-apiserver fills them before it
// allocates ClusterIPs (pkg/registry/core/service/storage/alloc.go,
// initIPFamilyFields, and the clusterIPs checks of
// ValidateServiceClusterIPsRelatedFields):
//
//   ipFamilyPolicy  unset: the old one on update; RequireDualStack for a
//                   headless Service without selector; else SingleStack.
//   ipFamilies      inferred from the given clusterIPs, else the cluster's
//                   primary family; a policy other than SingleStack on a
//                   dual-stack cluster adds the other family.
//   refused         RequireDualStack on a single-stack cluster, a family the
//                   cluster lacks, two IPs or families under SingleStack, two
//                   IPs of one family, an IP not of its ipFamilies entry.
//
// A headless Service without selector may list both families even on a
// single-stack cluster (it never gets an address). A PreferDualStack Service
// whose fields did not change is left alone on update: a cluster turning
// dual-stack (or back) never adds or removes a Service's address by itself.
import { isIPFamily, otherFamily, type IPFamily } from '../../../control-plane/src/util/ip.js';
import type { StatusCause } from './errors.js';
import { familyOfIP } from './service-ip-allocator.js';
import type { Service } from './types.js';

export const IP_FAMILY_POLICIES = ['SingleStack', 'PreferDualStack', 'RequireDualStack'] as const;
export type IPFamilyPolicy = (typeof IP_FAMILY_POLICIES)[number];

const q = (v: unknown): string => JSON.stringify(v);
const invalidCause = (field: string, value: unknown, msg: string): StatusCause => ({ field, message: `Invalid value: ${q(value)}: ${msg}` });

function same(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? [], y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

function isHeadlessSelectorless(s: Service['spec']): boolean {
  return s.clusterIP === 'None' && Object.keys(s.selector ?? {}).length === 0;
}

/** ValidateServiceClusterIPsRelatedFields: the checks that need no cluster knowledge. */
export function validateClusterIPFields(svc: Service): StatusCause[] {
  const s = svc.spec;
  const causes: StatusCause[] = [];
  const ips = s.clusterIPs ?? [];
  if (s.clusterIP) {
    if (ips.length === 0) causes.push({ field: 'spec.clusterIPs', message: 'Required value', reason: 'FieldValueRequired' });
    else if (ips[0] !== s.clusterIP) causes.push(invalidCause('spec.clusterIPs', ips, 'first value must match `clusterIP`'));
  } else if (ips.length) {
    causes.push(invalidCause('spec.clusterIPs', ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (s.ipFamilies ?? []).forEach((f, i) => {
    if (!isIPFamily(f)) causes.push({ field: `spec.ipFamilies[${i}]`, message: `Unsupported value: ${q(f)}: supported values: "IPv4", "IPv6"`, reason: 'FieldValueNotSupported' });
    else if (seen.has(f)) causes.push({ field: `spec.ipFamilies[${i}]`, message: `Duplicate value: ${q(f)}`, reason: 'FieldValueDuplicate' });
    seen.add(f);
  });
  if ((s.ipFamilies ?? []).length > 2) causes.push(invalidCause('spec.ipFamilies', s.ipFamilies, 'may specify no more than one IP for each IP family, i.e. a maximum of two'));
  if (s.ipFamilyPolicy !== undefined && s.ipFamilyPolicy !== null && !(IP_FAMILY_POLICIES as readonly string[]).includes(s.ipFamilyPolicy)) {
    causes.push({ field: 'spec.ipFamilyPolicy', message: `Unsupported value: ${q(s.ipFamilyPolicy)}: supported values: "PreferDualStack", "RequireDualStack", "SingleStack"`, reason: 'FieldValueNotSupported' });
  }
  let badIPs = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        badIPs = true;
        causes.push(invalidCause('spec.clusterIPs', ips, "'None' must be the first and only value"));
      }
      return;
    }
    if (familyOfIP(ip) === undefined) {
      badIPs = true;
      causes.push(invalidCause(`spec.clusterIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'));
    }
  });
  if (ips.length > 2) causes.push(invalidCause('spec.clusterIPs', ips, 'may only hold up to 2 values'));
  if (badIPs) return causes;
  if (ips.length === 2 && familyOfIP(ips[0]!) === familyOfIP(ips[1]!)) {
    causes.push(invalidCause('spec.clusterIPs', ips, 'may specify no more than one IP for each IP family'));
  }
  if (s.clusterIP !== 'None') {
    ips.forEach((ip, i) => {
      const want = s.ipFamilies?.[i];
      if (want === 'IPv4' && familyOfIP(ip) === 'IPv6') causes.push(invalidCause(`spec.clusterIPs[${i}]`, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (want === 'IPv6' && familyOfIP(ip) !== 'IPv6') causes.push(invalidCause(`spec.clusterIPs[${i}]`, ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return causes;
}

/** isMatchingPreferDualStackClusterIPFields: a PreferDualStack Service updated without touching its IP fields. */
export function unchangedPreferDualStack(svc: Service, old: Service | undefined): boolean {
  if (!old) return false;
  const s = svc.spec, o = old.spec;
  if (!s.ipFamilyPolicy || s.type !== o.type || s.type === 'ExternalName') return false;
  if (s.ipFamilyPolicy !== 'PreferDualStack' || o.ipFamilyPolicy !== 'PreferDualStack') return false;
  return same(s.clusterIPs, o.clusterIPs) && same(s.ipFamilies, o.ipFamilies);
}

/**
 * initIPFamilyFields: fills ipFamilyPolicy and ipFamilies of `svc` (a
 * Service that gets cluster IPs) for a cluster serving `families` (primary
 * first); returns the causes of a refusal (empty when accepted).
 */
export function initIPFamilyFields(svc: Service, old: Service | undefined, families: readonly IPFamily[]): StatusCause[] {
  const s = svc.spec;
  const configured = (f: string): boolean => (families as readonly string[]).includes(f);
  if (unchangedPreferDualStack(svc, old)) return [];
  if (!s.ipFamilyPolicy) {
    if (old?.spec.ipFamilyPolicy) s.ipFamilyPolicy = old.spec.ipFamilyPolicy;
    else s.ipFamilyPolicy = isHeadlessSelectorless(s) ? 'RequireDualStack' : 'SingleStack';
  }
  const pre = validateClusterIPFields(svc);
  if (pre.length) return pre;
  const causes: StatusCause[] = [];
  if (old) {
    if (s.ipFamilyPolicy === 'SingleStack') {
      // Setting SingleStack with the fields unchanged is the intent to drop the secondary family.
      if (same(s.clusterIPs, old.spec.clusterIPs) && (s.clusterIPs ?? []).length > 1) s.clusterIPs = s.clusterIPs!.slice(0, 1);
      if (same(s.ipFamilies, old.spec.ipFamilies) && (s.ipFamilies ?? []).length > 1) s.ipFamilies = s.ipFamilies!.slice(0, 1);
    } else {
      if ((s.clusterIPs ?? []).length < (old.spec.clusterIPs ?? []).length) {
        causes.push(invalidCause('spec.ipFamilyPolicy', s.ipFamilyPolicy, "must be 'SingleStack' to release the secondary cluster IP"));
      }
      if ((s.ipFamilies ?? []).length < (old.spec.ipFamilies ?? []).length) {
        causes.push(invalidCause('spec.ipFamilyPolicy', s.ipFamilyPolicy, "must be 'SingleStack' to release the secondary IP family"));
      }
    }
  }
  if (s.ipFamilyPolicy === 'SingleStack') {
    if ((s.clusterIPs ?? []).length === 2) causes.push(invalidCause('spec.ipFamilyPolicy', s.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified"));
    if ((s.ipFamilies ?? []).length === 2) causes.push(invalidCause('spec.ipFamilyPolicy', s.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"));
  }
  // ipFamilies from the given clusterIPs.
  const ips = s.clusterIPs ?? [];
  for (let i = 0; i < ips.length; i++) {
    if (ips[i] === 'None') break;
    const fam = familyOfIP(ips[i]!)!;
    if (i >= (s.ipFamilies ?? []).length) {
      if (!configured(fam)) causes.push(invalidCause(`spec.clusterIPs[${i}]`, ips, `${fam} is not configured on this cluster`));
      else s.ipFamilies = [...(s.ipFamilies ?? []), fam];
    }
  }
  if (causes.length) return causes;
  if (isHeadlessSelectorless(s)) {
    if (!s.ipFamilies?.length) s.ipFamilies = [families[0]!];
    if (s.ipFamilies.length < 2 && s.ipFamilyPolicy !== 'SingleStack') s.ipFamilies = [s.ipFamilies[0]!, otherFamily(s.ipFamilies[0] as IPFamily)];
    return [];
  }
  if (s.ipFamilyPolicy === 'RequireDualStack' && families.length < 2) {
    causes.push(invalidCause('spec.ipFamilyPolicy', s.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
  }
  (s.ipFamilies ?? []).forEach((f, i) => {
    if (!configured(f)) causes.push(invalidCause(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
  });
  if (causes.length) return causes;
  if (!s.ipFamilies?.length) s.ipFamilies = [families[0]!];
  if (s.ipFamilyPolicy !== 'SingleStack' && s.ipFamilies.length === 1 && families.length === 2) {
    s.ipFamilies = [s.ipFamilies[0]!, otherFamily(s.ipFamilies[0] as IPFamily)];
  }
  return [];
}
