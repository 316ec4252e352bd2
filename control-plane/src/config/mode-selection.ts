// Chooses the datapath from the loader's kernel probe, and says why. Only
// what the datapath in this build uses is required; features of later
// datapath parts (XDP, socket hooks) are reported but not demanded.
import type { Mode } from './agent-options.js';

export interface ProbedFeature { name: string; available: boolean; detail: string }

export interface ModeDecision {
  mode: 'ebpf' | 'iptables';
  reason: string;
  /** Required features the kernel lacks (empty when ebpf is possible). */
  missing: ProbedFeature[];
  /** Optional features the kernel (or this build) lacks. */
  optionalMissing: ProbedFeature[];
}

/** A feature is required when its name matches one of these. */
const REQUIRED: RegExp[] = [
  /^prog_type:sched_cls$/,
  /^map_type:(hash|lru_hash|array|hash_of_maps)$/,
  /^helper:sched_cls:/,
  /^fs:bpffs$/,
];
/** At least one of each group must be available. */
const ANY_OF: string[][] = [['attach:tcx', 'attach:clsact']];

export function isRequired(name: string): boolean {
  return REQUIRED.some((r) => r.test(name));
}

export function selectMode(requested: Mode, features: ProbedFeature[] | undefined, probeError?: string): ModeDecision {
  const all = features ?? [];
  const missing = all.filter((f) => !f.available && isRequired(f.name));
  for (const group of ANY_OF) {
    const members = all.filter((f) => group.includes(f.name));
    if (members.length > 0 && !members.some((f) => f.available)) missing.push(...members);
    if (members.length === 0 && !probeError) missing.push({ name: group.join('|'), available: false, detail: 'not reported by the probe' });
  }
  const optionalMissing = all.filter((f) => !f.available && !missing.includes(f));
  const why = probeError
    ? `the loader could not probe the kernel: ${probeError}`
    : missing.map((f) => `${f.name} (${f.detail || 'unavailable'})`).join(', ');
  const ebpfPossible = !probeError && missing.length === 0;
  if (requested === 'iptables') return { mode: 'iptables', reason: 'iptables mode requested', missing, optionalMissing };
  if (requested === 'ebpf') {
    if (!ebpfPossible) throw new Error(`ebpf mode requested but the kernel cannot run the datapath: missing ${why}`);
    return { mode: 'ebpf', reason: 'ebpf mode requested; every required feature present', missing, optionalMissing };
  }
  if (ebpfPossible) return { mode: 'ebpf', reason: 'auto: every feature the datapath needs is present', missing, optionalMissing };
  return { mode: 'iptables', reason: `auto: falling back to iptables, missing ${why}`, missing, optionalMissing };
}
