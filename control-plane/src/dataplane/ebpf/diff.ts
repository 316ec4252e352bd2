// Desired vs programmed map content -> loader ops, in the order of
// sync-plan.ts (frees first, then Cilium's write order per Service, then the
// deletes that had to wait). Kept for callers that diff two pictures.
export { diffMaps, type DiffStats, type LoaderOp } from './sync-plan.js';
