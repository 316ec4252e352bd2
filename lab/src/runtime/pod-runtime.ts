// The contract between the lab's kubelet controller (which watches Pods bound
// to a node and reports their status to the API server) and whatever really
// runs them. The lab implements it with network namespaces (netns-runtime.ts);
// controller unit tests use an in-memory implementation.

/** What the kubelet controller knows about a pod it wants started. */
export interface PodSpecForRuntime {
  namespace: string;
  name: string;
  uid: string;
  nodeName: string;
  /** Every containerPort of every container, as declared (protocol defaults to TCP). */
  ports: Array<{ name?: string; containerPort: number; protocol: 'TCP' | 'UDP' | 'SCTP' }>;
  /** spec.terminationGracePeriodSeconds, default 30. */
  terminationGracePeriodSeconds: number;
}

export interface StartedPod {
  /** The pod's primary address (status.podIP). */
  podIP: string;
  /** Its address of each family, primary first (status.podIPs); absent: [podIP]. */
  podIPs?: string[];
  /** Annotations the kubelet adds to the Pod (e.g. lab.switchyard.dev/netns). */
  annotations: Record<string, string>;
}

export interface PodRuntime {
  /** Creates the pod's network and starts its whoami server; resolves once it listens. */
  startPod(pod: PodSpecForRuntime): Promise<StartedPod>;
  /** Sends the pod's processes SIGTERM (graceful stop begins; they keep serving until killed). */
  terminatePod(pod: PodSpecForRuntime): Promise<void>;
  /** Kills the pod's processes and removes its network. Idempotent. */
  removePod(pod: PodSpecForRuntime): Promise<void>;
  /** True while the pod's server is alive (the kubelet's liveness view). */
  isRunning(pod: PodSpecForRuntime): boolean;
}
