// Defaulting and validation, enough of kube-apiserver's to reject garbage
// with 422 Invalid and to give objects the defaults clients expect to see.

import { isIPv6 } from 'node:net';
import { isIPv4 } from './ip.js';
import type { StatusCause } from './errors.js';
import type { ResourceInfo } from './resources.js';
import { fromLabelSelectorSpec, labelKeyError, labelSelectorSpecErrors, labelValueError, matchesLabels } from './selectors.js';
import { deepEqual } from './patch.js';
import type {
  Container,
  Deployment,
  EndpointSlice,
  KubeObject,
  Namespace,
  Pod,
  PodSpec,
  PodTemplateSpec,
  ReplicaSet,
  ReplicationController,
  Service,
} from './types.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v);
}

export function dns1123LabelError(name: string): string | undefined {
  if (name.length > 63) return 'must be no more than 63 characters';
  if (!DNS1123_LABEL.test(name)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
  }
  return undefined;
}

function dns1035LabelError(name: string): string | undefined {
  if (name.length > 63) return 'must be no more than 63 characters';
  if (!DNS1035_LABEL.test(name)) {
    return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
  }
  return undefined;
}

function dns1123SubdomainError(name: string): string | undefined {
  if (name.length > 253) return 'must be no more than 253 characters';
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
  }
  return undefined;
}

/** IANA service name (named ports): ≤15 chars, lowercase alphanumerics and '-', at least one letter, no '--'. */
function ianaSvcNameError(name: string): string | undefined {
  if (name.length > 15 || !IANA_SVC_NAME.test(name) || !/[a-z]/.test(name) || name.includes('--')) {
    return 'must be an IANA_SVC_NAME (at most 15 characters, matching regex [a-z0-9]([a-z0-9-]*[a-z0-9])*, containing at least one letter [a-z], no two adjacent hyphens)';
  }
  return undefined;
}

/** Which name rule a resource's metadata.name follows. */
export function nameError(info: ResourceInfo, name: string): string | undefined {
  switch (info.name) {
    case 'namespaces':
      return dns1123LabelError(name);
    case 'services':
      return dns1035LabelError(name);
    default:
      return dns1123SubdomainError(name);
  }
}

// --------------------------------------------------------------- defaults

function defaultContainer(c: Container): void {
  if (!isObject(c)) return;
  if (Array.isArray(c.ports)) {
    for (const p of c.ports) if (isObject(p) && p.protocol === undefined) p.protocol = 'TCP';
  }
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') {
    c.imagePullPolicy = c.image.endsWith(':latest') || !c.image.split('/').pop()?.includes(':') ? 'Always' : 'IfNotPresent';
  }
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  c.resources ??= {};
}

export function defaultPodSpec(spec: PodSpec): void {
  if (!isObject(spec)) return;
  spec.restartPolicy ??= 'Always';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  if (Array.isArray(spec.containers)) spec.containers.forEach(defaultContainer);
  if (Array.isArray(spec.initContainers)) spec.initContainers.forEach(defaultContainer);
}

function defaultTemplate(t: PodTemplateSpec | undefined): void {
  if (!isObject(t)) return;
  t.metadata ??= {};
  if (isObject(t.spec)) defaultPodSpec(t.spec);
}

