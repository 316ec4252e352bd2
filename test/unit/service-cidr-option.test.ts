// --service-cluster-ip-range: the Service CIDR the datapath skips its reply lookup for. A wrong range would make
// the datapath miss replies, so anything doubtful is refused at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAgentOptions, parseServiceCIDR } from '../../control-plane/src/config/agent-options.js';

const env = { NODE_NAME: 'n1' };

test('unset: no Service CIDR (the datapath looks every packet up as a reply)', () => {
  assert.equal(parseAgentOptions([], env).serviceCIDR, undefined);
});

test('an IPv4 CIDR, host bits cleared; the IPv6 entry of a dual-stack pair is ignored', () => {
  assert.equal(parseAgentOptions(['--service-cluster-ip-range', '10.96.0.0/12'], env).serviceCIDR, '10.96.0.0/12');
  assert.equal(parseServiceCIDR('198.18.130.7/17', undefined), '198.18.128.0/17');
  assert.equal(parseServiceCIDR('10.96.0.0/16, fd00:10:96::/112', undefined), '10.96.0.0/16');
  assert.equal(parseServiceCIDR('fd00:10:96::/112,10.96.0.0/16', '198.18.0.11'), '10.96.0.0/16');
});

test('refused: not a CIDR, /0, no or two IPv4 entries, a range holding the node IP', () => {
  const bad: Array<[string[], RegExp]> = [
    [['--service-cluster-ip-range', '10.96.0.0'], /not an IPv4 CIDR/],
    [['--service-cluster-ip-range', '10.96.0.0/33'], /not an IPv4 CIDR/],
    [['--service-cluster-ip-range', 'banana/12'], /not an IPv4 CIDR/],
    [['--service-cluster-ip-range', '0.0.0.0/0'], /\/0 range/],
    [['--service-cluster-ip-range', 'fd00::/112'], /found 0/],
    [['--service-cluster-ip-range', ''], /found 0/],
    [['--service-cluster-ip-range', '10.96.0.0/12,10.112.0.0/12'], /found 2/],
    [['--service-cluster-ip-range', '198.18.0.0/16', '--node-ip', '198.18.0.11'], /holds the node IP 198\.18\.0\.11/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseAgentOptions(argv, env), re, argv.join(' '));
});

test('the ebpf dataplane hands the CIDR to the loader in SetConfig (network and prefix; none: fields unset)', async () => {
  const { pino } = await import('pino');
  const { EbpfDataplane } = await import('../../control-plane/src/dataplane/ebpf/ebpf-dataplane.js');
  const { OpType } = await import('../../control-plane/src/dataplane/ebpf/loader-protocol.js');
  const { DEFAULT_MAGLEV_SIZING } = await import('../../control-plane/src/dataplane/maglev.js');
  type Loader = ConstructorParameters<typeof EbpfDataplane>[0];
  const configOf = async (serviceCIDR: string | undefined): Promise<Record<string, unknown>> => {
    const ops: Array<Record<string, unknown>> = [];
    // Records the ops, and fails the reads that follow SetConfig (this test is about the first request only).
    const loader = {
      apply: async (o: Array<Record<string, unknown>>) => { ops.push(...o); return { applied: o.length }; },
      dump: async () => { throw new Error('no maps in this test'); },
      status: async () => ({ maps: [] }),
    } as unknown as Loader;
    const dp = new EbpfDataplane(loader, { seed: 1, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.11', ...(serviceCIDR ? { serviceCIDR } : {}) }, pino({ level: 'silent' }));
    await dp.init().catch(() => undefined);
    const op = ops.find((o) => o.setConfig !== undefined);
    assert.ok(op, 'a SetConfig op');
    assert.equal(OpType.verify(op), null, 'the op fits loader.proto');
    return op.setConfig as Record<string, unknown>;
  };
  const set = await configOf('198.18.128.0/17');
  assert.deepEqual([...(set.serviceCidrAddr as Uint8Array)], [198, 18, 128, 0]);
  assert.equal(set.serviceCidrPrefixLen, 17);
  const unset = await configOf(undefined);
  assert.equal(unset.serviceCidrAddr, undefined);
  assert.equal(unset.serviceCidrPrefixLen, undefined);
});
