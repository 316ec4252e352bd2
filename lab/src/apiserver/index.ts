// The lab's embedded Kubernetes API server: public surface.
export { Store, type StoreOptions, type WatchEvent, type WatchOptions, type WatchHandle, type ListOptions, type DeleteOptions, type DeleteResult } from './store.js';
export { createApiServer, type ApiServer, type ApiServerOptions, type ApiServerStats, type ListenAddress } from './server.js';
export { ApiError, type Status } from './errors.js';
export { RESOURCES, type ResourceName, type ResourceTypes, type ResourceInfo } from './resources.js';
export { ReadinessOverrides, type PodIdentity } from './readiness.js';
export type { ExtraRoutes } from './http-handler.js';
export type { Logger } from './logger.js';
export * from './types.js';
