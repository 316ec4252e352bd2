// Switchyard's side-by-side benchmark: eBPF mode against iptables mode, over
// Service counts and endpoints per Service, in namespace labs.
//
//   npm run bench -- [--preset quick|full] [--services ...] [--endpoints ...] [--modes ...] [--out DIR]
//   switchyard bench ...            (runBench(argv) returns the exit code)
//
// One lab per (endpoints, mode), one node by default. For each Service count,
// ascending, in that lab: stop the agents, empty the datapath, top the
// Services up to the count through the lab API server, cold-start the agents
// (timed until sampled VIPs answer), then measure per-packet cost (ebpf,
// BPF_PROG_TEST_RUN), first-packet latency, throughput, network programming
// latency and memory. See docs/benchmarks.md.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BenchLab, PROBE, ROOT, killChildren, sleep } from './lab-driver.js';
import { machineInfo } from './machine.js';
import { measureMemory } from './measure-memory.js';
import { coldSample, measureColdStart, measureFlips, type SyncRecord } from './measure-programming.js';
import { measureLoaderOps, measureTestRun } from './measure-testrun.js';
import { measureConnectLatency, measureThroughput, prepareClient, warmNeighbours, type Client, type Target } from './measure-traffic.js';
import { baseManifest, createService, createServices, NS, POD_PORT, SVC_PORT, waitBasePods, type Backend } from './objects.js';
import { BENCH_USAGE, isIptablesMode, labModeOf, modeAgentArgs, parseBenchOptions, UsageError, type BenchIPFamily, type BenchOptions, type Mode } from './options.js';
import { baselineOf, computeFamilyRatios, computeRatios, FAMILY_LATENCY_FIGURES, FAMILY_TESTRUN_FIGURES, ipv6Key, markdown, svgChart, type BenchReport, type CombinationResult } from './report.js';
import { isFigure, summarize } from './stats.js';
import { repoPaths } from '../lab/src/netns/layout.js';

export { BENCH_USAGE } from './options.js';

function progress(started: number): (line: string) => void {
  return (line: string) => process.stderr.write(`[bench +${Math.round((Date.now() - started) / 1000)}s] ${line}\n`);
}

function checkPrerequisites(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('the benchmark needs root (it creates network namespace labs)');
  // The lab's own paths (lab/src/netns/layout.ts): what a bench lab starts.
  const paths = repoPaths(ROOT);
  for (const [f, how] of [
    [PROBE, 'make -C lab'],
    [paths.whoami, 'make -C lab'],
    [paths.loader, 'make'],
    [paths.cliMain, 'npx tsc -p tsconfig.json'],
  ] as const) {
    if (!fs.existsSync(f)) missing.push(`${f} is missing (${how})`);
  }
  return missing;
}

/** The agent's 'synced' records, with the fields that say what a sync wrote (eBPF tables, iptables rules). */
function syncSummary(s: SyncRecord[]): CombinationResult['agentSyncs']['coldStart'] {
  const keep = ['tablesSet', 'servicesUpserted', 'backendsUpserted', 'computeMs', 'buildMs', 'executeMs', 'loaderMs', 'requests', 'natRules', 'filterRules', 'writtenServices', 'skippedServices'];
  return s.map((x) => ({
    ms: x.ms, changes: x.changes, full: x.full,
    ...Object.fromEntries(keep.filter((k) => typeof x.raw[k] === 'number').map((k) => [k, x.raw[k] as number])),
  }));
}

/** ifindex and MAC of the node's external device (XDP serves only frames to that MAC). */
async function nodeExtDevice(lab: BenchLab): Promise<{ ifindex: number; mac: string }> {
  const r = await lab.execIn(lab.nodeNetns(), undefined, ['ip', '-j', 'link', 'show', 'eth0'], 30_000);
  try {
    const d = (JSON.parse(r.stdout) as Array<{ ifindex: number; address?: string }>)[0];
    return { ifindex: Number(d?.ifindex ?? 0), mac: d?.address ?? '00:00:00:00:00:00' };
  } catch {
    return { ifindex: 0, mac: '00:00:00:00:00:00' };
  }
}

