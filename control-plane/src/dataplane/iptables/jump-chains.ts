// The rules that hook kube-proxy's chains into the built-in ones
// (iptablesJumpChains and iptablesKubeletJumpChains in proxier.go). They are
// not part of the iptables-restore input: a full sync ensures each one with
// "iptables -C" and, when missing, "iptables -I" (prepend), in this order.
import {
  KUBE_EXTERNAL_SERVICES, KUBE_FIREWALL, KUBE_FORWARD, KUBE_NODEPORTS, KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL, KUBE_SERVICES, type Table,
} from './chain-names.js';

export interface JumpChain {
  table: Table;
  /** The kube-proxy chain jumped to. */
  dstChain: string;
  /** The built-in chain holding the jump. */
  srcChain: string;
  comment: string;
  extraArgs: string[];
}

const NEW = ['-m', 'conntrack', '--ctstate', 'NEW'];

export const JUMP_CHAINS: readonly JumpChain[] = [
  { table: 'filter', dstChain: KUBE_EXTERNAL_SERVICES, srcChain: 'INPUT', comment: 'kubernetes externally-visible service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_EXTERNAL_SERVICES, srcChain: 'FORWARD', comment: 'kubernetes externally-visible service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_NODEPORTS, srcChain: 'INPUT', comment: 'kubernetes health check service ports', extraArgs: [] },
  { table: 'filter', dstChain: KUBE_SERVICES, srcChain: 'FORWARD', comment: 'kubernetes service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_SERVICES, srcChain: 'OUTPUT', comment: 'kubernetes service portals', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_FORWARD, srcChain: 'FORWARD', comment: 'kubernetes forwarding rules', extraArgs: [] },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'INPUT', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'OUTPUT', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'filter', dstChain: KUBE_PROXY_FIREWALL, srcChain: 'FORWARD', comment: 'kubernetes load balancer firewall', extraArgs: NEW },
  { table: 'nat', dstChain: KUBE_SERVICES, srcChain: 'OUTPUT', comment: 'kubernetes service portals', extraArgs: [] },
  { table: 'nat', dstChain: KUBE_SERVICES, srcChain: 'PREROUTING', comment: 'kubernetes service portals', extraArgs: [] },
  { table: 'nat', dstChain: KUBE_POSTROUTING, srcChain: 'POSTROUTING', comment: 'kubernetes postrouting rules', extraArgs: [] },
];

/** Duplicates of kubelet's jumps to KUBE-FIREWALL (no comment). */
export const KUBELET_JUMP_CHAINS: readonly JumpChain[] = [
  { table: 'filter', dstChain: KUBE_FIREWALL, srcChain: 'INPUT', comment: '', extraArgs: [] },
  { table: 'filter', dstChain: KUBE_FIREWALL, srcChain: 'OUTPUT', comment: '', extraArgs: [] },
];

/** The rule arguments of a jump, as given to iptables -C / -I / -D (no shell quoting). */
export function jumpRuleArgs(j: JumpChain): string[] {
  return [...j.extraArgs, ...(j.comment ? ['-m', 'comment', '--comment', j.comment] : []), '-j', j.dstChain];
}
