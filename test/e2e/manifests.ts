// Workload manifests for the end-to-end and fault tests, built from a few
// arguments so that each test names only what it checks (how many replicas,
// which ports, which Service type or policy). Every builder returns a plain
// object; `manifests(...)` writes them as the multi-document text `lab apply`
// reads (JSON is YAML).

export type Doc = Record<string, any>;

/** A container port: TCP unless protocol says otherwise. */
export interface ContainerPort { name?: string; containerPort: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }
/** A Service port: TCP unless protocol says otherwise. */
export interface ServicePort { name?: string; port: number; targetPort?: number | string; protocol?: 'TCP' | 'UDP' | 'SCTP'; nodePort?: number }

/** whoami's HTTP port, by the name the Services target. */
export const HTTP_8080: ContainerPort = { name: 'http', containerPort: 8080 };
/** whoami's UDP echo port. */
export const ECHO_5353: ContainerPort = { name: 'echo', containerPort: 5353, protocol: 'UDP' };
/** port 80 -> the pods' "http" port. */
export const HTTP_80: ServicePort = { name: 'http', port: 80, targetPort: 'http' };
/** port 53/UDP -> the pods' "echo" port. */
export const ECHO_53: ServicePort = { name: 'echo', port: 53, targetPort: 'echo', protocol: 'UDP' };

function metadata(name: string, o: { namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }): Doc {
  return {
    name,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.annotations ? { annotations: o.annotations } : {}),
  };
}

function whoami(container: string, ports: ContainerPort[]): Doc {
  return { name: container, image: 'switchyard/whoami', ports };
}

/**
 * A Deployment of whoami pods labelled {app: name} (plus `labels`), serving
 * `ports` (default: http 8080). `grace` is terminationGracePeriodSeconds
 * (omitted: the API default), `node` pins every replica to one node.
 */
export function deployment(name: string, o: { replicas: number; labels?: Record<string, string>; ports?: ContainerPort[]; grace?: number; node?: string }): Doc {
  const labels = { app: name, ...(o.labels ?? {}) };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          ...(o.grace !== undefined ? { terminationGracePeriodSeconds: o.grace } : {}),
          ...(o.node ? { nodeName: o.node } : {}),
          containers: [whoami('w', o.ports ?? [HTTP_8080])],
        },
      },
    },
  };
}

/** A single whoami pod on `node`, serving `ports` (default: http 8080). */
export function pod(name: string, o: { node: string; labels?: Record<string, string>; namespace?: string; ports?: ContainerPort[] }): Doc {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: metadata(name, o),
    spec: { nodeName: o.node, containers: [whoami('w', o.ports ?? [HTTP_8080])] },
  };
}

/** A client pod on `node` (whoami on 9999, which no Service selects): where sy-probe runs. */
export function clientPod(name: string, node: string): Doc {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { nodeName: node, containers: [whoami('c', [{ containerPort: 9999 }])] } };
}

/**
 * A Service selecting {app: name} (or `selector`; null: none) on `ports`
 * (default: http 80; null: none, as for an ExternalName). `spec` adds the rest of the spec as the API has it
 * (type, externalIPs, sessionAffinity, internalTrafficPolicy, ...). The
 * ipFamilyPolicy is PreferDualStack unless `spec` names one.
 */
export function service(name: string, o: {
  selector?: Record<string, string> | null; ports?: ServicePort[] | null; spec?: Doc;
  namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>;
} = {}): Doc {
  const selector = o.selector === undefined ? { app: name } : o.selector;
  // PreferDualStack unless the spec says otherwise: both families in a dual-stack lab, its one family in a single-stack lab.
  const family = o.spec?.type === 'ExternalName' ? {} : { ipFamilyPolicy: 'PreferDualStack' };
  return {
    apiVersion: 'v1', kind: 'Service', metadata: metadata(name, o),
    spec: { ...(selector ? { selector } : {}), ...(o.ports === null ? {} : { ports: o.ports ?? [HTTP_80] }), ...family, ...(o.spec ?? {}) },
  };
}

/** A Namespace. */
export function namespace(name: string): Doc {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name } };
}

/** The documents as one `lab apply -f -` input. */
export function manifests(...docs: Doc[]): string {
  return docs.map((d) => JSON.stringify(d)).join('\n---\n');
}
