// The loader's cost of one Maglev table change of the same size, as the
// agent sends it after an EndpointSlice change (one backend replaced, M =
// 1021, ~1/10 of the slots move): one set_maglev per request, and 100 such
// tables in one request. Runs a loader of its own in a namespace of its own
// (the test harness of test/loader); SY_LOADER_BIN picks the loader binary,
// so two builds can be timed alternately on the same machine.
//
//   node dist/bench/maglev-rewrite.js [samples]
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Lab } from '../test/loader/lab.js';
import { LoaderClient } from '../control-plane/src/dataplane/ebpf/loader-client.js';
import { buildMaglevTable } from '../control-plane/src/dataplane/maglev.js';

const M = 1021;
const GROUPS = 100;

/** The loader's CPU time so far, ms (utime + stime of /proc/PID/stat, USER_HZ 100). */
function cpuMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

function pct(v: number[], p: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** Group g's table over 10 backends; `gen` replaces one of them. */
function table(g: number, gen: number): Uint32Array {
  const idents = Array.from({ length: 10 }, (_, i) => `198.18.${g % 250}.${i === 0 ? 100 + gen : i}:80/TCP`);
  const ids = new Map(idents.map((x, i) => [x, g * 100 + (i === 0 ? 50 + gen : i)] as const));
  const { order, table: t } = buildMaglevTable(idents, M, 0x5eed);
  return Uint32Array.from(t, (k) => ids.get(order[k]!)!);
}

async function main(): Promise<void> {
  const samples = Number(process.argv[2] ?? 100);
  const lab = new Lab();
  try {
    const ns = lab.netns('mr');
    const loader = await lab.startLoader(ns, lab.instance('mr'), ['--max-services', '4096']);
    const c = new LoaderClient(loader.socketPath, 120_000);
    for (let g = 1; g <= GROUPS; g += 20) {
      const ops = [];
      for (let x = g; x < g + 20; x++) ops.push({ setMaglev: { group: x, backendIds: table(x, 0) } });
      await c.apply(ops);
    }
    const one: number[] = [], batch: number[] = [];
    let cpuOne = 0, cpuBatch = 0;
    for (let i = 1; i <= samples; i++) {
      const g = 1 + (i % GROUPS);
      let t = performance.now(), cpu = cpuMs(loader.pid!);
      await c.apply([{ setMaglev: { group: g, backendIds: table(g, i) } }]);
      one.push(performance.now() - t);
      cpuOne += cpuMs(loader.pid!) - cpu;
      if (i % 10 === 0) {
        const ops = [];
        for (let x = 1; x <= GROUPS; x++) ops.push({ setMaglev: { group: x, backendIds: table(x, i + 1000) } });
        t = performance.now();
        cpu = cpuMs(loader.pid!);
        await c.apply(ops);
        batch.push(performance.now() - t);
        cpuBatch += cpuMs(loader.pid!) - cpu;
      }
    }
    c.close();
    const f = (v: number[]) => `p50 ${pct(v, 50).toFixed(3)} ms, p99 ${pct(v, 99).toFixed(3)} ms, min ${Math.min(...v).toFixed(3)} ms (n=${v.length})`;
    console.log(`loader ${process.env.SY_LOADER_BIN ?? '(this tree)'}`);
    console.log(`  one table changed per request (M=${M}): ${f(one)}`);
    console.log(`  ${GROUPS} tables changed in one request:    ${f(batch)}`);
    console.log(`  loader CPU: ${(cpuOne / one.length).toFixed(2)} ms per single-table request, ${(cpuBatch / batch.length).toFixed(1)} ms per ${GROUPS}-table request (10 ms ticks, averaged)`);
  } finally {
    await lab.cleanup();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
