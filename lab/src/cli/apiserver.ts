// `lab apiserver stop|start [--expire-watches]|stall-watches|status`: plays
// the API server faults. stop closes the listener the nodes reach (every
// watch and connection on it goes); start listens again with every object
// kept, and with --expire-watches a watch resumed from an earlier
// resourceVersion gets 410 Gone (as after etcd compaction), so clients
// relist; stall-watches makes the open watches stop delivering without
// closing them. The CLI itself keeps reaching the server over its socket.
import { labClient, LabError } from './api-client.js';

export const APISERVER_ACTIONS = ['stop', 'start', 'stall-watches', 'status'] as const;

interface State { serving: boolean; stoppedAt: string | null; stalledWatches: number; watches: number }

export async function apiServerCommand(lab: string, action: string | undefined, expireWatches: boolean, out: (l: string) => void): Promise<number> {
  if (!action || !(APISERVER_ACTIONS as readonly string[]).includes(action)) {
    throw new LabError(`apiserver ${APISERVER_ACTIONS.join('|')} [--expire-watches]`, 2);
  }
  const client = labClient(lab);
  if (action === 'status') {
    const st = await client.get<State>('/lab/v1/apiserver');
    out(`API server ${st.serving ? 'serving' : `STOPPED since ${st.stoppedAt}`}; ${st.watches} open watch(es)${st.stalledWatches ? `, ${st.stalledWatches} stalled by the last stall-watches` : ''}`);
    return 0;
  }
  const r = await client.call<{ message: string }>('POST', '/lab/v1/apiserver', { action, expireWatches });
  out(`lab ${lab}: ${r.message}`);
  return 0;
}
