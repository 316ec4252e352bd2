// kubectl-like tables for `lab get`.
import type { KindInfo } from './resources.js';

type Obj = Record<string, any>;

export function age(ts: unknown, now = Date.now()): string {
  if (typeof ts !== 'string') return '<unknown>';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '<unknown>';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  s = Math.floor(h / 24);
  return `${s}d`;
}

function cond(o: Obj, type: string): string | undefined {
  return (o['status']?.['conditions'] as Obj[] | undefined)?.find((c) => c['type'] === type)?.['status'];
}

export function isPodReady(p: Obj): boolean {
  return cond(p, 'Ready') === 'True';
}

function podStatus(p: Obj): string {
  if (p['metadata']?.['deletionTimestamp']) return 'Terminating';
  return p['status']?.['phase'] ?? 'Pending';
}

function podReadyCol(p: Obj): string {
  const containers = (p['spec']?.['containers'] ?? []) as Obj[];
  const statuses = (p['status']?.['containerStatuses'] ?? []) as Obj[];
  const total = Math.max(containers.length, 1);
  const ready = statuses.length > 0 ? statuses.filter((s) => s['ready'] === true).length : isPodReady(p) ? total : 0;
  return `${ready}/${total}`;
}

function restarts(p: Obj): string {
  const statuses = (p['status']?.['containerStatuses'] ?? []) as Obj[];
  return String(statuses.reduce((n, s) => n + (Number(s['restartCount']) || 0), 0));
}

function svcPorts(s: Obj): string {
  const ports = (s['spec']?.['ports'] ?? []) as Obj[];
  if (ports.length === 0) return '<none>';
  return ports.map((p) => `${p['port']}${p['nodePort'] ? `:${p['nodePort']}` : ''}/${p['protocol'] ?? 'TCP'}`).join(',');
}

function svcExternal(s: Obj): string {
  const spec = s['spec'] ?? {};
  if (spec['type'] === 'ExternalName') return spec['externalName'] ?? '<none>';
  const ips: string[] = [...(spec['externalIPs'] ?? [])];
  for (const i of (s['status']?.['loadBalancer']?.['ingress'] ?? []) as Obj[]) if (i['ip']) ips.push(i['ip']);
  if (ips.length) return ips.join(',');
  return spec['type'] === 'LoadBalancer' ? '<pending>' : '<none>';
}

function selector(sel: unknown): string {
  if (!sel || typeof sel !== 'object') return '<none>';
  const s = sel as Obj;
  const labels = (s['matchLabels'] && typeof s['matchLabels'] === 'object') ? s['matchLabels'] as Obj : (s['matchExpressions'] ? {} : s);
  const parts = Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of (s['matchExpressions'] ?? []) as Obj[]) parts.push(`${e['key']} ${String(e['operator']).toLowerCase()} (${(e['values'] ?? []).join(',')})`);
  return parts.length ? parts.join(',') : '<none>';
}

function sliceEndpoints(s: Obj): string {
  const eps = ((s['endpoints'] ?? []) as Obj[]).flatMap((e) => (e['addresses'] ?? []) as string[]);
  if (eps.length === 0) return '<unset>';
  const shown = eps.slice(0, 3).join(',');
  return eps.length > 3 ? `${shown} + ${eps.length - 3} more...` : shown;
}

function slicePorts(s: Obj): string {
  const ports = (s['ports'] ?? []) as Obj[];
  if (ports.length === 0) return '<unset>';
  return ports.map((p) => String(p['port'] ?? '<unset>')).join(',');
}

function nodeStatus(n: Obj): string {
  const r = cond(n, 'Ready');
  const s = r === 'True' ? 'Ready' : r === undefined ? 'Unknown' : 'NotReady';
  return n['spec']?.['unschedulable'] ? `${s},SchedulingDisabled` : s;
}

function nodeIP(n: Obj, type: string): string {
  return ((n['status']?.['addresses'] ?? []) as Obj[]).find((a) => a['type'] === type)?.['address'] ?? '<none>';
}

interface Column { name: string; wide?: boolean; get(o: Obj): string }

