// `npm run soak [-- --duration 1h --services 1000 ...]`: the long-running
// soak of issue 13, not part of CI. A 2-node ebpf lab holds N selector-less
// Services whose EndpointSlices list a changing subset of the backend pods:
// every second some Services are scaled up and down. Throughout, long-lived
// TCP and UDP flows (sy-probe hold) run from a pod through some of those
// Services, and new connections are opened every few seconds. Every 10 s the
// agent's RSS and the map entry counts are sampled.
//
// Verdicts (after the warm-up, 5 min or a third of a shorter run):
//   - zero failed requests on established connections (hold: err=0, all open);
//   - agent RSS and each map's entry count flat within 10 %: the mean of the
//     last fifth of the samples within 10 % of the mean of the first fifth
//     (single samples swing with the GC; max/min is reported beside it).
// Results go to stdout and, with --out FILE, to a Markdown file (commit the
// hour-long run's under bench/results/).
import fs from 'node:fs';
import { BenchLab, PROBE, sleep } from './lab-driver.js';
import { baseManifest, createServices, replaceSlice, serviceName, waitBasePods, type Backend } from './objects.js';
import { parseDurationMs } from '../control-plane/src/util/duration.js';
import { LoaderClient } from '../control-plane/src/dataplane/ebpf/loader-client.js';

interface SoakOptions { durationMs: number; services: number; backends: number; churnPerSecond: number; name: string; out?: string; warmupMs: number }

const USAGE = `usage: npm run soak -- [--duration D] [--services N] [--backends E] [--churn K] [--name LAB] [--warmup D] [--out FILE]
  --duration D   how long traffic and churn run (default 1h; e.g. 2m to try it)
  --services N   Services (default 1000)
  --backends E   backend pods each slice picks from (default 4)
  --churn K      Services whose endpoints change each second (default 20)
  --warmup D     left out of the flatness verdicts (default 5m, or a third of a shorter run)
  --out FILE     also write the report (Markdown) there`;

function parse(argv: string[]): SoakOptions {
  const o: Partial<SoakOptions> & { warmup?: string } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value\n${USAGE}`);
      return x;
    };
    if (a === '--duration') o.durationMs = parseDurationMs(v());
    else if (a === '--services') o.services = Number(v());
    else if (a === '--backends') o.backends = Number(v());
    else if (a === '--churn') o.churnPerSecond = Number(v());
    else if (a === '--name') o.name = v();
    else if (a === '--warmup') o.warmup = v();
    else if (a === '--out') o.out = v();
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  const durationMs = o.durationMs ?? 3_600_000;
  const services = o.services ?? 1000;
  const backends = o.backends ?? 4;
  const churn = o.churnPerSecond ?? 20;
  for (const [name, n, min] of [['--services', services, 1], ['--backends', backends, 2], ['--churn', churn, 1]] as const) {
    if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}`);
  }
  return {
    durationMs, services, backends, churnPerSecond: Math.min(churn, services), name: o.name ?? 'soak',
    warmupMs: o.warmup !== undefined ? parseDurationMs(o.warmup) : Math.min(300_000, Math.floor(durationMs / 3)),
    ...(o.out ? { out: o.out } : {}),
  };
}

interface Sample { t: number; rssKiB: number; maps: Record<string, number> }

