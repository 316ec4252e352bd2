// ClusterIP end to end: the real agent and loader on each node, watching the
// lab's API server; real TCP and UDP from a client pod to the VIP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Lab, ROOT, eventually, tally } from './harness.js';
import { deployment, manifests, service } from './manifests.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const WHOAMI = readFileSync(path.join(ROOT, 'lab/examples/whoami.yaml'), 'utf8');

/** Two Deployments behind one Service whose named targetPorts are other numbers in each. */
const MULTIPORT = manifests(
  ...(['a', 'b'] as const).map((variant, i) => deployment(`mp-${variant}`, {
    replicas: 1, grace: 1, labels: { app: 'mp', variant },
    ports: [{ name: 'web', containerPort: 8081 + i }, { name: 'dns', containerPort: 5301 + i, protocol: 'UDP' }],
  })),
  service('mp', { ports: [{ name: 'web', port: 8000, targetPort: 'web' }, { name: 'dns', port: 53, targetPort: 'dns', protocol: 'UDP' }] }),
);

describe(`ClusterIP end to end (${MODE})`, { timeout: 600_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2c'), MODE);
  let vip = '';

  before(async () => {
    await lab.up(2);
    await lab.apply(WHOAMI);
    await lab.waitReady();
    vip = await lab.clusterIP('whoami');
  });

  after(async () => {
    await lab.down();
  });

  async function answers(mode: 'http' | 'udp', count = 60, host = vip, port = mode === 'http' ? 80 : 53): Promise<Map<string, number>> {
    return tally(await lab.probe('client', mode, host, port, ['--count', String(count), '--timeout-ms', '1000']));
  }

  async function readyNames(): Promise<Set<string>> {
    return new Set((await lab.pods({ app: 'whoami' }, { ready: true })).map((p) => p.metadata.name));
  }

  test('TCP to the ClusterIP is answered by every ready backend', async () => {
    const names = await readyNames();
    assert.equal(names.size, 3);
    const got = await answers('http');
    assert.deepEqual(new Set(got.keys()), names, `answers ${JSON.stringify([...got])}`);
  });

  test('UDP to the ClusterIP is answered by every ready backend', async () => {
    const names = await readyNames();
    const got = await answers('udp');
    assert.deepEqual(new Set(got.keys()), names, `answers ${JSON.stringify([...got])}`);
  });

  test('scaling 3 -> 1 -> 4: the answering pods follow', async () => {
    await lab.scale('deployment/whoami', 1);
    await eventually('one backend answering', async () => {
      const names = await readyNames();
      const got = await answers('http', 20);
      return names.size === 1 && got.size === 1 && names.has([...got.keys()][0]!);
    });
    await lab.scale('deployment/whoami', 4);
    await eventually('four backends answering', async () => {
      const names = await readyNames();
      if (names.size !== 4) return false;
      const got = await answers('http', 80);
      return got.size === 4 && [...got.keys()].every((k) => names.has(k));
    }, 40_000);
    const udp = await answers('udp', 80);
    assert.deepEqual(new Set(udp.keys()), await readyNames());
  });

  test('an unready pod stops receiving new connections, and gets them back when ready', async () => {
    const names = [...(await readyNames())].sort();
    const victim = names[0]!;
    await lab.setReady(victim, false);
    await eventually('no new connection to the unready pod', async () => {
      const got = await answers('http', 60);
      return !got.has(victim) && got.size === names.length - 1 && ![...got.keys()].some((k) => k.startsWith('ERR'));
    });
    await lab.setReady(victim, true);
    await eventually('the pod is answering again', async () => (await answers('http', 80)).has(victim));
  });

  test('a multi-port Service with named targetPorts reaches each pod on its own port numbers', async () => {
    await lab.apply(MULTIPORT);
    await lab.waitReady();
    const mpVip = await lab.clusterIP('mp');
    const pods = new Set((await lab.pods({ app: 'mp' }, { ready: true })).map((p) => p.metadata.name));
    assert.equal(pods.size, 2);
    await eventually('both mp pods over TCP', async () => {
      const got = tally(await lab.probe('client', 'tcp', mpVip, 8000, ['--count', '40', '--timeout-ms', '1000']));
      return got.size === 2 && [...got.keys()].every((k) => pods.has(k));
    });
    await eventually('both mp pods over UDP', async () => {
      const got = tally(await lab.probe('client', 'udp', mpVip, 53, ['--count', '40', '--timeout-ms', '1000']));
      return got.size === 2 && [...got.keys()].every((k) => pods.has(k));
    });
  });

  test('deleting the Service makes the VIP stop answering', async () => {
    assert.ok((await answers('http', 3)).size > 0);
    await lab.delete(`apiVersion: v1\nkind: Service\nmetadata: {name: whoami}\n`);
    await eventually('the VIP stops answering', async () => {
      const got = await lab.probe('client', 'http', vip, 80, ['--count', '5', '--timeout-ms', '300']);
      return got.length === 5 && got.every((l) => l.startsWith('ERR'));
    });
  });

  test('lab down leaves no namespace, pin, state or process behind', async () => {
    await lab.down();
    assert.deepEqual(lab.leftovers(), []);
  });
});
