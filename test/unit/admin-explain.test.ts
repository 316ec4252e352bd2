// explain predicts what bpf/tc_ingress.c does: flowHash + the table for new
// flows, conntrack and affinity overrides, reverse NAT, reject/drop.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { explainFlow, readExplainState, type ExplainInput, type ExplainState } from '../../control-plane/src/admin/explain.js';
import { readSnapshot } from '../../control-plane/src/admin/ebpf-view.js';
import { decodeSvcKey, decodeSvcValue, decodeU32Array, decodeU32, decodeBackend } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { flowHash } from '../../control-plane/src/dataplane/flow-hash.js';
import { FakeLoader, SEED, WEB, WEB_SLICE, desiredOf, encAffinity, encCtKey, encCtValue, program } from './admin-fake.js';

function setup(svcs = [WEB], slices = [WEB_SLICE]) {
  const loader = new FakeLoader();
  const desired = desiredOf(svcs, slices);
  program(loader, desired);
  const fe = loader.maps.get('sy_services')!.entries.map((e) => ({ key: decodeSvcKey(e.key), value: decodeSvcValue(e.value) }))[0]!;
  const t = loader.maps.get('sy_maglev')!.entries.find((e) => decodeU32(e.key) === fe.value.group);
  const table = t ? decodeU32Array(t.value) : new Uint32Array(0);
  const backends = new Map(loader.maps.get('sy_backends')!.entries.map((e) => [decodeU32(e.key), decodeBackend(e.value)]));
  return { loader, desired, fe, table, backends };
}

// Each explain reads the maps through the loader's lookup op (the fake's), as the route does.
interface St { loader: FakeLoader; base: { seed: number; desired: ReturnType<typeof desiredOf>; clusterCIDR?: string }; patch?: (s: ExplainState) => ExplainState }
const state = async (loader: FakeLoader, desired: ReturnType<typeof desiredOf>): Promise<St> => ({ loader, base: { seed: SEED, desired } });
async function explain(t: ExplainInput, st: St) {
  const s = await readExplainState(st.loader, st.base, t);
  return explainFlow(t, st.patch ? st.patch(s) : s);
}