/** Applies kube's defaults in place (before validation). */
export function applyDefaults(info: ResourceInfo, obj: KubeObject): void {
  switch (info.name) {
    case 'namespaces': {
      const ns = obj as Namespace;
      ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name ?? '' };
      if (!isObject(ns.spec)) ns.spec = {};
      ns.spec.finalizers ??= ['kubernetes'];
      break;
    }
    case 'pods': {
      const pod = obj as Pod;
      if (isObject(pod.spec)) defaultPodSpec(pod.spec);
      break;
    }
    case 'services': {
      const svc = obj as Service;
      if (!isObject(svc.spec)) break;
      const s = svc.spec;
      s.type ??= 'ClusterIP';
      s.sessionAffinity ??= 'None';
      if (s.sessionAffinity === 'ClientIP') {
        s.sessionAffinityConfig ??= {};
        s.sessionAffinityConfig.clientIP ??= {};
        s.sessionAffinityConfig.clientIP.timeoutSeconds ??= 10800;
      }
      if (s.type !== 'ExternalName') {
        s.internalTrafficPolicy ??= 'Cluster';
      }
      if (s.type === 'NodePort' || s.type === 'LoadBalancer') {
        s.externalTrafficPolicy ??= 'Cluster';
      }
      if (s.type === 'LoadBalancer') s.allocateLoadBalancerNodePorts ??= true;
      if (Array.isArray(s.ports)) {
        for (const p of s.ports) {
          if (!isObject(p)) continue;
          p.protocol ??= 'TCP';
          if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port;
        }
      }
      break;
    }
    case 'replicationcontrollers': {
      const rc = obj as ReplicationController;
      if (!isObject(rc.spec)) break;
      rc.spec.replicas ??= 1;
      defaultTemplate(rc.spec.template);
      const tl = rc.spec.template?.metadata?.labels;
      if (tl && (!rc.spec.selector || Object.keys(rc.spec.selector).length === 0)) rc.spec.selector = { ...tl };
      if (tl && (!rc.metadata.labels || Object.keys(rc.metadata.labels).length === 0)) rc.metadata.labels = { ...tl };
      break;
    }
    case 'replicasets': {
      const rs = obj as ReplicaSet;
      if (!isObject(rs.spec)) break;
      rs.spec.replicas ??= 1;
      rs.spec.minReadySeconds ??= 0;
      defaultTemplate(rs.spec.template);
      break;
    }
    case 'deployments': {
      const d = obj as Deployment;
      if (!isObject(d.spec)) break;
      d.spec.replicas ??= 1;
      d.spec.revisionHistoryLimit ??= 10;
      d.spec.progressDeadlineSeconds ??= 600;
      d.spec.minReadySeconds ??= 0;
      d.spec.strategy ??= {};
      d.spec.strategy.type ??= 'RollingUpdate';
      if (d.spec.strategy.type === 'RollingUpdate') {
        d.spec.strategy.rollingUpdate ??= {};
        d.spec.strategy.rollingUpdate.maxSurge ??= '25%';
        d.spec.strategy.rollingUpdate.maxUnavailable ??= '25%';
      }
      defaultTemplate(d.spec.template);
      break;
    }
    case 'endpointslices': {
      const es = obj as EndpointSlice;
      if (Array.isArray(es.ports)) {
        for (const p of es.ports) {
          if (!isObject(p)) continue;
          p.name ??= '';
          p.protocol ??= 'TCP';
        }
      }
      // Stored through protobuf, kube-apiserver returns empty lists as null.
      if (es.endpoints === undefined || (Array.isArray(es.endpoints) && es.endpoints.length === 0)) es.endpoints = null;
      if (es.ports === undefined || (Array.isArray(es.ports) && es.ports.length === 0)) es.ports = null;
      break;
    }
    default:
      break;
  }
}

// ------------------------------------------------------------- validation

class Causes {
  readonly list: StatusCause[] = [];
  required(field: string, message = 'Required value'): void {
    this.list.push({ reason: 'FieldValueRequired', field, message });
  }
  invalid(field: string, value: unknown, message: string): void {
    this.list.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${message}` });
  }
  unsupported(field: string, value: unknown, allowed: string[]): void {
    this.list.push({
      reason: 'FieldValueNotSupported',
      field,
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`,
    });
  }
  duplicate(field: string, value: unknown): void {
    this.list.push({ reason: 'FieldValueDuplicate', field, message: `Duplicate value: ${JSON.stringify(value)}` });
  }
  forbidden(field: string, message: string): void {
    this.list.push({ reason: 'FieldValueForbidden', field, message: `Forbidden: ${message}` });
  }
}

