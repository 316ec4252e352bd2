// What the agent does with what the API hands it, against a running lab
// agent (both modes): malformed Services and EndpointSlices are reported and
// never crash it; a Service cannot hijack another's address (and deleting the
// would-be thief costs the owner nothing); Services labelled
// service.kubernetes.io/headless are not proxied until the label goes.
//
// The objects are what kube-apiserver accepts (leading zeros in the legacy
// IP fields, IPv6 externalIPs on an IPv4 Service, source ranges padded or
// with host bits, 1,000 ports, ...). A few rows (unparseable source ranges)
// are objects kube-apiserver would refuse today but the lab stores: an agent
// must survive what an older or foreign API server stored too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { adminGet } from '../../control-plane/src/cli/admin-client.js';
import { labAdminSocket } from '../../lab/src/netns/layout.js';
import { E2E_IP_FAMILY, Lab, PROBE, ROOT, eventually, ok, run, sleep, tally } from './harness.js';
import { clientPod, deployment, manifests, namespace, pod, service } from './manifests.js';

const MODE = (process.env.SWITCHYARD_E2E_MODE ?? 'ebpf') as 'ebpf' | 'iptables';
const EXT_CLIENT = '198.18.0.200';

type J = Record<string, any>;

const WORKLOAD = manifests(
  namespace('aaa'),
  namespace('zzz'),
  deployment('web', { replicas: 2, grace: 1 }),
  pod('thief-a', { namespace: 'aaa', labels: { app: 'thief' }, node: 'node2' }),
  pod('thief-z', { namespace: 'zzz', labels: { app: 'thief' }, node: 'node1' }),
  clientPod('c1', 'node1'),
  service('good', { selector: { app: 'web' } }),
  service('manual', { selector: null, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
);

const docs = (objs: J[]): string => objs.map((o) => JSON.stringify(o)).join('\n---\n');

/** One malformed object and what the agent must say about it. */
interface Row {
  obj: J;
  /** The problem reason status must list for it, or 'conflict' (a lost frontend). */
  reason: string;
  /** LoadBalancer source range rows: does the external client get through? */
  admitsExternal?: boolean;
}

function svc(name: string, spec: J, meta: J = {}): J {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, ...meta },
    spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }], ...spec },
  };
}

function eps(name: string, body: J, labels: J = { 'kubernetes.io/service-name': 'manual' }): J {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, labels }, addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: ['198.19.250.1'], conditions: { ready: true } }],
    ...body,
  };
}

