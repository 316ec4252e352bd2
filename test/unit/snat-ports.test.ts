// The SNAT port range of the ebpf datapath: outside the node's
// net.ipv4.ip_local_port_range by default, a configured overlap refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chooseSnatPorts, parsePortRange, readLocalPortRange } from '../../control-plane/src/config/snat-ports.js';
import { parseAgentOptions } from '../../control-plane/src/config/agent-options.js';

test('parsePortRange: MIN-MAX and the /proc form "MIN\\tMAX"; bad input refused with the flag name', () => {
  assert.deepEqual(parsePortRange('61000-65535', 'x'), { min: 61000, max: 65535 });
  assert.deepEqual(parsePortRange('32768\t60999\n', 'x'), { min: 32768, max: 60999 });
  assert.throws(() => parsePortRange('70000-70001', '--snat-port-range'), /--snat-port-range: 70000-70001 is not within 1-65535/);
  assert.throws(() => parsePortRange('2000-1000', '--snat-port-range'), /MIN <= MAX/);
  assert.throws(() => parsePortRange('abc', '--snat-port-range'), /not a port range/);
});

test('default: the largest stretch outside ip_local_port_range, ports < 1024 and 30000-32767', () => {
  const c = chooseSnatPorts({ min: 32768, max: 60999 });
  assert.deepEqual(c, { range: { min: 1024, max: 29999 }, source: 'default', localPortRange: { min: 32768, max: 60999 } });
  // A local range covering the low ports: the high stretch is left.
  assert.deepEqual(chooseSnatPorts({ min: 1024, max: 49999 }).range, { min: 50000, max: 65535 });
  // Nothing usable left.
  assert.throws(() => chooseSnatPorts({ min: 1024, max: 65000 }), /no stretch of 1024 ports .* set --snat-port-range/);
});

test('a configured range is used when outside ip_local_port_range, refused when it overlaps', () => {
  assert.deepEqual(chooseSnatPorts({ min: 32768, max: 60999 }, { min: 61000, max: 65535 }).source, 'configured');
  assert.throws(() => chooseSnatPorts({ min: 32768, max: 60999 }, { min: 60000, max: 62000 }),
    /--snat-port-range 60000-62000 overlaps the node's net.ipv4.ip_local_port_range 32768-60999/);
});

test('readLocalPortRange reads the /proc format; the agent flag and the config file field', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sy-snat-'));
  try {
    const f = path.join(dir, 'range');
    writeFileSync(f, '40000\t50000\n');
    assert.deepEqual(readLocalPortRange(f), { min: 40000, max: 50000 });
    assert.deepEqual(parseAgentOptions(['--node-name', 'n', '--snat-port-range', '61000-62000'], {}).snatPortRange, { min: 61000, max: 62000 });
    const cfg = path.join(dir, 'config.yaml');
    writeFileSync(cfg, 'apiVersion: switchyard.io/v1alpha1\nkind: SwitchyardConfiguration\nsnatPortRange: "61000-61999"\n');
    assert.deepEqual(parseAgentOptions(['--node-name', 'n', '--config', cfg], {}).snatPortRange, { min: 61000, max: 61999 });
    writeFileSync(cfg, 'apiVersion: switchyard.io/v1alpha1\nkind: SwitchyardConfiguration\nsnatPortRange: "1-99999"\n');
    assert.throws(() => parseAgentOptions(['--node-name', 'n', '--config', cfg], {}), /snatPortRange/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