function validateMeta(info: ResourceInfo, obj: KubeObject, c: Causes): void {
  const m = obj.metadata;
  if (typeof m.name !== 'string' || m.name === '') {
    c.required('metadata.name', 'Required value: name or generateName is required');
  } else {
    const err = nameError(info, m.name);
    if (err) c.invalid('metadata.name', m.name, err);
  }
  if (m.labels !== undefined) {
    if (!isObject(m.labels)) c.invalid('metadata.labels', m.labels, 'must be a map of strings');
    else
      for (const [k, v] of Object.entries(m.labels)) {
        const ke = labelKeyError(k);
        if (ke) c.invalid('metadata.labels', k, ke);
        if (typeof v !== 'string') c.invalid(`metadata.labels[${k}]`, v, 'must be a string');
        else {
          const ve = labelValueError(v);
          if (ve) c.invalid('metadata.labels', v, ve);
        }
      }
  }
  if (m.annotations !== undefined) {
    if (!isObject(m.annotations)) c.invalid('metadata.annotations', m.annotations, 'must be a map of strings');
    else {
      let size = 0;
      for (const [k, v] of Object.entries(m.annotations)) {
        const ke = labelKeyError(k);
        if (ke) c.invalid('metadata.annotations', k, ke);
        if (typeof v !== 'string') c.invalid(`metadata.annotations[${k}]`, v, 'must be a string');
        else size += k.length + v.length;
      }
      if (size > 256 * 1024) c.invalid('metadata.annotations', '', 'Too long: must have at most 262144 bytes');
    }
  }
  if (m.ownerReferences !== undefined) {
    if (!Array.isArray(m.ownerReferences)) c.invalid('metadata.ownerReferences', m.ownerReferences, 'must be a list');
    else {
      let controllers = 0;
      m.ownerReferences.forEach((o, i) => {
        if (!isObject(o) || !o.apiVersion || !o.kind || !o.name || !o.uid) {
          c.invalid(`metadata.ownerReferences[${i}]`, o, 'apiVersion, kind, name and uid are required');
        } else if (o.controller) controllers++;
      });
      if (controllers > 1) c.invalid('metadata.ownerReferences', '', 'Only one reference can have Controller set to true');
    }
  }
  if (m.finalizers !== undefined && (!Array.isArray(m.finalizers) || m.finalizers.some((f) => typeof f !== 'string'))) {
    c.invalid('metadata.finalizers', m.finalizers, 'must be a list of strings');
  }
}

function validateContainers(list: unknown, path: string, c: Causes, required: boolean, portNames: Set<string>): void {
  if (list === undefined) {
    if (required) c.required(path);
    return;
  }
  if (!Array.isArray(list)) {
    c.invalid(path, list, 'must be a list');
    return;
  }
  if (required && list.length === 0) c.required(path);
  const names = new Set<string>();
  list.forEach((ct: unknown, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(ct)) {
      c.invalid(p, ct, 'must be an object');
      return;
    }
    if (typeof ct.name !== 'string' || ct.name === '') c.required(`${p}.name`);
    else {
      const e = dns1123LabelError(ct.name);
      if (e) c.invalid(`${p}.name`, ct.name, e);
      if (names.has(ct.name)) c.duplicate(`${p}.name`, ct.name);
      names.add(ct.name);
    }
    if (typeof ct.image !== 'string' || ct.image.trim() === '') c.required(`${p}.image`);
    if (ct.ports !== undefined) {
      if (!Array.isArray(ct.ports)) c.invalid(`${p}.ports`, ct.ports, 'must be a list');
      else
        ct.ports.forEach((port: unknown, j) => {
          const pp = `${p}.ports[${j}]`;
          if (!isObject(port)) {
            c.invalid(pp, port, 'must be an object');
            return;
          }
          if (!isInt(port.containerPort) || port.containerPort < 1 || port.containerPort > 65535) {
            c.invalid(`${pp}.containerPort`, port.containerPort, 'must be between 1 and 65535, inclusive');
          }
          if (port.protocol !== undefined && !PROTOCOLS.includes(port.protocol as string)) c.unsupported(`${pp}.protocol`, port.protocol, PROTOCOLS);
          if (port.name !== undefined) {
            if (typeof port.name !== 'string') c.invalid(`${pp}.name`, port.name, 'must be a string');
            else {
              const e = ianaSvcNameError(port.name);
              if (e) c.invalid(`${pp}.name`, port.name, e);
              if (portNames.has(port.name)) c.duplicate(`${pp}.name`, port.name);
              portNames.add(port.name);
            }
          }
        });
    }
  });
}

