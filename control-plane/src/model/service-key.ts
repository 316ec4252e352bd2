// The keys that name Services and ServicePorts across the model, the
// proxier and both back ends. Built here only: a key spelled by hand in
// another file is a key that can drift from this one.

/** A Service: "namespace/name". A plain string does not type-check as one: build it with serviceKey(). */
export type ServiceKey = `${string}/${string}`;

/** One port of one Service: "namespace/name:port/PROTOCOL" (port: the port's name, "" when unnamed). */
export type ServicePortKey = `${string}/${string}:${string}/${ServicePortName['protocol']}`;

/** The Service of an object's metadata; an unset namespace is "default", as the API server defaults it. */
export function serviceKey(namespace: string | undefined, name: string | undefined): ServiceKey {
  return `${namespace ?? 'default'}/${name ?? ''}`;
}

/** The Service a Kubernetes object's metadata names. */
export function serviceKeyOf(meta: { namespace?: string; name?: string } | undefined): ServiceKey {
  return serviceKey(meta?.namespace, meta?.name);
}

/** "namespace/name" of any namespaced object (an EndpointSlice in a log line), spelled as a Service key is. */
export function namespacedName(meta: { namespace?: string; name?: string } | undefined): string {
  return serviceKey(meta?.namespace, meta?.name);
}

/** Namespace and name of a Service key. */
export function splitServiceKey(key: ServiceKey): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

/** Identifies one port of one Service, as kube-proxy's ServicePortName does. */
export interface ServicePortName {
  namespace: string;
  name: string;
  /** The Service port's name ("" for a single unnamed port). */
  port: string;
  protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** The key of a ServicePort. */
export function servicePortKey(n: ServicePortName): ServicePortKey {
  return `${n.namespace}/${n.name}:${n.port}/${n.protocol}`;
}

/** The Service a ServicePort belongs to. */
export function serviceKeyOfPort(n: { namespace: string; name: string }): ServiceKey {
  return serviceKey(n.namespace, n.name);
}

/** kube-proxy's String() of a ServicePortName: "ns/name:port" (port omitted when empty). */
export function servicePortString(n: ServicePortName): string {
  return n.port ? `${serviceKeyOfPort(n)}:${n.port}` : serviceKeyOfPort(n);
}
