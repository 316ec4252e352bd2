// Chooses iptables-legacy or iptables-nft the way kube-proxy's image does
// (kubernetes-sigs/iptables-wrappers): the mode kubelet uses, recognised by
// its KUBE-IPTABLES-HINT / KUBE-KUBELET-CANARY chains (nft checked first, in
// the mangle table only); failing that, whichever mode holds more rules
// (legacy only when strictly more); nft by default.
import type { Exec, IptablesBackend } from './runner.js';

export type BackendChoice = IptablesBackend | 'auto';

export interface BackendDecision {
  backend: IptablesBackend;
  reason: string;
}

const KUBELET_CHAINS = /^:(KUBE-IPTABLES-HINT|KUBE-KUBELET-CANARY)\b/m;

function ruleCount(save: string): number {
  return save.split('\n').filter((l) => l.startsWith('-')).length;
}

async function out(exec: Exec, argv: string[]): Promise<string> {
  const r = await exec(argv);
  return r.code === 0 ? r.stdout : '';
}

export async function detectBackend(exec: Exec, choice: BackendChoice = 'auto'): Promise<BackendDecision> {
  if (choice === 'legacy' || choice === 'nft') return { backend: choice, reason: `--iptables-backend ${choice}` };
  const nftMangle = (await out(exec, ['iptables-nft-save', '-t', 'mangle'])) + (await out(exec, ['ip6tables-nft-save', '-t', 'mangle']));
  if (KUBELET_CHAINS.test(nftMangle)) return { backend: 'nft', reason: 'kubelet chains found in iptables-nft' };
  // No "-t mangle" for legacy: it would create the table.
  const legacy = (await out(exec, ['iptables-legacy-save'])) + (await out(exec, ['ip6tables-legacy-save']));
  if (KUBELET_CHAINS.test(legacy)) return { backend: 'legacy', reason: 'kubelet chains found in iptables-legacy' };
  const nft = (await out(exec, ['iptables-nft-save'])) + (await out(exec, ['ip6tables-nft-save']));
  const nl = ruleCount(legacy);
  const nn = ruleCount(nft);
  if (nl > nn) return { backend: 'legacy', reason: `iptables-legacy holds more rules (${nl} against ${nn})` };
  return { backend: 'nft', reason: `iptables-nft by default (legacy ${nl} rules, nft ${nn})` };
}
