// Services of both families, read as kube-proxy's per-family
// ServiceChangeTrackers read them: each family gets its own cluster IP (by
// spec.ipFamilies), and only the external IPs, LoadBalancer IPs and source
// ranges of its family; a value no family programs is reported; a spec that
// contradicts itself is programmed in no family (fail closed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceTracker, servicePortsOf, convertForFamilies } from '../../control-plane/src/model/service-tracker.js';
import type { V1Service } from '@kubernetes/client-node';
import { service } from './fixtures.js';

const opts = { defaultAlgorithm: 'maglev' as const };
const dual = { ...opts, ipFamilies: ['IPv4', 'IPv6'] as const };
const v6only = { ...opts, ipFamilies: ['IPv6'] as const };
const V4 = '198.18.128.10', V6 = 'fd00:10:96::a';
const reasons = (c: { problems: Array<{ reason: string }> }): string[] => c.problems.map((p) => p.reason);

function svc(spec: Record<string, unknown>, status?: V1Service['status']): V1Service {
  const s = service('web', spec as never);
  if (status) s.status = status;
  return s;
}
const dualSvc = (policy: string, first: 'IPv4' | 'IPv6', extra: Record<string, unknown> = {}, status?: V1Service['status']): V1Service => {
  const ips = first === 'IPv4' ? [V4, V6] : [V6, V4];
  const fams = first === 'IPv4' ? ['IPv4', 'IPv6'] : ['IPv6', 'IPv4'];
  return svc({ clusterIP: ips[0], clusterIPs: ips, ipFamilies: fams, ipFamilyPolicy: policy, ...extra }, status);
};

test('SingleStack IPv6: the IPv6 conversion programs it (family tagged, RFC 5952), the IPv4 one skips it without a problem', () => {
  const s = svc({ clusterIP: 'FD00:10:96:0::A', clusterIPs: ['FD00:10:96:0::A'], ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });
  const v6 = servicePortsOf(s, v6only, 'IPv6');
  assert.equal(v6.ports.length, 1);
  assert.equal(v6.ports[0]!.family, 'IPv6');
  assert.equal(v6.ports[0]!.clusterIP, V6);
  assert.deepEqual(reasons(v6), ['non-canonical-ip']);
  const v4 = servicePortsOf(s, opts, 'IPv4');
  assert.equal(v4.skipped, 'no-ipv4-cluster-ip');
  assert.deepEqual(reasons(v4), []);
  const v6of4 = servicePortsOf(service('x', {}), v6only, 'IPv6');
  assert.equal(v6of4.skipped, 'no-ipv6-cluster-ip');
});

test('PreferDualStack and RequireDualStack, clusterIPs in both orders: each family gets its own cluster IP; IPv4 ports carry no family field', () => {
  for (const policy of ['PreferDualStack', 'RequireDualStack']) {
    for (const first of ['IPv4', 'IPv6'] as const) {
      const c = convertForFamilies(dualSvc(policy, first), dual);
      assert.deepEqual(reasons(c), [], `${policy} ${first}`);
      assert.deepEqual(c.ports.map((p) => [p.family, p.clusterIP]), [[undefined, V4], ['IPv6', V6]], `${policy} ${first}`);
      assert.equal('family' in c.ports[0]!, false, 'an IPv4 port reads as before dual-stack');
      assert.equal(c.ports[0]!.key, c.ports[1]!.key, 'one ServicePort key for both families');
    }
  }
});

test('ipFamilies decides which cluster IP belongs to which family; without it (old objects) the address does', () => {
  const noFamilies = svc({ clusterIP: V6, clusterIPs: [V6, V4] });
  assert.equal(servicePortsOf(noFamilies, dual, 'IPv4').ports[0]!.clusterIP, V4);
  assert.equal(servicePortsOf(noFamilies, dual, 'IPv6').ports[0]!.clusterIP, V6);
  // ipFamilies lists only the primary although two IPs are given: the API server never writes that.
  const short = svc({ clusterIP: V4, clusterIPs: [V4, V6], ipFamilies: ['IPv4'] });
  const c = convertForFamilies(short, dual);
  assert.deepEqual(c.ports, []);
  assert.equal(c.skipped, 'invalid-cluster-ip');
  assert.deepEqual(reasons(c), ['cluster-ips-inconsistent']);
});