interface LabContext {
  lab: BenchLab;
  mode: Mode;
  endpoints: number;
  backends: Backend[];
  client: Client;
  vips: string[];
  /** Dual-stack: vips6[i] is Service i's IPv6 ClusterIP (undefined: an IPv4-only bench). */
  vips6: string[] | undefined;
  flipVip: string;
  nodePort: number | undefined;
  nodeIP: string;
  nodeIP6: string | undefined;
  extIfindex: number;
  extMac: string;
  loaderOpsDone: boolean;
}

async function setUpLab(opts: BenchOptions, lab: BenchLab, mode: Mode, endpoints: number, log: (l: string) => void): Promise<LabContext> {
  log(`lab ${lab.name}: up (${opts.nodes} node(s), ${mode}${lab.agentArgs.length ? `, agent ${lab.agentArgs.join(' ')}` : ''})`);
  await lab.up();
  await lab.apply(baseManifest(endpoints));
  const backends = await waitBasePods(lab.api, endpoints, 120_000);
  const info = await lab.info();
  const clientRec = info.pods[`${NS}/bench-client`];
  if (!clientRec) throw new Error('the client pod has no namespace record in the lab info');
  const client: Client = { lab, netns: clientRec.netns, node: clientRec.node };
  await prepareClient(client);
  const dual = opts.ipFamily === 'dual';
  if (dual && backends.some((b) => !b.ip6)) throw new Error(`a dual-stack lab whose backend pods have no IPv6 address: ${backends.map((b) => b.name).join(', ')}`);
  const flip = await createService(lab.api, 'bench-flip', [backends[0]!]);
  const np = await createService(lab.api, 'bench-np', backends, 'NodePort', dual);
  const nodePort = (np['spec']?.['ports'] as Array<{ nodePort?: number }> | undefined)?.[0]?.nodePort;
  const nodeIP6 = (info.nodes[0]!.ips ?? []).find((ip) => ip.includes(':'));
  if (dual && !nodeIP6) throw new Error('a dual-stack lab whose node has no IPv6 address');
  return {
    lab, mode, endpoints, backends, client, vips: [], vips6: dual ? [] : undefined,
    flipVip: flip['spec']['clusterIP'] as string,
    nodePort,
    nodeIP: info.nodes[0]!.ip,
    nodeIP6,
    ...await nodeExtDevice(lab).then((d) => ({ extIfindex: d.ifindex, extMac: d.mac })),
    loaderOpsDone: false,
  };
}

