// The kubelet controller of one lab node. For the pods bound to its node:
//
//   new pod      -> status Pending (PodScheduled, Initialized), runtime.startPod
//   started      -> annotations from the runtime merged into metadata; status
//                   Running with podIP(s), hostIP(s), startTime, containerStatuses
//                   and conditions Initialized/ContainersReady/Ready/PodScheduled
//   start failed -> phase Failed with the error as status.message (reason StartError)
//   every probe  -> Ready = runtime.isRunning(pod) && not overridden unready by the
//                   lab's readiness endpoint (store.readiness)
//   deletion     -> runtime.terminatePod (SIGTERM), Ready=False; ContainersReady keeps
//                   the readiness ignoring termination (what a readiness probe would
//                   still report: the EndpointSlice controller's "serving"); after
//                   deletionGracePeriodSeconds, or as soon as the runtime reports the
//                   pod not running: runtime.removePod, then DELETE with grace 0.
//
// Simplification: a running pod whose server dies is reported not ready
// (container terminated); it is not restarted.

import { childLogger, silentLogger, type Logger } from '../apiserver/logger.js';
import type { Store, WatchHandle } from '../apiserver/store.js';
import type { ContainerStatus, Pod, PodStatus } from '../apiserver/types.js';
import { ApiError } from '../apiserver/errors.js';
import { objectKey, rfc3339, setCondition, splitKey } from '../apiserver/util.js';
import type { PodRuntime, PodSpecForRuntime } from '../runtime/pod-runtime.js';
import { WorkQueue } from './workqueue.js';

export interface KubeletOptions {
  logger?: Logger;
  /** How often the runtime's liveness view (isRunning) is polled (default 1000 ms). */
  probeIntervalMs?: number;
}

type Phase = 'starting' | 'running' | 'failed';

interface PodState {
  uid: string;
  key: string;
  spec: PodSpecForRuntime;
  phase: Phase;
  startTime: string;
  startedAt?: string;
  podIP?: string;
  podIPs?: string[];
  annotations?: Record<string, string>;
  message?: string;
  /** Set once terminatePod was called. */
  terminating?: { killAt: number; signalled: boolean; grace: number };
  finishing?: boolean;
}

export function podSpecForRuntime(pod: Pod, nodeName: string): PodSpecForRuntime {
  const ports: PodSpecForRuntime['ports'] = [];
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) {
      ports.push({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: p.protocol ?? 'TCP' });
    }
  }
  return {
    namespace: pod.metadata.namespace as string,
    name: pod.metadata.name as string,
    uid: pod.metadata.uid as string,
    nodeName,
    ports,
    terminationGracePeriodSeconds: pod.spec.terminationGracePeriodSeconds ?? 30,
  };
}

export class Kubelet {
  private readonly queue: WorkQueue;
  private readonly logger: Logger;
  private readonly states = new Map<string, PodState>(); // by pod key (ns/name)
  private watch: WatchHandle | undefined;
  private unsubscribe: (() => void) | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private readonly probeIntervalMs: number;
  private readonly inflight = new Set<Promise<unknown>>();

  constructor(
    private readonly store: Store,
    readonly nodeName: string,
    private readonly runtime: PodRuntime,
    opts: KubeletOptions = {},
  ) {
    this.logger = childLogger(opts.logger ?? silentLogger, { controller: 'kubelet', node: nodeName });
    this.probeIntervalMs = opts.probeIntervalMs ?? 1000;
    this.queue = new WorkQueue(`kubelet-${nodeName}`, (k) => this.reconcile(k), this.logger);
  }

  start(): this {
    this.watch = this.store.watch('pods', { fieldSelector: `spec.nodeName=${this.nodeName}` }, (ev) => {
      this.queue.add(objectKey(ev.object.metadata.namespace, ev.object.metadata.name as string));
    });
    this.unsubscribe = this.store.readiness.subscribe((pod) => {
      const key = objectKey(pod.namespace, pod.name);
      if (this.states.get(key)?.uid === pod.uid) this.queue.add(key);
    });
    const probe = (): void => {
      for (const [key, s] of this.states) if (s.phase === 'running') this.queue.add(key);
      this.probeTimer = setTimeout(probe, this.probeIntervalMs);
      this.probeTimer.unref();
    };
    this.probeTimer = setTimeout(probe, this.probeIntervalMs);
    this.probeTimer.unref();
    return this;
  }