function columns(kind: KindInfo): Column[] {
  const name: Column = { name: 'NAME', get: (o) => o['metadata']?.['name'] ?? '' };
  const ageCol: Column = { name: 'AGE', get: (o) => age(o['metadata']?.['creationTimestamp']) };
  switch (kind.resource) {
    case 'nodes':
      return [name, { name: 'STATUS', get: nodeStatus }, { name: 'ROLES', get: () => '<none>' }, ageCol,
        { name: 'VERSION', get: (o) => o['status']?.['nodeInfo']?.['kubeletVersion'] ?? '' },
        { name: 'INTERNAL-IP', wide: true, get: (o) => nodeIP(o, 'InternalIP') },
        { name: 'POD-CIDR', wide: true, get: (o) => o['spec']?.['podCIDR'] ?? '<none>' },
        { name: 'ZONE', wide: true, get: (o) => o['metadata']?.['labels']?.['topology.kubernetes.io/zone'] ?? '<none>' }];
    case 'pods':
      return [name, { name: 'READY', get: podReadyCol }, { name: 'STATUS', get: podStatus }, { name: 'RESTARTS', get: restarts }, ageCol,
        { name: 'IP', wide: true, get: (o) => o['status']?.['podIP'] ?? '<none>' },
        { name: 'NODE', wide: true, get: (o) => o['spec']?.['nodeName'] ?? '<none>' },
        { name: 'NETNS', wide: true, get: (o) => o['metadata']?.['annotations']?.['lab.switchyard.dev/netns'] ?? '<none>' }];
    case 'services':
      return [name, { name: 'TYPE', get: (o) => o['spec']?.['type'] ?? 'ClusterIP' },
        { name: 'CLUSTER-IP', get: (o) => o['spec']?.['clusterIP'] ?? '<none>' },
        { name: 'EXTERNAL-IP', get: svcExternal }, { name: 'PORT(S)', get: svcPorts }, ageCol,
        { name: 'SELECTOR', wide: true, get: (o) => selector(o['spec']?.['selector']) }];
    case 'endpointslices':
      return [name, { name: 'ADDRESSTYPE', get: (o) => o['addressType'] ?? '' }, { name: 'PORTS', get: slicePorts },
        { name: 'ENDPOINTS', get: sliceEndpoints }, ageCol,
        { name: 'SERVICE', wide: true, get: (o) => o['metadata']?.['labels']?.['kubernetes.io/service-name'] ?? '<none>' }];
    case 'deployments':
      return [name, { name: 'READY', get: (o) => `${o['status']?.['readyReplicas'] ?? 0}/${o['spec']?.['replicas'] ?? 1}` },
        { name: 'UP-TO-DATE', get: (o) => String(o['status']?.['updatedReplicas'] ?? 0) },
        { name: 'AVAILABLE', get: (o) => String(o['status']?.['availableReplicas'] ?? 0) }, ageCol,
        { name: 'SELECTOR', wide: true, get: (o) => selector(o['spec']?.['selector']) }];
    case 'replicasets':
    case 'replicationcontrollers':
      return [name, { name: 'DESIRED', get: (o) => String(o['spec']?.['replicas'] ?? 1) },
        { name: 'CURRENT', get: (o) => String(o['status']?.['replicas'] ?? 0) },
        { name: 'READY', get: (o) => String(o['status']?.['readyReplicas'] ?? 0) }, ageCol,
        { name: 'SELECTOR', wide: true, get: (o) => selector(o['spec']?.['selector']) }];
    case 'namespaces':
      return [name, { name: 'STATUS', get: (o) => o['status']?.['phase'] ?? 'Active' }, ageCol];
    default:
      return [name, ageCol];
  }
}

export function renderTable(kind: KindInfo, items: Obj[], opts: { wide: boolean; allNamespaces: boolean }): string {
  const cols = columns(kind).filter((c) => opts.wide || !c.wide);
  if (opts.allNamespaces && kind.namespaced) cols.unshift({ name: 'NAMESPACE', get: (o) => o['metadata']?.['namespace'] ?? '' });
  const rows = items.map((o) => cols.map((c) => c.get(o)));
  const widths = cols.map((c, i) => Math.max(c.name.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(cols.map((c) => c.name)), ...rows.map(line)].join('\n') + '\n';
}
