// The resources the lab API server serves, and the discovery documents
// (/api, /api/v1, /apis, /apis/{group}/{version}, /version) describing them.

import type {
  Deployment,
  EndpointSlice,
  KubeObject,
  Namespace,
  Node,
  Pod,
  ReplicaSet,
  ReplicationController,
  Service,
} from './types.js';

/** Resource → object type, for the typed store API. */
export interface ResourceTypes {
  namespaces: Namespace;
  nodes: Node;
  pods: Pod;
  services: Service;
  endpoints: KubeObject;
  replicationcontrollers: ReplicationController;
  deployments: Deployment;
  replicasets: ReplicaSet;
  endpointslices: EndpointSlice;
}

export type ResourceName = keyof ResourceTypes;

export interface ResourceInfo {
  name: ResourceName;
  group: string;
  version: string;
  /** "v1" or "apps/v1". */
  apiVersion: string;
  kind: string;
  listKind: string;
  singular: string;
  namespaced: boolean;
  shortNames: string[];
  /** Has a /status subresource (the main resource ignores status changes). */
  hasStatus: boolean;
  /** Has a /scale subresource (autoscaling/v1 Scale). */
  hasScale: boolean;
  /** metadata.generation is maintained (bumped on spec changes). */
  tracksGeneration: boolean;
  /** Top-level fields other than metadata/status that count as "spec" for generation. */
  specFields: string[];
  /** Fields a field selector may use besides metadata.name / metadata.namespace. */
  extraFieldSelectors: string[];
  categories?: string[];
}

function core(
  name: ResourceName,
  kind: string,
  singular: string,
  rest: Partial<ResourceInfo> = {},
): ResourceInfo {
  return {
    name,
    group: '',
    version: 'v1',
    apiVersion: 'v1',
    kind,
    listKind: `${kind}List`,
    singular,
    namespaced: true,
    shortNames: [],
    hasStatus: false,
    hasScale: false,
    tracksGeneration: false,
    specFields: ['spec'],
    extraFieldSelectors: [],
    ...rest,
  };
}

function grouped(
  group: string,
  version: string,
  name: ResourceName,
  kind: string,
  singular: string,
  rest: Partial<ResourceInfo> = {},
): ResourceInfo {
  return { ...core(name, kind, singular, rest), group, version, apiVersion: `${group}/${version}` };
}

export const RESOURCES: Readonly<Record<ResourceName, ResourceInfo>> = {
  namespaces: core('namespaces', 'Namespace', 'namespace', {
    namespaced: false,
    shortNames: ['ns'],
    hasStatus: true,
    extraFieldSelectors: ['status.phase'],
  }),
  nodes: core('nodes', 'Node', 'node', {
    namespaced: false,
    shortNames: ['no'],
    hasStatus: true,
    extraFieldSelectors: ['spec.unschedulable'],
  }),
  pods: core('pods', 'Pod', 'pod', {
    shortNames: ['po'],
    hasStatus: true,
    categories: ['all'],
    extraFieldSelectors: [
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
  }),
  services: core('services', 'Service', 'service', {
    shortNames: ['svc'],
    hasStatus: true,
    categories: ['all'],
  }),
  endpoints: core('endpoints', 'Endpoints', 'endpoints', { shortNames: ['ep'], specFields: ['subsets'] }),
  replicationcontrollers: core('replicationcontrollers', 'ReplicationController', 'replicationcontroller', {
    shortNames: ['rc'],
    hasStatus: true,
    hasScale: true,
    tracksGeneration: true,
    categories: ['all'],
    extraFieldSelectors: ['status.replicas'],
  }),
  deployments: grouped('apps', 'v1', 'deployments', 'Deployment', 'deployment', {
    shortNames: ['deploy'],
    hasStatus: true,
    hasScale: true,
    tracksGeneration: true,
    categories: ['all'],
  }),
  replicasets: grouped('apps', 'v1', 'replicasets', 'ReplicaSet', 'replicaset', {
    shortNames: ['rs'],
    hasStatus: true,
    hasScale: true,
    tracksGeneration: true,
    categories: ['all'],
    extraFieldSelectors: ['status.replicas'],
  }),
  endpointslices: grouped('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', 'endpointslice', {
    tracksGeneration: true,
    specFields: ['addressType', 'endpoints', 'ports'],
    extraFieldSelectors: ['addressType'],
  }),
};

export const RESOURCE_NAMES = Object.keys(RESOURCES) as ResourceName[];

export function resourceInfo(name: ResourceName): ResourceInfo {
  return RESOURCES[name];
}

export function fieldSelectorsFor(r: ResourceInfo): string[] {
  return r.namespaced ? ['metadata.name', 'metadata.namespace', ...r.extraFieldSelectors] : ['metadata.name', ...r.extraFieldSelectors];
}

/** Finds a resource by group/version/plural as it appears in a URL. */
export function lookupResource(group: string, version: string, plural: string): ResourceInfo | undefined {
  for (const r of Object.values(RESOURCES)) {
    if (r.group === group && r.version === version && r.name === plural) return r;
  }
  return undefined;
}

export function groupVersions(): Array<{ group: string; version: string }> {
  const seen = new Map<string, { group: string; version: string }>();
  for (const r of Object.values(RESOURCES)) {
    if (r.group !== '') seen.set(`${r.group}/${r.version}`, { group: r.group, version: r.version });
  }
  return [...seen.values()];
}

// -------------------------------------------------------------- discovery

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export function apiResourceList(group: string, version: string): Record<string, unknown> | undefined {
  const resources: Array<Record<string, unknown>> = [];
  let found = false;
  for (const r of Object.values(RESOURCES)) {
    if (r.group !== group || r.version !== version) continue;
    found = true;
    const main: Record<string, unknown> = {
      name: r.name,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: VERBS,
    };
    if (r.shortNames.length) main.shortNames = r.shortNames;
    if (r.categories) main.categories = r.categories;
    resources.push(main);
    if (r.hasStatus) {
      resources.push({ name: `${r.name}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
    }
    if (r.hasScale) {
      resources.push({
        name: `${r.name}/scale`,
        singularName: '',
        namespaced: r.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
    }
    if (r.name === 'pods') {
      resources.push({ name: 'pods/binding', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] });
    }
  }
  if (!found) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

export function apiGroupList(): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: groupVersions().map((gv) => apiGroup(gv.group)),
  };
}

export function apiGroup(group: string): Record<string, unknown> {
  const versions = groupVersions()
    .filter((gv) => gv.group === group)
    .map((gv) => ({ groupVersion: `${gv.group}/${gv.version}`, version: gv.version }));
  return {
    kind: 'APIGroup',
    apiVersion: 'v1',
    name: group,
    versions,
    preferredVersion: versions[0],
  };
}

export const SERVER_VERSION = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-switchyard-lab',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2024-08-13T00:00:00Z',
  goVersion: 'go1.22.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};
