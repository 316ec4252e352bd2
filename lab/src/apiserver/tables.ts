// Server-side printing: meta.k8s.io Table responses, with the columns and
// cell formats kube-apiserver's printers use (pkg/printers/internalversion):
// `kubectl get` asks for them with
//   Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...
// and prints what it is given (priority-1 columns only with -o wide).

import type { ResourceName } from './resources.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface Column {
  name: string;
  type: 'string' | 'integer';
  format?: 'name';
  priority?: number;
  description: string;
}

const NAME: Column = { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.' };
const AGE: Column = { name: 'Age', type: 'string', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' };
const wide = (name: string, description: string): Column => ({ name, type: 'string', priority: 1, description });
/** The wide columns of the kinds with a pod template (podTemplateCells). */
const TEMPLATE_COLUMNS: Column[] = [
  wide('Containers', 'Names of each container in the template.'),
  wide('Images', 'Images referenced by each container in the template.'),
];
const col = (name: string, description: string, type: Column['type'] = 'string'): Column => ({ name, type, description });

/** Go's duration.HumanDuration, as kubectl prints AGE. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const years = Math.floor(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${years}y`;
}

function age(o: Obj, now: number): string {
  const ts = o.metadata?.creationTimestamp;
  if (!ts) return '<unknown>';
  return humanDuration(now - Date.parse(ts));
}

/** labels.FormatLabels: sorted k=v pairs, "<none>" when empty. */
function formatLabels(m: Record<string, string> | undefined): string {
  const keys = Object.keys(m ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${(m as Record<string, string>)[k]}`).join(',') : '<none>';
}

/** metav1.FormatLabelSelector. */
function formatLabelSelector(s: Obj | undefined): string {
  if (!s) return '<none>';
  const parts: string[] = [];
  for (const k of Object.keys(s.matchLabels ?? {}).sort()) parts.push(`${k}=${s.matchLabels[k]}`);
  for (const e of s.matchExpressions ?? []) {
    const op = String(e.operator);
    const vals = [...(e.values ?? [])].sort().join(',');
    if (op === 'In') parts.push(`${e.key} in (${vals})`);
    else if (op === 'NotIn') parts.push(`${e.key} notin (${vals})`);
    else if (op === 'Exists') parts.push(e.key);
    else if (op === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(',') : '<none>';
}

/** Up to three items, then " + N more..." (listWithMoreString). */
function listWithMore(items: string[]): string {
  if (items.length > 3) return `${items.slice(0, 3).join(',')} + ${items.length - 3} more...`;
  return items.length ? items.join(',') : '<unset>';
}

function podTemplateCells(tpl: Obj | undefined): [string, string] {
  const cs: Obj[] = tpl?.spec?.containers ?? [];
  return [cs.map((c) => c.name).join(','), cs.map((c) => c.image).join(',')];
}

function serviceExternalIP(s: Obj): string {
  const ext: string[] = s.spec?.externalIPs ?? [];
  switch (s.spec?.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return ext.length ? ext.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = ((s.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip || i.hostname).filter((x) => x);
      let lbs = lb.join(',');
      if (lbs.length > 16) lbs = `${lbs.slice(0, 13)}...`;
      const all = [...(lbs ? [lbs] : []), ...ext];
      return all.length ? all.join(',') : '<pending>';
    }
    case 'ExternalName':
      return s.spec.externalName ?? '';
    default:
      return '<unknown>';
  }
}

function servicePorts(s: Obj): string {
  const ports: Obj[] = s.spec?.ports ?? [];
  if (!ports.length) return '<none>';
  return ports.map((p) => (p.nodePort ? `${p.port}:${p.nodePort}/${p.protocol ?? 'TCP'}` : `${p.port}/${p.protocol ?? 'TCP'}`)).join(',');
}

/** printPod's STATUS: the phase, or the reason of the first container not running. */
function podStatus(p: Obj): string {
  let reason: string = p.status?.reason || p.status?.phase || '';
  let initializing = false;
  const inits: Obj[] = p.status?.initContainerStatuses ?? [];
  inits.forEach((c, i) => {
    if (initializing) return;
    const t = c.state?.terminated;
    if (t && t.exitCode === 0) return;
    if (t) reason = t.reason ? `Init:${t.reason}` : t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${t.exitCode}`;
    else if (c.state?.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${(p.spec?.initContainers ?? []).length}`;
    initializing = true;
  });
  if (!initializing) {
    let hasRunning = false;
    const cs: Obj[] = [...(p.status?.containerStatuses ?? [])].reverse();
    for (const c of cs) {
      if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
      else if (c.state?.terminated) reason = c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`;
      else if (c.ready && c.state?.running) hasRunning = true;
    }
    if (reason === 'Completed' && hasRunning) {
      const ready = (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
      reason = ready ? 'Running' : 'NotReady';
    }
  }
  if (p.metadata?.deletionTimestamp) reason = p.status?.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

function podRestarts(p: Obj, now: number): string {
  let restarts = 0;
  let last = 0;
  for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])] as Obj[]) {
    restarts += c.restartCount ?? 0;
    const fin = c.lastState?.terminated?.finishedAt;
    if (fin) last = Math.max(last, Date.parse(fin));
  }
  return last && restarts ? `${restarts} (${humanDuration(now - last)} ago)` : String(restarts);
}