function rssKiB(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

const COUNTED_MAPS = ['sy_services', 'sy_backends', 'sy_revnat', 'sy_maglev'];

async function mapCounts(socket: string): Promise<Record<string, number>> {
  const client = new LoaderClient(socket, 30_000);
  try {
    const out: Record<string, number> = {};
    for (const m of COUNTED_MAPS) out[m] = ((await client.dump(m)).entries ?? []).length;
    return out;
  } finally {
    client.close();
  }
}

/** max/min - 1 of the samples, as a fraction. */
function spread(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return NaN;
  const min = Math.min(...v), max = Math.max(...v);
  return min > 0 ? max / min - 1 : max === 0 ? 0 : Infinity;
}

/** |mean(last fifth) / mean(first fifth) - 1|: growth or shrinkage over the run. */
function drift(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return NaN;
  const k = Math.max(1, Math.floor(v.length / 5));
  const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(v.slice(0, k)), last = mean(v.slice(-k));
  return first > 0 ? Math.abs(last / first - 1) : last === 0 ? 0 : Infinity;
}

function holdSummary(text: string): Record<string, string> {
  const line = text.split('\n').find((l) => l.startsWith('summary ')) ?? '';
  return Object.fromEntries(line.split(' ').filter((p) => p.includes('=')).map((p) => p.split('=') as [string, string]));
}

export async function runSoak(o: SoakOptions, log: (l: string) => void): Promise<{ ok: boolean; report: string }> {
  const lab = new BenchLab(o.name, 'ebpf', 2, log);
  log(`soak: lab ${o.name}, ${o.services} Services, ${o.backends} backend pods, ${o.churnPerSecond} Services churned per second, ${o.durationMs / 1000} s (warm-up ${o.warmupMs / 1000} s)`);
  await lab.up();
  try {
    await lab.apply(baseManifest(o.backends));
    const pods: Backend[] = await waitBasePods(lab.api, o.backends, 120_000);
    const vips: string[] = [];
    const created = await createServices(lab.api, 0, o.services, pods, vips);
    log(`soak: ${vips.length} Services created in ${(created.ms / 1000).toFixed(1)} s`);
    const info = await lab.info();
    const client = info.pods['default/bench-client'];
    if (!client) throw new Error('bench-client pod has no namespace');
    // Long-lived flows through the first Services (they are churned too).
    const held = vips.slice(0, 4);
    const holdArgs = (vip: string, udp: boolean): string[] => [PROBE, 'hold', vip, udp ? '53' : '80', '--conns', '4', '--interval-ms', '200', '--timeout-ms', '1000',
      '--duration-ms', String(o.durationMs), ...(udp ? ['--udp'] : [])];
    const holds = held.map((vip) => lab.execIn(client.netns, 'node1', holdArgs(vip, false), o.durationMs + 120_000));
    const started = Date.now();
    const samples: Sample[] = [];
    let churned = 0, churnErrors = 0, newConnOk = 0, newConnErr = 0;
    let seed = 0x5eed;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    let nextSample = started;
    let nextProbe = started;
    while (Date.now() - started < o.durationMs) {
      const tick = Date.now();
      // Scale endpoints up and down: each chosen Service gets a random non-empty subset.
      await Promise.all(Array.from({ length: o.churnPerSecond }, async () => {
        const i = rand(vips.length);
        const n = 1 + rand(pods.length);
        const subset = [...pods].sort(() => rand(2) - 0.5).slice(0, n);
        try {
          await replaceSlice(lab.api, serviceName(i), subset);
          churned++;
        } catch {
          churnErrors++;
        }
      }));
      if (Date.now() >= nextProbe) {
        nextProbe += 5000;
        const vip = vips[rand(vips.length)]!;
        const r = await lab.execIn(client.netns, 'node1', [PROBE, 'http', vip, '80', '--count', '5', '--timeout-ms', '1000'], 30_000);
        for (const l of r.stdout.split('\n').filter(Boolean)) (l.startsWith('ERR') ? newConnErr++ : newConnOk++);
      }
      if (Date.now() >= nextSample) {
        nextSample += 10_000;
        const now = await lab.info();
        const agentPid = now.nodes.find((n) => n.name === 'node1')?.agent?.pid;
        try {
          samples.push({ t: Date.now() - started, rssKiB: rssKiB(agentPid), maps: await mapCounts(lab.loaderSocket('node1')) });
        } catch (err) {
          log(`soak: sampling failed: ${(err as Error).message}`);
        }
        const last = samples[samples.length - 1];
        if (last) log(`soak: t=${Math.round(last.t / 1000)} s rss=${last.rssKiB} KiB maps=${JSON.stringify(last.maps)} churned=${churned}`);
      }
      await sleep(Math.max(0, 1000 - (Date.now() - tick)));
    }
    const holdResults = (await Promise.all(holds)).map((r) => holdSummary(r.stdout));
    const steady = samples.filter((s) => s.t >= o.warmupMs);
    const rss = steady.map((s) => s.rssKiB);
    const rssSpread = spread(rss);
    const rssDrift = drift(rss);
    const mapSpread = Object.fromEntries(COUNTED_MAPS.map((m) => [m, spread(steady.map((s) => s.maps[m] ?? NaN))]));
    const mapDrift = Object.fromEntries(COUNTED_MAPS.map((m) => [m, drift(steady.map((s) => s.maps[m] ?? NaN))]));
    const holdErr = holdResults.reduce((n, h) => n + Number(h.err ?? 1), 0);
    const holdClosed = holdResults.reduce((n, h) => n + (Number(h.conns ?? 0) - Number(h.open ?? 0)), 0);
    const pct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : 'n/a');
    const verdicts: Array<[string, boolean, string]> = [
      ['zero failed requests on established connections', holdErr === 0 && holdClosed === 0,
        `${holdResults.map((h) => `ok=${h.ok} err=${h.err} open=${h.open}/${h.conns} maxgap=${h.maxgap} ms`).join('; ')}`],
      ['agent RSS flat within 10 % after the warm-up', rssDrift <= 0.1, `drift ${pct(rssDrift)} (first vs last fifth), max/min ${pct(rssSpread)}, ${steady.length} samples`],
      ...COUNTED_MAPS.map((m): [string, boolean, string] => [`${m} entries flat within 10 %`, (mapDrift[m] ?? Infinity) <= 0.1, `drift ${pct(mapDrift[m] ?? NaN)}, max/min ${pct(mapSpread[m] ?? NaN)}`]),
    ];
    const report = [
      `# Soak: ${o.services} Services, endpoints of ${o.churnPerSecond} Services changed every second, ${Math.round(o.durationMs / 1000)} s`,
      '',
      `Command: \`npm run soak -- --duration ${Math.round(o.durationMs / 1000)}s --services ${o.services} --backends ${o.backends} --churn ${o.churnPerSecond}\`; warm-up ${Math.round(o.warmupMs / 1000)} s.`,
      `Slice replacements: ${churned} (${churnErrors} failed); new connections: ${newConnOk} answered, ${newConnErr} failed.`,
      '',
      '| verdict | result | figures |',
      '|---|---|---|',
      ...verdicts.map(([what, ok, fig]) => `| ${what} | ${ok ? 'pass' : 'FAIL'} | ${fig} |`),
      '',
      '| t (s) | agent RSS (KiB) | ' + COUNTED_MAPS.join(' | ') + ' |',
      '|---|---|' + COUNTED_MAPS.map(() => '---').join('|') + '|',
      ...samples.map((s) => `| ${Math.round(s.t / 1000)} | ${s.rssKiB} | ${COUNTED_MAPS.map((m) => s.maps[m]).join(' | ')} |`),
      '',
    ].join('\n');
    return { ok: verdicts.every(([, ok]) => ok), report };
  } finally {
    await lab.down();
  }
}

const isMain = process.argv[1]?.endsWith('soak.js');
if (isMain) {
  let opts: SoakOptions;
  try {
    opts = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  runSoak(opts, (l) => process.stderr.write(`${l}\n`)).then(({ ok, report }) => {
    process.stdout.write(report);
    if (opts.out) fs.writeFileSync(opts.out, report);
    process.exit(ok ? 0 : 1);
  }, (err: unknown) => {
    process.stderr.write(`soak failed: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