  /**
   * Stops watching; pods keep running (the runtime's owner shuts them down).
   * Waits up to `waitMs` for runtime calls in flight.
   */
  async stop(waitMs = 5000): Promise<void> {
    this.watch?.stop();
    this.unsubscribe?.();
    clearTimeout(this.probeTimer);
    this.queue.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.inflight]),
      new Promise<void>((r) => {
        timer = setTimeout(r, waitMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => {});
    return p;
  }

  /** The node's InternalIPs, one per family, primary first (the kubelet's hostIPs). */
  private hostIPs(): string[] {
    const node = this.store.peek('nodes', this.nodeName);
    return (node?.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
  }

  private async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pod = this.store.peek('pods', name, namespace) as Pod | undefined;
    let state = this.states.get(key);

    // The pod is gone (force-deleted) or was replaced by a new one of the same name.
    if (state && (!pod || pod.metadata.uid !== state.uid || pod.spec.nodeName !== this.nodeName)) {
      if (state.phase === 'starting') return; // settle first; the start callback requeues
      const old = state;
      this.states.delete(key);
      await this.track(this.runtime.removePod(old.spec)).catch((e: unknown) =>
        this.logger.warn({ pod: key, err: String(e) }, 'removePod failed'),
      );
      state = undefined;
      if (pod) this.queue.add(key);
      return;
    }
    if (!pod || pod.spec.nodeName !== this.nodeName) return;

    if (pod.metadata.deletionTimestamp) return this.reconcileTermination(key, pod, state);

    if (!state) {
      if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') return;
      const spec = podSpecForRuntime(pod, this.nodeName);
      const st: PodState = { uid: spec.uid, key, spec, phase: 'starting', startTime: pod.status?.startTime ?? rfc3339() };
      this.states.set(key, st);
      this.writeStatus(pod, st);
      void this.track(this.runtime.startPod(spec)).then(
        (started) => {
          st.phase = 'running';
          st.podIP = started.podIP;
          st.podIPs = started.podIPs ?? [started.podIP];
          st.annotations = started.annotations ?? {};
          st.startedAt = rfc3339();
          this.logger.info({ pod: key, podIP: started.podIP }, 'pod started');
          this.queue.add(key);
        },
        (err: unknown) => {
          st.phase = 'failed';
          st.message = `failed to start pod: ${err instanceof Error ? err.message : String(err)}`;
          this.logger.warn({ pod: key, err: st.message }, 'pod failed to start');
          this.queue.add(key);
        },
      );
      return;
    }

    if (state.phase === 'starting') return;
    if (state.phase === 'failed') {
      this.writeStatus(pod, state);
      await this.track(this.runtime.removePod(state.spec)).catch(() => {});
      return;
    }
    // running
    if (state.annotations && Object.keys(state.annotations).length) {
      const have = pod.metadata.annotations ?? {};
      if (Object.entries(state.annotations).some(([k, v]) => have[k] !== v)) {
        this.store.patch('pods', name, { metadata: { annotations: state.annotations } }, { namespace });
      }
    }
    const current = this.store.peek('pods', name, namespace) as Pod;
    this.writeStatus(current, state);
  }

  private async reconcileTermination(key: string, pod: Pod, state: PodState | undefined): Promise<void> {
    const { namespace, name } = splitKey(key);
    if (state?.phase === 'starting') return; // finish starting first; requeued then
    if (!state || state.phase === 'failed') {
      if (state) this.states.delete(key);
      await this.track(this.runtime.removePod(state?.spec ?? podSpecForRuntime(pod, this.nodeName))).catch(() => {});
      this.finalDelete(name, namespace, pod.metadata.uid as string);
      return;
    }
    const grace = pod.metadata.deletionGracePeriodSeconds ?? 0;
    const now = Date.now();
    if (!state.terminating) {
      state.terminating = { killAt: now + grace * 1000, signalled: false, grace };
      this.writeStatus(pod, state);
      const t = state.terminating;
      void this.track(this.runtime.terminatePod(state.spec)).then(
        () => {
          t.signalled = true;
          this.queue.add(key);
        },
        (err: unknown) => {
          t.signalled = true;
          this.logger.warn({ pod: key, err: String(err) }, 'terminatePod failed');
          this.queue.add(key);
        },
      );
      if (grace > 0) {
        this.queue.addAfter(key, Math.min(grace * 1000, this.probeIntervalMs));
        return;
      }
    } else if (grace < state.terminating.grace) {
      // A second DELETE shortened the grace period.
      state.terminating.grace = grace;
      state.terminating.killAt = Math.min(state.terminating.killAt, now + grace * 1000);
    }
    const t = state.terminating;
    const running = this.runtime.isRunning(state.spec);
    if (!t.signalled && now < t.killAt) {
      this.writeStatus(pod, state);
      return; // requeued when terminatePod settles
    }
    if (running && now < t.killAt) {
      this.writeStatus(pod, state);
      this.queue.addAfter(key, Math.max(1, Math.min(t.killAt - now, this.probeIntervalMs)));
      return;
    }
    if (state.finishing) return;
    state.finishing = true;
    await this.track(this.runtime.removePod(state.spec)).catch((e: unknown) =>
      this.logger.warn({ pod: key, err: String(e) }, 'removePod failed'),
    );
    this.states.delete(key);
    this.finalDelete(name, namespace, state.uid);
    this.logger.info({ pod: key }, 'pod terminated and removed');
  }

  private finalDelete(name: string, namespace: string, uid: string): void {
    try {
      this.store.delete('pods', name, { namespace, gracePeriodSeconds: 0, preconditions: { uid } });
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return; // already gone / replaced
      throw e;
    }
  }

  /** Writes the status this kubelet wants the pod to have (a no-op write when unchanged). */
  private writeStatus(pod: Pod, st: PodState): void {
    const desired = this.desiredStatus(pod, st);
    const next = structuredClone(pod) as Pod;
    next.status = desired;
    try {
      this.store.updateStatus('pods', next);
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) {
        this.queue.add(st.key);
        return;
      }
      throw e;
    }
  }

  private desiredStatus(pod: Pod, st: PodState): PodStatus {
    const prev = pod.status ?? {};
    const hostIPs = this.hostIPs();
    const override = this.store.readiness.get(st.uid);
    let conds = prev.conditions;
    const status: PodStatus = { ...prev };
    status.qosClass = prev.qosClass ?? 'BestEffort';
    status.startTime = st.startTime;
    if (hostIPs.length) {
      status.hostIP = hostIPs[0];
      status.hostIPs = hostIPs.map((ip) => ({ ip }));
    }
    conds = setCondition(conds, 'PodScheduled', 'True', { lastProbeTime: null });
    conds = setCondition(conds, 'Initialized', 'True', { lastProbeTime: null });
    const images = new Map((pod.spec.containers ?? []).map((c) => [c.name, c.image ?? '']));

    if (st.phase === 'starting') {
      status.phase = 'Pending';
      conds = setCondition(conds, 'ContainersReady', 'False', { reason: 'ContainersNotReady', message: 'containers with unready status', lastProbeTime: null });
      conds = setCondition(conds, 'Ready', 'False', { reason: 'ContainersNotReady', message: 'containers with unready status', lastProbeTime: null });
      status.containerStatuses = [...images].map(([cname, image]) => ({
        name: cname,
        image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
      }));
      status.conditions = conds;
      return status;
    }
    if (st.phase === 'failed') {
      status.phase = 'Failed';
      status.reason = 'StartError';
      status.message = st.message ?? 'failed to start';
      conds = setCondition(conds, 'ContainersReady', 'False', { reason: 'PodFailed', lastProbeTime: null });
      conds = setCondition(conds, 'Ready', 'False', { reason: 'PodFailed', lastProbeTime: null });
      status.containerStatuses = [...images].map(([cname, image]) => ({
        name: cname,
        image,
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { terminated: { exitCode: 128, reason: 'StartError', message: st.message ?? '' } },
      }));
      status.conditions = conds;
      return status;
    }
    // running (possibly terminating)
    const alive = this.runtime.isRunning(st.spec);
    const probeReady = alive && override !== false;
    const terminating = !!pod.metadata.deletionTimestamp;
    status.phase = 'Running';
    delete status.reason;
    delete status.message;
    if (st.podIP) {
      status.podIP = st.podIP;
      status.podIPs = (st.podIPs ?? [st.podIP]).map((ip) => ({ ip }));
    }
    conds = setCondition(
      conds,
      'ContainersReady',
      probeReady ? 'True' : 'False',
      probeReady ? { lastProbeTime: null } : { reason: 'ContainersNotReady', message: 'containers with unready status', lastProbeTime: null },
    );
    const ready = probeReady && !terminating;
    conds = setCondition(
      conds,
      'Ready',
      ready ? 'True' : 'False',
      ready
        ? { lastProbeTime: null }
        : terminating
          ? { reason: 'PodTerminating', message: 'pod is terminating', lastProbeTime: null }
          : { reason: 'ContainersNotReady', message: 'containers with unready status', lastProbeTime: null },
    );
    status.containerStatuses = [...images].map(([cname, image]): ContainerStatus => ({
      name: cname,
      image,
      imageID: '',
      containerID: `lab://${st.uid.slice(0, 8)}-${cname}`,
      ready: probeReady,
      started: alive,
      restartCount: 0,
      state: alive
        ? { running: { startedAt: st.startedAt ?? st.startTime } }
        : { terminated: { exitCode: 137, reason: 'Error', startedAt: st.startedAt ?? st.startTime } },
    }));
    status.conditions = conds;
    return status;
  }
}

export function startKubelet(store: Store, nodeName: string, runtime: PodRuntime, opts: KubeletOptions = {}): Kubelet {
  return new Kubelet(store, nodeName, runtime, opts).start();
}