async function measureCombination(opts: BenchOptions, ctx: LabContext, n: number, log: (l: string) => void): Promise<CombinationResult> {
  const { lab, mode, endpoints, client, effort } = { ...ctx, effort: opts.effort };
  const rec: CombinationResult = {
    mode, endpoints, services: n, lab: lab.name, figures: {}, agentSyncs: { coldStart: [], flips: [] }, notes: [], errors: [],
  };
  const f = rec.figures;
  /** Runs one measurement; a failure is recorded in the result and does not stop the others. */
  const step = async (what: string, fn: () => Promise<void>): Promise<boolean> => {
    const t = Date.now();
    log(`${mode} E=${endpoints} N=${n}: ${what}`);
    try {
      await fn();
      return true;
    } catch (err) {
      const msg = `${what}: ${(err as Error).message}`;
      rec.errors.push(msg);
      log(`  FAILED ${msg}`);
      return false;
    } finally {
      if (opts.verbose) log(`  ${what} took ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
  };

  // Cold starts (the first one also tops the Services up to n, agents stopped).
  const runs = n <= 1000 ? effort.coldRuns : effort.coldRunsLarge;
  const cold: number[] = [];
  const firstVip: number[] = [];
  const lastVip: number[] = [];
  const running: number[] = [];
  const coldSync: number[] = [];
  const firstSync: number[] = [];
  let coldOK = false;
  for (let c = 0; c < runs; c++) {
    coldOK = false; // the datapath must be complete after the LAST cold start
    const ok = await step(`cold start ${c + 1}/${runs}`, async () => {
      await lab.stopAgents();
      for (let i = 1; i <= opts.nodes; i++) await lab.cleanDatapath(`node${i}`);
      if (ctx.vips.length < n) {
        const before = ctx.vips.length;
        const made = await createServices(lab.api, before, n, ctx.backends, ctx.vips, 8, ctx.vips6);
        f['lab.create_wall'] = summarize('wall time to create the new Services and EndpointSlices through the lab API socket (agents stopped)', 's', [made.ms / 1000], 1, `${n - before}`);
        f['lab.create_rate'] = summarize('Service+EndpointSlice pairs created per second by the lab API server', 'pairs/s', [(n - before) / (made.ms / 1000)], 1);
        if (made.perPairMs) f['lab.create_service_pair'] = made.perPairMs;
      }
      const sample = coldSample(n, effort.coldSample).map((i) => ({ index: i, vip: ctx.vips[i]! }));
      const r = await measureColdStart(lab, client, sample, effort.coldTimeoutS);
      cold.push(r.totalMs);
      firstVip.push(r.firstVipMs);
      lastVip.push(r.lastVipMs);
      if (r.agentRunningMs !== undefined) running.push(r.agentRunningMs);
      // The syncs up to the first successful one (failed attempts are not logged as 'synced').
      const upToFirst = r.syncs.slice(0, 1);
      if (upToFirst.length > 0) coldSync.push(upToFirst[0]!.ms);
      if (r.firstSyncMs !== undefined) firstSync.push(r.firstSyncMs);
      rec.agentSyncs.coldStart.push(...syncSummary(r.syncs));
      if (r.failedSyncs > 0 || r.errors.length > 0) {
        rec.notes.push(`cold start ${c + 1}: the agent logged ${r.failedSyncs} failed sync(s)${r.syncs.length === 0 ? ' and no successful one' : ''}: ${[...new Set(r.errors)].slice(0, 3).join(' | ')}`);
      }
      await lab.waitAgentsHealthy(60_000);
      coldOK = true;
    });
    if (!ok) break;
  }
  if (cold.length > 0) {
    const sampleNote = `${cold.length} cold start(s); sampled VIPs: ${coldSample(n, effort.coldSample).length} incl. first and last; probe resolution ~110 ms`;
    f['programming.cold_start'] = summarize('cold start: start request (empty node, every object in the API) until every sampled VIP answers', 'ms', cold, cold.length, sampleNote);
    f['programming.cold_first_vip'] = summarize('cold start until the FIRST Service answers', 'ms', firstVip, firstVip.length);
    f['programming.cold_last_vip'] = summarize('cold start until the LAST Service answers', 'ms', lastVip, lastVip.length);
    if (running.length > 0) f['programming.agent_start'] = summarize('start request until the agent logs "agent running" (informers synced, datapath initialised)', 'ms', running, running.length);
    if (coldSync.length > 0) f['programming.agent_cold_sync'] = summarize('duration of the agent\'s first successful sync, the full one (agent log)', 'ms', coldSync, coldSync.length);
    if (firstSync.length > 0) f['programming.agent_first_sync_done'] = summarize('start request until the agent logged its first successful sync', 'ms', firstSync, firstSync.length);
  }
  if (!coldOK) {
    rec.errors.push('no successful cold start: the remaining measurements of this combination were skipped');
    return rec;
  }
  // Give the agent a moment after its first sync (the health poll, GC, a trailing sync).
  await sleep(1000);

  const first = ctx.vips[0]!;
  const last = ctx.vips[n - 1]!;
  if (mode === 'ebpf') {
    await step('per-packet cost (BPF_PROG_TEST_RUN)', async () => {
      // The backends' IPv6 neighbours (the cold start's probes resolved only the IPv4 ones): else the first
      // combination's XDP IPv6 runs would all be passed to the stack (FIB lookup: no neighbour).
      if (ctx.vips6) await warmNeighbours(client, ctx.backends.map((b) => b.ip6!), POD_PORT);
      Object.assign(f, await measureTestRun(lab.loaderSocket(), {
        vip: last, port: SVC_PORT, backendIPs: ctx.backends.map((b) => b.ip), backendPort: POD_PORT,
        nodeIP: ctx.nodeIP, nodePort: ctx.nodePort, extIfindex: ctx.extIfindex, extMac: ctx.extMac,
        ...(ctx.vips6 ? { v6: { vip: ctx.vips6[n - 1]!, backendIPs: ctx.backends.map((b) => b.ip6!), nodeIP: ctx.nodeIP6! } } : {}),
      }, effort));
    });
    if (!ctx.loaderOpsDone) {
      await step('loader map-write cost', async () => {
        Object.assign(f, await measureLoaderOps(lab.loaderSocket()));
        ctx.loaderOpsDone = true;
      });
    }
  }
  const latTargets: Target[] = [
    { key: 'latency.first_vip', what: `the FIRST Service created (${first}:${SVC_PORT})`, host: first, port: SVC_PORT },
    { key: 'latency.last_vip', what: `the LAST Service created (${last}:${SVC_PORT})`, host: last, port: SVC_PORT },
    { key: 'latency.pod', what: `the pod directly (${ctx.backends[0]!.ip}:${POD_PORT}), the floor`, host: ctx.backends[0]!.ip, port: POD_PORT },
  ];
  if (ctx.vips6) {
    // The same LAST Service and pod over IPv6, in the same interleaved rounds (iptables mode: the ip6tables chain).
    const last6 = ctx.vips6[n - 1]!, pod6 = ctx.backends[0]!.ip6!;
    latTargets.push(
      { key: ipv6Key('latency.last_vip'), what: `the LAST Service created, IPv6 ([${last6}]:${SVC_PORT})`, host: last6, port: SVC_PORT },
      { key: ipv6Key('latency.pod'), what: `the pod directly, IPv6 ([${pod6}]:${POD_PORT}), the floor`, host: pod6, port: POD_PORT },
    );
  }
  await step('first-packet latency (connect)', async () => {
    Object.assign(f, await measureConnectLatency(client, latTargets, effort));
  });
  await step('throughput', async () => {
    Object.assign(f, Object.fromEntries(Object.entries(await measureThroughput(client, [
      { key: 'throughput.last_vip', what: `the last Service's VIP`, host: last, port: SVC_PORT },
      { key: 'throughput.pod', what: 'the pod directly (floor)', host: ctx.backends[0]!.ip, port: POD_PORT },
    ], effort))));
  });
  await step('network programming latency (EndpointSlice flips)', async () => {
    const flips = isIptablesMode(mode) && n >= 10_000 ? effort.flipsLargeIptables : effort.flips;
    const r = await measureFlips(lab, lab.api, client, 'bench-flip', ctx.flipVip, [ctx.backends[0]!, ctx.backends[1]!], flips, effort.flipTimeoutS);
    // Flips not seen within the timeout count as the timeout (a lower bound), so the upper percentiles are not flattered.
    const censored = Array<number>(r.timeouts).fill(effort.flipTimeoutS * 1000);
    if (r.latenciesMs.length + censored.length === 0) throw new Error('no flip measured');
    f['programming.network_programming'] = summarize('EndpointSlice PUT at the API server until the first connection through the VIP reaches the new endpoint', 'ms', [...r.latenciesMs, ...censored], r.latenciesMs.length + r.timeouts,
      `${r.latenciesMs.length} flips of one endpoint between two pods seen` +
      `${r.timeouts ? `; ${r.timeouts} NOT seen within ${effort.flipTimeoutS} s, counted as ${effort.flipTimeoutS} s (lower bounds)` : ''}` +
      `; probe: a new connection every ~2 ms; times from performance.now() (µs resolution) just before the PUT to the answer's arrival`);
    f['programming.slice_put'] = summarize('EndpointSlice PUT round trip to the lab API server (part of network programming)', 'ms', r.putMs, r.putMs.length);
    // The agent's and the datapath's share: from the API server's answer to the PUT (it sent the watch event
    // before answering) until the new endpoint answered; the lab API server's request handling left out.
    const afterPut = r.samples.filter((s) => s.latencyMs !== undefined).map((s) => Math.round((s.latencyMs! - s.putMs) * 1000) / 1000);
    if (afterPut.length > 0) {
      f['programming.after_put'] = summarize('network programming after the PUT was answered (watch event, agent sync, datapath, probe)', 'ms', afterPut, afterPut.length,
        'per flip: network_programming minus slice_put');
    }
    rec.flipSamples = r.samples;
    // A slice of the periodic resync that wrote something logs 'synced' too (resync: 1): not a change's sync.
    const changeSyncs = r.syncs.filter((s) => !s.full && !s.raw['resync']).map((s) => s.ms);
    if (changeSyncs.length > 0) f['programming.agent_sync_per_change'] = summarize('agent sync duration for a slice change (agent log, partial syncs)', 'ms', changeSyncs, changeSyncs.length);
    const fullSyncs = r.syncs.filter((s) => s.full);
    if (fullSyncs.length > 0) {
      rec.notes.push(`${fullSyncs.length} full (periodic) agent sync(s) ran during the flips, ${fullSyncs.map((s) => `${s.ms} ms / ${s.changes} changes`).join(', ')}: a flip that arrives during one waits for it`);
    }
    if (r.timeouts > 0) rec.notes.push(`network programming: ${r.timeouts} flip(s) not seen within ${effort.flipTimeoutS} s (counted as ${effort.flipTimeoutS} s)`);
    rec.agentSyncs.flips.push(...syncSummary(r.syncs));
  });
  await step('memory', async () => {
    Object.assign(f, await measureMemory(lab, mode));
  });
  if (mode === 'ebpf') {
    // The loader says when a dump did not fit in one message (the agent then sees part of a map).
    const trunc = loaderTruncations(lab.loaderLog());
    if (trunc.length > 0) {
      rec.notes.push(`loader: ${trunc.length} truncated dump(s) so far in this lab, last: "${trunc[trunc.length - 1]}"`);
    }
  }
  return rec;
}

