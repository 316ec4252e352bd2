// `switchyard <command>`: the one entry point of the project.
import { runAgent } from './agent-command.js';
import { AGENT_USAGE } from '../config/agent-options.js';

const USAGE = `usage: switchyard <command> [options]
commands:
  agent ...        run the node agent (control plane) against a cluster
  lab ...          the namespace lab: up, apply, delete, get, scale, exec, set-ready, down, ...
  cleanup [--name LAB]  remove every namespace, pin, cgroup and process a lab (or all labs) left behind
  help             this text

${AGENT_USAGE}`;

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'agent':
      return runAgent(rest);
    case 'lab': {
      const { runLabCommand } = await import('../../../lab/src/cli/lab-command.js');
      return runLabCommand(rest);
    }
    case 'cleanup': {
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
