// node scripts/iptables-cold-start.mjs BACKEND SERVICES ENDPOINTS [batchChains] (root; after tsc): the iptables back end's cold start (first sync) and one one-endpoint change in a fresh network namespace (sy-nft-PID, deleted afterwards), with wall and child CPU times. docs/benchmarks.md, "iptables fallback at scale".
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
const childCpu = () => { const f = readFileSync('/proc/self/stat','utf8'); const x = f.slice(f.lastIndexOf(')')+2).split(' '); return (Number(x[13])+Number(x[14]))*10; };
import { IptablesDataplane } from '../dist/control-plane/src/dataplane/iptables/iptables-dataplane.js';
import { desiredOf, svcPort, ep } from '../dist/test/iptables/fixtures.js';
const [backend, n, k, bc] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), process.argv[5]];
const entries = [];
for (let i = 0; i < n; i++) {
  const s = svcPort({ ns: 'bench', name: `s${i}`, clusterIP: `198.18.${(i >> 8) & 255}.${i & 255}`, svcPort: 80 });
  const eps = [];
  for (let j = 0; j < k; j++) { const x = i * k + j; eps.push(ep(`198.19.${(x >> 8) & 255}.${x & 255}`, { port: 8080 + ((x >> 16) & 7) })); }
  entries.push([s, eps]);
}
const ns = `sy-nft-${process.pid}`;
execFileSync('ip', ['netns', 'add', ns]);
try {
  const dp = new IptablesDataplane({ node: { nodeName: 'node-a', nodeIPs: ['198.18.255.1'], clusterCIDR: '198.19.0.0/16' }, backend,
    commandPrefix: ['ip', 'netns', 'exec', ns], canaryMonitor: false, detectHostFeatures: false, manageSysctls: false,
    ...(bc !== undefined ? { restoreBatchChains: Number(bc) } : {}),
    onCommandRunning: (r) => console.error(`running ${r.argv.slice(4).join(' ').slice(0, 60)} ${r.elapsedMs} ms cpu ${r.cpuMs} ms idle ${r.idleMs} ms`) });
  await dp.init();
  const d = desiredOf(entries);
  const c0 = childCpu(); const t0 = process.hrtime.bigint();
  await dp.sync(d);
  const t1 = process.hrtime.bigint(); const c1 = childCpu(); const plan1 = dp.lastRestorePlan;
  entries[0][1] = entries[0][1].slice(1);
  await dp.sync(desiredOf(entries));
  const t2 = process.hrtime.bigint(); const c2 = childCpu();
  const save = execFileSync('ip', ['netns', 'exec', ns, `iptables-${backend}-save`, '-t', 'nat'], { maxBuffer: 1 << 30 }).toString();
  const chains = save.split('\n').filter((l) => l.startsWith(':KUBE-S')).length;
  console.log(JSON.stringify({ backend, services: n, endpoints: k, coldSyncMs: Number(t1 - t0) / 1e6, changeSyncMs: Number(t2 - t1) / 1e6, coldChildCpuMs: c1 - c0, changeChildCpuMs: c2 - c1, coldPlan: plan1, changePlan: dp.lastRestorePlan, chainsInKernel: chains, runningReports: dp.runningReports }));
} finally {
  execFileSync('ip', ['netns', 'del', ns]);
}
