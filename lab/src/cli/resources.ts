// The kinds the lab CLI knows, their REST paths and their names on the
// command line (plural, singular, short names, Kind).

export interface KindInfo {
  /** REST resource (plural). */
  resource: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  aliases: string[];
  /** Has the /scale subresource. */
  scalable: boolean;
  /** "deployment.apps" style name for messages. */
  display: string;
  /** Accepted in manifests (apply/delete). */
  manifest: boolean;
}

export const KINDS: KindInfo[] = [
  { resource: 'nodes', kind: 'Node', apiVersion: 'v1', namespaced: false, aliases: ['node', 'no'], scalable: false, display: 'node', manifest: false },
  { resource: 'namespaces', kind: 'Namespace', apiVersion: 'v1', namespaced: false, aliases: ['namespace', 'ns'], scalable: false, display: 'namespace', manifest: true },
  { resource: 'pods', kind: 'Pod', apiVersion: 'v1', namespaced: true, aliases: ['pod', 'po'], scalable: false, display: 'pod', manifest: true },
  { resource: 'services', kind: 'Service', apiVersion: 'v1', namespaced: true, aliases: ['service', 'svc'], scalable: false, display: 'service', manifest: true },
  { resource: 'endpointslices', kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', namespaced: true, aliases: ['endpointslice', 'eps'], scalable: false, display: 'endpointslice.discovery.k8s.io', manifest: true },
  { resource: 'deployments', kind: 'Deployment', apiVersion: 'apps/v1', namespaced: true, aliases: ['deployment', 'deploy'], scalable: true, display: 'deployment.apps', manifest: true },
  { resource: 'replicasets', kind: 'ReplicaSet', apiVersion: 'apps/v1', namespaced: true, aliases: ['replicaset', 'rs'], scalable: true, display: 'replicaset.apps', manifest: true },
  { resource: 'replicationcontrollers', kind: 'ReplicationController', apiVersion: 'v1', namespaced: true, aliases: ['replicationcontroller', 'rc'], scalable: true, display: 'replicationcontroller', manifest: true },
];

export function resolveKind(word: string): KindInfo | undefined {
  const w = word.toLowerCase();
  return KINDS.find((k) => k.resource === w || k.kind.toLowerCase() === w || k.aliases.includes(w) ||
    k.display === w || `${k.resource}.${k.apiVersion.split('/')[0]}` === w);
}

export function kindForManifest(apiVersion: unknown, kind: unknown): KindInfo | undefined {
  return KINDS.find((k) => k.manifest && k.kind === kind && k.apiVersion === apiVersion);
}

function prefix(k: KindInfo): string {
  return k.apiVersion === 'v1' ? '/api/v1' : `/apis/${k.apiVersion}`;
}

/** Collection path; namespace undefined = all namespaces. */
export function collectionPath(k: KindInfo, namespace: string | undefined): string {
  if (!k.namespaced || namespace === undefined) return `${prefix(k)}/${k.resource}`;
  return `${prefix(k)}/namespaces/${encodeURIComponent(namespace)}/${k.resource}`;
}

export function objectPath(k: KindInfo, namespace: string, name: string): string {
  return `${collectionPath(k, k.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
}