function nodeStatus(n: Obj): string {
  const ready = ((n.status?.conditions ?? []) as Obj[]).find((c) => c.type === 'Ready');
  const out = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (n.spec?.unschedulable) out.push('SchedulingDisabled');
  return out.join(',');
}

function nodeRoles(n: Obj): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries((n.metadata?.labels ?? {}) as Record<string, string>)) {
    if (k.startsWith('node-role.kubernetes.io/')) roles.add(k.slice('node-role.kubernetes.io/'.length));
    else if (k === 'kubernetes.io/role' && v) roles.add(v);
  }
  return roles.size ? [...roles].sort().join(',') : '<none>';
}

function nodeAddress(n: Obj, type: string): string {
  return ((n.status?.addresses ?? []) as Obj[]).find((a) => a.type === type)?.address ?? '<none>';
}

interface Printer {
  columns: Column[];
  cells(o: Obj, now: number): unknown[];
}

const unknown = (s: string | undefined): string => s || '<unknown>';
const none = (s: string | undefined): string => s || '<none>';

const replicaSetLike = (selector: (o: Obj) => string): Printer => ({
  columns: [
    NAME,
    col('Desired', 'Replicas is the number of desired replicas.', 'integer'),
    col('Current', 'Replicas is the most recently observed number of replicas.', 'integer'),
    col('Ready', 'The number of ready replicas for this replica set.', 'integer'),
    AGE,
    ...TEMPLATE_COLUMNS,
    wide('Selector', 'Selector is a label query over pods that should match the replica count.'),
  ],
  cells: (o, now) => [o.metadata.name, o.spec?.replicas ?? 0, o.status?.replicas ?? 0, o.status?.readyReplicas ?? 0, age(o, now), ...podTemplateCells(o.spec?.template), selector(o)],
});

