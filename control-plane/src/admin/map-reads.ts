// The admin API's reads of the maps, typed: whole maps (dumps) and single
// keys (lookups) come back decoded by the map codecs (map-codecs.ts), the
// keys encoded by them. The optional forms read a map the running datapath
// lacks (an older build) as empty / every key absent.
import { LoaderError } from '../dataplane/ebpf/loader-client.js';
import { decodeEntries, lookupEntries, type KeyOf, type MapName, type TypedEntry, type ValueOf } from '../dataplane/ebpf/map-codecs.js';
import type { LoaderView } from './source.js';

function notFound(err: unknown): boolean {
  return err instanceof LoaderError && err.code === 'NOT_FOUND';
}

/** Every entry of a map, decoded. */
export async function dumpTyped<M extends MapName>(loader: LoaderView, map: M): Promise<Array<TypedEntry<M>>> {
  return decodeEntries(map, (await loader.dump(map)).entries ?? []);
}

/** dumpTyped, empty when the loader does not know the map. */
export async function dumpOptional<M extends MapName>(loader: LoaderView, map: M): Promise<Array<TypedEntry<M>>> {
  try {
    return await dumpTyped(loader, map);
  } catch (err) {
    if (notFound(err)) return [];
    throw err;
  }
}

/** Single keys: the decoded value, or undefined when the key is absent. */
export function lookupTyped<M extends MapName>(loader: LoaderView, map: M, keys: ReadonlyArray<KeyOf<M>>): Promise<Array<ValueOf<M> | undefined>> {
  if (keys.length === 0) return Promise.resolve([]);
  return lookupEntries(loader, map, keys);
}

/** lookupTyped, with every key absent when the datapath has no such map. */
export async function lookupOptional<M extends MapName>(loader: LoaderView, map: M, keys: ReadonlyArray<KeyOf<M>>): Promise<Array<ValueOf<M> | undefined>> {
  try {
    return await lookupTyped(loader, map, keys);
  } catch (err) {
    if (notFound(err)) return keys.map(() => undefined);
    throw err;
  }
}
