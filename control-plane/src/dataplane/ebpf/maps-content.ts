// The content of the service maps, as the datapath holds it (programmed) or
// as a sync wants it (desired). Diffing two of these gives the loader ops.
import type { BackendValue, RevNatValue, SvcKey, SvcValue } from './map-values.js';

export interface MapsContent {
  services: Map<string, { key: SvcKey; value: SvcValue }>;
  backends: Map<number, BackendValue>;
  revnat: Map<number, RevNatValue>;
  maglev: Map<number, Uint32Array>;
  /** loadBalancerSourceRanges per frontend, keyed "frontendId/addr/prefixLen". */
  sourceRanges: Map<string, SourceRange>;
}

export interface SourceRange { frontendId: number; addr: string; prefixLen: number }

export function emptyMapsContent(): MapsContent {
  return { services: new Map(), backends: new Map(), revnat: new Map(), maglev: new Map(), sourceRanges: new Map() };
}

export function sameSvcValue(a: SvcValue | undefined, b: SvcValue): boolean {
  return !!a && a.id === b.id && a.group === b.group && a.count === b.count && a.flags === b.flags
    && a.affinityTimeout === b.affinityTimeout && a.tableSize === b.tableSize;
}

export function sameBackend(a: BackendValue | undefined, b: BackendValue): boolean {
  return !!a && a.addr === b.addr && a.port === b.port && a.proto === b.proto && a.state === b.state
    && a.flags === b.flags && a.zone === b.zone;
}

export function sameRevNat(a: RevNatValue | undefined, b: RevNatValue): boolean {
  return !!a && a.addr === b.addr && a.port === b.port;
}

export function sameTable(a: Uint32Array | undefined, b: Uint32Array): boolean {
  if (a === b) return true;
  if (!a || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
