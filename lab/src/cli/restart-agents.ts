// `lab restart-agents [--mode M] [--agent-arg=ARG]...`: restarts every node
// agent (the daemon keeps pods and loaders), e.g. to switch datapath modes or
// to start agents that pretend a kernel feature is missing. Waits until the
// agents are healthy, or reports the first one that exited, with its log.
import fs from 'node:fs';
import { labClient, LabError } from './api-client.js';
import { labInfo } from './lifecycle.js';

interface NodeInfo { name: string; agent: { alive?: boolean; restarts?: number; exitCode?: number | null; log?: string; healthy?: boolean } | null }

export async function restartAgents(lab: string, mode: string | undefined, agentArgs: string[], timeoutMs: number, out: (l: string) => void): Promise<number> {
  const r = await labClient(lab).request('POST', '/lab/v1/agents/restart', { ...(mode ? { mode } : {}), agentArgs }, 60_000);
  if (r.status !== 200) throw new LabError(`restart-agents: ${r.status} ${JSON.stringify(r.body)}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await labInfo(lab) as unknown as { nodes: NodeInfo[]; mode: string };
    // The daemon restarts an agent that exits: a restart counts as an exit too.
    const dead = info.nodes.find((n) => n.agent && (n.agent.alive === false || (n.agent.restarts ?? 0) > 0));
    if (dead) {
      const log = dead.agent?.log && fs.existsSync(dead.agent.log) ? fs.readFileSync(dead.agent.log, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
      process.stderr.write(`restart-agents: the agent of ${dead.name} exited (code ${dead.agent?.exitCode ?? '?'}):\n${log}\n`);
      return 1;
    }
    if (info.nodes.every((n) => n.agent?.healthy)) {
      out(`lab ${lab}: agents healthy (mode ${info.mode})`);
      return 0;
    }
    if (Date.now() > deadline) {
      process.stderr.write(`restart-agents: agents not healthy after ${Math.round(timeoutMs / 1000)} s\n`);
      return 1;
    }
    await new Promise((res) => setTimeout(res, 300));
  }
}
