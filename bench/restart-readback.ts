// Benchmark step (not in CI): an agent restart at scale reads back every
// table and leaves no orphan. A real loader (own network namespace and pins)
// is programmed by the agent's own code (ServiceTracker, EndpointSliceCache,
// Proxier, EbpfDataplane, LoaderClient) with N Services x E endpoints; then
// leftovers no Service needs are planted (frontends, reverse NAT, backends,
// Maglev tables, as a previous agent could have left them); then a fresh
// agent instance starts on the same pins, restores its state from the maps
// (every dump page) and runs its first full sync. Checked: the restore saw
// every table that was in sy_maglev, and afterwards every map holds exactly
// what the desired state wants (no orphan, nothing missing). The Kubernetes
// side (API server, informers) is not part of this step: the objects are fed
// to the trackers directly, as bench/agent-memory.ts does.
//
//   node dist/bench/restart-readback.js [--services 30000] [--endpoints 10] [--orphans 200] [--out FILE.md]
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import pino from 'pino';
import { EbpfDataplane } from '../control-plane/src/dataplane/ebpf/ebpf-dataplane.js';
import { LoaderClient } from '../control-plane/src/dataplane/ebpf/loader-client.js';
import type { LoaderOp } from '../control-plane/src/dataplane/ebpf/sync-plan.js';
import { decodeSvcKey, svcKeyString } from '../control-plane/src/dataplane/ebpf/map-values.js';
import { DEFAULT_MAGLEV_SIZING } from '../control-plane/src/dataplane/maglev.js';
import { EndpointSliceCache } from '../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../control-plane/src/model/service-tracker.js';
import { Proxier } from '../control-plane/src/sync/proxier.js';
import { serviceName, serviceObj, sliceObj, type Backend } from './objects.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LOADER = path.join(ROOT, 'loader', 'build', 'switchyard-loader');
const PIN_ROOT = '/sys/fs/bpf/switchyard';

function service(i: number): V1Service {
  const svc = serviceObj(serviceName(i)) as V1Service;
  svc.spec!.clusterIP = `198.18.${128 + (i >> 8)}.${i & 255}`;
  return svc;
}

interface Agent { tracker: ServiceTracker; cache: EndpointSliceCache; dp: EbpfDataplane; proxier: Proxier; loader: LoaderClient; logs: Array<Record<string, unknown>> }

/** One agent instance: the agent's own objects, logging into an array. */
function agent(sock: string, services: number, backends: Backend[]): Agent {
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const cache = new EndpointSliceCache('node1');
  for (let i = 0; i < services; i++) {
    tracker.update(service(i));
    cache.update(sliceObj(serviceName(i), backends) as V1EndpointSlice);
  }
  const loader = new LoaderClient(sock, 600_000);
  const dp = new EbpfDataplane(loader, { seed: 1, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.11' }, log);
  const proxier = new Proxier(tracker, cache, dp, () => ({ nodeName: 'node1', zone: '' }), { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 }, log);
  return { tracker, cache, dp, proxier, loader, logs };
}

async function firstSync(a: Agent): Promise<number> {
  const t0 = performance.now();
  await a.dp.init();
  const synced = a.proxier.waitForSync();
  a.proxier.start();
  a.proxier.requestSync();
  await synced;
  return performance.now() - t0;
}

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};

async function waitSocket(p: string, proc: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`loader exited ${proc.exitCode}:\n${log()}`);
    if (fs.existsSync(p)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`loader socket ${p} not ready:\n${log()}`);
}

