// Map pressure is local (ebpf): with sy_services sized to 64 entries through
// the configuration (--map-max-entries, which the lab also hands the loader),
// a 65th frontend is refused by name (status, metric, log) while every other
// Service keeps answering real traffic; deleting one Service and creating
// another in the same sync succeeds at a full map; /healthz stays 200 on both
// nodes throughout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { E2E_IP_FAMILY, Lab, ROOT, eventually, ok, tally } from './harness.js';
import { labAdminSocket } from '../../lab/src/netns/layout.js';
import { labClient } from '../../lab/src/cli/api-client.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const WHOAMI = readFileSync(path.join(ROOT, 'lab/examples/whoami.yaml'), 'utf8');
const CAPACITY = 64;

type J = Record<string, any>;

/** GET over the agent's admin socket (the same answers as :10256 for /healthz, and /metrics). */
function admin(lab: string, node: string, p: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath: labAdminSocket(lab, node), path: p, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${p}: timeout`)));
  });
}

function serviceYaml(name: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: whoami}
  ports: [{name: http, port: 80, targetPort: http}]
`;
}

describe('map pressure: a full sy_services refuses one Service, not the node', { timeout: 900_000, skip: MODE !== 'ebpf' ? 'ebpf mode only' : false }, () => {
  const lab = new Lab(Lab.uniqueName('e2p'), 'ebpf', E2E_IP_FAMILY);
  const nodes = ['node1', 'node2'];
  let fillers: string[] = [];
  const unhealthy: string[] = [];
  let watching = true;
  let watcher: Promise<void> | undefined;

  const status = async (node: string): Promise<J> => JSON.parse((await admin(lab.name, node, '/v1/status?history=0')).body) as J;
  const entries = (st: J, map: string): number => (st.maps as J[]).find((m) => m.map === map)?.entries ?? -1;

  before(async () => {
    // A short minimum sync period so that a delete and a create land in one sync.
    await lab.up(2, [...Lab.agentArgs(), `--map-max-entries=sy_services=${CAPACITY}`, '--min-sync-period=4s', '--sync-period=10s']);
    await lab.apply(WHOAMI);
    await lab.waitReady();
    // /healthz of both agents, twice a second, for the whole test.
    watcher = (async () => {
      while (watching) {
        for (const n of nodes) {
          const r = await admin(lab.name, n, '/healthz').catch((e: Error) => ({ status: 0, body: e.message }));
          if (r.status !== 200) unhealthy.push(`${new Date().toISOString()} ${n}: ${r.status} ${r.body}`);
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
  });

  after(async () => {
    watching = false;
    await watcher;
    await lab.down();
  });

  test('the configured capacity reaches the loader, and status shows each map\'s pressure', async () => {
    for (const n of nodes) {
      const st = await eventually(`${n} status with map pressure`, async () => {
        const s = await status(n);
        return entries(s, 'sy_services') > 0 ? s : undefined;
      });
      const svc = (st.maps as J[]).find((m) => m.map === 'sy_services')!;
      assert.equal(svc.capacity, CAPACITY);
      const text = await ok(['status', '--lab', lab.name, '--node', n]);
      assert.match(text, new RegExp(`sy_services \\d+/${CAPACITY}`));
    }
  });

  test('the 65th frontend is refused by name; every other Service answers', async () => {
    const st = await status('node1');
    const have = entries(st, 'sy_services');
    // Fill sy_services to exactly its capacity (one frontend per Service), then one more.
    fillers = Array.from({ length: CAPACITY - have }, (_, i) => `fill${i}`);
    await lab.apply(fillers.map(serviceYaml).join('---\n'));
    for (const n of nodes) {
      await eventually(`${n}: sy_services full`, async () => entries(await status(n), 'sy_services') === CAPACITY, 60_000);
    }
    await lab.apply(serviceYaml('over'));
    for (const n of nodes) {
      const s = await eventually(`${n} reports default/over`, async () => {
        const x = await status(n);
        return (x.refused as J[]).some((r) => r.service === 'default/over') ? x : undefined;
      }, 60_000);
      const r = (s.refused as J[]).find((x) => x.service === 'default/over')!;
      assert.match(r.reason, /sy_services/);
      assert.equal((s.refused as J[]).length, 1, JSON.stringify(s.refused));
      assert.equal(s.sync.lastError, null, 'the sync itself did not fail');
      const w = (s.maps as J[]).find((m) => m.map === 'sy_services')!;
      assert.equal(w.warning, true, 'a full map is flagged');
      const metrics = (await admin(lab.name, n, '/metrics')).body;
      assert.match(metrics, /switchyard_services_refused\{service="default\/over"\} 1/);
      assert.match(metrics, /kubeproxy_sync_proxy_rules_service_errors_total\{service="default\/over"\} [1-9]/);
      assert.match(metrics, /switchyard_map_pressure_ratio\{map="sy_services"\} 1/);
      const text = await ok(['status', '--lab', lab.name, '--node', n]);
      assert.match(text, /REFUSED default\/over: .*sy_services/);
      const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as J;
      const log = readFileSync((info.nodes as J[]).find((x) => x.name === n)!.agent.log as string, 'utf8');
      assert.match(log, /"service":"default\/over".*service not programmed/);
    }
    // Real traffic: the first and last fillers and the original Service answer.
    for (const svc of ['whoami', fillers[0]!, fillers[fillers.length - 1]!]) {
      const vip = await lab.clusterIP(svc);
      const got = tally(await lab.probe('client', 'http', vip, 80, ['--count', '20', '--timeout-ms', '2000']));
      assert.ok(![...got.keys()].some((k) => k.startsWith('ERR')), `${svc}: ${JSON.stringify([...got])}`);
    }
    // A change to another Service is still programmed: scale and see the new pod answer through a filler.
    await lab.scale('deployment/whoami', 4);
    await eventually('four backends answer through a filler', async () => {
      const names = new Set((await lab.pods({ app: 'whoami' }, { ready: true })).map((p) => p.metadata.name));
      const got = tally(await lab.probe('client', 'http', await lab.clusterIP(fillers[1]!), 80, ['--count', '80', '--timeout-ms', '2000']));
      return names.size === 4 && got.size === 4 && [...got.keys()].every((k) => names.has(k));
    }, 60_000);
  });

  test('deleting one Service and creating another in the same sync succeeds at a full map', async () => {
    // Take the refused one away first: the map is then exactly full.
    await lab.delete(serviceYaml('over'));
    for (const n of nodes) await eventually(`${n}: nothing refused`, async () => (await status(n)).refused.length === 0, 30_000);
    // A change first, so that the next two land within one minimum sync
    // period; those two go to the API server back to back.
    await lab.scale('deployment/whoami', 3);
    const api = labClient(lab.name);
    const del = await api.request('DELETE', `/api/v1/namespaces/default/services/${fillers[0]!}`);
    const add = await api.request('POST', '/api/v1/namespaces/default/services', {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'fresh', namespace: 'default' },
      spec: { selector: { app: 'whoami' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    assert.ok(del.status < 300 && add.status < 300, `${del.status} ${del.text} / ${add.status} ${add.text}`);
    const vip = await lab.clusterIP('fresh');
    await eventually('fresh answers', async () => {
      const got = tally(await lab.probe('client', 'http', vip, 80, ['--count', '10', '--timeout-ms', '1000']));
      return got.size > 0 && ![...got.keys()].some((k) => k.startsWith('ERR'));
    }, 60_000);
    const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as J;
    for (const n of nodes) {
      const s = await status(n);
      assert.equal(s.refused.length, 0, JSON.stringify(s.refused));
      assert.equal(entries(s, 'sy_services'), CAPACITY);
      // The agent's log shows one sync that deleted and created a frontend.
      const log = readFileSync((info.nodes as J[]).find((x) => x.name === n)!.agent.log as string, 'utf8');
      const both = log.split('\n').filter((l) => l.includes('"msg":"synced"')).map((l) => JSON.parse(l) as J)
        .some((r) => r.servicesDeleted >= 1 && r.revnatUpserted >= 1 && r.refused === 0);
      assert.ok(both, `${n}: no sync both deleted and created a frontend`);
    }
  });

  test('/healthz stayed 200 on both nodes throughout', () => {
    assert.deepEqual(unhealthy, []);
  });
});