function loaderTruncations(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').filter((l) => /fit in one message/.test(l)).map((l) => l.replace(/^\S+\s+\S+\s+/, '').trim());
  } catch {
    return [];
  }
}

export function findings(results: CombinationResult[]): string[] {
  const out: string[] = [];
  const fig = (r: CombinationResult | undefined, k: string): ReturnType<typeof summarize> | undefined => {
    const x = r?.figures[k];
    return isFigure(x) ? x : undefined;
  };
  const ebpf = results.filter((r) => r.mode === 'ebpf').sort((a, b) => a.services - b.services);
  const lo = ebpf.find((r) => fig(r, 'loader.set_maglev_table'));
  const set = fig(lo, 'loader.set_maglev_table');
  const up = fig(lo, 'loader.upsert_hash_entry');
  if (set && up) {
    out.push(`loader: a request that writes one Maglev table (new inner map + update of the hash-of-maps sy_maglev) costs ${set.p50.toFixed(1)} ms p50 against ${up.p50.toFixed(2)} ms for a plain hash upsert: ` +
      'the kernel waits for an RCU grace period on every update of a map-in-map from user space. The loader swaps up to 256 tables in with one batch update ' +
      `(one wait per batch), so a cold start pays it once per 256 Services (≈ ${(set.p50 * 30000 / 256 / 1000).toFixed(1)} s at 30,000 Services) and a single-Service change once.`);
  }
  const bigE = ebpf[ebpf.length - 1];
  const cs = fig(bigE, 'programming.agent_cold_sync');
  if (bigE && cs) out.push(`ebpf agent: the cold-start sync of ${bigE.services} Services (${bigE.endpoints} endpoints) took ${(cs.p50 / 1000).toFixed(1)} s (${(cs.p50 / bigE.services).toFixed(2)} ms per Service).`);
  for (const m of [...new Set(results.map((r) => r.mode).filter(isIptablesMode))]) {
    const ipt = results.filter((r) => r.mode === m).sort((a, b) => a.services - b.services);
    const bigI = ipt[ipt.length - 1];
    const smallI = ipt[0];
    const ci = fig(bigI, 'programming.agent_sync_per_change');
    const ci0 = fig(smallI, 'programming.agent_sync_per_change');
    if (bigI && smallI && ci && ci0 && bigI !== smallI) {
      const rules = (r: CombinationResult): string => {
        const n = r.agentSyncs.flips.map((x) => x.natRules).filter((x): x is number => typeof x === 'number');
        return n.length ? ` writing ${Math.max(...n)} nat rules` : '';
      };
      out.push(`${m} agent: a one-endpoint change costs a ${ci.p50} ms sync at ${bigI.services} Services${rules(bigI)}, against ${ci0.p50} ms at ${smallI.services}${rules(smallI)}: ` +
        'the partial sync still rewrites every Service\'s jump in KUBE-SERVICES, so its cost grows with the Service count.');
    }
  }
  const withRate = results.filter((r) => fig(r, 'lab.create_rate')).sort((a, b) => b.services - a.services)[0];
  const rate = fig(withRate, 'lab.create_rate');
  if (withRate && rate) {
    out.push(`lab API server: ${rate.p50.toFixed(0)} Service+EndpointSlice pairs/s when growing to ${withRate.services} Services (one POST per object, 8 in flight, agents stopped): ` +
      `at that rate 30,000 would take ${(30000 / rate.p50 / 60).toFixed(1)} min; it has no bulk-create path.`);
  }
  for (const r of results.filter((x) => x.notes.some((n) => n.startsWith('loader:') && n.includes('sy_maglev')))) {
    const m = /dump sy_maglev: (\d+) entries, only (\d+) fit/.exec(r.notes.find((n) => n.startsWith('loader:'))!);
    const full = r.agentSyncs.flips.filter((x) => x.full);
    out.push(`loader/agent (${r.endpoints} endpoints, ${r.services} Services): the dump of sy_maglev is cut at the loader's message limit${m ? ` (${m[2]} of ${m[1]} tables)` : ''}, ` +
      'so every periodic full resync believes the other tables are missing and writes them again' +
      `${full.length ? ` (${full.map((x) => `${x.tablesSet ?? x.changes} tables in ${(x.ms / 1000).toFixed(1)} s`).join(', ')} during the flips)` : ''}; ` +
      'a slice change arriving meanwhile waits for that sync.');
  }
  for (const r of results) {
    for (const n of r.notes.filter((x) => x.startsWith('network programming:'))) out.push(`${r.mode}, ${r.endpoints} endpoints, ${r.services} Services: ${n}`);
    for (const e of r.errors) out.push(`error (${r.mode}, ${r.endpoints} endpoints, ${r.services} Services): ${e}`);
  }
  return out;
}

