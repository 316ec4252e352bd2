// The agent's command-line options, parsed with node:util's parseArgs.
import { parseArgs } from 'node:util';
import { parseDurationMs } from '../util/duration.js';
import { parseBindAddress } from '../util/bind-address.js';
import { isIPv4 } from '../util/ipv4.js';
import { DEFAULT_MAGLEV_SIZING, validateSizing, type MaglevSizing } from '../dataplane/maglev.js';

export type Mode = 'ebpf' | 'iptables' | 'auto';

export interface AgentOptions {
  kubeconfig?: string;
  nodeName: string;
  nodeIP?: string;
  loaderSocket: string;
  mode: Mode;
  devices: string;
  health: { host: string; port: number };
  maglevSeed: number;
  maglevSizing: MaglevSizing;
  lbAlgorithm: 'maglev' | 'random';
  minSyncPeriodMs: number;
  syncPeriodMs: number;
  healthTimeoutMs: number;
  logLevel: string;
  pretendMissing: string[];
}

export const AGENT_USAGE = `switchyard agent --node-name NAME [options]
  --kubeconfig FILE            kubeconfig (default: in-cluster configuration)
  --node-name NAME             this node's name (default: $NODE_NAME)
  --node-ip IP                 this node's IPv4 address (default: the Node's InternalIP)
  --loader-socket PATH         the loader's unix socket (default /run/switchyard/loader.sock)
  --mode ebpf|iptables|auto    datapath (default auto: ebpf when the kernel has every feature)
  --devices LIST               devices to attach to, comma separated, '+' suffix = prefix match (default eth0)
  --health-bind-address H:P    /healthz and /livez (default 0.0.0.0:10256)
  --maglev-seed N              cluster-wide seed of Maglev and flow hashes (default 0x5317c4d1)
  --maglev-table-floor M       smallest Maglev table (prime, default 251)
  --maglev-table-ceiling M     largest Maglev table (prime, default 131071)
  --lb-algorithm maglev|random default backend selection (per Service: annotation switchyard.io/lb-algorithm)
  --min-sync-period D          minimum time between syncs (default 0s)
  --sync-period D              full resync period (default 30s)
  --pretend-missing FEATURE    report a kernel feature missing (testing the fallback), repeatable
  --log-level LEVEL            pino level (default info)`;

export function parseAgentOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): AgentOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      'node-name': { type: 'string' },
      'node-ip': { type: 'string' },
      'loader-socket': { type: 'string' },
      mode: { type: 'string' },
      devices: { type: 'string' },
      'health-bind-address': { type: 'string' },
      'maglev-seed': { type: 'string' },
      'maglev-table-floor': { type: 'string' },
      'maglev-table-ceiling': { type: 'string' },
      'lb-algorithm': { type: 'string' },
      'min-sync-period': { type: 'string' },
      'sync-period': { type: 'string' },
      'pretend-missing': { type: 'string', multiple: true },
      'log-level': { type: 'string' },
    },
  });
  const nodeName = values['node-name'] ?? env.NODE_NAME;
  if (!nodeName) throw new Error('--node-name (or $NODE_NAME) is required');
  const mode = (values.mode ?? 'auto') as Mode;
  if (!['ebpf', 'iptables', 'auto'].includes(mode)) throw new Error(`--mode must be ebpf, iptables or auto, not ${JSON.stringify(mode)}`);
  if (values['node-ip'] !== undefined && !isIPv4(values['node-ip'])) throw new Error(`--node-ip ${values['node-ip']} is not an IPv4 address`);
  const seed = Number(values['maglev-seed'] ?? 0x5317c4d1);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error('--maglev-seed must be an integer in [0, 2^32)');
  const sizing: MaglevSizing = {
    floor: Number(values['maglev-table-floor'] ?? DEFAULT_MAGLEV_SIZING.floor),
    ceiling: Number(values['maglev-table-ceiling'] ?? DEFAULT_MAGLEV_SIZING.ceiling),
  };
  validateSizing(sizing);
  const lb = values['lb-algorithm'] ?? 'maglev';
  if (lb !== 'maglev' && lb !== 'random') throw new Error('--lb-algorithm must be maglev or random');
  const syncPeriodMs = parseDurationMs(values['sync-period'] ?? '30s');
  return {
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    nodeName,
    ...(values['node-ip'] !== undefined ? { nodeIP: values['node-ip'] } : {}),
    loaderSocket: values['loader-socket'] ?? '/run/switchyard/loader.sock',
    mode,
    devices: values.devices ?? 'eth0',
    health: parseBindAddress(values['health-bind-address'] ?? '0.0.0.0:10256'),
    maglevSeed: seed,
    maglevSizing: sizing,
    lbAlgorithm: lb,
    minSyncPeriodMs: parseDurationMs(values['min-sync-period'] ?? '0s'),
    syncPeriodMs,
    healthTimeoutMs: Math.max(2 * syncPeriodMs, 10_000),
    logLevel: values['log-level'] ?? 'info',
    pretendMissing: values['pretend-missing'] ?? [],
  };
}
