// The partial path (only changed Services) must leave the maps exactly as a
// full rebuild would: apply the ops it emits to a model of the maps and
// compare with the builder's full content, over random change sequences.
import type { ServiceKey } from '../../control-plane/src/model/service-key.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredMapsBuilder } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { diffMaps, type LoaderOp } from '../../control-plane/src/dataplane/ebpf/diff.js';
import { emptyMapsContent, type MapsContent } from '../../control-plane/src/dataplane/ebpf/maps-content.js';
import { computeDesiredState, type DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { bytesToIpv4 } from '../../control-plane/src/util/ipv4.js';
import { svcKeyString } from '../../control-plane/src/dataplane/ebpf/map-values.js';
import { service, slice } from './fixtures.js';
import { mulberry32 } from '../../bench/prng.js';

const rng = mulberry32;

/** Applies loader ops to a model of the maps, as the loader would. */
function applyOps(m: MapsContent, ops: LoaderOp[]): void {
  for (const op of ops) {
    const [kind, a] = Object.entries(op)[0] as [string, any];
    const key = a.key ? { addr: bytesToIpv4(a.key.addr), port: a.key.port, proto: a.key.proto, scope: a.key.scope } : undefined;
    switch (kind) {
      case 'upsertBackend': m.backends.set(a.id, { addr: bytesToIpv4(a.addr), port: a.port, proto: a.proto, state: a.state, flags: a.flags, zone: a.zone }); break;
      case 'deleteBackend': m.backends.delete(a.id); break;
      case 'setMaglev': m.maglev.set(a.group, Uint32Array.from(a.backendIds)); break;
      case 'deleteMaglev': m.maglev.delete(a.group); break;
      case 'upsertRevnat': m.revnat.set(a.id, { addr: bytesToIpv4(a.addr), port: a.port }); break;
      case 'deleteRevnat': m.revnat.delete(a.id); break;
      case 'upsertService': m.services.set(svcKeyString(key!), { key: key!, value: { id: a.id, group: a.group, count: a.count, flags: a.flags, affinityTimeout: a.affinityTimeout, tableSize: a.tableSize } }); break;
      case 'deleteService': m.services.delete(svcKeyString(key!)); break;
      case 'upsertSourceRange': m.sourceRanges.set(`${a.frontendId}/${bytesToIpv4(a.addr)}/${a.prefixLen}`, { frontendId: a.frontendId, addr: bytesToIpv4(a.addr), prefixLen: a.prefixLen }); break;
      case 'deleteSourceRange': m.sourceRanges.delete(`${a.frontendId}/${bytesToIpv4(a.addr)}/${a.prefixLen}`); break;
      case 'deleteAffinity': case 'gcConntrack': break;
      default: throw new Error(`unknown op ${kind}`);
    }
  }
}

test('partial syncs over random changes leave the maps equal to a full build', () => {
  const r = rng(11);
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const c = new EndpointSliceCache('node1');
  const b = new DesiredMapsBuilder({ seed: 3, sizing: { floor: 251, ceiling: 131071 } });
  b.nodeAddresses = ['198.18.0.11'];
  const node = { nodeName: 'node1', zone: '' };
  const maps = emptyMapsContent();
  // Pods shared between Services, so backends are shared too.
  const podIP = (i: number) => `198.19.${1 + (i % 2)}.${10 + i}`;
  const svcSpec = (i: number) => (r() < 0.3
    ? { type: 'NodePort' as const, clusterIP: `198.18.128.${i + 1}`, clusterIPs: [`198.18.128.${i + 1}`], ports: [{ name: 'http', port: 80, nodePort: 30000 + i }], ...(r() < 0.5 ? { externalTrafficPolicy: 'Local' as const } : {}) }
    : { clusterIP: `198.18.128.${i + 1}`, clusterIPs: [`198.18.128.${i + 1}`], ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP' as const }] });

  // First sync: full.
  for (let i = 0; i < 8; i++) t.update(service(`s${i}`, svcSpec(i)));
  t.takeChanged();
  applyOps(maps, diffMaps(emptyMapsContent(), b.build(computeDesiredState(t.servicePorts(), c.allEndpoints(), node))).ops);

  for (let step = 0; step < 200; step++) {
    const i = Math.floor(r() * 10);
    const roll = r();
    if (roll < 0.15) t.delete(service(`s${i}`, {}));
    else if (roll < 0.35) t.update(service(`s${i}`, svcSpec(i)));
    else {
      const n = Math.floor(r() * 5);
      const eps = Array.from({ length: n }, () => {
        const p = Math.floor(r() * 12);
        return { ip: podIP(p), node: p % 2 ? 'node2' : 'node1', ready: r() < 0.8, serving: true, terminating: r() < 0.2 };
      }).filter((e, k, all) => all.findIndex((x) => x.ip === e.ip) === k);
      c.update(slice(`s${i}-a`, `s${i}`, [{ name: 'http', port: 8080 }, { name: 'dns', port: 5353, protocol: 'UDP' }], eps));
    }
    const changedKeys = new Set([...t.takeChanged(), ...c.takeChanged()]);
    const changed = new Map<ServiceKey, DesiredServicePort[]>();
    for (const k of changedKeys) {
      const ports = t.portsOfService(k);
      changed.set(k, ports.size ? computeDesiredState(ports, c.endpointsOfService(k), node) : []);
    }
    const { before, after } = b.update(changed);
    applyOps(maps, diffMaps(before, after).ops);
    const want = b.content();
    assert.deepEqual(diffMaps(maps, want).ops, [], `step ${step}: maps drifted from the builder's content`);
    // The builder holds exactly the Services that exist.
    const full = computeDesiredState(t.servicePorts(), c.allEndpoints(), node);
    assert.deepEqual(new Set(b.frontends.map((f) => f.servicePort)), new Set(full.map((d) => d.svc.key)));
  }
  // Finally, a full rebuild from scratch must not want to change anything.
  const fresh = b.build(computeDesiredState(t.servicePorts(), c.allEndpoints(), node));
  assert.deepEqual(diffMaps(maps, fresh).ops, []);
});