export function writeResults(dir: string, rep: BenchReport): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(rep, null, 2)}\n`);
  fs.writeFileSync(path.join(dir, 'results.md'), markdown(rep));
  fs.writeFileSync(path.join(dir, 'results.svg'), `${svgChart(rep)}\n`);
}

export async function runBench(argv: string[]): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseBenchOptions(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) process.stderr.write(`switchyard bench: ${err.message}\n`);
      (err.message ? process.stderr : process.stdout).write(`${BENCH_USAGE}\n`);
      return err.message ? 2 : 0;
    }
    throw err;
  }
  let baseline: BenchReport['baseline'];
  if (opts.baseline) {
    const file = fs.existsSync(opts.baseline) && fs.statSync(opts.baseline).isDirectory() ? path.join(opts.baseline, 'results.json') : opts.baseline;
    try {
      baseline = baselineOf(JSON.parse(fs.readFileSync(file, 'utf8')) as BenchReport, path.relative(ROOT, file));
    } catch (err) {
      process.stderr.write(`switchyard bench: --baseline ${opts.baseline}: not a benchmark results.json (${(err as Error).message})\n`);
      return 2;
    }
  }
  const missing = checkPrerequisites();
  if (missing.length > 0) {
    process.stderr.write(`switchyard bench: cannot run:\n${missing.map((m) => `  ${m}`).join('\n')}\n`);
    return 1;
  }
  const started = Date.now();
  const log = progress(started);
  const machine = machineInfo(ROOT);
  const rep: BenchReport = {
    schema: 'switchyard-bench/1',
    title: 'Switchyard benchmark: eBPF mode against iptables mode',
    command: `switchyard bench ${argv.join(' ')}`.trim(),
    preset: opts.preset,
    options: { ...opts, out: path.relative(ROOT, opts.out) || '.' },
    startedAt: new Date(started).toISOString(),
    finishedAt: '',
    durationS: 0,
    machine: { ...machine, loadavgAtEnd: [] },
    results: [],
    ratios: [],
    familyRatios: [],
    findings: [],
    errors: [],
    ...(baseline ? { baseline } : {}),
  };
  const flush = (): void => {
    rep.finishedAt = new Date().toISOString();
    rep.durationS = Math.round((Date.now() - started) / 100) / 10;
    rep.machine.loadavgAtEnd = os.loadavg().map((x) => Number(x.toFixed(2)));
    rep.ratios = computeRatios(rep.results);
    rep.familyRatios = computeFamilyRatios(rep.results);
    rep.findings = findings(rep.results);
    writeResults(opts.out, rep);
  };
  log(`${opts.preset} preset: Services ${opts.services.join(',')} x endpoints ${opts.endpoints.join(',')} x modes ${opts.modes.join(',')}; results in ${opts.out}`);
  log(`machine: ${machine.cpuModel}, ${machine.nproc} CPUs, kernel ${machine.kernel}, load ${machine.loadavgAtStart.join(' ')}`);
  if (machine.agentSource === 'modules') log('warning: the agents run the compiled modules, not the bundle (missing, or older than them: node scripts/bundle-agent.mjs): their start is about a second slower than a built tree\'s');

  let current: BenchLab | undefined;
  let aborted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (aborted) return;
    aborted = true;
    log(`${sig}: stopping, taking the lab down`);
    killChildren();
    const l = current;
    void (l && !opts.keepLab ? l.down() : Promise.resolve()).finally(() => {
      try {
        if (sig !== 'SIGABRT') rep.errors.push(`interrupted by ${sig}`);
        flush();
      } finally {
        process.exit(sig === 'SIGABRT' ? 1 : 130);
      }
    });
  };
  const onCrash = (err: unknown): void => {
    log(`unexpected error: ${(err as Error)?.stack ?? String(err)}`);
    rep.errors.push(`unexpected error: ${(err as Error)?.message ?? String(err)}`);
    onSignal('SIGABRT');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('uncaughtException', onCrash);
  try {
    for (const endpoints of opts.endpoints) {
      for (const mode of opts.modes) {
        if (aborted) break;
        const letter = { ebpf: 'e', iptables: 'i', 'iptables-legacy': 'l', 'iptables-nft': 'n' }[mode];
        const lab = new BenchLab(`${opts.labPrefix}${process.pid % 10000}${letter}${endpoints}`, labModeOf(mode), opts.nodes, log, [...opts.agentArgs, ...modeAgentArgs(mode)], opts.ipFamily);
        current = lab;
        try {
          const ctx = await setUpLab(opts, lab, mode, endpoints, log);
          for (const n of opts.services) {
            if (aborted) break;
            const r = await measureCombination(opts, ctx, n, log);
            rep.results.push(r);
            flush();
          }
        } catch (err) {
          const msg = `${mode}, ${endpoints} endpoints: ${(err as Error).stack ?? String(err)}`;
          rep.errors.push(msg);
          log(`FAILED ${msg}`);
        } finally {
          if (!opts.keepLab && !aborted) {
            log(`lab ${lab.name}: down`);
            await lab.down().catch((e: unknown) => rep.errors.push(`lab down ${lab.name}: ${(e as Error).message}`));
          }
          current = undefined;
        }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('uncaughtException', onCrash);
    killChildren();
  }
  flush();
  const failed = rep.errors.length + rep.results.reduce((s, r) => s + r.errors.length, 0);
  log(`done in ${rep.durationS} s: ${rep.results.length} combinations, ${failed} error(s); ${path.join(opts.out, 'results.md')}`);
  process.stdout.write(markdown(rep));
  return failed > 0 ? 1 : 0;
}

/** Figures every combination must have (the smoke test checks them). XDP and tc external ones may be "not available in this build". */
export function expectedFigures(mode: Mode, ipFamily: BenchIPFamily = 'ipv4'): string[] {
  const common = [
    'lab.create_rate', 'lab.create_wall', 'lab.create_service_pair',
    'programming.cold_start', 'programming.cold_first_vip', 'programming.cold_last_vip', 'programming.agent_start', 'programming.agent_cold_sync', 'programming.agent_first_sync_done',
    'latency.first_vip', 'latency.last_vip', 'latency.pod',
    'throughput.last_vip.short_connections', 'throughput.pod.short_connections',
    'throughput.last_vip.kept_connection_requests', 'throughput.pod.kept_connection_requests',
    'programming.network_programming', 'programming.slice_put', 'programming.agent_sync_per_change',
    'memory.agent_rss', 'memory.agent_peak_rss',
  ];
  const v6 = ipFamily === 'dual';
  if (v6) common.push(...FAMILY_LATENCY_FIGURES.map(ipv6Key));
  return mode === 'ebpf'
    ? [...common, ...FAMILY_TESTRUN_FIGURES, 'testrun.tc_non_service', 'testrun.tc_non_service_single',
      ...(v6 ? FAMILY_TESTRUN_FIGURES.map(ipv6Key) : []), 'memory.bpf_maps', 'memory.bpf_maglev_tables', 'memory.loader_rss']
    : [...common, 'memory.iptables_save', 'memory.iptables_rules', 'memory.kernel_rules'];
}

const isEntry = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isEntry) {
  runBench(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`switchyard bench: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