export const PRINTERS: Partial<Record<ResourceName, Printer>> = {
  nodes: {
    columns: [
      NAME,
      col('Status', 'The status of the node'),
      col('Roles', 'The roles of the node'),
      AGE,
      col('Version', 'Kubelet Version reported by the node.'),
      wide('Internal-IP', 'List of addresses reachable to the node.'),
      wide('External-IP', 'List of addresses reachable to the node.'),
      wide('OS-Image', 'OS Image reported by the node from /etc/os-release.'),
      wide('Kernel-Version', "Kernel Version reported by the node from 'uname -r'."),
      wide('Container-Runtime', 'ContainerRuntime Version reported by the node through runtime remote API.'),
    ],
    cells: (n, now) => {
      const info = n.status?.nodeInfo ?? {};
      return [n.metadata.name, nodeStatus(n), nodeRoles(n), age(n, now), info.kubeletVersion ?? '', nodeAddress(n, 'InternalIP'), nodeAddress(n, 'ExternalIP'), unknown(info.osImage), unknown(info.kernelVersion), unknown(info.containerRuntimeVersion)];
    },
  },
  namespaces: {
    columns: [NAME, col('Status', 'The status of the namespace'), AGE],
    cells: (o, now) => [o.metadata.name, o.status?.phase ?? '', age(o, now)],
  },
  pods: {
    columns: [
      NAME,
      col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
      col('Status', 'The aggregate status of the containers in this pod.'),
      col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
      AGE,
      wide('IP', 'podIP address allocated to the pod.'),
      wide('Node', 'NodeName is a request to schedule this pod onto a specific node.'),
      wide('Nominated Node', 'nominatedNodeName is set when this pod preempts other pods on the node.'),
      wide('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness.'),
    ],
    cells: (p, now) => {
      const cs: Obj[] = p.status?.containerStatuses ?? [];
      const total = (p.spec?.containers ?? []).length;
      const ready = cs.filter((c) => c.ready).length;
      const gates: Obj[] = p.spec?.readinessGates ?? [];
      const trueConds = new Set(((p.status?.conditions ?? []) as Obj[]).filter((c) => c.status === 'True').map((c) => c.type));
      const gatesCell = gates.length ? `${gates.filter((g) => trueConds.has(g.conditionType)).length}/${gates.length}` : '<none>';
      return [p.metadata.name, `${ready}/${total}`, podStatus(p), podRestarts(p, now), age(p, now), none(p.status?.podIP), none(p.spec?.nodeName), none(p.status?.nominatedNodeName), gatesCell];
    },
  },
  services: {
    columns: [
      NAME,
      col('Type', 'type determines how the Service is exposed.'),
      col('Cluster-IP', 'clusterIP is the IP address of the service.'),
      col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
      col('Port(s)', 'The list of ports that are exposed by this service.'),
      AGE,
      wide('Selector', 'Route service traffic to pods with label keys and values matching this selector.'),
    ],
    cells: (s, now) => [s.metadata.name, s.spec?.type ?? 'ClusterIP', none(s.spec?.clusterIP), serviceExternalIP(s), servicePorts(s), age(s, now), formatLabels(s.spec?.selector)],
  },
  endpointslices: {
    columns: [
      NAME,
      col('AddressType', 'The IP protocol for this slice'),
      col('Ports', 'The ports of this slice'),
      col('Endpoints', 'The endpoints of this slice'),
      AGE,
    ],
    cells: (e, now) => [
      e.metadata.name,
      e.addressType ?? '',
      listWithMore(((e.ports ?? []) as Obj[]).map((p) => (p.port !== undefined && p.port !== null ? String(p.port) : p.name ?? '*'))),
      listWithMore(((e.endpoints ?? []) as Obj[]).flatMap((ep) => (ep.addresses ?? []) as string[])),
      age(e, now),
    ],
  },
  deployments: {
    columns: [
      NAME,
      col('Ready', 'Number of the pod with ready state'),
      col('Up-to-date', 'Total number of non-terminated pods targeted by this deployment that have the desired template spec.', 'integer'),
      col('Available', 'Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.', 'integer'),
      AGE,
      ...TEMPLATE_COLUMNS,
      wide('Selector', 'Label selector for pods.'),
    ],
    cells: (d, now) => [
      d.metadata.name,
      `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
      d.status?.updatedReplicas ?? 0,
      d.status?.availableReplicas ?? 0,
      age(d, now),
      ...podTemplateCells(d.spec?.template),
      formatLabelSelector(d.spec?.selector),
    ],
  },
  replicasets: replicaSetLike((o) => formatLabelSelector(o.spec?.selector)),
  replicationcontrollers: replicaSetLike((o) => formatLabels(o.spec?.selector)),
};

/** The Table version the Accept header asks for (v1 or v1beta1), or undefined. */
export function tableVersion(accept: string | undefined): 'v1' | 'v1beta1' | undefined {
  for (const media of (accept ?? '').split(',')) {
    const [type, ...params] = media.split(';').map((s) => s.trim());
    if (type !== 'application/json') continue;
    const p = new Map(params.map((kv) => kv.split('=').map((s) => s.trim()) as [string, string]));
    if (p.get('as') === 'Table' && p.get('g') === 'meta.k8s.io' && (p.get('v') === 'v1' || p.get('v') === 'v1beta1')) return p.get('v') as 'v1' | 'v1beta1';
    return undefined; // the client prefers a plain object
  }
  return undefined;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

function rowObject(o: Obj, include: IncludeObject, apiVersion: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return o;
  return { kind: 'PartialObjectMetadata', apiVersion, metadata: o.metadata };
}

/** A Table of `items`; undefined when the resource has no printer (the caller serves objects). */
export function toTable(
  res: ResourceName,
  items: Obj[],
  opts: { version: 'v1' | 'v1beta1'; includeObject: IncludeObject; resourceVersion?: string; continue?: string; columns?: boolean; now?: number },
): Obj | undefined {
  const pr = PRINTERS[res];
  if (!pr) return undefined;
  const now = opts.now ?? Date.now();
  const apiVersion = `meta.k8s.io/${opts.version}`;
  return {
    kind: 'Table',
    apiVersion,
    metadata: {
      ...(opts.resourceVersion !== undefined ? { resourceVersion: opts.resourceVersion } : {}),
      ...(opts.continue ? { continue: opts.continue } : {}),
    },
    ...(opts.columns === false ? {} : { columnDefinitions: pr.columns.map((c) => ({ priority: 0, format: '', ...c })) }),
    rows: items.map((o) => {
      const obj = rowObject(o, opts.includeObject, apiVersion);
      return { cells: pr.cells(o, now), ...(obj !== undefined ? { object: obj } : {}) };
    }),
  };
}

export function includeObjectParam(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject');
  return v === 'None' || v === 'Object' ? v : 'Metadata';
}