function rows(goodIP: string): Row[] {
  const lz = (ip: string): string => ip.split('.').map((o) => o.padStart(3, '0')).join('.');
  const out: Row[] = [
    { obj: svc('bad-cip-lz', { clusterIP: '198.018.200.001' }), reason: 'non-canonical-ip' },
    { obj: svc('bad-ext-lz', { externalIPs: ['198.018.065.021'] }), reason: 'non-canonical-ip' },
    { obj: svc('bad-ext-v6', { externalIPs: ['fd00::65'] }), reason: 'other-family' },
    { obj: svc('bad-ext-dup', { externalIPs: ['198.18.65.22', '198.18.65.22'] }), reason: 'duplicate-address' },
    { obj: svc('bad-ext-mixed', { externalIPs: ['198.18.65.23', 'fd00::66', '0198.18.65.24'] }), reason: 'other-family' },
    { obj: svc('bad-lbip-lz', { type: 'LoadBalancer', loadBalancerIP: '198.018.064.200' }), reason: 'non-canonical-ip' },
    { obj: svc('bad-proto-sctp', { ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 's', port: 9, protocol: 'SCTP' }] }), reason: 'unsupported-protocol' },
    {
      obj: svc('bad-1000-ports', {
        selector: undefined,
        ports: [...Array.from({ length: 999 }, (_, i) => ({ name: `p${i}`, port: 10000 + i, targetPort: 10000 + i })), { name: 'sctp', port: 9, protocol: 'SCTP' }],
      }),
      reason: 'unsupported-protocol',
    },
    { obj: svc('bad-lb-algo', {}, { annotations: { 'switchyard.io/lb-algorithm': 'fastest' } }), reason: 'invalid-annotation' },
    { obj: svc('bad-hijack', { externalIPs: [goodIP] }), reason: 'conflict' },
    { obj: svc('bad-hijack-lz', { externalIPs: [lz(goodIP)] }), reason: 'conflict' },
    { obj: svc('bad-hijack-lz2', { externalIPs: [lz(goodIP)] }), reason: 'non-canonical-ip' },
  ];
  // loadBalancerSourceRanges: each read as kube-proxy reads it; an unusable one filters (fail closed).
  const ranges: Array<[string, string[], string, boolean]> = [
    ['bad-sr-lz-in', ['198.018.000.000/024'], 'non-canonical-ip', true],
    ['bad-sr-lz-out', ['203.0.113.000/025'], 'non-canonical-ip', false],
    ['bad-sr-garbage', ['not-a-cidr'], 'invalid-cidr', false],
    ['bad-sr-33', ['198.18.0.0/33'], 'invalid-cidr', false],
    ['bad-sr-v6', ['fd00::/64'], 'other-family', false],
    ['bad-sr-hostbits', ['198.18.0.77/24'], 'non-canonical-ip', true],
    ['bad-sr-space', [' 198.18.0.0/24 '], 'non-canonical-ip', true],
    ['bad-sr-empty', [''], 'invalid-cidr', false],
    ['bad-sr-mixed', ['garbage', '198.18.0.0/24'], 'invalid-cidr', true],
    ['bad-sr-lz-octets', ['0198.0018.0.0/0024'], 'non-canonical-ip', true],
  ];
  for (const [name, r, reason, admits] of ranges) {
    out.push({ obj: svc(name, { type: 'LoadBalancer', loadBalancerSourceRanges: r }), reason, admitsExternal: admits });
  }
  // EndpointSlices of the selector-less Service "manual".
  out.push(
    { obj: eps('eps-lz', { endpoints: [{ addresses: ['198.019.250.001'] }] }), reason: 'non-canonical-ip' },
    { obj: eps('eps-port-0', { ports: [{ name: 'http', port: 0, protocol: 'TCP' }] }), reason: 'port-out-of-range' },
    { obj: eps('eps-port-nil', { ports: [{ name: 'http', protocol: 'TCP' }] }), reason: 'port-out-of-range' },
    { obj: eps('eps-sctp', { ports: [{ name: 'http', port: 8080, protocol: 'SCTP' }] }), reason: 'unsupported-protocol' },
    { obj: eps('eps-dup-addr', { endpoints: [{ addresses: ['198.19.250.2'] }, { addresses: ['198.19.250.2'] }] }), reason: 'duplicate-address' },
    {
      obj: eps('eps-1000-ports', { ports: [...Array.from({ length: 999 }, (_, i) => ({ name: `p${i}`, port: 10000 + i, protocol: 'TCP' })), { name: 'zero', port: 0, protocol: 'TCP' }] }),
      reason: 'port-out-of-range',
    },
    {
      obj: eps('eps-1000-endpoints', { endpoints: Array.from({ length: 1000 }, (_, i) => ({ addresses: [i === 999 ? '198.019.251.099' : `198.19.${248 + (i >> 8)}.${i & 255}`] })) }),
      reason: 'non-canonical-ip',
    },
  );
  for (let octet = 0; octet < 4; octet++) {
    const parts = ['198', '19', '250', '10'];
    parts[octet] = `00${parts[octet]}`;
    out.push({ obj: eps(`eps-lz-octet${octet}`, { endpoints: [{ addresses: [parts.join('.')] }] }), reason: 'non-canonical-ip' });
  }
  for (let i = 0; i < 4; i++) {
    out.push({
      obj: eps(`eps-zero-port-${i}`, { ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: `z${i}`, port: 0, protocol: 'TCP' }] }),
      reason: 'port-out-of-range',
    });
  }
  for (let i = 0; i < 3; i++) {
    out.push({ obj: eps(`eps-dup-${i}`, { endpoints: [{ addresses: [`198.19.250.${20 + i}`] }, { addresses: [`198.019.250.0${20 + i}`] }] }), reason: 'duplicate-address' });
  }
  out.push(
    { obj: eps('eps-udp-sctp-mix', { ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'x', port: 99, protocol: 'SCTP' }] }), reason: 'unsupported-protocol' },
    { obj: eps('eps-all-bad', { ports: [{ name: 'http', port: 0, protocol: 'TCP' }], endpoints: [{ addresses: ['0198.19.250.30'] }] }), reason: 'port-out-of-range' },
  );
  return out;
}

