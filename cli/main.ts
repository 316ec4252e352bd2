// `switchyard <command>`: the one entry point of the project. It composes the
// commands of the parts: agent, admin and datapath cleanup from control-plane/,
// the namespace lab from lab/, the benchmarks from bench/. control-plane
// imports neither lab nor bench (test/unit/import-direction.test.ts); those
// two are loaded only by their own commands, since the agent's container
// image holds neither. The agent's modules too are loaded only by `agent` (and
// the help text): they take most of a second of CPU to load, which every
// other command (the lab's, run hundreds of times by the tests) paid.
import { MissingPart, importPart } from './optional-part.js';

async function usage(): Promise<string> {
  const [{ AGENT_USAGE }, { AGENT_ADMIN_USAGE }] = await Promise.all([
    import('../control-plane/src/config/agent-options.js'),
    import('../control-plane/src/admin/agent-admin.js'),
  ]);
  return `usage: switchyard <command> [options]
commands:
  agent ...        run the node agent (control plane) against a cluster
  status | services | maps [NAME] | conntrack | explain   inspect an agent (admin API; --lab NAME --node NAME in the lab)
  monitor [--type drop|reject|trace|ct] [--service NS/NAME] [--json]   the datapath's drops, rejects and traces as they happen
  bench ...        eBPF vs iptables benchmarks (docs/benchmarks.md)
  lab ...          the namespace lab: up, apply, delete, get, scale, exec, set-ready, down, ...
  cleanup [--name LAB] [--stale]  remove every namespace, pin, cgroup and process a lab (or all labs; --stale: only those whose daemon is gone) left behind
  cleanup --datapath [--loader-socket PATH]  on a node: remove KUBE-* chains and the BPF datapath
  help             this text

${AGENT_USAGE}
${AGENT_ADMIN_USAGE}`;
}

async function dispatch(cmd: string | undefined, rest: string[]): Promise<number> {
  switch (cmd) {
    case 'agent': {
      const { loadRunAgent } = await import('./agent-entry.js');
      return (await loadRunAgent())(rest);
    }
    case 'status':
    case 'services':
    case 'maps':
    case 'conntrack':
    case 'explain': {
      const { runAdminCommand } = await import('./admin.js');
      return runAdminCommand(cmd, rest);
    }
    case 'monitor': {
      const { runMonitorCommand } = await import('./admin.js');
      return runMonitorCommand(rest);
    }
    case 'bench': {
      const { runBench } = await importPart('bench', () => import('../bench/run.js'));
      return runBench(rest);
    }
    case 'lab': {
      const { runLabCommand } = await importPart('lab', () => import('../lab/src/cli/lab-command.js'));
      return runLabCommand(rest);
    }
    case 'cleanup': {
      if (rest.includes('--datapath')) {
        const { cleanupDatapath } = await import('../control-plane/src/cli/cleanup-datapath.js');
        return cleanupDatapath(rest.filter((a) => a !== '--datapath'));
      }
      const { runCleanupCommand } = await importPart('lab', () => import('../lab/src/cli/cleanup.js'));
      return runCleanupCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(await usage() + '\n');
      return cmd === undefined ? 2 : 0;
    default:
      process.stderr.write(`switchyard: unknown command ${JSON.stringify(cmd)}\n${await usage()}\n`);
      return 2;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    return await dispatch(cmd, rest);
  } catch (err) {
    if (!(err instanceof MissingPart)) throw err;
    process.stderr.write(`switchyard ${cmd}: ${err.message}\n`);
    return 1;
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
