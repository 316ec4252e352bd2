#!/usr/bin/env node
// Runs the test suites in order and prints one closing line
// "tests: N passed, M failed". Usage: run-tests.mjs [suite...]
// Suites: bpf unit lab loader iptables deploy lab-netns e2e e2e-nosocklb e2e-iptables faults bench (default: all). First
// removes the labs an earlier run left when it was killed (`switchyard cleanup --stale`: only labs whose recorded
// daemon is gone, so a lab another run is using is left alone).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', p);
const testFiles = (dir) => {
  const d = dist(dir);
  if (!existsSync(d)) return [];
  return readdirSync(d).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(d, f));
};

const SUITES = {
  bpf: { kind: 'plain', cmd: [path.join(root, 'bpf/build/tc_ingress_test')] },
  unit: { kind: 'node', files: () => testFiles('test/unit') },
  lab: { kind: 'node', files: () => testFiles('test/lab') },
  loader: { kind: 'node', files: () => testFiles('test/loader'), serial: true },
  iptables: { kind: 'node', files: () => testFiles('test/iptables'), serial: true },
  deploy: { kind: 'node', files: () => testFiles('test/deploy'), serial: true },
  // The benchmark's quick preset as a smoke test (full runs: docs/benchmarks.md).
  bench: { kind: 'node', files: () => testFiles('test/bench'), serial: true },
  'lab-netns': { kind: 'node', files: () => testFiles('test/lab-netns'), serial: true },
  e2e: { kind: 'node', files: () => testFiles('test/e2e'), serial: true },
  // ebpf mode with socket-level balancing off: pods through the tc programs only.
  'e2e-nosocklb': {
    kind: 'node', serial: true, env: { SWITCHYARD_E2E_AGENT_ARGS: '--socket-lb=false' },
    files: () => testFiles('test/e2e').filter((f) => /\/(clusterip|conntrack|external|lifecycle|pmtu|datapath-edges|dual-stack)\.test\.js$/.test(f)),
  },
  // The same end-to-end suite with the agents in iptables mode.
  'e2e-iptables': { kind: 'node', files: () => testFiles('test/e2e'), serial: true, env: { SWITCHYARD_E2E_MODE: 'iptables' } },
  // Faults played in a lab under steady traffic (test/faults/faults.test.ts; about 5 minutes).
  faults: { kind: 'node', files: () => testFiles('test/faults'), serial: true },
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(SUITES);
let passed = 0, failed = 0;
const failedSuites = [];

const cleanupModule = dist('lab/src/cli/cleanup.js');
if (process.getuid?.() === 0 && existsSync(cleanupModule)) {
  const { runCleanup } = await import(cleanupModule);
  await runCleanup({ staleOnly: true, out: (l) => console.log(l) });
}

function run(cmd, args, env = {}) {
  return new Promise((resolve) => {
    let out = '';
    const child = spawn(cmd, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    child.stdout.on('data', (d) => { process.stdout.write(d); out += d; });
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

for (const name of wanted) {
  const s = SUITES[name];
  if (!s) { console.error(`unknown suite ${name}`); process.exit(2); }
  console.log(`\n=== suite ${name}`);
  if (s.kind === 'plain') {
    const { code, out } = await run(s.cmd[0], s.cmd.slice(1));
    const m = out.match(/^(\d+) passed, (\d+) failed$/m);
    if (m) { passed += Number(m[1]); failed += Number(m[2]); }
    if (code !== 0 || !m) { failedSuites.push(name); if (!m) failed++; }
    continue;
  }
  const files = s.files();
  if (files.length === 0) { console.log(`(no ${name} tests built)`); continue; }
  const args = ['--test', '--test-reporter=tap', ...(s.serial ? ['--test-concurrency=1'] : []), ...files];
  const { code, out } = await run(process.execPath, args, s.env);
  const p = out.match(/^# pass (\d+)$/m), f = out.match(/^# fail (\d+)$/m);
  passed += p ? Number(p[1]) : 0;
  failed += f ? Number(f[1]) : 0;
  if (code !== 0) { failedSuites.push(name); if (!f || Number(f[1]) === 0) failed++; }
}

if (failedSuites.length) console.log(`\nfailed suites: ${failedSuites.join(', ')}`);
console.log(`\ntests: ${passed} passed, ${failed} failed`);
process.exit(failed > 0 || failedSuites.length ? 1 : 0);
