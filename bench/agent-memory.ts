// Where the agent's memory goes at scale: feeds N Services x E endpoints
// (plain objects, as a watch delivers them) through the agent's own
// trackers, sync and eBPF back end (its loader replaced by one that accepts
// every request), and prints the live heap after each stage (after a full
// GC) and the process RSS.
//
//   node --expose-gc dist/bench/agent-memory.js [--services N] [--endpoints E]
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import pino from 'pino';
import { EbpfDataplane } from '../control-plane/src/dataplane/ebpf/ebpf-dataplane.js';
import type { LoaderClient } from '../control-plane/src/dataplane/ebpf/loader-client.js';
import { DEFAULT_MAGLEV_SIZING } from '../control-plane/src/dataplane/maglev.js';
import { DesiredMapsBuilder } from '../control-plane/src/dataplane/ebpf/desired-maps.js';
import { computeDesiredState } from '../control-plane/src/dataplane/desired-state.js';
import { leanEndpointSlice, leanService } from '../control-plane/src/k8s/lean-objects.js';
import { EndpointSliceCache } from '../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../control-plane/src/model/service-tracker.js';
import { Proxier } from '../control-plane/src/sync/proxier.js';
import { serviceName, serviceObj, sliceObj, type Backend } from './objects.js';

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (!g) throw new Error('run node with --expose-gc');
  g();
  g();
}

const MiB = 1024 * 1024;
function mem(): { heap: number; rss: number; external: number } {
  gc();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / MiB, rss: m.rss / MiB, external: m.external / MiB };
}

/**
 * The benchmark's own objects (bench/objects.ts) as the lab API server
 * returns them: with the fields it fills (uid, resourceVersion,
 * creationTimestamp, cluster IPs, families, policies).
 */
function service(i: number): V1Service {
  const svc = serviceObj(serviceName(i)) as V1Service;
  const ip = `198.18.${128 + (i >> 8)}.${i & 255}`;
  Object.assign(svc.metadata!, { uid: `0f0e0d0c-0b0a-4908-8706-${String(i).padStart(12, '0')}`, resourceVersion: String(1000 + 2 * i), creationTimestamp: '2026-12-06T12:00:00Z' });
  Object.assign(svc.spec!, { clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack', sessionAffinity: 'None', internalTrafficPolicy: 'Cluster' });
  svc.status = { loadBalancer: {} };
  return svc;
}

function slice(i: number, backends: Backend[]): V1EndpointSlice {
  const s = sliceObj(serviceName(i), backends) as V1EndpointSlice;
  Object.assign(s.metadata!, { uid: `0f0e0d0c-0b0a-4908-8706-${String(i).padStart(12, '1')}`, resourceVersion: String(1001 + 2 * i), creationTimestamp: '2026-12-06T12:00:00Z', generation: 1 });
  return s;
}

/** A loader that accepts everything and holds nothing. */
function nullLoader(): LoaderClient {
  return {
    apply: async () => ({}),
    dump: async () => ({ entries: [] }),
    call: async () => ({ apply: { deleted: 0 } }),
    close: () => undefined,
  } as unknown as LoaderClient;
}

async function main(argv: string[]): Promise<void> {
  let services = 10_000, endpoints = 10;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--services') services = Number(argv[i + 1]);
    else if (argv[i] === '--endpoints') endpoints = Number(argv[i + 1]);
    else throw new Error(`unknown argument ${argv[i]} (--services N --endpoints E)`);
  }
  const rows: Array<[string, ReturnType<typeof mem>]> = [['baseline (modules loaded)', mem()]];
  const backends: Backend[] = Array.from({ length: endpoints }, (_, e) => ({ name: `bench-backend-${e}`, ip: `198.19.${1 + (e >> 8)}.${2 + (e & 255)}`, node: 'node1' }));
  // What client-node's informer caches held before they were leaned: the whole objects, as parsed.
  let whole: unknown[] | undefined = [...Array.from({ length: services }, (_, i) => service(i)), ...Array.from({ length: services }, (_, i) => slice(i, backends))];
  const wholeMiB = mem().heap - rows[0]![1].heap;
  whole = undefined;
  void whole;
  mem();
  // What they hold now (plain-list-watch.ts): lean objects.
  const svcs = Array.from({ length: services }, (_, i) => leanService(service(i)));
  const slices = Array.from({ length: services }, (_, i) => leanEndpointSlice(slice(i, backends)));
  rows.push(['+ lean objects (the informer caches)', mem()]);
  const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
  const cache = new EndpointSliceCache('node1');
  for (const s of svcs) tracker.update(s);
  for (const s of slices) cache.update(s);
  rows.push(['+ ServiceTracker and EndpointSliceCache', mem()]);
  const node = { nodeName: 'node1', zone: '' };
  // The first sync's parts, one at a time (held, so each row is its own).
  const desired = computeDesiredState(tracker.servicePorts(), cache.allEndpoints(), node);
  rows.push(['+ desired state (computeDesiredState, what the proxier keeps)', mem()]);
  const builder = new DesiredMapsBuilder({ seed: 1, sizing: DEFAULT_MAGLEV_SIZING });
  builder.nodeIP = '198.18.0.11';
  builder.nodeAddresses = ['198.18.0.11'];
  const content = builder.build(desired);
  rows.push([`+ map content (builder.build: per-Service contributions, backend values; ${builder.distinctTables} distinct Maglev table(s) for ${content.maglev.size} groups)`, mem()]);
  void content;
  const log = pino({ level: 'silent' });
  const dp = new EbpfDataplane(nullLoader(), { seed: 1, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.11' }, log);
  const proxier = new Proxier(tracker, cache, dp, () => node, { minSyncPeriodMs: 0, syncPeriodMs: 3_600_000 }, log);
  await dp.init();
  const synced = proxier.waitForSync();
  const t0 = performance.now();
  proxier.start();
  proxier.requestSync();
  await synced;
  const firstSyncMs = performance.now() - t0;
  rows.push(['+ the agent\'s first full sync (a second desired state, map content and the programmed picture)', mem()]);
  // One change, as a flip does: the partial path.
  const s0 = slice(0, backends);
  s0.endpoints[0]!.conditions = { ready: false, serving: false, terminating: true };
  cache.update(s0);
  const again = proxier.waitForSync();
  const t1 = performance.now();
  proxier.requestSync();
  await again;
  const partialSyncMs = performance.now() - t1;
  rows.push(['+ one partial sync', mem()]);
  proxier.stop();
  process.stdout.write(`agent memory, ${services} Services x ${endpoints} endpoints (ebpf back end, null loader)\n\n| stage | live heap | delta | external (array buffers included) | RSS |\n|---|---:|---:|---:|---:|\n`);
  let prev = 0;
  for (const [name, m] of rows) {
    const d = m.heap - prev;
    process.stdout.write(`| ${name} | ${m.heap.toFixed(1)} MiB | ${prev ? `${d >= 0 ? '+' : ''}${d.toFixed(1)} MiB` : ''} | ${m.external.toFixed(1)} MiB | ${m.rss.toFixed(1)} MiB |\n`);
    prev = m.heap;
  }
  process.stdout.write(`\nthe same objects whole (as client-node's informer caches held them before lean-objects.ts): ${wholeMiB.toFixed(1)} MiB\n`);
  process.stdout.write(`\nfirst full sync ${firstSyncMs.toFixed(0)} ms, one partial sync ${partialSyncMs.toFixed(1)} ms (control plane only: the loader accepts without work)\n`);
  process.exit(0);
}

if (import.meta.url === `file://${process.argv[1]}`) void main(process.argv.slice(2));