function validatePodSpec(spec: unknown, path: string, c: Causes): void {
  if (!isObject(spec)) {
    c.required(path);
    return;
  }
  const portNames = new Set<string>();
  validateContainers(spec.containers, `${path}.containers`, c, true, portNames);
  validateContainers(spec.initContainers, `${path}.initContainers`, c, false, new Set());
  if (spec.restartPolicy !== undefined && !['Always', 'OnFailure', 'Never'].includes(spec.restartPolicy as string)) {
    c.unsupported(`${path}.restartPolicy`, spec.restartPolicy, ['Always', 'OnFailure', 'Never']);
  }
  if (spec.terminationGracePeriodSeconds !== undefined && (!isInt(spec.terminationGracePeriodSeconds) || spec.terminationGracePeriodSeconds < 0)) {
    c.invalid(`${path}.terminationGracePeriodSeconds`, spec.terminationGracePeriodSeconds, 'must be a non-negative integer');
  }
  if (spec.nodeName !== undefined && spec.nodeName !== '' && (typeof spec.nodeName !== 'string' || dns1123SubdomainError(spec.nodeName))) {
    c.invalid(`${path}.nodeName`, spec.nodeName, 'must be a valid node name');
  }
  if (spec.hostname !== undefined && (typeof spec.hostname !== 'string' || dns1123LabelError(spec.hostname))) {
    c.invalid(`${path}.hostname`, spec.hostname, 'must be a DNS label');
  }
  if (spec.subdomain !== undefined && (typeof spec.subdomain !== 'string' || dns1123LabelError(spec.subdomain))) {
    c.invalid(`${path}.subdomain`, spec.subdomain, 'must be a DNS label');
  }
}

function validateReplicas(v: unknown, path: string, c: Causes): void {
  if (v !== undefined && (!isInt(v) || v < 0)) c.invalid(path, v, 'must be greater than or equal to 0');
}

function validateTemplateAgainstSelector(
  template: unknown,
  selectorMatches: ((labels: Record<string, string> | undefined) => boolean) | undefined,
  path: string,
  c: Causes,
): void {
  if (!isObject(template)) {
    c.required(path);
    return;
  }
  const md = template.metadata;
  if (md !== undefined && !isObject(md)) c.invalid(`${path}.metadata`, md, 'must be an object');
  const labels = isObject(md) && isObject(md.labels) ? (md.labels as Record<string, string>) : undefined;
  if (selectorMatches && !selectorMatches(labels)) {
    c.invalid(`${path}.metadata.labels`, labels ?? {}, '`selector` does not match template `labels`');
  }
  validatePodSpec(template.spec, `${path}.spec`, c);
  if (isObject(template.spec) && template.spec.restartPolicy !== undefined && template.spec.restartPolicy !== 'Always') {
    c.unsupported(`${path}.spec.restartPolicy`, template.spec.restartPolicy, ['Always']);
  }
}

function intOrPercent(v: unknown, replicasHint: number, roundUp: boolean): number | undefined {
  if (isInt(v)) return v;
  if (typeof v === 'string' && /^\d+%$/.test(v)) {
    const pct = Number(v.slice(0, -1));
    const raw = (pct * replicasHint) / 100;
    return roundUp ? Math.ceil(raw) : Math.floor(raw);
  }
  return undefined;
}

