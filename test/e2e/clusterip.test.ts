// ClusterIP end to end: the real agent and loader on each node, watching the
// lab's API server; real TCP and UDP from a client pod to the VIP.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { E2E_IP_FAMILY, FAMILIES, Lab, ROOT, eventually, forEachFamily, tally, type Family } from './harness.js';
import { ECHO_53, HTTP_80, deployment, manifests, service } from './manifests.js';

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

describe(`ClusterIP end to end (${MODE}, ${FAMILIES.join('+')})`, { timeout: 600_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2c'), MODE, E2E_IP_FAMILY);
  let vips = {} as Record<Family, string>;

  before(async () => {
    await lab.up(2);
    await lab.apply(WHOAMI);
    // The demo's Service made PreferDualStack (an update: the second family's ClusterIP is added).
    await lab.apply(manifests(service('whoami', { ports: [HTTP_80, ECHO_53] })));
    await lab.waitReady();
    vips = await lab.clusterIPs('whoami');
  });

  after(async () => {
    await lab.down();
  });

  async function answers(mode: 'http' | 'udp', count: number, host: string, port = mode === 'http' ? 80 : 53): Promise<Map<string, number>> {
    return tally(await lab.probe('client', mode, host, port, ['--count', String(count), '--timeout-ms', '1000']));
  }

  /**
   * UDP answers as [pod, client address:port the pod saw] (sy-probe --peer):
   * each probe is a new socket, so the client port names the flow.
   */
  async function udpFlows(count: number, host: string): Promise<Array<[string, string]>> {
    const lines = await lab.probe('client', 'udp', host, 53, ['--count', String(count), '--timeout-ms', '1000', '--peer']);
    return lines.map((l) => {
      const [pod = l, peer = ''] = l.split(' ');
      return [pod, peer];
    });
  }

  /** The UDP flows of the UDP test, by family: client address:port -> pod. */
  const earlierUdpFlows = new Map<Family, Map<string, string>>();

  async function readyNames(): Promise<Set<string>> {
    return new Set((await lab.pods({ app: 'whoami' }, { ready: true })).map((p) => p.metadata.name));
  }

  test('TCP to the ClusterIP of each family is answered by every ready backend', async () => {
    const names = await readyNames();
    assert.equal(names.size, 3);
    await forEachFamily(async (f) => {
      const got = await answers('http', 40, vips[f]);
      assert.deepEqual(new Set(got.keys()), names, `${vips[f]}: answers ${JSON.stringify([...got])}`);
    });
  });

  test('UDP to the ClusterIP of each family is answered by every ready backend', async () => {
    const names = await readyNames();
    await forEachFamily(async (f) => {
      const flows = await udpFlows(40, vips[f]);
      assert.deepEqual(new Set(flows.map(([pod]) => pod)), names, `${vips[f]}: answers ${JSON.stringify(flows)}`);
      earlierUdpFlows.set(f, new Map(flows.map(([pod, peer]) => [peer, pod])));
    });
  });

  test('scaling 3 -> 1 -> 4: the answering pods follow', async () => {
    await lab.scale('deployment/whoami', 1);
    await forEachFamily((f) => eventually(`one backend answering on ${vips[f]}`, async () => {
      const names = await readyNames();
      const got = await answers('http', 10, vips[f]);
      return names.size === 1 && got.size === 1 && names.has([...got.keys()][0]!);
    }));
    await lab.scale('deployment/whoami', 4);
    await forEachFamily((f) => eventually(`four backends answering on ${vips[f]}`, async () => {
      const names = await readyNames();
      if (names.size !== 4) return false;
      const got = await answers('http', 60, vips[f]);
      return got.size === 4 && [...got.keys()].every((k) => names.has(k));
    }, 40_000));
    // New UDP flows go to the four ready pods only. A probe whose random
    // source port is that of a flow of the UDP test above (its conntrack
    // entry lives 60 s) is that flow, not a new one: it keeps its pod while
    // the pod is serving, also a terminating one, as kube-proxy keeps such
    // entries (it deletes UDP entries only of endpoints no longer serving).
    const ready = await readyNames();
    await forEachFamily(async (f) => {
      const flows = await udpFlows(60, vips[f]);
      const earlier = earlierUdpFlows.get(f) ?? new Map<string, string>();
      const elsewhere = flows.filter(([pod, peer]) => !ready.has(pod) && earlier.get(peer) !== pod);
      assert.deepEqual(elsewhere, [], `${vips[f]}: new flows answered by pods not ready: ${JSON.stringify(flows)}`);
      assert.deepEqual(new Set(flows.map(([pod]) => pod).filter((pod) => ready.has(pod))), ready, `${vips[f]}: ${JSON.stringify(flows)}`);
    });
  });

  test('an unready pod stops receiving new connections, and gets them back when ready', async () => {
    const names = [...(await readyNames())].sort();
    const victim = names[0]!;
    await lab.setReady(victim, false);
    await forEachFamily((f) => eventually(`no new connection to the unready pod on ${vips[f]}`, async () => {
      const got = await answers('http', 40, vips[f]);
      return !got.has(victim) && got.size === names.length - 1 && ![...got.keys()].some((k) => k.startsWith('ERR'));
    }));
    await lab.setReady(victim, true);
    await forEachFamily((f) => eventually(`the pod is answering again on ${vips[f]}`, async () => (await answers('http', 40, vips[f])).has(victim)));
  });

  test('a multi-port Service with named targetPorts reaches each pod on its own port numbers', async () => {
    await lab.apply(MULTIPORT);
    await lab.waitReady();
    const mpVips = await lab.clusterIPs('mp');
    const pods = new Set((await lab.pods({ app: 'mp' }, { ready: true })).map((p) => p.metadata.name));
    assert.equal(pods.size, 2);
    await forEachFamily(async (f) => {
      await eventually(`both mp pods over TCP on ${mpVips[f]}`, async () => {
        const got = tally(await lab.probe('client', 'tcp', mpVips[f], 8000, ['--count', '20', '--timeout-ms', '1000']));
        return got.size === 2 && [...got.keys()].every((k) => pods.has(k));
      });
      await eventually(`both mp pods over UDP on ${mpVips[f]}`, async () => {
        const got = tally(await lab.probe('client', 'udp', mpVips[f], 53, ['--count', '20', '--timeout-ms', '1000']));
        return got.size === 2 && [...got.keys()].every((k) => pods.has(k));
      });
    });
  });

  test('deleting the Service makes the VIP stop answering', async () => {
    await forEachFamily(async (f) => assert.ok((await answers('http', 3, vips[f])).size > 0, vips[f]));
    await lab.delete(`apiVersion: v1\nkind: Service\nmetadata: {name: whoami}\n`);
    await forEachFamily((f) => eventually(`${vips[f]} stops answering`, async () => {
      const got = await lab.probe('client', 'http', vips[f], 80, ['--count', '5', '--timeout-ms', '300']);
      return got.length === 5 && got.every((l) => l.startsWith('ERR'));
    }));
  });

  test('lab down leaves no namespace, pin, state or process behind', async () => {
    await lab.down();
    assert.deepEqual(lab.leftovers(), []);
  });
});
