// Waiting for the loader before the datapath mode is chosen. Auto mode falls
// back to iptables only on the loader's word that a required feature is
// missing: a loader that is absent (socket missing, process paused or
// restarting) says nothing, so the agent waits for it, with backoff, and says
// so. Meanwhile whatever datapath the node has (programs and pinned maps of
// an earlier run) keeps serving untouched.
import type { Logger } from 'pino';
import { LoaderClient } from '../dataplane/ebpf/loader-client.js';

export type ProbeResult = Awaited<ReturnType<LoaderClient['probe']>>;

export interface LoaderWaitOptions {
  /** Time to wait for one probe answer (a paused loader never answers), ms. */
  attemptTimeoutMs?: number;
  /** Pause between attempts while the loader may still be starting beside the agent (first startingForMs). */
  startingPollMs?: number;
  startingForMs?: number;
  /** Then the first pause between attempts; doubles up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often "still waiting" is logged, ms. */
  logEveryMs?: number;
  /** Called once when the first attempt fails: the agent starts reporting that it waits. */
  onWaiting?: (err: string) => void | Promise<void>;
}

/** Probes until the loader answers; never gives up (a SIGTERM ends the agent). */
export async function waitForLoaderAnswer(socketPath: string, log: Logger, o: LoaderWaitOptions = {}): Promise<{ probe: ProbeResult; waitedMs: number }> {
  const started = Date.now();
  let backoff = o.minBackoffMs ?? 200;
  let lastLog = 0;
  let waiting = false;
  for (;;) {
    const client = new LoaderClient(socketPath, o.attemptTimeoutMs ?? 5000);
    try {
      const probe = await client.probe();
      const waitedMs = Date.now() - started;
      if (waiting) log.info({ socket: socketPath, waitedMs }, 'the loader answers; choosing the datapath mode');
      return { probe, waitedMs };
    } catch (err) {
      const msg = (err as Error).message;
      if (!waiting) {
        waiting = true;
        await o.onWaiting?.(msg);
      }
      if (Date.now() - lastLog >= (o.logEveryMs ?? 30_000)) {
        lastLog = Date.now();
        log.warn({ socket: socketPath, err: msg, waitingMs: Date.now() - started },
          'waiting for the loader: no fallback and no cleanup while it is absent (the datapath in place keeps serving)');
      }
    } finally {
      client.close();
    }
    // A loader started with the agent (the DaemonSet's containers start
    // together) opens its socket once its programs are verified, a second or
    // two later: asked often then, so that the agent does not lose a backoff
    // step to it (a refused connect to a missing socket costs nothing);
    // afterwards, backoff.
    if (Date.now() - started < (o.startingForMs ?? 10_000)) {
      await new Promise((r) => setTimeout(r, o.startingPollMs ?? 100));
      continue;
    }
    await new Promise((r) => setTimeout(r, backoff));
    backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 5000);
  }
}