function validateService(svc: Service, c: Causes): void {
  const s = svc.spec as unknown;
  if (!isObject(s)) {
    c.required('spec');
    return;
  }
  const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
  const type = s.type as string;
  if (!TYPES.includes(type)) c.unsupported('spec.type', type, TYPES);
  const headless = s.clusterIP === 'None';
  if (s.clusterIP !== undefined && s.clusterIP !== '' && s.clusterIP !== 'None' && (typeof s.clusterIP !== 'string' || (!isIPv4(s.clusterIP) && !isIPv6(s.clusterIP)))) {
    c.invalid('spec.clusterIP', s.clusterIP, 'must be empty, \'None\', or a valid IP address');
  }
  if (headless && type !== 'ClusterIP') c.invalid('spec.clusterIP', 'None', 'may only be set to None for ClusterIP services');
  if (type === 'ExternalName') {
    if (typeof s.externalName !== 'string' || s.externalName === '') c.required('spec.externalName');
    else {
      const name = s.externalName.replace(/\.$/, '');
      if (dns1123SubdomainError(name)) c.invalid('spec.externalName', s.externalName, 'must be a valid RFC-1123 DNS name');
    }
    if (s.clusterIP !== undefined && s.clusterIP !== '') c.forbidden('spec.clusterIP', 'may not be set for ExternalName services');
  }
  if (s.selector !== undefined && s.selector !== null) {
    if (!isObject(s.selector)) c.invalid('spec.selector', s.selector, 'must be a map of strings');
    else
      for (const [k, v] of Object.entries(s.selector)) {
        const ke = labelKeyError(k);
        if (ke) c.invalid('spec.selector', k, ke);
        if (typeof v !== 'string' || labelValueError(v)) c.invalid(`spec.selector[${k}]`, v, 'must be a valid label value');
      }
  }
  if (s.ports === undefined || s.ports === null || (Array.isArray(s.ports) && s.ports.length === 0)) {
    if (type !== 'ExternalName' && !headless) c.required('spec.ports');
  } else if (!Array.isArray(s.ports)) {
    c.invalid('spec.ports', s.ports, 'must be a list');
  } else {
    const names = new Set<string>();
    const portProto = new Set<string>();
    s.ports.forEach((p: unknown, i: number) => {
      const pp = `spec.ports[${i}]`;
      if (!isObject(p)) {
        c.invalid(pp, p, 'must be an object');
        return;
      }
      if (p.name === undefined || p.name === '') {
        if ((s.ports as unknown[]).length > 1) c.required(`${pp}.name`);
      } else if (typeof p.name !== 'string') c.invalid(`${pp}.name`, p.name, 'must be a string');
      else {
        const e = dns1123LabelError(p.name);
        if (e) c.invalid(`${pp}.name`, p.name, e);
        if (names.has(p.name)) c.duplicate(`${pp}.name`, p.name);
        names.add(p.name);
      }
      if (!isInt(p.port) || p.port < 1 || p.port > 65535) c.invalid(`${pp}.port`, p.port, 'must be between 1 and 65535, inclusive');
      if (!PROTOCOLS.includes(p.protocol as string)) c.unsupported(`${pp}.protocol`, p.protocol, PROTOCOLS);
      const key = `${String(p.port)}/${String(p.protocol)}`;
      if (portProto.has(key)) c.duplicate(pp, { port: p.port, protocol: p.protocol });
      portProto.add(key);
      if (p.targetPort !== undefined) {
        if (isInt(p.targetPort)) {
          if (p.targetPort < 1 || p.targetPort > 65535) c.invalid(`${pp}.targetPort`, p.targetPort, 'must be between 1 and 65535, inclusive');
        } else if (typeof p.targetPort === 'string') {
          if (/^\d+$/.test(p.targetPort)) c.invalid(`${pp}.targetPort`, p.targetPort, 'numeric target ports must be given as integers');
          else {
            const e = ianaSvcNameError(p.targetPort);
            if (e) c.invalid(`${pp}.targetPort`, p.targetPort, e);
          }
        } else c.invalid(`${pp}.targetPort`, p.targetPort, 'must be an integer or a port name');
      }
      if (p.nodePort !== undefined && p.nodePort !== 0) {
        if (type !== 'NodePort' && type !== 'LoadBalancer') c.forbidden(`${pp}.nodePort`, 'may not be used when `type` is \'ClusterIP\'');
        else if (!isInt(p.nodePort)) c.invalid(`${pp}.nodePort`, p.nodePort, 'must be an integer');
      }
    });
  }
  if (!['None', 'ClientIP'].includes(s.sessionAffinity as string)) c.unsupported('spec.sessionAffinity', s.sessionAffinity, ['ClientIP', 'None']);
  const cfg = s.sessionAffinityConfig as { clientIP?: { timeoutSeconds?: unknown } } | undefined;
  if (s.sessionAffinity === 'ClientIP') {
    const t = cfg?.clientIP?.timeoutSeconds;
    if (!isInt(t) || t <= 0 || t > 86400) c.invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', t, 'must be greater than 0 and less than 86400');
  }
  if (s.externalTrafficPolicy !== undefined) {
    if (type !== 'NodePort' && type !== 'LoadBalancer') {
      c.invalid('spec.externalTrafficPolicy', s.externalTrafficPolicy, 'may only be set for externally-accessible services');
    } else if (!['Cluster', 'Local'].includes(s.externalTrafficPolicy as string)) {
      c.unsupported('spec.externalTrafficPolicy', s.externalTrafficPolicy, ['Cluster', 'Local']);
    }
  }
  if (s.internalTrafficPolicy !== undefined && !['Cluster', 'Local'].includes(s.internalTrafficPolicy as string)) {
    c.unsupported('spec.internalTrafficPolicy', s.internalTrafficPolicy, ['Cluster', 'Local']);
  }
  if (s.healthCheckNodePort !== undefined && s.healthCheckNodePort !== 0) {
    if (type !== 'LoadBalancer' || s.externalTrafficPolicy !== 'Local') {
      c.invalid('spec.healthCheckNodePort', s.healthCheckNodePort, 'may only be set when `type` is \'LoadBalancer\' and `externalTrafficPolicy` is \'Local\'');
    }
  }
  if (s.externalIPs !== undefined) {
    // kube-apiserver takes an address of either family here (leading zeros included, a legacy field).
    if (!Array.isArray(s.externalIPs) || s.externalIPs.some((ip) => typeof ip !== 'string' || (!isIPv4(ip) && !isIPv6(ip)))) {
      c.invalid('spec.externalIPs', s.externalIPs, 'must be a list of IP addresses');
    }
  }
}