test('clusterIPs that contradict ipFamilies, or clusterIP != clusterIPs[0], are programmed in no family (fail closed)', () => {
  const swapped = svc({ clusterIP: V6, clusterIPs: [V6, V4], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' });
  for (const f of ['IPv4', 'IPv6'] as const) {
    const c = servicePortsOf(swapped, dual, f);
    assert.equal(c.skipped, 'invalid-cluster-ip', f);
    assert.deepEqual(reasons(c), ['cluster-ips-inconsistent'], f);
    assert.match(c.problems[0]!.message, /is IPv6 but spec.ipFamilies\[0\] is IPv4/);
  }
  const mismatch = svc({ clusterIP: '198.18.128.11', clusterIPs: [V4, V6], ipFamilies: ['IPv4', 'IPv6'] });
  const c = convertForFamilies(mismatch, dual);
  assert.equal(c.skipped, 'invalid-cluster-ip');
  assert.equal(c.problems[0]!.field, 'spec.clusterIP');
  assert.match(c.problems[0]!.message, /not spec.clusterIPs\[0\]/);
  // The same address in two spellings is consistent.
  const spelled = svc({ clusterIP: 'FD00:10:96::A', clusterIPs: [V6], ipFamilies: ['IPv6'] });
  assert.equal(servicePortsOf(spelled, v6only, 'IPv6').ports[0]!.clusterIP, V6);
  for (const bad of [['IPv4', 'IPv4'], ['IPv4', 'IPv6', 'IPv4'], ['IPv5']]) {
    const b = svc({ clusterIP: V4, clusterIPs: [V4], ipFamilies: bad });
    assert.equal(servicePortsOf(b, dual, 'IPv4').skipped, 'invalid-cluster-ip', JSON.stringify(bad));
  }
  const twoV4 = svc({ clusterIP: V4, clusterIPs: [V4, '198.18.128.11'] });
  const t = servicePortsOf(twoV4, opts, 'IPv4');
  assert.equal(t.ports[0]!.clusterIP, V4);
  assert.deepEqual(reasons(t), ['cluster-ips-inconsistent']);
});

test('ipFamilyPolicy: SingleStack with two cluster IPs programs only the primary; RequireDualStack with one programs it; an unknown policy is reported', () => {
  for (const first of ['IPv4', 'IPv6'] as const) {
    const c = convertForFamilies(dualSvc('SingleStack', first), dual);
    assert.deepEqual(c.ports.map((p) => p.family ?? 'IPv4'), [first]);
    assert.deepEqual(reasons(c), ['ip-family-policy']);
  }
  const req = svc({ clusterIP: V6, clusterIPs: [V6], ipFamilies: ['IPv6'], ipFamilyPolicy: 'RequireDualStack' });
  const r = convertForFamilies(req, dual);
  assert.deepEqual(r.ports.map((p) => p.clusterIP), [V6]);
  assert.deepEqual(reasons(r), ['ip-family-policy']);
  const odd = convertForFamilies(dualSvc('Whatever', 'IPv6'), dual);
  assert.equal(odd.ports.length, 2);
  assert.deepEqual(reasons(odd), ['ip-family-policy']);
});

test('external IPs of a dual-stack Service: each family takes its own, no problem when the other family programs the rest', () => {
  const s = dualSvc('PreferDualStack', 'IPv6', { externalIPs: ['203.0.113.5', '2001:DB8::5', 'fd00::g', '2001:db8::5'] });
  const c = convertForFamilies(s, dual);
  assert.deepEqual(c.ports.map((p) => p.externalIPs), [['203.0.113.5'], ['2001:db8::5']]);
  assert.deepEqual(reasons(c), ['invalid-ip', 'non-canonical-ip', 'duplicate-address'], 'the malformed address reported once, not per family');
});

test('an address of the other family: IPv4-only proxy says so (as before); dual-stack proxy with a single-stack Service says the Service lacks that family', () => {
  const v4svc = svc({ externalIPs: ['fd00::5'] });
  assert.match(servicePortsOf(v4svc, opts, 'IPv4').problems[0]!.message, /fd00::5 is IPv6; this proxy programs IPv4 only/);
  const c = convertForFamilies(v4svc, dual);
  assert.deepEqual(c.ports.map((p) => p.externalIPs), [[]]);
  assert.deepEqual(reasons(c), ['other-family']);
  assert.match(c.problems[0]!.message, /no IPv6 cluster IP/);
  const v6svc = dualSvc('SingleStack', 'IPv6', { clusterIPs: [V6], ipFamilies: ['IPv6'], externalIPs: ['203.0.113.5', 'fd00::5'] });
  const v6 = servicePortsOf(v6svc, v6only, 'IPv6');
  assert.deepEqual(v6.ports[0]!.externalIPs, ['fd00::5']);
  assert.match(v6.problems[0]!.message, /203.0.113.5 is IPv4; this proxy programs IPv6 only/);
});

test('LoadBalancer ingress IPs are split by family; ipMode Proxy is no frontend in either', () => {
  const s = dualSvc('RequireDualStack', 'IPv4', { type: 'LoadBalancer' }, { loadBalancer: { ingress: [
    { ip: '203.0.113.10' }, { ip: '2001:db8::10' }, { ip: '2001:db8::11', ipMode: 'Proxy' }, { ip: '2001:db8:0:0::12', ipMode: 'VIP' },
  ] } });
  const c = convertForFamilies(s, dual);
  assert.deepEqual(c.ports.map((p) => p.loadBalancerIPs), [['203.0.113.10'], ['2001:db8::10', '2001:db8::12']]);
  assert.deepEqual(reasons(c), ['non-canonical-ip']);
});

test('source ranges are split by family; a family left without a range admits nothing (fail closed) and says so', () => {
  const status = { loadBalancer: { ingress: [{ ip: '203.0.113.10' }, { ip: '2001:db8::10' }] } };
  const both = convertForFamilies(dualSvc('PreferDualStack', 'IPv4', { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.51.100.0/24', '2001:db8:1::1/48'] }, status), dual);
  assert.deepEqual(both.ports.map((p) => [p.loadBalancerSourceRanges, p.sourceRangesGiven]), [[['198.51.100.0/24'], true], [['2001:db8:1::/48'], true]]);
  assert.deepEqual(reasons(both), ['non-canonical-ip']);
  const v4only = convertForFamilies(dualSvc('PreferDualStack', 'IPv4', { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.51.100.0/24'] }, status), dual);
  assert.deepEqual(v4only.ports[1]!.loadBalancerSourceRanges, []);
  assert.equal(v4only.ports[1]!.sourceRangesGiven, true);
  assert.deepEqual(reasons(v4only), ['no-source-range-of-family']);
  assert.match(v4only.problems[0]!.message, /IPv6 LoadBalancer IPs admit no source/);
  const v6proxy = servicePortsOf(dualSvc('PreferDualStack', 'IPv6', { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.51.100.0/24'] }, status), v6only, 'IPv6');
  assert.match(v6proxy.problems.find((p) => p.field === 'spec.loadBalancerSourceRanges[0]')!.message, /198.51.100.0\/24 is IPv4; it admits no IPv6 source/);
  assert.equal(v6proxy.ports[0]!.sourceRangesGiven, true);
  const bad = convertForFamilies(dualSvc('PreferDualStack', 'IPv6', { type: 'LoadBalancer', loadBalancerSourceRanges: ['fd00::/129', '2001:db8::/32'] }, status), dual);
  assert.deepEqual(bad.ports.map((p) => p.loadBalancerSourceRanges), [[], ['2001:db8::/32']]);
  assert.deepEqual(reasons(bad), ['invalid-cidr', 'no-source-range-of-family']);
});

test('IPv4-mapped IPv6 is refused in every field and read as neither family (kube-apiserver refuses it; Go would read it as IPv4)', () => {
  const status = { loadBalancer: { ingress: [{ ip: '::ffff:203.0.113.10' }] } };
  const s = dualSvc('PreferDualStack', 'IPv4', { type: 'LoadBalancer', externalIPs: ['::ffff:203.0.113.5'], loadBalancerSourceRanges: ['::ffff:198.51.100.0/120'] }, status);
  const c = convertForFamilies(s, dual);
  for (const p of c.ports) {
    assert.deepEqual(p.externalIPs, []);
    assert.deepEqual(p.loadBalancerIPs, []);
    assert.deepEqual(p.loadBalancerSourceRanges, []);
    assert.equal(p.sourceRangesGiven, true);
  }
  assert.deepEqual(c.problems.map((p) => `${p.reason} ${p.field}`), [
    'ipv4-mapped-ipv6 status.loadBalancer.ingress[].ip[0]', 'ipv4-mapped-ipv6 spec.externalIPs[0]', 'ipv4-mapped-ipv6 spec.loadBalancerSourceRanges[0]',
  ]);
  const cip = svc({ clusterIP: '::ffff:198.18.128.10', clusterIPs: ['::ffff:198.18.128.10'] });
  for (const f of ['IPv4', 'IPv6'] as const) {
    const r = servicePortsOf(cip, dual, f);
    assert.equal(r.skipped, 'invalid-cluster-ip', f);
    assert.deepEqual(reasons(r), ['ipv4-mapped-ipv6'], f);
  }
});

test('malformed IPv6 cluster IPs skip the Service with a reason; a valid IPv4 one beside it is still programmed (as before)', () => {
  const s = svc({ clusterIP: V4, clusterIPs: [V4, 'fd00::10::1'] });
  const v4 = servicePortsOf(s, dual, 'IPv4');
  assert.equal(v4.ports[0]!.clusterIP, V4);
  assert.deepEqual(reasons(v4), ['invalid-cluster-ip']);
  const v6 = servicePortsOf(s, dual, 'IPv6');
  assert.equal(v6.skipped, 'invalid-cluster-ip');
});

test('ServiceTracker serves per family: a back end asks for one; the default stays IPv4; a bad port is one problem', () => {
  const t = new ServiceTracker(dual);
  const s = dualSvc('PreferDualStack', 'IPv6', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'bad', port: 0, protocol: 'TCP' }] });
  t.update(s);
  assert.deepEqual([...t.servicePorts('IPv6').values()].map((p) => p.clusterIP), [V6]);
  assert.deepEqual([...t.servicePorts().values()].map((p) => p.clusterIP), [V4]);
  assert.deepEqual([...t.portsOfService('default/web', 'IPv6').keys()], ['default/web:http/TCP']);
  assert.deepEqual(t.problems.entries()[0]!.problems.map((p) => p.reason), ['port-out-of-range']);
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  // A change in the IPv6 family only is a change of the Service.
  t.update(dualSvc('PreferDualStack', 'IPv6', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }], externalIPs: ['2001:db8::5'] }));
  assert.deepEqual([...t.takeChanged()], ['default/web']);
  assert.deepEqual(t.servicePorts('IPv6').get('default/web:http/TCP')!.externalIPs, ['2001:db8::5']);
  const v4 = new ServiceTracker(opts);
  v4.update(s);
  assert.equal(v4.servicePorts('IPv6').size, 0, 'an IPv4-only tracker holds no IPv6 port');
  assert.equal(v4.servicePorts().size, 1);
  const only6 = new ServiceTracker(v6only);
  only6.update(s);
  assert.deepEqual([...only6.servicePorts().values()].map((p) => p.clusterIP), [V6], 'an IPv6-only tracker answers in IPv6 by default');
});

test('frontend claims per family: an IPv6 external IP that is another Service\'s IPv6 ClusterIP loses; an external IP policy refuses IPv6 outside its CIDRs', () => {
  const t = new ServiceTracker(dual);
  t.update(dualSvc('PreferDualStack', 'IPv4'));
  const thief = service('thief', { clusterIP: '198.18.128.99', clusterIPs: ['198.18.128.99', 'fd00:10:96::99'], ipFamilies: ['IPv4', 'IPv6'], externalIPs: [V6] } as never);
  t.update(thief);
  const lost = t.servicePorts('IPv6').get('default/thief:http/TCP')!;
  assert.deepEqual(lost.externalIPs, []);
  assert.equal(lost.lostFrontends![0]!.addr, V6);
  assert.equal(t.conflicts().length, 1);
  assert.equal(t.servicePorts('IPv4').get('default/thief:http/TCP')!.lostFrontends, undefined);
  const p = new ServiceTracker({ ...dual, externalIPPolicy: { allowedCIDRs: ['203.0.113.0/24'] } });
  p.update(dualSvc('PreferDualStack', 'IPv4', { externalIPs: ['203.0.113.5', '2001:db8::5'] }));
  assert.deepEqual(p.servicePorts('IPv4').get('default/web:http/TCP')!.externalIPs, ['203.0.113.5']);
  const v6 = p.servicePorts('IPv6').get('default/web:http/TCP')!;
  assert.deepEqual(v6.externalIPs, []);
  assert.match(v6.lostFrontends![0]!.reason, /outside the allowed CIDRs/);
});

test('the IPv4 half of a dual-stack proxy is exactly what an IPv4-only proxy programs', () => {
  const status = { loadBalancer: { ingress: [{ ip: '203.0.113.10' }, { ip: '2001:db8::10' }] } };
  for (const first of ['IPv4', 'IPv6'] as const) {
    const s = dualSvc('PreferDualStack', first, { type: 'LoadBalancer', externalIPs: ['203.0.113.5', '2001:db8::5'], loadBalancerSourceRanges: ['198.51.100.0/24', '2001:db8:1::/48'],
      sessionAffinity: 'ClientIP', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }, status);
    const d = new ServiceTracker(dual), v4 = new ServiceTracker(opts);
    d.update(s);
    v4.update(s);
    assert.deepEqual(d.servicePorts('IPv4'), v4.servicePorts(), first);
    const six = d.servicePorts('IPv6').get('default/web:http/TCP')!;
    assert.deepEqual({ ...six, family: undefined, clusterIP: V4, externalIPs: ['203.0.113.5'], loadBalancerIPs: ['203.0.113.10'], loadBalancerSourceRanges: ['198.51.100.0/24'] },
      { ...v4.servicePorts().get('default/web:http/TCP')!, family: undefined }, 'the IPv6 port differs only in its addresses');
  }
});
