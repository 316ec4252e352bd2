// Services with the same backend set share one Maglev table (one
// computation, one array), and each group's table is still exactly the one
// it would have alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DesiredMapsBuilder, backendIdentity } from '../../control-plane/src/dataplane/ebpf/desired-maps.js';
import { computeDesiredState } from '../../control-plane/src/dataplane/desired-state.js';
import { buildMaglevTable } from '../../control-plane/src/dataplane/maglev.js';
import { serviceKey } from '../../control-plane/src/model/service-key.js';
import { ServiceTracker } from '../../control-plane/src/model/service-tracker.js';
import { EndpointSliceCache } from '../../control-plane/src/model/endpoint-slice-cache.js';
import { service, slice, type Ep } from './fixtures.js';

const SIZING = { floor: 251, ceiling: 131071 };
const node = { nodeName: 'node1', zone: '' };

/** One Service per entry (name -> endpoints), each with its own ClusterIP. */
function model(svcs: Record<string, Ep[]>): { t: ServiceTracker; c: EndpointSliceCache } {
  const t = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const c = new EndpointSliceCache('node1');
  Object.entries(svcs).forEach(([name, eps], i) => {
    const ip = `198.18.128.${10 + i}`;
    t.update(service(name, { clusterIP: ip, clusterIPs: [ip] }));
    c.update(slice(`${name}-1`, name, [{ name: 'http', port: 8080 }], eps));
  });
  return { t, c };
}

const A: Ep[] = [{ ip: '198.19.1.2' }, { ip: '198.19.1.3' }, { ip: '198.19.1.4' }];
const B: Ep[] = [{ ip: '198.19.2.2' }, { ip: '198.19.2.3' }];

/** The table a group would get on its own: Maglev over its identities, slots mapped to the builder's backend ids. */
function aloneTable(b: DesiredMapsBuilder, eps: Ep[], m: number): Uint32Array {
  const { order, table } = buildMaglevTable(eps.map((e) => backendIdentity(e.ip, 8080, 6)), m, 1);
  const ids = order.map((ident) => b.backendIds.get(ident)!);
  return Uint32Array.from(table, (i) => ids[i]!);
}

test('Services with the same backend set share one table; other sets get their own', () => {
  const { t, c } = model({ web: A, api: A, db: B });
  const b = new DesiredMapsBuilder({ seed: 1, sizing: SIZING });
  const content = b.build(computeDesiredState(t.servicePorts(), c.allEndpoints(), node));
  assert.equal(content.maglev.size, 3, 'one group (inner map) per Service');
  assert.equal(b.distinctTables, 2);
  const web = b.want(serviceKey('default', 'web'))!.maglev, api = b.want(serviceKey('default', 'api'))!.maglev, db = b.want(serviceKey('default', 'db'))!.maglev;
  const [webT] = [...web.values()], [apiT] = [...api.values()], [dbT] = [...db.values()];
  assert.equal(webT, apiT, 'the same array');
  assert.notEqual(webT, dbT);
  assert.deepEqual(webT, aloneTable(b, A, 509));
  assert.deepEqual(dbT, aloneTable(b, B, 251));
});

test('a shared table outlives one of its users and goes with the last', () => {
  const { t, c } = model({ web: A, api: A });
  const b = new DesiredMapsBuilder({ seed: 1, sizing: SIZING });
  b.build(computeDesiredState(t.servicePorts(), c.allEndpoints(), node));
  assert.equal(b.distinctTables, 1);
  // api scales out: its own table; web keeps the shared one, unchanged.
  const before = [...b.want(serviceKey('default', 'web'))!.maglev.values()][0]!;
  c.update(slice('api-1', 'api', [{ name: 'http', port: 8080 }], [...A, { ip: '198.19.1.5' }]));
  const k = serviceKey('default', 'api');
  const changed = new Map([[k, computeDesiredState(t.portsOfService(k), c.endpointsOfService(k), node)]]);
  b.update(changed);
  assert.equal(b.distinctTables, 2);
  assert.equal([...b.want(serviceKey('default', 'web'))!.maglev.values()][0], before);
  // Both gone: no table held.
  b.update(new Map([[serviceKey('default', 'web'), []], [k, []]]));
  assert.equal(b.distinctTables, 0);
});

test('a backend set whose ids changed gets a table of its own ids, not a stale shared one', () => {
  const b = new DesiredMapsBuilder({ seed: 1, sizing: SIZING });
  const one = model({ web: A });
  b.build(computeDesiredState(one.t.servicePorts(), one.c.allEndpoints(), node));
  // Everything goes (ids released), another backend takes the first id, then A comes back.
  b.build([]);
  const other = model({ db: B });
  b.build(computeDesiredState(other.t.servicePorts(), other.c.allEndpoints(), node));
  const again = model({ db: B, web: A });
  b.build(computeDesiredState(again.t.servicePorts(), again.c.allEndpoints(), node));
  const webT = [...b.want(serviceKey('default', 'web'))!.maglev.values()][0]!;
  assert.deepEqual(webT, aloneTable(b, A, 509));
  for (const id of new Set(webT)) assert.ok(A.some((e) => b.backendIds.get(backendIdentity(e.ip, 8080, 6)) === id), `slot names backend id ${id} of the set`);
});

test('Services sharing an endpoint hold one backend value; one whose copy differs (another state) gets its own, and the map takes the last', () => {
  const ready: Ep[] = [{ ip: '198.19.1.2' }, { ip: '198.19.1.3' }];
  const oneTerminating: Ep[] = [{ ip: '198.19.1.2', ready: false, serving: true, terminating: true }, { ip: '198.19.1.3' }];
  const { t, c } = model({ a: ready, b: ready, c: oneTerminating });
  const b = new DesiredMapsBuilder({ seed: 1, sizing: SIZING });
  const content = b.build(computeDesiredState(t.servicePorts(), c.allEndpoints(), node));
  const id2 = b.backendIds.get(backendIdentity('198.19.1.2', 8080, 6))!, id3 = b.backendIds.get(backendIdentity('198.19.1.3', 8080, 6))!;
  assert.equal(content.backends.size, 2, 'one backend per identity');
  // The datapath has one entry per backend: the last Service's copy (as before values were shared).
  assert.equal(content.backends.get(id2)!.state, 1 /* TERMINATING */);
  assert.equal(content.backends.get(id3)!.state, 0 /* ACTIVE */);
  // c turns the endpoint ready again: the one value follows, for every Service.
  c.update(slice('c-1', 'c', [{ name: 'http', port: 8080 }], ready));
  const k = serviceKey('default', 'c');
  const { after } = b.update(new Map([[k, computeDesiredState(t.portsOfService(k), c.endpointsOfService(k), node)]]));
  assert.equal(after.backends.get(id2)!.state, 0);
  for (const name of ['a', 'b', 'c']) assert.equal(b.want(serviceKey('default', name))!.backends.get(id2)!.state, 0, name);
});