async function main(argv: string[]): Promise<void> {
  let services = 30_000, endpoints = 10, orphans = 200, out = '';
  for (let i = 0; i < argv.length; i += 2) {
    const v = argv[i + 1]!;
    if (argv[i] === '--services') services = Number(v);
    else if (argv[i] === '--endpoints') endpoints = Number(v);
    else if (argv[i] === '--orphans') orphans = Number(v);
    else if (argv[i] === '--out') out = v;
    else throw new Error(`unknown argument ${argv[i]} (--services N --endpoints E --orphans K --out FILE)`);
  }
  const id = randomBytes(3).toString('hex');
  const netns = `sy-bench-rr-${id}`;
  const instance = `sy-bench-rr-${id}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `sy-bench-rr-${id}-`));
  const sock = path.join(tmp, 'loader.sock');
  let loader: ChildProcess | undefined;
  let loaderLog = '';
  const lines: string[] = [];
  const say = (l: string) => {
    lines.push(l);
    process.stdout.write(`${l}\n`);
  };
  try {
    execFileSync('ip', ['netns', 'add', netns]);
    const cap = Math.max(65_536, services + orphans + 16);
    loader = spawn('nsenter', [`--net=/run/netns/${netns}`, LOADER, '--instance', instance, '--socket', sock,
      '--max-services', String(cap), '--max-backends', String(Math.max(65_536, endpoints + orphans + 16))], { stdio: ['ignore', 'ignore', 'pipe'] });
    loader.stderr!.on('data', (d: Buffer) => (loaderLog = (loaderLog + d.toString()).slice(-20_000)));
    await waitSocket(sock, loader, () => loaderLog);
    const backends: Backend[] = Array.from({ length: endpoints }, (_, e) => ({ name: `bench-backend-${e}`, ip: `198.19.${1 + (e >> 8)}.${2 + (e & 255)}`, node: 'node1' }));

    say(`# Agent restart at ${services} Services x ${endpoints} endpoints: every table read back, no orphan left`);
    say('');
    say(`Run ${new Date().toISOString()} on ${os.cpus().length} CPU(s), kernel ${os.release()}, node ${process.version}; command: node dist/bench/restart-readback.js --services ${services} --endpoints ${endpoints} --orphans ${orphans}`);
    say('');
    // 1. The first agent programs everything (a cold start).
    const a = agent(sock, services, backends);
    const coldMs = await firstSync(a);
    a.proxier.stop();
    const tables = (await a.loader.dump('sy_maglev')).entries.length;
    say(`- first agent: cold full sync ${(coldMs / 1000).toFixed(1)} s; sy_maglev holds ${tables} tables`);
    await a.dp.close();

    // 2. Leftovers no Service needs, written through the loader socket as an earlier agent would have.
    const planter = new LoaderClient(sock, 600_000);
    const ops: LoaderOp[] = [];
    for (let k = 0; k < orphans; k++) {
      const fe = 5_000_000 + k, group = 5_000_000 + k, be = 5_000_000 + k;
      const addr = Buffer.from([198, 18, 100 + (k >> 8), k & 255]);
      ops.push({ upsertBackend: { id: be, addr: Buffer.from([198, 19, 200, k & 255]), port: 9000 + (k >> 8), proto: 6 } });
      ops.push({ setMaglev: { group, backendIds: Array.from({ length: 1009 }, () => be) } });
      ops.push({ upsertRevnat: { id: fe, addr, port: 80 } });
      ops.push({ upsertService: { key: { addr, port: 80, proto: 6, scope: 0 }, id: fe, group, count: 1, flags: 1, tableSize: 1009 } });
    }
    for (let i = 0; i < ops.length; i += 400) await planter.apply(ops.slice(i, i + 400));
    const withOrphans = (await planter.dump('sy_maglev')).entries.length;
    const firstPage = await planter.dumpPage('sy_maglev', new Uint8Array(0));
    say(`- planted ${orphans} orphan frontends, reverse-NAT entries, backends and Maglev tables: sy_maglev holds ${withOrphans} tables; `
      + `one dump page holds ${firstPage.entries.length} of them (${(firstPage.entries.reduce((n, e) => n + e.value.length + e.key.length, 0) / 1048576).toFixed(1)} MiB)`);

    // 3. A new agent instance on the same pins: restore (every page), then its first full sync.
    const b = agent(sock, services, backends);
    const restartMs = await firstSync(b);
    b.proxier.stop();
    const restored = b.logs.find((l) => l['msg'] === 'restored programmed state from pinned maps');
    const syncs = b.logs.filter((l) => l['msg'] === 'synced');
    say(`- restarted agent: restore + first full sync ${(restartMs / 1000).toFixed(1)} s; restored ${String(restored?.['services'])} frontends, `
      + `${String(restored?.['backends'])} backends, ${String(restored?.['tables'])} tables; first sync: ${syncs.map((s) => `${String(s['changes'])} changes`).join(', ')}`);

    // 4. Check against the desired state.
    const want = b.dp.programmedMaps!;
    const got = {
      services: (await planter.dump('sy_services')).entries.map((e) => svcKeyString(decodeSvcKey(e.key))),
      backends: (await planter.dump('sy_backends')).entries.map((e) => Buffer.from(e.key).readUInt32LE(0)),
      revnat: (await planter.dump('sy_revnat')).entries.map((e) => Buffer.from(e.key).readUInt32LE(0)),
      maglev: (await planter.dump('sy_maglev')).entries,
    };
    const extra = (have: Array<string | number>, wanted: Set<string | number>) => have.filter((k) => !wanted.has(k)).length;
    const missing = (have: Array<string | number>, wanted: Set<string | number>) => { const h = new Set(have); return [...wanted].filter((k) => !h.has(k)).length; };
    const tableKeys = got.maglev.map((e) => Buffer.from(e.key).readUInt32LE(0));
    let tableDiffers = 0;
    for (const e of got.maglev) {
      const w = want.maglev.get(Buffer.from(e.key).readUInt32LE(0));
      const v = Buffer.from(e.value);
      if (!w || v.length !== w.length * 4 || w.some((x, s) => v.readUInt32LE(s * 4) !== x)) tableDiffers++;
    }
    const rows: Array<[string, number, number, number]> = [
      ['sy_services', got.services.length, extra(got.services, new Set(want.services.keys())), missing(got.services, new Set(want.services.keys()))],
      ['sy_backends', got.backends.length, extra(got.backends, new Set(want.backends.keys())), missing(got.backends, new Set(want.backends.keys()))],
      ['sy_revnat', got.revnat.length, extra(got.revnat, new Set(want.revnat.keys())), missing(got.revnat, new Set(want.revnat.keys()))],
      ['sy_maglev', tableKeys.length, extra(tableKeys, new Set(want.maglev.keys())), missing(tableKeys, new Set(want.maglev.keys()))],
    ];
    say('');
    say('| map | entries after the restart | orphans left | missing |');
    say('|---|---:|---:|---:|');
    for (const [m, n, x, miss] of rows) say(`| ${m} | ${n} | ${x} | ${miss} |`);
    say('');
    const readBack = Number(restored?.['tables']) === withOrphans;
    const clean = rows.every(([, , x, miss]) => x === 0 && miss === 0) && tableDiffers === 0;
    say(`- every table read back at restart: ${readBack ? 'yes' : 'NO'} (${String(restored?.['tables'])} of ${withOrphans})`);
    say(`- no orphan left and nothing missing after the first full sync: ${clean ? 'yes' : 'NO'}${tableDiffers ? ` (${tableDiffers} tables differ)` : ''}`);
    say(`- loader warnings: ${loaderLog.split('\n').filter((l) => /WARN|ERROR/.test(l)).length}`);
    planter.close();
    await b.dp.close();
    if (out) fs.writeFileSync(out, `${lines.join('\n')}\n`);
    process.exitCode = readBack && clean ? 0 : 1;
  } finally {
    if (loader?.pid && loader.exitCode === null) {
      loader.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 500));
      if (loader.exitCode === null) loader.kill('SIGKILL');
    }
    fs.rmSync(path.join(PIN_ROOT, instance), { recursive: true, force: true });
    try {
      execFileSync('ip', ['netns', 'del', netns]);
    } catch { /* already gone */ }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
