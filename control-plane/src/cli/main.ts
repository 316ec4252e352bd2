// `switchyard <command>`: the one entry point of the project.
import { runAgent } from './agent-command.js';
import { AGENT_USAGE } from '../config/agent-options.js';
import { AGENT_ADMIN_USAGE } from '../admin/agent-admin.js';

const USAGE = `usage: switchyard <command> [options]
commands:
  agent ...        run the node agent (control plane) against a cluster
  status | services | maps [NAME] | conntrack | explain   inspect an agent (admin API; --lab NAME --node NAME in the lab)
  bench ...        eBPF vs iptables benchmarks (docs/benchmarks.md)
  lab ...          the namespace lab: up, apply, delete, get, scale, exec, set-ready, down, ...
  cleanup [--name LAB]  remove every namespace, pin, cgroup and process a lab (or all labs) left behind
  cleanup --datapath [--loader-socket PATH]  on a node: remove KUBE-* chains and the BPF datapath
  help             this text

${AGENT_USAGE}
${AGENT_ADMIN_USAGE}`;

/**
 * `switchyard cleanup --datapath [--loader-socket PATH]`: on a node, removes
 * what either mode programmed in the current network namespace: KUBE-* chains
 * (legacy and nft) and, through the loader, the BPF programs and pins.
 */
async function cleanupDatapath(argv: string[]): Promise<number> {
  const i = argv.indexOf('--loader-socket');
  const socket = i >= 0 ? argv[i + 1] : '/run/switchyard/loader.sock';
  const { cleanupAll } = await import('../dataplane/iptables/cleanup.js');
  const { commandExec } = await import('../dataplane/iptables/runner.js');
  const { LoaderClient } = await import('../dataplane/ebpf/loader-client.js');
  let rc = 0;
  try {
    const reports = await cleanupAll(commandExec());
    process.stdout.write(`iptables: ${reports.length ? JSON.stringify(reports) : 'nothing to remove'}\n`);
  } catch (err) {
    process.stderr.write(`iptables cleanup failed: ${(err as Error).message}\n`);
    rc = 1;
  }
  const loader = new LoaderClient(socket!, 10_000);
  try {
    await loader.cleanup();
    process.stdout.write(`ebpf: loader at ${socket} detached its programs and removed its pins\n`);
  } catch (err) {
    process.stdout.write(`ebpf: no loader at ${socket} (${(err as Error).message})\n`);
  } finally {
    loader.close();
  }
  return rc;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'agent':
      return runAgent(rest);
    case 'status':
    case 'services':
    case 'maps':
    case 'conntrack':
    case 'explain': {
      const { runAdminCommand } = await import('./admin-command.js');
      return runAdminCommand(cmd, rest);
    }
    case 'bench': {
      const { runBench } = await import('../../../bench/run.js');
      return runBench(rest);
    }
    case 'lab': {
      const { runLabCommand } = await import('../../../lab/src/cli/lab-command.js');
      return runLabCommand(rest);
    }
    case 'cleanup': {
      if (rest.includes('--datapath')) return cleanupDatapath(rest.filter((a) => a !== '--datapath'));
      const { runCleanupCommand } = await import('../../../lab/src/cli/cleanup.js');
      return runCleanupCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE + '\n');
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`switchyard: unknown command ${JSON.stringify(cmd)}\n${USAGE}\n`);
      return 2;
  }
}

const isEntry = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`switchyard: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