function validateEndpointSlice(es: EndpointSlice, c: Causes): void {
  const types = ['IPv4', 'IPv6', 'FQDN'];
  if (!types.includes(es.addressType)) c.unsupported('addressType', es.addressType, types);
  if (es.endpoints !== null && !Array.isArray(es.endpoints)) c.invalid('endpoints', es.endpoints, 'must be a list');
  else if (es.endpoints && es.endpoints.length > 1000) c.invalid('endpoints', es.endpoints.length, 'Too many: must have at most 1000 items');
  else
    (es.endpoints ?? []).forEach((ep: unknown, i) => {
      const p = `endpoints[${i}]`;
      if (!isObject(ep)) {
        c.invalid(p, ep, 'must be an object');
        return;
      }
      if (!Array.isArray(ep.addresses) || ep.addresses.length === 0) c.required(`${p}.addresses`);
      else if (ep.addresses.length > 100) c.invalid(`${p}.addresses`, ep.addresses.length, 'Too many: must have at most 100 items');
      else
        ep.addresses.forEach((a: unknown, j: number) => {
          if (typeof a !== 'string' || (es.addressType === 'IPv4' && !isIPv4(a)) || (es.addressType === 'IPv6' && !isIPv6(a))) {
            c.invalid(`${p}.addresses[${j}]`, a, `must be a valid ${es.addressType} address`);
          }
        });
      if (ep.conditions !== undefined && !isObject(ep.conditions)) c.invalid(`${p}.conditions`, ep.conditions, 'must be an object');
    });
  if (es.ports !== null && es.ports !== undefined) {
    if (!Array.isArray(es.ports)) c.invalid('ports', es.ports, 'must be a list');
    else {
      const names = new Set<string>();
      es.ports.forEach((p: unknown, i) => {
        if (!isObject(p)) {
          c.invalid(`ports[${i}]`, p, 'must be an object');
          return;
        }
        const name = (p.name ?? '') as string;
        if (names.has(name)) c.duplicate(`ports[${i}].name`, name);
        names.add(name);
        if (p.port !== undefined && p.port !== null && (!isInt(p.port) || p.port < 0 || p.port > 65535)) {
          c.invalid(`ports[${i}].port`, p.port, 'must be between 0 and 65535, inclusive');
        }
        if (!PROTOCOLS.includes(p.protocol as string)) c.unsupported(`ports[${i}].protocol`, p.protocol, PROTOCOLS);
      });
    }
  }
}

