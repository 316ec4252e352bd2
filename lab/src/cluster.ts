// startLabCluster: the lab's control plane in one process: the store (etcd +
// kube-apiserver registry, with service IP/nodePort admission), the API server
// (created, not yet listening), the controllers (scheduler, ReplicaSet,
// ReplicationController, Deployment, EndpointSlice, load balancer, garbage
// collector, namespace), the Node objects and one kubelet per lab node.

import type { ExtraRoutes } from './apiserver/http-handler.js';
import type { Logger } from './apiserver/logger.js';
import { createApiServer, type ApiServer, type ApiServerOptions } from './apiserver/server.js';
import { Store } from './apiserver/store.js';
import { DeploymentController } from './controllers/deployment.js';
import { EndpointSliceController } from './controllers/endpointslice.js';
import { GarbageCollector } from './controllers/garbage-collector.js';
import { Kubelet } from './controllers/kubelet.js';
import { LoadBalancerController } from './controllers/loadbalancer.js';
import { NamespaceController } from './controllers/namespace.js';
import { registerNodes, type LabNodeSpec } from './controllers/nodes.js';
import { ReplicaSetController, ReplicationControllerController } from './controllers/replicaset.js';
import { Scheduler } from './controllers/scheduler.js';
import type { PodRuntime } from './runtime/pod-runtime.js';

export interface LabClusterOptions {
  nodes: LabNodeSpec[];
  runtimeFor(nodeName: string): PodRuntime;
  /** Service ClusterIP range (default 198.18.128.0/17). */
  serviceCIDR?: string;
  /** Service ClusterIP ranges, one per family, primary first (a dual-stack cluster); wins over serviceCIDR. */
  serviceCIDRs?: string[];
  /** LoadBalancer ingress pool (default 198.18.64.0/24). */
  lbPool?: string;
  /** LoadBalancer ingress pools, one per family; wins over lbPool. */
  lbPools?: string[];
  /** NodePort range, inclusive (default 30000-32767). */
  nodePortRange?: [number, number];
  /** A pino logger (or anything with debug/info/warn/error). */
  logger?: Logger;
  /** Routes served before the Kubernetes API (the lab daemon's /lab/v1/...). */
  extraRoutes?: ExtraRoutes;
  /** Watch history kept per resource (default 10000 events). */
  historySize?: number;
  /** Kubelet liveness polling interval (default 1000 ms). */
  probeIntervalMs?: number;
  /** More API server options (bookmark interval, timeouts, limits). */
  apiServerOptions?: Omit<ApiServerOptions, 'extraRoutes' | 'logger'>;
}

export interface LabControllers {
  scheduler: Scheduler;
  replicaSets: ReplicaSetController;
  replicationControllers: ReplicationControllerController;
  deployments: DeploymentController;
  endpointSlices: EndpointSliceController;
  loadBalancers: LoadBalancerController;
  garbageCollector: GarbageCollector;
  namespaces: NamespaceController;
}

export interface LabCluster {
  store: Store;
  /** Created but not listening: call apiServer.listen({host, port}) and/or listen({path}). */
  apiServer: ApiServer;
  controllers: LabControllers;
  kubelets: Map<string, Kubelet>;
  /** Stops kubelets and controllers, ends watches and closes the API server. Pods are left to their runtime. */
  stop(): Promise<void>;
}

export function startLabCluster(opts: LabClusterOptions): LabCluster {
  const logger = opts.logger;
  const store = new Store({
    ...(opts.serviceCIDR ? { serviceCIDR: opts.serviceCIDR } : {}),
    ...(opts.serviceCIDRs ? { serviceCIDRs: opts.serviceCIDRs } : {}),
    ...(opts.nodePortRange ? { nodePortRange: opts.nodePortRange } : {}),
    ...(opts.historySize ? { historySize: opts.historySize } : {}),
    ...(logger ? { logger } : {}),
  });
  const l = logger ? { logger } : {};
  registerNodes(store, opts.nodes);
  const controllers: LabControllers = {
    garbageCollector: new GarbageCollector(store, l).start(),
    namespaces: new NamespaceController(store, l).start(),
    scheduler: new Scheduler(store, l).start(),
    replicaSets: new ReplicaSetController(store, l).start(),
    replicationControllers: new ReplicationControllerController(store, l).start(),
    deployments: new DeploymentController(store, l).start(),
    endpointSlices: new EndpointSliceController(store, l).start(),
    loadBalancers: new LoadBalancerController(store, { ...l, ...(opts.lbPool ? { pool: opts.lbPool } : {}), ...(opts.lbPools ? { pools: opts.lbPools } : {}) }).start(),
  };
  const kubelets = new Map<string, Kubelet>();
  for (const n of opts.nodes) {
    kubelets.set(
      n.name,
      new Kubelet(store, n.name, opts.runtimeFor(n.name), { ...l, ...(opts.probeIntervalMs ? { probeIntervalMs: opts.probeIntervalMs } : {}) }).start(),
    );
  }
  const apiServer = createApiServer(store, {
    ...(opts.apiServerOptions ?? {}),
    ...(opts.extraRoutes ? { extraRoutes: opts.extraRoutes } : {}),
    ...l,
  });
  let stopping: Promise<void> | undefined;
  return {
    store,
    apiServer,
    controllers,
    kubelets,
    stop() {
      stopping ??= (async () => {
        await Promise.all([...kubelets.values()].map((k) => k.stop()));
        for (const c of Object.values(controllers)) c.stop();
        await apiServer.close();
      })();
      return stopping;
    },
  };
}
