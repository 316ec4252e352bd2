// Chooses the datapath from the loader's kernel probe, and says why.
import type { Mode } from './agent-options.js';

export interface ProbedFeature { name: string; available: boolean; detail: string }

export interface ModeDecision {
  mode: 'ebpf' | 'iptables';
  reason: string;
  missing: ProbedFeature[];
}

export function selectMode(requested: Mode, features: ProbedFeature[] | undefined, probeError?: string): ModeDecision {
  const missing = (features ?? []).filter((f) => !f.available);
  const why = probeError
    ? `the loader could not probe the kernel: ${probeError}`
    : missing.map((f) => `${f.name} (${f.detail || 'unavailable'})`).join(', ');
  const ebpfPossible = !probeError && missing.length === 0;
  if (requested === 'iptables') return { mode: 'iptables', reason: 'iptables mode requested', missing };
  if (requested === 'ebpf') {
    if (!ebpfPossible) throw new Error(`ebpf mode requested but the kernel cannot run the datapath: missing ${why}`);
    return { mode: 'ebpf', reason: 'ebpf mode requested; every feature present', missing };
  }
  if (ebpfPossible) return { mode: 'ebpf', reason: 'auto: every feature the datapath needs is present', missing };
  return { mode: 'iptables', reason: `auto: falling back to iptables, missing ${why}`, missing };
}