/** Validates an object about to be stored; `old` is set on update. Returns the causes (empty when valid). */
export function validateObject(info: ResourceInfo, obj: KubeObject, old?: KubeObject): StatusCause[] {
  const c = new Causes();
  validateMeta(info, obj, c);
  switch (info.name) {
    case 'pods': {
      const pod = obj as Pod;
      validatePodSpec(pod.spec, 'spec', c);
      if (old) validatePodUpdate(pod, old as Pod, c);
      break;
    }
    case 'services': {
      validateService(obj as Service, c);
      break;
    }
    case 'replicationcontrollers': {
      const rc = obj as ReplicationController;
      if (!isObject(rc.spec)) {
        c.required('spec');
        break;
      }
      validateReplicas(rc.spec.replicas, 'spec.replicas', c);
      if (!isObject(rc.spec.selector) || Object.keys(rc.spec.selector).length === 0) c.required('spec.selector');
      const sel = rc.spec.selector ?? {};
      validateTemplateAgainstSelector(rc.spec.template, (l) => Object.entries(sel).every(([k, v]) => l?.[k] === v), 'spec.template', c);
      break;
    }
    case 'replicasets':
    case 'deployments': {
      const o = obj as ReplicaSet | Deployment;
      if (!isObject(o.spec)) {
        c.required('spec');
        break;
      }
      validateReplicas(o.spec.replicas, 'spec.replicas', c);
      const selErrs = isObject(o.spec.selector) ? labelSelectorSpecErrors(o.spec.selector) : ['Required value'];
      for (const e of selErrs) c.invalid('spec.selector', o.spec.selector ?? null, e);
      const parsed = selErrs.length === 0 ? fromLabelSelectorSpec(o.spec.selector) : undefined;
      if (parsed && parsed.length === 0) c.invalid('spec.selector', o.spec.selector, 'empty selector is invalid for deployment');
      validateTemplateAgainstSelector(o.spec.template, parsed ? (l) => matchesLabels(parsed, l) : undefined, 'spec.template', c);
      if (info.name === 'deployments') {
        const d = o as Deployment;
        const st = d.spec.strategy;
        if (st?.type !== undefined && !['RollingUpdate', 'Recreate'].includes(st.type)) c.unsupported('spec.strategy.type', st.type, ['Recreate', 'RollingUpdate']);
        if (st?.type === 'Recreate' && st.rollingUpdate) c.forbidden('spec.strategy.rollingUpdate', 'may not be specified when strategy `type` is \'Recreate\'');
        if (st?.type === 'RollingUpdate' && st.rollingUpdate) {
          const surge = intOrPercent(st.rollingUpdate.maxSurge, 100, true);
          const unavail = intOrPercent(st.rollingUpdate.maxUnavailable, 100, false);
          if (surge === undefined || surge < 0) c.invalid('spec.strategy.rollingUpdate.maxSurge', st.rollingUpdate.maxSurge, 'must be a non-negative integer or percentage');
          if (unavail === undefined || unavail < 0) c.invalid('spec.strategy.rollingUpdate.maxUnavailable', st.rollingUpdate.maxUnavailable, 'must be a non-negative integer or percentage');
          if (surge === 0 && unavail === 0) c.invalid('spec.strategy.rollingUpdate.maxUnavailable', st.rollingUpdate.maxUnavailable, 'may not be 0 when `maxSurge` is 0');
        }
        if (old && !deepEqual((old as Deployment).spec.selector, d.spec.selector)) c.invalid('spec.selector', d.spec.selector, 'field is immutable');
      } else if (old && !deepEqual((old as ReplicaSet).spec.selector, o.spec.selector)) {
        c.invalid('spec.selector', o.spec.selector, 'field is immutable');
      }
      break;
    }
    case 'endpointslices': {
      const es = obj as EndpointSlice;
      validateEndpointSlice(es, c);
      if (old && (old as EndpointSlice).addressType !== es.addressType) c.invalid('addressType', es.addressType, 'field is immutable');
      break;
    }
    default:
      break;
  }
  return c.list;
}

/** Pod updates may only change images, activeDeadlineSeconds, tolerations (additions) and terminationGracePeriodSeconds. */
function validatePodUpdate(pod: Pod, old: Pod, c: Causes): void {
  const strip = (s: PodSpec): unknown => {
    const copy = structuredClone(s) as Record<string, unknown>;
    for (const list of ['containers', 'initContainers']) {
      const cs = copy[list];
      if (Array.isArray(cs)) for (const ct of cs) if (isObject(ct)) delete ct.image;
    }
    delete copy.activeDeadlineSeconds;
    delete copy.tolerations;
    delete copy.terminationGracePeriodSeconds;
    return copy;
  };
  if (!isObject(pod.spec) || !isObject(old.spec)) return;
  if (!deepEqual(strip(pod.spec), strip(old.spec))) {
    c.forbidden(
      'spec',
      'pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
    );
  }
}
