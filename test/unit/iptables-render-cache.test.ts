// The render cache (render.ts RenderCache): a service port whose
// DesiredServicePort object the proxier hands again is not rendered again.
// What a render with the cache returns must be exactly what one without it
// returns, through changes, deletions, a node config change and the
// large-cluster threshold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredServicePort } from '../../control-plane/src/dataplane/desired-state.js';
import { IptablesDataplane } from '../../control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { RenderCache, renderIptables, type IptablesNodeConfig, type RenderOptions, type RenderResult } from '../../control-plane/src/dataplane/iptables/render.js';
import type { EndpointInfo, ServicePortInfo } from '../../control-plane/src/model/types.js';
import { FakeIptables } from '../iptables/fake-exec.js';
import { desiredOf, ep, svcPort } from '../iptables/fixtures.js';

const CFG: IptablesNodeConfig = { nodeName: 'node-a', nodeIPs: ['198.18.0.2'], clusterCIDR: '198.19.0.0/16' };

function entry(i: number, k: number): [ServicePortInfo, EndpointInfo[]] {
  return [
    svcPort({ name: `s${i}`, clusterIP: `198.18.${128 + (i >> 8)}.${i & 255}`, nodePort: i % 3 === 0 ? 30000 + i : 0, eTPLocal: i % 6 === 0,
      lbIPs: i % 5 === 0 ? [`198.18.200.${i & 255}`] : [], sourceRanges: i % 10 === 0 ? ['198.18.0.0/16'] : [] }),
    Array.from({ length: k }, (_, j) => ep(`198.19.${i & 255}.${j + 1}`, { local: j === 0, ready: !(i % 7 === 0 && j === 1) })),
  ];
}

/** Everything a render returns, comparable. */
function view(r: RenderResult): unknown {
  return {
    text: r.text, hashes: [...r.serviceHashes], active: [...r.activeNatChains].sort(), written: r.writtenServices, skipped: r.skippedServices,
    deleted: r.deletedChains, parts: r.serviceParts, top: r.topLevelHash, lines: r.serviceRuleLines, counts: r.counts,
    noLocal: r.noLocalEndpoints, large: r.largeClusterMode,
  };
}

/** As the proxier hands them: the same objects for Services that did not change, new ones for those that did. */
function replace(list: DesiredServicePort[], fresh: DesiredServicePort[]): DesiredServicePort[] {
  const byKey = new Map(fresh.map((d) => [d.svc.key, d]));
  return list.map((d) => byKey.get(d.svc.key) ?? d);
}

function renderBoth(desired: DesiredServicePort[], cfg: IptablesNodeConfig, cache: RenderCache, opts: RenderOptions): RenderResult {
  const cached = renderIptables(desired, cfg, { ...opts, cache });
  assert.deepEqual(view(cached), view(renderIptables(desired, cfg, opts)));
  return cached;
}

test('renders from the cache are the renders without it, and only changed service ports are rendered again', () => {
  const cache = new RenderCache();
  let desired = desiredOf(Array.from({ length: 40 }, (_, i) => entry(i, 3)));
  let r = renderBoth(desired, CFG, cache, { full: true });
  assert.deepEqual(cache.last, { hits: 0, misses: 40 });
  // The same objects again: nothing rendered anew.
  r = renderBoth(desired, CFG, cache, { full: false, previousHashes: r.serviceHashes, previousActiveNatChains: r.activeNatChains });
  assert.deepEqual(cache.last, { hits: 40, misses: 0 });
  assert.equal(r.writtenServices.length, 0);
  // Two changed (new objects), one gone, one new.
  const changed = desiredOf([entry(4, 2), entry(5, 4)]);
  desired = replace(desired, changed).filter((d) => d.svc.name.name !== 's9');
  desired.push(...desiredOf([entry(77, 2)]));
  r = renderBoth(desired, CFG, cache, { full: false, previousHashes: r.serviceHashes, previousActiveNatChains: r.activeNatChains });
  assert.deepEqual(cache.last, { hits: 37, misses: 3 });
  assert.deepEqual([...r.writtenServices].sort(), [changed[0]!.svc.key, changed[1]!.svc.key, desired.at(-1)!.svc.key].sort());
  assert.ok(r.deletedChains.length > 0, 's9\'s chains are deleted');
  // A full sync writes every service port, from the cache.
  renderBoth(desired, CFG, cache, { full: true });
  assert.deepEqual(cache.last, { hits: 40, misses: 0 });
});

test('another node config, or crossing the large-cluster threshold, renders everything again', () => {
  const cache = new RenderCache();
  const desired = desiredOf(Array.from({ length: 20 }, (_, i) => entry(i, 3)));
  renderBoth(desired, CFG, cache, { full: true });
  for (const cfg of [{ ...CFG, masqueradeAll: true }, { ...CFG, masqueradeAll: true, localhostNodePorts: false }, { ...CFG, nodePortAddresses: ['198.18.0.0/24'], localAddresses: ['198.18.0.2'] }]) {
    renderBoth(desired, cfg, cache, { full: true });
    assert.deepEqual(cache.last, { hits: 0, misses: 20 }, JSON.stringify(cfg));
    renderBoth(desired, cfg, cache, { full: true });
    assert.deepEqual(cache.last, { hits: 20, misses: 0 });
  }
  // Above 1,000 endpoints the endpoint comments go: every line changes.
  const many = desiredOf(Array.from({ length: 20 }, (_, i) => entry(i, 60)));
  const small = many.slice(0, 16);
  renderBoth(small, CFG, cache, { full: true });
  assert.equal(renderIptables(small, CFG).largeClusterMode, false);
  const r = renderBoth(many, CFG, cache, { full: true });
  assert.equal(r.largeClusterMode, true);
  assert.deepEqual(cache.last, { hits: 0, misses: 20 });
});

test('the iptables back end keeps one cache: a partial sync renders only what changed', async () => {
  const fake = new FakeIptables();
  const dp = new IptablesDataplane({ node: CFG, exec: fake.exec, canaryMonitor: false });
  await dp.init();
  let desired = desiredOf(Array.from({ length: 30 }, (_, i) => entry(i, 2)));
  await dp.sync(desired);
  assert.deepEqual(dp.renderCache.last, { hits: 0, misses: 30 });
  const s3 = desiredOf([entry(3, 3)]);
  desired = replace(desired, s3);
  const out = await dp.sync(desired);
  assert.equal(out.detail.full, 0);
  assert.deepEqual(dp.renderCache.last, { hits: 29, misses: 1 });
  assert.deepEqual(dp.lastSync?.writtenServices, [s3[0]!.svc.key]);
  assert.equal(dp.lastRestoreInput, fake.restores.at(-1));
});
