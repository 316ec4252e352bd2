// Cost of the eBPF back end's full sync and of its drift check against a real
// loader: N Services x E endpoints (every endpoint its own backend) go
// through the agent's trackers and EbpfDataplane into a loader started in a
// network namespace of its own (nothing is attached; only maps are written).
// Prints the cold full sync, a second full sync with nothing to do, and a
// verifying full sync (read every service map back, compare, repair nothing).
//
//   node dist/bench/sync-reconcile.js [--services N] [--endpoints E]
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import pino from 'pino';
import { EbpfDataplane } from '../control-plane/src/dataplane/ebpf/ebpf-dataplane.js';
import { LoaderClient } from '../control-plane/src/dataplane/ebpf/loader-client.js';
import { computeDesiredState } from '../control-plane/src/dataplane/desired-state.js';
import { DEFAULT_MAGLEV_SIZING } from '../control-plane/src/dataplane/maglev.js';
import { EndpointSliceCache } from '../control-plane/src/model/endpoint-slice-cache.js';
import { ServiceTracker } from '../control-plane/src/model/service-tracker.js';
import { Lab } from '../test/loader/lab.js';

function service(i: number): V1Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: `rc-${i}`, namespace: 'bench' },
    spec: { type: 'ClusterIP', clusterIP: `198.18.${128 + (i >> 8)}.${i & 255}`, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  };
}

/** Endpoint k = i * E + e: address from 198.19.0.0/16, the port telling 65,536 apart. */
function slice(i: number, endpoints: number): V1EndpointSlice {
  const k0 = i * endpoints;
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { name: `rc-${i}-1`, namespace: 'bench', labels: { 'kubernetes.io/service-name': `rc-${i}` } },
    ports: [{ name: 'http', port: 8080 + Math.floor(k0 / 65536), protocol: 'TCP' }],
    endpoints: Array.from({ length: endpoints }, (_, e) => {
      const k = (k0 + e) % 65536;
      return { addresses: [`198.19.${k >> 8}.${k & 255}`], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node1' };
    }),
  };
}

async function main(argv: string[]): Promise<void> {
  let services = 10_000, endpoints = 10;
  for (let i = 0; i < argv.length; i += 2) {
    if (argv[i] === '--services') services = Number(argv[i + 1]);
    else if (argv[i] === '--endpoints') endpoints = Number(argv[i + 1]);
    else throw new Error(`unknown argument ${argv[i]} (--services N --endpoints E)`);
  }
  const lab = new Lab();
  let client: LoaderClient | undefined;
  try {
    const ns = lab.netns('rc');
    const loader = await lab.startLoader(ns, lab.instance('rc'));
    client = new LoaderClient(loader.socketPath, 600_000);
    const tracker = new ServiceTracker({ defaultAlgorithm: 'maglev' });
    const cache = new EndpointSliceCache('node1');
    for (let i = 0; i < services; i++) {
      tracker.update(service(i));
      cache.update(slice(i, endpoints));
    }
    const desired = computeDesiredState(tracker.servicePorts(), cache.allEndpoints(), { nodeName: 'node1', zone: '' });
    const dp = new EbpfDataplane(client, { seed: 1, sizing: DEFAULT_MAGLEV_SIZING, nodeIP: '198.18.0.11' }, pino({ level: 'warn' }));
    await dp.init();
    const sync = dp.sync.bind(dp) as (d: typeof desired, c?: undefined, o?: { verify?: boolean }) => ReturnType<typeof dp.sync>;
    const time = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      const t0 = performance.now(), c0 = process.cpuUsage();
      const r = await fn();
      const c = process.cpuUsage(c0);
      // Wall time moves with the machine's load; the agent's own CPU time less so.
      process.stdout.write(`${what}: ${(performance.now() - t0).toFixed(0)} ms wall, agent CPU ${((c.user + c.system) / 1000).toFixed(0)} ms ${JSON.stringify((r as { changes?: number; detail?: unknown } | undefined)?.detail ?? '')}\n`);
    };
    process.stdout.write(`${services} Services x ${endpoints} endpoints, real loader (nothing attached)\n`);
    await time('cold full sync', () => sync(desired));
    await time('full sync, nothing to do', () => sync(desired));
    const lastVerify = () => JSON.stringify((dp as unknown as { lastVerify?: unknown }).lastVerify ?? null);
    await time('verifying full sync, first (every map read back and compared)', () => sync(desired, undefined, { verify: true }));
    process.stdout.write(`  drift check: ${lastVerify()}\n`);
    await time('verifying full sync, next period (large maps counted, read when due)', () => sync(desired, undefined, { verify: true }));
    process.stdout.write(`  drift check: ${lastVerify()}\n`);
    const read = (dp as unknown as { readMaps?: () => Promise<{ truncated: Set<string> }> }).readMaps;
    if (read) {
      const t0 = performance.now();
      const r = await read.call(dp);
      process.stdout.write(`of which reading the maps: ${(performance.now() - t0).toFixed(0)} ms; dumps cut at the message limit: ${[...r.truncated].join(', ') || 'none'}\n`);
    }
    for (const m of ['sy_services', 'sy_backends', 'sy_revnat', 'sy_maglev', 'sy_source_ranges']) {
      const t0 = performance.now();
      const r = await client.dump(m);
      process.stdout.write(`dump ${m}: ${(r.entries ?? []).length} of ${r.info.entries} entries in ${(performance.now() - t0).toFixed(0)} ms\n`);
    }
    process.stdout.write(`pressure: ${JSON.stringify((dp as unknown as { mapPressure?: () => unknown }).mapPressure?.() ?? null)}\n`);
  } finally {
    client?.close();
    await lab.cleanup();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) void main(process.argv.slice(2)).then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
