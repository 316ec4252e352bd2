// The admin commands (control-plane) with the lab's layout for --lab/--node
// targets: the lab is loaded only when such a target is asked for, so the
// agent's image, which has no lab, runs them against --admin/--admin-socket.
import { runAdminCommand as runAdminCommandWith, type AdminIO, type LabAgentPaths } from '../control-plane/src/cli/admin-command.js';
import { runMonitorCommand as runMonitorCommandWith } from '../control-plane/src/cli/monitor-command.js';
import { importPart } from './optional-part.js';

export async function labAgentPaths(): Promise<LabAgentPaths> {
  const layout = await importPart('lab', () => import('../lab/src/netns/layout.js'));
  return layout.labAgentPaths();
}

/** `switchyard status|services|maps|conntrack|explain` as the CLI runs it. */
export function runAdminCommand(cmd: string, argv: string[], io?: AdminIO): Promise<number> {
  return runAdminCommandWith(cmd, argv, io, labAgentPaths);
}

/** `switchyard monitor` as the CLI runs it. */
export function runMonitorCommand(argv: string[], io?: AdminIO): Promise<number> {
  return runMonitorCommandWith(argv, io, labAgentPaths);
}
