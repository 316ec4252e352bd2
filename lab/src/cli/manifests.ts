// `lab apply -f`, `lab delete -f` and `lab scale`: manifests in, plain
// Kubernetes REST calls out.
import fs from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { ApiError, LabError, type LabClient } from './api-client.js';
import { collectionPath, kindForManifest, objectPath, resolveKind, type KindInfo } from './resources.js';

type Obj = Record<string, any>;

export interface ManifestObject {
  kind: KindInfo;
  namespace: string;
  name: string;
  obj: Obj;
}

/** Reads FILE, or stdin for "-". */
export function readSource(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new LabError(`cannot read ${file === '-' ? 'standard input' : file}: ${(err as Error).message}`);
  }
}

/** Parses multi-document YAML (or JSON) into objects; a v1 List is flattened. */
export function parseManifests(text: string, defaultNamespace: string, source = 'manifest'): ManifestObject[] {
  const out: ManifestObject[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const add = (o: unknown, where: string): void => {
    if (o === null || o === undefined) return;
    if (typeof o !== 'object' || Array.isArray(o)) throw new LabError(`${where}: not an object`);
    const obj = o as Obj;
    if (obj['kind'] === 'List' || (typeof obj['kind'] === 'string' && obj['kind'].endsWith('List') && Array.isArray(obj['items']))) {
      (obj['items'] as unknown[]).forEach((it, i) => add(it, `${where} item ${i}`));
      return;
    }
    const kind = kindForManifest(obj['apiVersion'], obj['kind']);
    if (!kind) {
      throw new LabError(`${where}: unsupported kind ${String(obj['apiVersion'])}/${String(obj['kind'])} ` +
        '(supported: v1 Namespace, Service, Pod, ReplicationController; apps/v1 Deployment, ReplicaSet; discovery.k8s.io/v1 EndpointSlice)');
    }
    const meta = (obj['metadata'] ?? {}) as Obj;
    const name = meta['name'];
    if (typeof name !== 'string' || !name) throw new LabError(`${where}: ${kind.kind} without metadata.name`);
    const namespace = kind.namespaced ? (typeof meta['namespace'] === 'string' && meta['namespace'] ? meta['namespace'] : defaultNamespace) : '';
    obj['metadata'] = { ...meta, ...(kind.namespaced ? { namespace } : {}) };
    out.push({ kind, namespace, name, obj });
  };
  list.forEach((d, i) => {
    if (d.errors.length > 0) throw new LabError(`${source}: document ${i + 1}: ${d.errors[0]!.message}`);
    add(d.toJS(), `${source}: document ${i + 1}`);
  });
  return out;
}

function ref(m: ManifestObject): string {
  return `${m.kind.display}/${m.name}`;
}

/** Copies fields the server allocated (clusterIP, nodePorts, bound node) into a replacement. */
export function preserveServerFields(kind: string, desired: Obj, current: Obj): Obj {
  const next: Obj = structuredClone(desired);
  next['metadata'] = { ...(next['metadata'] ?? {}), resourceVersion: current['metadata']?.['resourceVersion'] };
  if (kind === 'Service') {
    const spec: Obj = (next['spec'] ??= {});
    const cur: Obj = current['spec'] ?? {};
    const curType = cur['type'] ?? 'ClusterIP';
    const newType = spec['type'] ?? 'ClusterIP';
    for (const f of ['clusterIP', 'clusterIPs', 'ipFamilies', 'ipFamilyPolicy']) {
      if (spec[f] === undefined && cur[f] !== undefined && newType !== 'ExternalName') spec[f] = cur[f];
    }
    if (spec['healthCheckNodePort'] === undefined && cur['healthCheckNodePort'] !== undefined &&
      newType === 'LoadBalancer' && spec['externalTrafficPolicy'] === 'Local') {
      spec['healthCheckNodePort'] = cur['healthCheckNodePort'];
    }
    if ((newType === 'NodePort' || newType === 'LoadBalancer') && (curType === 'NodePort' || curType === 'LoadBalancer')) {
      const curPorts = (cur['ports'] ?? []) as Obj[];
      for (const p of (spec['ports'] ?? []) as Obj[]) {
        if (p['nodePort'] !== undefined) continue;
        const proto = p['protocol'] ?? 'TCP';
        const match = curPorts.find((c) => (c['protocol'] ?? 'TCP') === proto && p['name'] !== undefined && c['name'] === p['name']) ??
          curPorts.find((c) => (c['protocol'] ?? 'TCP') === proto && c['port'] === p['port']);
        if (match?.['nodePort'] !== undefined) p['nodePort'] = match['nodePort'];
      }
    }
  }
  if (kind === 'Pod') {
    const spec: Obj = (next['spec'] ??= {});
    if (spec['nodeName'] === undefined && current['spec']?.['nodeName'] !== undefined) spec['nodeName'] = current['spec']['nodeName'];
  }
  return next;
}

export async function applyObjects(client: LabClient, objs: ManifestObject[], out: (line: string) => void): Promise<number> {
  let failures = 0;
  for (const m of objs) {
    const path = objectPath(m.kind, m.namespace, m.name);
    try {
      const current = await client.getOptional<Obj>(path);
      if (!current) {
        await client.call('POST', collectionPath(m.kind, m.kind.namespaced ? m.namespace : undefined), m.obj);
        out(`${ref(m)} created`);
      } else {
        await client.call('PUT', path, preserveServerFields(m.kind.kind, m.obj, current));
        out(`${ref(m)} configured`);
      }
    } catch (err) {
      failures++;
      process.stderr.write(`error: ${ref(m)}: ${(err as Error).message}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

export async function deleteObjects(client: LabClient, objs: ManifestObject[], ignoreNotFound: boolean, out: (line: string) => void): Promise<number> {
  let failures = 0;
  for (const m of objs) {
    const r = await deleteOne(client, m.kind, m.namespace, m.name);
    if (r === 'deleted') out(`${ref(m)} deleted`);
    else if (r === 'notfound') {
      if (!ignoreNotFound) {
        failures++;
        process.stderr.write(`Error from server (NotFound): ${m.kind.resource} "${m.name}" not found\n`);
      }
    } else {
      failures++;
      process.stderr.write(`error: ${ref(m)}: ${r}\n`);
    }
  }
  return failures === 0 ? 0 : 1;
}

export async function deleteOne(client: LabClient, kind: KindInfo, namespace: string, name: string, gracePeriodSeconds?: number): Promise<'deleted' | 'notfound' | string> {
  try {
    const r = await client.request('DELETE', objectPath(kind, namespace, name), {
      kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background',
      ...(gracePeriodSeconds !== undefined ? { gracePeriodSeconds } : {}),
    });
    if (r.status === 404) return 'notfound';
    if (r.status < 200 || r.status >= 300) return new ApiError(r.status, r.body, 'DELETE', objectPath(kind, namespace, name)).message;
    return 'deleted';
  } catch (err) {
    return (err as Error).message;
  }
}

/** `scale KIND/NAME N` through the scale subresource. */
export async function scale(client: LabClient, target: string, replicasText: string, namespace: string, out: (line: string) => void): Promise<number> {
  const slash = target.indexOf('/');
  if (slash <= 0) throw new LabError(`scale: expected KIND/NAME, got ${JSON.stringify(target)}`, 2);
  const kind = resolveKind(target.slice(0, slash));
  const name = target.slice(slash + 1);
  if (!kind || !kind.scalable) throw new LabError(`scale: ${target.slice(0, slash)} cannot be scaled (deployment, replicaset, replicationcontroller)`, 2);
  const replicas = Number(replicasText);
  if (!Number.isInteger(replicas) || replicas < 0) throw new LabError(`scale: bad replica count ${JSON.stringify(replicasText)}`, 2);
  const path = `${objectPath(kind, namespace, name)}/scale`;
  const current = await client.getOptional<Obj>(path);
  if (!current) throw new LabError(`Error from server (NotFound): ${kind.resource} "${name}" not found`);
  const next: Obj = {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name, namespace, resourceVersion: current['metadata']?.['resourceVersion'] },
    spec: { replicas },
  };
  await client.call('PUT', path, next);
  out(`${kind.display}/${name} scaled`);
  return 0;
}
