// Datapath modes end to end: ebpf -> iptables -> ebpf across agent restarts
// leaves nothing of the other mode behind, auto mode falls back to iptables
// when a kernel feature is (pretended) missing, and ebpf mode refuses to
// start without it, naming the feature.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { E2E_IP_FAMILY, Lab, ROOT, eventually, run, tally } from './harness.js';

const WHOAMI = readFileSync(path.join(ROOT, 'lab/examples/whoami.yaml'), 'utf8');

function inNode(lab: Lab, node: number, argv: string[]): string {
  try {
    return execFileSync('ip', ['netns', 'exec', `${lab.name}-n${node}`, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return String((err as { stdout?: string }).stdout ?? '');
  }
}

/** KUBE-* chains in either iptables back end of a node. */
function kubeChains(lab: Lab, node: number): string[] {
  const out: string[] = [];
  for (const save of ['iptables-legacy-save', 'iptables-nft-save']) {
    for (const line of inNode(lab, node, [save]).split('\n')) if (line.startsWith(':KUBE-')) out.push(`${save} ${line.split(' ')[0]}`);
  }
  return out;
}

/**
 * Programs attached in a node namespace and the node's pins. Attachments are
 * read from the pinned sy_attach map (bpftool 7.1 does not list tcx links)
 * plus clsact filters and XDP that `bpftool net` does show.
 */
function bpfState(lab: Lab, node: number): { attached: number; pins: boolean } {
  const dir = `/sys/fs/bpf/switchyard/${lab.name}-n${node}`;
  let attached = 0;
  if (existsSync(`${dir}/sy_attach`)) {
    attached += (JSON.parse(execFileSync('bpftool', ['map', 'dump', 'pinned', `${dir}/sy_attach`, '-j'], { encoding: 'utf8' })) as unknown[]).length;
  }
  const net = JSON.parse(inNode(lab, node, ['bpftool', 'net', 'show', '-j']) || '[]') as Array<{ tc?: unknown[]; xdp?: unknown[] }>;
  for (const e of net) attached += (e.tc?.length ?? 0) + (e.xdp?.length ?? 0);
  return { attached, pins: existsSync(dir) };
}

// Drives both modes itself: runs once, in the ebpf pass of the suite.
const SKIP = process.env.SWITCHYARD_E2E_MODE === 'iptables' && 'covers both modes; runs in the ebpf pass';

describe('datapath modes: probing, fallback and switching', { timeout: 600_000, skip: SKIP }, () => {
  const lab = new Lab(Lab.uniqueName('e2m'), 'ebpf', E2E_IP_FAMILY);
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

  async function serving(): Promise<void> {
    const names = new Set((await lab.pods({ app: 'whoami' }, { ready: true })).map((p) => p.metadata.name));
    await eventually('every backend answering', async () => {
      const got = tally(await lab.probe('client', 'http', vip, 80, ['--count', '40', '--timeout-ms', '1000']));
      return got.size === names.size && [...got.keys()].every((k) => names.has(k));
    });
  }

  async function restart(mode: string, ...agentArgs: string[]) {
    return run(['lab', 'restart-agents', '--name', lab.name, '--mode', mode, ...agentArgs.map((a) => `--agent-arg=${a}`), '--timeout', '60'], { timeoutMs: 120_000 });
  }

  test('ebpf mode: programs attached, no KUBE chains', async () => {
    await serving();
    for (const n of [1, 2]) {
      const s = bpfState(lab, n);
      assert.ok(s.attached > 0 && s.pins, JSON.stringify(s));
      assert.deepEqual(kubeChains(lab, n), []);
    }
  });

  test('switching to iptables: traffic works, nothing of ebpf is left', async () => {
    const r = await restart('iptables');
    assert.equal(r.code, 0, r.stderr);
    await serving();
    for (const n of [1, 2]) {
      assert.deepEqual(bpfState(lab, n), { attached: 0, pins: false });
      assert.ok(kubeChains(lab, n).some((c) => c.endsWith(':KUBE-SERVICES')));
    }
  });

  test('switching back to ebpf: traffic works, no KUBE chain is left', async () => {
    const r = await restart('ebpf');
    assert.equal(r.code, 0, r.stderr);
    await serving();
    for (const n of [1, 2]) {
      assert.deepEqual(kubeChains(lab, n), []);
      assert.ok(bpfState(lab, n).attached > 0);
    }
  });

  test('auto mode with a feature reported missing programs iptables and traffic works', async () => {
    const r = await restart('auto', '--pretend-missing=map_type:lru_hash');
    assert.equal(r.code, 0, r.stderr);
    await serving();
    const log = readFileSync(`/run/switchyard/lab/${lab.name}/node1-agent.log`, 'utf8');
    assert.match(log, /falling back to iptables, missing map_type:lru_hash/);
    assert.ok(kubeChains(lab, 1).some((c) => c.endsWith(':KUBE-SERVICES')));
    assert.deepEqual(bpfState(lab, 1), { attached: 0, pins: false });
  });

  test('ebpf mode with a feature missing exits with a clear error naming it', async () => {
    const r = await restart('ebpf', '--pretend-missing=map_type:lru_hash');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ebpf mode requested but the kernel cannot run the datapath: missing map_type:lru_hash/);
  });
});