/** Objects the agent ignores without a problem (kube-proxy ignores them too). */
const IGNORED: J[] = [
  eps('eps-no-label', {}, {}),
  { ...eps('eps-fqdn', { endpoints: [{ addresses: ['example.com'] }] }), addressType: 'FQDN' },
  { ...eps('eps-ipv6', { endpoints: [{ addresses: ['fd00::250:1'] }] }), addressType: 'IPv6' },
  svc('empty-selector', { selector: {} }),
];

describe(`API objects: malformed, hijacking, headless-labelled (${MODE})`, { timeout: 900_000 }, () => {
  const lab = new Lab(Lab.uniqueName('e2o'), MODE, E2E_IP_FAMILY);
  let webPods = new Set<string>();

  const adminSock = (node: string): { socketPath: string } => ({ socketPath: labAdminSocket(lab.name, node) });
  const status = async (node = 'node1'): Promise<J> => {
    const r = await adminGet(adminSock(node), '/v1/status?history=0');
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as J;
  };
  const agentPid = async (node: string): Promise<number> => {
    const info = JSON.parse(await ok(['lab', 'status', '--name', lab.name, '-o', 'json'])) as J;
    return (info.nodes as J[]).find((n) => n.name === node)!.agent.pid as number;
  };
  const fromPod = async (host: string, port: number, count: number, extra: string[] = []): Promise<string[]> =>
    lab.probe('c1', 'http', host, port, ['--count', String(count), '--timeout-ms', '1000', ...extra]);
  const fromExternal = async (host: string, port: number, count: number, timeoutMs = 1000): Promise<string[]> =>
    lab.probeExternal('http', host, port, ['--count', String(count), '--timeout-ms', String(timeoutMs)]);
  const servedByWeb = (lines: string[]): boolean => lines.length > 0 && lines.every((l) => webPods.has(l));

  before(async () => {
    await lab.up(2);
    await lab.apply(WORKLOAD);
    await lab.waitReady();
    webPods = new Set((await lab.pods({ app: 'web' }, { ready: true })).map((p) => p.metadata.name));
    assert.equal(webPods.size, 2);
  });

  after(async () => {
    await lab.down();
  });

  test('malformed Services and EndpointSlices: none crashes the agent, each is reported, the good Service keeps serving', async () => {
    const goodIP = await lab.clusterIP('good');
    await eventually('good answers', async () => servedByWeb(await fromPod(goodIP, 80, 10)));
    const pids = { node1: await agentPid('node1'), node2: await agentPid('node2') };
    const table = rows(goodIP);
    assert.ok(table.length >= 40, `${table.length} malformed objects`);
    // All accepted by the lab API server (ok() throws on any refusal).
    await lab.apply(docs([...table.map((r) => r.obj), ...IGNORED]));

    // Nobody crashed, both agents healthy.
    for (const node of ['node1', 'node2'] as const) {
      assert.equal(await agentPid(node), pids[node], `${node} agent restarted`);
      assert.equal((await adminGet(adminSock(node), '/healthz')).status, 200);
    }
    // The good Service still answers, only from its own pods (not hijacked).
    assert.ok(servedByWeb(await fromPod(goodIP, 80, 20)), 'good Service serves from its pods');
    // Leading zeros are read as kube-proxy reads them: the ClusterIP and the ExternalIP serve.
    await eventually('ClusterIP written with leading zeros serves', async () => servedByWeb(await fromPod('198.18.200.1', 80, 5)));
    await eventually('ExternalIP written with leading zeros serves', async () => servedByWeb(await fromExternal('198.18.65.21', 80, 5)));
    await eventually('LoadBalancer IP written with leading zeros serves', async () => servedByWeb(await fromExternal('198.18.64.200', 80, 5)));

    // Source ranges: the external client is inside the valid ones (leading zeros
    // included) and gets through; outside them, or where no range is usable, it is dropped.
    const rangeRows = table.filter((x) => x.admitsExternal !== undefined);
    const ingress = await eventually('LoadBalancer ingress of every source-range Service', async () => {
      const byName = new Map((await lab.get('services')).map((x) => [x.metadata.name, x.status?.loadBalancer?.ingress?.[0]?.ip as string | undefined]));
      return rangeRows.every((r) => byName.get(r.obj.metadata.name)) ? byName : undefined;
    });
    // Every Service at once (each check is independent; a drop is 3 timeouts of 0.7 s, waited in parallel).
    await Promise.all(rangeRows.map(async (r) => {
      const ip = ingress.get(r.obj.metadata.name)!;
      if (r.admitsExternal) {
        await eventually(`${r.obj.metadata.name} admits ${EXT_CLIENT}`, async () => servedByWeb(await fromExternal(ip, 80, 5)));
      } else {
        const got = await fromExternal(ip, 80, 3, 700);
        assert.ok(got.length === 3 && got.every((l) => l.startsWith('ERR')), `${r.obj.metadata.name} (${JSON.stringify(r.obj.spec.loadBalancerSourceRanges)}) must drop ${EXT_CLIENT}: ${JSON.stringify(got)}`);
      }
    }));
    for (const node of ['node1', 'node2'] as const) {
      assert.equal(await agentPid(node), pids[node], `${node} agent restarted`);
      assert.equal((await adminGet(adminSock(node), '/healthz')).status, 200);
    }

    // Each malformed object is reported, on both nodes.
    const expectReported = async (node: string): Promise<J> => eventually(`${node} reports every malformed object`, async () => {
      const st = await status(node);
      const objs = st.objects as J;
      const missing = table.filter((r) => {
        if (r.reason === 'conflict') return !(objs.conflicts as J[]).some((c) => c.loser.startsWith(`default/${r.obj.metadata.name}:`) && c.winner === 'default/good:http/TCP');
        return !(objs.problems as J[]).some((o) => o.kind === r.obj.kind && o.name === r.obj.metadata.name && (o.problems as J[]).some((p) => p.reason === r.reason));
      });
      if (missing.length > 0) throw new Error(`not reported: ${missing.map((r) => `${r.obj.metadata.name} (${r.reason})`).join(', ')}`);
      return st;
    }, 60_000, 1000);
    const st = await expectReported('node1');
    await expectReported('node2');
    // The objects ignored as kube-proxy ignores them are not problems.
    for (const o of IGNORED) assert.ok(!(st.objects.problems as J[]).some((p) => p.name === o.metadata.name), o.metadata.name);

    // The metrics say the same.
    const m = (await adminGet(adminSock('node1'), '/metrics')).body;
    const sum = (name: string): number => m.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    assert.ok(sum('switchyard_object_problems') >= table.length - 2, `switchyard_object_problems ${sum('switchyard_object_problems')}`);
    assert.ok(sum('switchyard_frontend_conflicts') >= 2);
    // `switchyard status` (the CLI) lists them too.
    const cli = await ok(['status', '--lab', lab.name, '--node', 'node1']);
    assert.match(cli, /objects with problems, \d+ frontend conflicts/);
    assert.match(cli, /EndpointSlice default\/eps-port-0 ports\[0\]\.port: port-out-of-range/);


    await lab.delete(docs([...table.map((r) => r.obj), ...IGNORED]));
    await eventually('problems cleared once the objects are gone', async () => ((await status()).objects.objectsWithProblems as number) === 0, 60_000, 1000);
  });

  test('a Service listing another\'s ClusterIP as externalIP does not take it; deleting it leaves no gap', async () => {
    await lab.apply(manifests(service('victim', { selector: { app: 'web' } })));
    const vip = await lab.clusterIP('victim');
    await eventually('victim answers', async () => servedByWeb(await fromPod(vip, 80, 10)));
    // Newer and in namespaces sorting both before and after "default": neither may win.
    const thieves = manifests(...['aaa', 'zzz'].map((ns) => service('thief', { namespace: ns, spec: { externalIPs: [vip] } })));
    await lab.apply(thieves);
    // Once the thieves serve on their own ClusterIPs (their endpoints are programmed), every answer
    // on the victim's address must still be the victim's.
    const all = JSON.parse(await ok(['lab', 'get', 'services', '-A', '--name', lab.name, '-o', 'json'])) as { items: J[] };
    const thiefIPs = all.items.filter((x) => x.metadata.name === 'thief').map((x) => [x.metadata.namespace as string, x.spec.clusterIP as string]);
    assert.equal(thiefIPs.length, 2);
    for (const [ns, ip] of thiefIPs) {
      await eventually(`${ns}/thief serves on its own ClusterIP`, async () => (await fromPod(ip!, 80, 3)).every((l) => l === (ns === 'aaa' ? 'thief-a' : 'thief-z')));
    }
    const during = await fromPod(vip, 80, 40);
    assert.ok(servedByWeb(during), `victim's address answered by ${JSON.stringify([...tally(during)])}`);
    const ext = await fromExternal(vip, 80, 10);
    assert.ok(servedByWeb(ext), `from outside: ${JSON.stringify([...tally(ext)])}`);
    await eventually('both thieves reported as losers', async () => {
      const c = (await status()).objects.conflicts as J[];
      return ['aaa/thief:http/TCP', 'zzz/thief:http/TCP'].every((l) => c.some((x) => x.loser === l && x.winner === 'default/victim:http/TCP' && x.kind === 'ExternalIP'));
    }, 30_000, 500);
    // The admin services view shows the thief's lost frontend.
    const view = JSON.parse((await adminGet(adminSock('node1'), '/v1/services?namespace=zzz')).body) as J;
    assert.ok((view.services as J[]).some((s) => (s.problems as string[]).some((p) => p.includes(`${vip}:80/TCP not programmed`))), JSON.stringify(view.services?.map((s: J) => s.problems)));

    // Continuous requests across the delete: none may fail.
    const args = ['lab', 'exec', '--name', lab.name, 'c1', '--', PROBE, 'http', vip, '80', '--count', '300', '--interval-ms', '20', '--timeout-ms', '1000'];
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/switchyard.js'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const done = new Promise<void>((r) => child.on('close', () => r()));
    await sleep(1500);
    await lab.delete(thieves);
    await eventually('conflicts gone', async () => ((await status()).objects.conflicts as J[]).length === 0, 30_000, 250);
    await done;
    const lines = out.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(lines.length, 300, out.slice(-500));
    const bad = lines.filter((l) => !webPods.has(l));
    assert.deepEqual(bad, [], `requests across the delete not answered by the victim: ${JSON.stringify([...tally(bad)])}`);
    assert.ok(servedByWeb(await fromPod(vip, 80, 20)));
  });

  test('service.kubernetes.io/headless: not proxied while labelled, proxied once the label is removed', async () => {
    const manifest = (labelled: boolean): string =>
      manifests(service('hl', { selector: { app: 'web' }, ...(labelled ? { labels: { 'service.kubernetes.io/headless': '' } } : {}) }));
    await lab.apply(manifest(true));
    const ip = await lab.clusterIP('hl');
    // Let a sync pass, then nothing may answer on the address.
    await sleep(3000);
    const st = await status();
    assert.ok(st.healthy);
    const labelled = await fromPod(ip, 80, 3, ['--timeout-ms', '700']);
    assert.ok(labelled.every((l) => l.startsWith('ERR')), `labelled Service answered: ${JSON.stringify(labelled)}`);
    await lab.apply(manifest(false));
    await eventually('proxied once the label is gone', async () => servedByWeb(await fromPod(ip, 80, 5)), 30_000, 500);
    await lab.apply(manifest(true));
    await eventually('not proxied again once relabelled', async () => (await fromPod(ip, 80, 2, ['--timeout-ms', '700'])).every((l) => l.startsWith('ERR')), 30_000, 500);
  });
});
