// Key bytes of the maps the admin API looks up one key at a time (layouts in
// docs/maps.md), and lookups that tolerate a map the datapath lacks.
import { LoaderError } from '../dataplane/ebpf/loader-client.js';
import type { CtKey } from '../dataplane/ebpf/map-values.js';
import { ipv4ToBytes } from '../util/ipv4.js';
import type { LoaderView } from './source.js';

export function u32Key(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  return b;
}

/** sy_ct_key: saddr, daddr, sport (be), dport (be), proto, dir, 2 pad. */
export function ctKey(k: CtKey): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  b.set(ipv4ToBytes(k.saddr), 0);
  b.set(ipv4ToBytes(k.daddr), 4);
  v.setUint16(8, k.sport, false);
  v.setUint16(10, k.dport, false);
  b[12] = k.proto;
  b[13] = k.dir;
  return b;
}

/** sy_affinity_key: client address, group (u32). */
export function affinityKey(client: string, group: number): Uint8Array {
  const b = new Uint8Array(8);
  b.set(ipv4ToBytes(client), 0);
  new DataView(b.buffer).setUint32(4, group >>> 0, true);
  return b;
}

/** lookup, with every key not found when the datapath has no such map (an older build). */
export async function lookupOptional(loader: LoaderView, map: string, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> {
  if (keys.length === 0) return [];
  try {
    return await loader.lookup(map, keys);
  } catch (err) {
    if (err instanceof LoaderError && err.code === 'NOT_FOUND') return keys.map(() => undefined);
    throw err;
  }
}
