// `lab wait-ready`: waits (bounded) until the cluster has settled:
//  - every node that reports a Ready condition reports True,
//  - every pod not being deleted is Running and Ready,
//  - every Service with a selector has EndpointSlices whose ready addresses
//    are exactly the IPs of the Ready, non-terminating pods it selects (of
//    each of the Service's ipFamilies: one slice set per family).
import type { LabClient } from './api-client.js';
import { isPodReady } from './tables.js';

type Obj = Record<string, any>;

export interface Readiness {
  ready: boolean;
  waitingFor: string[];
}

function matches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** A pod's addresses: status.podIPs, or status.podIP for a pod without them. */
function podIPsOf(p: Obj): string[] {
  const ips = ((p['status']?.['podIPs'] ?? []) as Obj[]).map((x) => x['ip'] as string).filter(Boolean);
  return ips.length ? ips : [p['status']['podIP'] as string];
}

/** Pure check over listed objects (unit-testable). */
export function checkReadiness(nodes: Obj[], pods: Obj[], services: Obj[], slices: Obj[]): Readiness {
  const waitingFor: string[] = [];
  for (const n of nodes) {
    const c = (n['status']?.['conditions'] as Obj[] | undefined)?.find((x) => x['type'] === 'Ready');
    if (c && c['status'] !== 'True') waitingFor.push(`node ${n['metadata']?.['name']} not Ready`);
  }
  const live = pods.filter((p) => !p['metadata']?.['deletionTimestamp']);
  for (const p of live) {
    if (p['status']?.['phase'] !== 'Running' || !isPodReady(p)) {
      waitingFor.push(`pod ${p['metadata']?.['namespace']}/${p['metadata']?.['name']} not ready (${p['status']?.['phase'] ?? 'Pending'})`);
    }
  }
  for (const s of services) {
    const spec = s['spec'] ?? {};
    const sel = spec['selector'] as Record<string, string> | undefined;
    if (!sel || Object.keys(sel).length === 0 || spec['type'] === 'ExternalName') continue;
    const ns = s['metadata']?.['namespace'];
    const name = s['metadata']?.['name'];
    const publishNotReady = spec['publishNotReadyAddresses'] === true;
    const families = (spec['ipFamilies'] as string[] | undefined) ?? ['IPv4'];
    const expected = new Set<string>(live
      .filter((p) => p['metadata']?.['namespace'] === ns && matches(sel, p['metadata']?.['labels']) && p['status']?.['podIP'])
      .filter((p) => publishNotReady || isPodReady(p))
      .flatMap((p) => podIPsOf(p).filter((ip) => families.includes(ip.includes(':') ? 'IPv6' : 'IPv4'))));
    const mine = slices.filter((sl) => sl['metadata']?.['namespace'] === ns && sl['metadata']?.['labels']?.['kubernetes.io/service-name'] === name);
    const actual = new Set<string>();
    for (const sl of mine) {
      for (const e of (sl['endpoints'] ?? []) as Obj[]) {
        if (e['conditions']?.['ready'] === false) continue;
        for (const a of (e['addresses'] ?? []) as string[]) actual.add(a);
      }
    }
    const missing = [...expected].filter((ip) => !actual.has(ip));
    const extra = [...actual].filter((ip) => !expected.has(ip));
    if (missing.length || extra.length || (mine.length === 0 && expected.size > 0)) {
      waitingFor.push(`service ${ns}/${name} slices not current` +
        `${missing.length ? ` (missing ${missing.join(',')})` : ''}${extra.length ? ` (stale ${extra.join(',')})` : ''}`);
    }
  }
  return { ready: waitingFor.length === 0, waitingFor };
}

export async function waitReady(client: LabClient, timeoutMs: number, out: (line: string) => void): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let last: Readiness = { ready: false, waitingFor: ['no answer from the API'] };
  for (;;) {
    try {
      const [nodes, pods, services, slices] = await Promise.all([
        client.get<{ items?: Obj[] }>('/api/v1/nodes'),
        client.get<{ items?: Obj[] }>('/api/v1/pods'),
        client.get<{ items?: Obj[] }>('/api/v1/services'),
        client.get<{ items?: Obj[] }>('/apis/discovery.k8s.io/v1/endpointslices'),
      ]);
      last = checkReadiness(nodes.items ?? [], pods.items ?? [], services.items ?? [], slices.items ?? []);
      if (last.ready) {
        out(`ready: ${(pods.items ?? []).filter((p) => !p['metadata']?.['deletionTimestamp']).length} pod(s), ${(services.items ?? []).length} service(s)`);
        return 0;
      }
    } catch (err) {
      last = { ready: false, waitingFor: [(err as Error).message] };
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  process.stderr.write(`wait-ready: not ready after ${timeoutMs / 1000} s:\n${last.waitingFor.slice(0, 20).map((w) => `  ${w}`).join('\n')}\n`);
  return 1;
}
