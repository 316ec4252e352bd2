// registerNodes: the lab's nodes as Node objects (what each kubelet would
// register): labels (hostname, os, arch, zone), spec.podCIDR(s), status
// addresses InternalIP (one per family, primary first, as a dual-stack
// kubelet reports them) + Hostname, condition Ready=True.

import type { Store } from '../apiserver/store.js';
import type { Node } from '../apiserver/types.js';
import { rfc3339 } from '../apiserver/util.js';
import { LABEL_ZONE } from './endpointslice.js';

export interface LabNodeSpec {
  name: string;
  internalIP: string;
  /** Every InternalIP, primary first (default [internalIP]). */
  internalIPs?: string[];
  podCIDR: string;
  /** Every pod CIDR, primary first (default [podCIDR]). */
  podCIDRs?: string[];
  zone?: string;
  labels?: Record<string, string>;
}

export function nodeObject(n: LabNodeSpec, now = rfc3339()): Node {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': process.arch === 'arm64' ? 'arm64' : 'amd64',
        'beta.kubernetes.io/os': 'linux',
        ...(n.zone ? { [LABEL_ZONE]: n.zone } : {}),
        ...(n.labels ?? {}),
      },
    },
    spec: { podCIDR: n.podCIDR, podCIDRs: [...(n.podCIDRs ?? [n.podCIDR])] },
    status: {
      addresses: [
        ...(n.internalIPs ?? [n.internalIP]).map((address) => ({ type: 'InternalIP', address })),
        { type: 'Hostname', address: n.name },
      ],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'kubelet is posting ready status',
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        },
      ],
      capacity: { cpu: '2', memory: '4Gi', pods: '110' },
      allocatable: { cpu: '2', memory: '4Gi', pods: '110' },
      nodeInfo: {
        kubeletVersion: 'v1.31.0-switchyard-lab',
        kubeProxyVersion: '',
        containerRuntimeVersion: 'switchyard-lab://netns',
        operatingSystem: 'linux',
        architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
        osImage: 'switchyard lab',
        kernelVersion: '',
        machineID: '',
        systemUUID: '',
        bootID: '',
      },
    },
  };
}

/** Creates (or refreshes) one Node per lab node; returns them as stored. */
export function registerNodes(store: Store, nodes: LabNodeSpec[]): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    const desired = nodeObject(n);
    const existing = store.peek('nodes', n.name);
    if (!existing) {
      out.push(store.create('nodes', desired));
      continue;
    }
    const next = structuredClone(existing);
    next.metadata.labels = desired.metadata.labels as Record<string, string>;
    next.spec = desired.spec;
    store.update('nodes', next);
    const withStatus = store.peek('nodes', n.name) as Node;
    out.push(store.updateStatus('nodes', { ...structuredClone(withStatus), status: desired.status }));
  }
  return out;
}