describe('explain', () => {
  test('a new flow: flowHash(tuple, seed) mod M indexes the table, for 200 tuples', async () => {
    const { loader, desired, fe, table, backends } = setup();
    const st = await state(loader, desired);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const t = { src: `198.19.${1 + (i % 3)}.${10 + (i % 200)}`, sport: 20000 + i * 97, dst: '198.18.128.10', dport: 80, proto: 6 };
      const r = await explain(t, st);
      const slot = flowHash({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto: 6 }, SEED) % fe.value.tableSize;
      const id = table[slot]!;
      assert.equal(r.verdict, 'dnat');
      assert.equal(r.decidedBy, 'maglev');
      assert.equal(r.maglev?.slot, slot);
      assert.equal(r.maglev?.seed, SEED);
      assert.equal(r.backend?.id, id);
      assert.equal(r.backend?.address, backends.get(id)!.addr);
      assert.deepEqual(r.nat.dnat, { from: '198.18.128.10:80', to: `${backends.get(id)!.addr}:8080` });
      assert.equal(r.service, 'default/web:http');
      assert.equal(r.frontend?.kind, 'ClusterIP');
      seen.add(id);
    }
    assert.equal(seen.size, 3, 'every ready backend is picked by some tuple');
  });

  test('the seed comes from sy_config when the datapath has one', async () => {
    const { loader, desired, fe, table } = setup();
    const st = await state(loader, desired);
    const other: St = { ...st, patch: (x) => ({ ...x, snapshot: { ...x.snapshot, config: { flowHashSeed: 12345, flags: 0, nodeAddr: '198.18.0.11', snatPortMin: 0, snatPortMax: 0, hostNetnsCookie: '0', serviceCIDR: '' } } }) };
    const t = { src: '198.19.1.77', sport: 33333, dst: '198.18.128.10', dport: 80, proto: 6 };
    const r = await explain(t, other);
    assert.equal(r.maglev?.seed, 12345);
    assert.equal(r.backend?.id, table[flowHash({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: 80, proto: 6 }, 12345) % fe.value.tableSize]);
  });

  test('ClientIP affinity hashes with source port 0; a live affinity entry decides; a stale or terminating one does not', async () => {
    const { loader, desired, fe, table, backends } = setup([['web', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 100 } } }]]);
    assert.ok(fe.value.flags & 0x40);
    let st = await state(loader, desired);
    const t = { src: '198.19.1.77', sport: 41000, dst: '198.18.128.10', dport: 80, proto: 6 };
    const slot = flowHash({ saddr: t.src, daddr: t.dst, sport: 0, dport: 80, proto: 6 }, SEED) % fe.value.tableSize;
    let r = await explain(t, st);
    assert.equal(r.maglev?.sportHashed, 0);
    assert.equal(r.maglev?.slot, slot);
    assert.equal(r.backend?.id, table[slot]);
    // Without sport the answer is the same: affinity leaves it out.
    assert.equal((await explain({ ...t, sport: undefined }, st)).backend?.id, table[slot]);

    const other = [...backends].find(([id, b]) => id !== table[slot] && b.state === 0)![0];
    const term = [...backends].find(([, b]) => b.state === 1)![0];
    const now = process.hrtime.bigint();
    loader.set('sy_affinity', [encAffinity(t.src, fe.value.group, now - 5_000_000_000n, other)]);
    st = await state(loader, desired);
    r = await explain(t, st);
    assert.equal(r.decidedBy, 'affinity');
    assert.equal(r.backend?.id, other);
    assert.equal(r.affinity?.applies, true);
    assert.equal(r.newFlowBackend?.id, table[slot], 'what Maglev would say is still reported');

    loader.set('sy_affinity', [encAffinity(t.src, fe.value.group, now - 200_000_000_000n, other)]);
    r = await explain(t, await state(loader, desired));
    assert.equal(r.affinity?.applies, false);
    assert.equal(r.affinity?.why, 'older than the affinity timeout');
    assert.equal(r.backend?.id, table[slot]);

    loader.set('sy_affinity', [encAffinity(t.src, fe.value.group, now - 1_000_000_000n, term)]);
    r = await explain(t, await state(loader, desired));
    assert.equal(r.affinity?.why, 'its backend is terminating');
    assert.equal(r.backend?.id, table[slot]);
  });

  test('a live forward conntrack entry overrides the table; expired or closed ones do not', async () => {
    const { loader, desired, fe, table, backends } = setup();
    const t = { src: '198.19.1.77', sport: 41000, dst: '198.18.128.10', dport: 80, proto: 6 };
    const slot = flowHash({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: 80, proto: 6 }, SEED) % fe.value.tableSize;
    const pinned = [...backends].find(([id, b]) => id !== table[slot] && b.state === 0)![0];
    const now = process.hrtime.bigint();
    const fwd = (lastSeen: bigint, flags: number, backendId = pinned) => ({
      key: encCtKey({ saddr: t.src, daddr: t.dst, sport: t.sport, dport: t.dport, proto: 6, dir: 0 }),
      value: encCtValue({ lastSeen, backendId, revNatId: fe.value.id, flags }),
    });
    loader.set('sy_conntrack', [fwd(now - 1_000_000_000n, 1)]);
    let r = await explain(t, await state(loader, desired));
    assert.equal(r.decidedBy, 'conntrack');
    assert.equal(r.conntrack.overrides, true);
    assert.equal(r.backend?.id, pinned);
    assert.equal(r.newFlowBackend?.id, table[slot]);
    assert.match(r.steps.join('\n'), /tracked flow/);

    loader.set('sy_conntrack', [fwd(now - 61_000_000_000n, 0)]); // SYN-only entry idle > 60 s
    r = await explain(t, await state(loader, desired));
    assert.equal(r.conntrack.forward?.expired, true);
    assert.equal(r.conntrack.overrides, false);
    assert.equal(r.backend?.id, table[slot]);

    loader.set('sy_conntrack', [fwd(now - 1_000_000_000n, 3)]); // FIN seen: a new SYN picks again
    r = await explain(t, await state(loader, desired));
    assert.equal(r.conntrack.overrides, false);
    assert.equal(r.backend?.id, table[slot]);

    loader.set('sy_conntrack', [fwd(now - 1_000_000_000n, 1, 4242)]); // backend gone
    r = await explain(t, await state(loader, desired));
    assert.equal(r.conntrack.overrides, false);
    assert.equal(r.backend?.id, table[slot]);
    assert.match(r.steps.join('\n'), /backend 4242 is gone/);
  });

  test('a reply of a tracked flow is reverse-NATed', async () => {
    const { loader, desired, fe } = setup();
    const now = process.hrtime.bigint();
    loader.set('sy_conntrack', [{
      key: encCtKey({ saddr: '198.19.2.2', daddr: '198.19.1.77', sport: 8080, dport: 41000, proto: 6, dir: 1 }),
      value: encCtValue({ lastSeen: now, backendId: 1, revNatId: fe.value.id, flags: 1 }),
    }]);
    const r = await explain({ src: '198.19.2.2', sport: 8080, dst: '198.19.1.77', dport: 41000, proto: 6 }, await state(loader, desired));
    assert.equal(r.verdict, 'reverse-nat');
    assert.deepEqual(r.nat.reverse, { source: '198.18.128.10:80', destination: null });
    // An SNATed flow's reply comes to the node address; the client is restored as destination.
    loader.push('sy_conntrack', {
      key: encCtKey({ saddr: '198.19.2.2', daddr: '198.18.0.11', sport: 8080, dport: 33000, proto: 6, dir: 1 }),
      value: encCtValue({ lastSeen: now, backendId: 1, revNatId: fe.value.id, flags: 5, nat: ['198.18.0.200', 51000] }),
    });
    const s = await explain({ src: '198.19.2.2', sport: 8080, dst: '198.18.0.11', dport: 33000, proto: 6, from: 'external' }, await state(loader, desired));
    assert.equal(s.verdict, 'reverse-nat');
    assert.deepEqual(s.nat.reverse, { source: '198.18.128.10:80', destination: '198.18.0.200:51000' });
  });

  test('no endpoints: reject (TCP reset / ICMP); iTP=Local without local endpoint: drop; not a frontend: pass', async () => {
    const empty = setup([['web', {}]], [['web-1', 'web', [{ name: 'http', port: 8080 }], []]]);
    let r = await explain({ src: '198.19.1.77', sport: 1, dst: '198.18.128.10', dport: 80, proto: 6 }, await state(empty.loader, empty.desired));
    assert.equal(r.verdict, 'reject');
    assert.match(r.steps.join('\n'), /TCP reset/);
    const local = setup([['web', { internalTrafficPolicy: 'Local' }]], [['web-1', 'web', [{ name: 'http', port: 8080 }], [{ ip: '198.19.2.2', node: 'node2' }]]]);
    r = await explain({ src: '198.19.1.77', sport: 1, dst: '198.18.128.10', dport: 80, proto: 6 }, await state(local.loader, local.desired));
    assert.equal(r.verdict, 'drop');
    r = await explain({ src: '198.19.1.77', sport: 1, dst: '198.18.128.99', dport: 80, proto: 6 }, await state(local.loader, local.desired));
    assert.equal(r.verdict, 'pass');
    r = await explain({ src: '198.19.1.77', sport: 1, dst: '198.18.128.10', dport: 80, proto: 17 }, await state(local.loader, local.desired));
    assert.equal(r.verdict, 'pass', 'UDP to a TCP-only frontend');
  });

  test('without sport the slot is unknown: candidates with their shares', async () => {
    const { loader, desired } = setup();
    const r = await explain({ src: '198.19.1.77', dst: '198.18.128.10', dport: 80, proto: 6 }, await state(loader, desired));
    assert.equal(r.verdict, 'dnat');
    assert.equal(r.backend, null);
    assert.equal(r.maglev?.slot, null);
    assert.equal(r.candidates.length, 3);
    assert.ok(Math.abs(r.candidates.reduce((n, c) => n + c.share, 0) - 1) < 1e-9);
  });

  test('hairpin is SNATed to the node address; nothing is SNATed without a node address', async () => {
    const { loader, desired, fe, table, backends } = setup();
    for (let sport = 1024; sport < 60000; sport++) {
      const id = table[flowHash({ saddr: '198.19.1.2', daddr: '198.18.128.10', sport, dport: 80, proto: 6 }, SEED) % fe.value.tableSize]!;
      if (backends.get(id)!.addr !== '198.19.1.2') continue;
      const st = await state(loader, desired);
      const t = { src: '198.19.1.2', sport, dst: '198.18.128.10', dport: 80, proto: 6 };
      const r = await explain(t, st);
      assert.deepEqual(r.nat.snat, { to: `198.18.0.11:${sport}`, reason: 'hairpin: the backend is the client itself' });
      const noNode: St = { ...st, patch: (x) => ({ ...x, snapshot: { ...x.snapshot, config: { flowHashSeed: SEED, flags: 0, nodeAddr: '0.0.0.0', snatPortMin: 0, snatPortMax: 0, hostNetnsCookie: '0', serviceCIDR: '' } } }) };
      assert.equal((await explain(t, noNode)).nat.snat, null);
      return;
    }
    assert.fail('no hairpin tuple found');
  });

  test('device roles: pods use the internal-scope twin; outside clients the external entry, SNATed to remote backends unless eTP=Local', async () => {
    // eTP=Local with endpoints on both nodes: the external table holds the local ones only, pods use all (internal twin).
    const svc: Parameters<typeof desiredOf>[0][number] = ['web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }];
    const { loader, desired } = setup([svc], [WEB_SLICE]);
    const st = await state(loader, desired);
    const nodePort = { dst: '198.18.0.11', dport: 30080, proto: 6 };
    const ext = await explain({ src: '198.18.0.200', sport: 50000, ...nodePort, from: 'external' }, st);
    assert.equal(ext.program, 'sy_tc_external');
    assert.equal(ext.frontend?.kind, 'NodePort');
    assert.equal(ext.frontend?.scope, 'external');
    assert.equal(ext.backend?.local, true, 'eTP=Local: a local backend');
    assert.equal(ext.nat.snat, null, 'eTP=Local keeps the client address');
    const pod = await explain({ src: '198.19.1.50', sport: 50000, ...nodePort, from: 'pod' }, st);
    assert.equal(pod.frontend?.scope, 'internal');
    assert.equal(pod.frontend?.count, 3);
    // Default role from the cluster CIDR.
    const byCidr: St = { ...st, base: { ...st.base, clusterCIDR: '198.19.0.0/16' } };
    assert.equal((await explain({ src: '198.18.0.200', sport: 1, ...nodePort }, byCidr)).from, 'external');
    assert.equal((await explain({ src: '198.19.1.50', sport: 1, ...nodePort }, byCidr)).from, 'pod');

    // eTP=Cluster: an outside client reaching a remote backend is SNATed.
    const cl = setup([['web', { type: 'NodePort', ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }] }]], [WEB_SLICE]);
    const cst = await state(cl.loader, cl.desired);
    let remote = 0, local = 0;
    for (let sport = 40000; sport < 40100; sport++) {
      const r = await explain({ src: '198.18.0.200', sport, ...nodePort, from: 'external' }, cst);
      assert.equal(r.verdict, 'dnat');
      if (r.backend!.local) {
        assert.equal(r.nat.snat, null);
        local++;
      } else {
        assert.deepEqual(r.nat.snat, { to: `198.18.0.11:${sport}`, reason: 'externalTrafficPolicy=Cluster with a backend on another node' });
        remote++;
      }
      // From a pod nothing is SNATed (unless hairpin).
      assert.equal((await explain({ src: '198.19.1.50', sport, ...nodePort, from: 'pod' }, cst)).nat.snat, null);
    }
    assert.ok(remote > 0 && local > 0, `${remote} remote, ${local} local`);
  });

  test('loadBalancerSourceRanges: a source outside the ranges is dropped', async () => {
    const svc: Parameters<typeof desiredOf>[0][number] = ['web', { type: 'LoadBalancer', loadBalancerSourceRanges: ['198.18.0.0/24'] },];
    const { loader, desired } = setup([svc], [WEB_SLICE]);
    const d = desired[0]!;
    d.svc.loadBalancerIPs = ['198.18.64.5'];
    program(loader, desired);
    const b = new (await import('../../control-plane/src/dataplane/ebpf/desired-maps.js')).DesiredMapsBuilder({ seed: SEED, sizing: { floor: 251, ceiling: 131071 } });
    b.nodeAddresses = ['198.18.0.11'];
    const content = b.build(desired);
    loader.define('sy_source_ranges', ['lpm_trie', 12, 1, 65536]);
    loader.set('sy_source_ranges', [...content.sourceRanges.values()].map((r) => {
      const k = new Uint8Array(12);
      const v = new DataView(k.buffer);
      v.setUint32(0, 32 + r.prefixLen, true);
      v.setUint32(4, r.frontendId, true);
      k.set(r.addr.split('.').map(Number), 8);
      return { key: k, value: Uint8Array.of(1) };
    }));
    const st = await state(loader, desired);
    const lb = { dst: '198.18.64.5', dport: 80, proto: 6, sport: 40000, from: 'external' as const };
    const ok = await explain({ src: '198.18.0.200', ...lb }, st);
    assert.equal(ok.verdict, 'dnat');
    assert.deepEqual(ok.sourceRanges, { ranges: ['198.18.0.0/24'], allowed: true });
    const no = await explain({ src: '203.0.113.9', ...lb }, st);
    assert.equal(no.verdict, 'drop');
    assert.equal(no.sourceRanges?.allowed, false);
  });
});
