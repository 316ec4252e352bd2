// The external IP policy: off by default, set by flags or the config file
// (flags win), bad CIDRs refused at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAgentOptions } from '../../control-plane/src/config/agent-options.js';
import { parseSwitchyardConfig } from '../../control-plane/src/config/kube-proxy-config.js';

const SY = 'apiVersion: switchyard.io/v1alpha1\nkind: SwitchyardConfiguration\n';
const env = { NODE_NAME: 'n1' };

test('off by default, as in kube-proxy', () => {
  assert.deepEqual(parseAgentOptions([], env).externalIPPolicy, { refuseClusterIPs: false, allowedCIDRs: [] });
});

test('flags set it; a bad CIDR or boolean stops the agent', () => {
  const o = parseAgentOptions(['--refuse-cluster-ip-external-ips=true', '--external-ip-cidrs', '203.0.113.0/24, 198.51.100.0/24'], env);
  assert.deepEqual(o.externalIPPolicy, { refuseClusterIPs: true, allowedCIDRs: ['203.0.113.0/24', '198.51.100.0/24'] });
  assert.throws(() => parseAgentOptions(['--external-ip-cidrs', '203.0.113.0/33'], env), /--external-ip-cidrs: "203.0.113.0\/33" is not an IPv4 CIDR/);
  assert.throws(() => parseAgentOptions(['--refuse-cluster-ip-external-ips=yes'], env), /must be true or false/);
});

test('the config file sets it; flags win', () => {
  const cfg = parseSwitchyardConfig(`${SY}externalIPs: {refuseClusterIPs: true, allowedCIDRs: [203.0.113.0/24]}\n`);
  assert.deepEqual(cfg.externalIPs, { refuseClusterIPs: true, allowedCIDRs: ['203.0.113.0/24'] });
  assert.throws(() => parseSwitchyardConfig(`${SY}externalIPs: {allowedCIDRs: [bogus]}\n`), /externalIPs.allowedCIDRs\[0\].*not an IPv4 CIDR/);
  const dir = mkdtempSync(path.join(tmpdir(), 'sy-eip-'));
  try {
    const file = path.join(dir, 'c.yaml');
    writeFileSync(file, `${SY}externalIPs: {refuseClusterIPs: true, allowedCIDRs: [203.0.113.0/24]}\n`);
    assert.deepEqual(parseAgentOptions(['--config', file], env).externalIPPolicy, { refuseClusterIPs: true, allowedCIDRs: ['203.0.113.0/24'] });
    assert.deepEqual(parseAgentOptions(['--config', file, '--refuse-cluster-ip-external-ips=false'], env).externalIPPolicy.refuseClusterIPs, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
