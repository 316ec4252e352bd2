// The watch silence timeout: flag, configuration field, default and "0 = never".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAgentOptions } from '../../control-plane/src/config/agent-options.js';
import { ConfigError, configFlagValues, parseSwitchyardConfig } from '../../control-plane/src/config/kube-proxy-config.js';

const SY = 'apiVersion: switchyard.io/v1alpha1\nkind: SwitchyardConfiguration\n';

test('--watch-silence-timeout: default 5m, a duration, or 0 for never', () => {
  assert.equal(parseAgentOptions(['--node-name', 'n1']).watchSilenceTimeoutMs, 300_000);
  assert.equal(parseAgentOptions(['--node-name', 'n1', '--watch-silence-timeout', '90s']).watchSilenceTimeoutMs, 90_000);
  assert.equal(parseAgentOptions(['--node-name', 'n1', '--watch-silence-timeout=0']).watchSilenceTimeoutMs, 0);
  assert.throws(() => parseAgentOptions(['--node-name', 'n1', '--watch-silence-timeout', 'soon']), /invalid duration "soon"/);
});

test('watchSilenceTimeout in a SwitchyardConfiguration becomes the flag; flags still win', () => {
  const cfg = parseSwitchyardConfig(`${SY}watchSilenceTimeout: 2m30s\n`, 'cfg.yaml');
  assert.equal(cfg.watchSilenceTimeoutMs, 150_000);
  assert.deepEqual(configFlagValues(cfg, ['watch-silence-timeout']).values, { 'watch-silence-timeout': '150000ms' });
  assert.throws(() => parseSwitchyardConfig(`${SY}watchSilenceTimeout: often\n`, 'cfg.yaml'), ConfigError);
  // A KubeProxyConfiguration has no such field: strict decoding refuses it.
  assert.throws(() => parseSwitchyardConfig('apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nwatchSilenceTimeout: 1m\n', 'cfg.yaml'), ConfigError);

  const dir = mkdtempSync(path.join(tmpdir(), 'sy-wst-'));
  try {
    const file = path.join(dir, 'cfg.yaml');
    writeFileSync(file, `${SY}watchSilenceTimeout: 45s\n`);
    assert.equal(parseAgentOptions(['--node-name', 'n1', '--config', file]).watchSilenceTimeoutMs, 45_000);
    assert.equal(parseAgentOptions(['--node-name', 'n1', '--config', file, '--watch-silence-timeout', '10s']).watchSilenceTimeoutMs, 10_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
