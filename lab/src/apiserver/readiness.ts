// The lab's readiness overrides (`set-ready`): per pod UID, "ready" or "not
// ready" as a readiness probe would report it. The kubelet controller of the
// pod's node listens and reflects the override in the pod's Ready condition.

export interface PodIdentity {
  namespace: string;
  name: string;
  uid: string;
}

export type ReadinessListener = (pod: PodIdentity, ready: boolean | undefined) => void;

export class ReadinessOverrides {
  private readonly byUID = new Map<string, boolean>();
  private readonly listeners = new Set<ReadinessListener>();

  /** `ready: null` removes the override (readiness follows the runtime again). */
  set(pod: PodIdentity, ready: boolean | null): void {
    if (ready === null) this.byUID.delete(pod.uid);
    else this.byUID.set(pod.uid, ready);
    for (const l of [...this.listeners]) l(pod, ready ?? undefined);
  }

  get(uid: string): boolean | undefined {
    return this.byUID.get(uid);
  }

  forget(uid: string): void {
    this.byUID.delete(uid);
  }

  subscribe(l: ReadinessListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
}
