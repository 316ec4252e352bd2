// The lab's controllers: public surface.
export { WorkQueue } from './workqueue.js';
export { Scheduler, type SchedulerOptions } from './scheduler.js';
export { Kubelet, startKubelet, podSpecForRuntime, type KubeletOptions } from './kubelet.js';
export { ReplicaSetController, ReplicationControllerController, type ReplicaControllerOptions } from './replicaset.js';
export { DeploymentController, podTemplateHash, POD_TEMPLATE_HASH, type DeploymentControllerOptions } from './deployment.js';
export {
  EndpointSliceController,
  resolveTargetPort,
  LABEL_SERVICE_NAME,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  LABEL_HEADLESS,
  LABEL_ZONE,
  type EndpointSliceControllerOptions,
} from './endpointslice.js';
export { LoadBalancerController, DEFAULT_LB_POOL, type LoadBalancerControllerOptions } from './loadbalancer.js';
export { GarbageCollector } from './garbage-collector.js';
export { NamespaceController } from './namespace.js';
export { registerNodes, nodeObject, type LabNodeSpec } from './nodes.js';
