// Typed reads of the pinned maps. Dumps and lookups through the loader give
// bytes; decodeEntries and lookupEntries give them back as the same typed
// values the writes are built from (SvcValue, BackendValue, ...), through the
// codecs of map-values.ts. Which codec reads which map's key and value is
// checked against the maps of the BPF object's BTF (SY_MAPS) by
// test/unit/map-layout.test.ts.
import type { MapEntry } from './loader-client.js';
import {
  eventsBudgetCodec, fibEntryCodec, fibKeyCodec,
  affinityKeyCodec, affinityValueCodec, attachKeyCodec, attachValueCodec, backendCodec, ctKeyCodec, ctValueCodec, decodeConfig,
  decodeCounterValue, decodeDevMac, decodeSourceRangeKey, decodeSvcStatsValue, decodeU32, decodeU32Array, encodeU32, fragKeyCodec,
  fragValueCodec, rateBucketCodec, revNatCodec, sockRevNatKeyCodec, sockRevNatValueCodec, svcKeyCodec, svcStatsKeyCodec, svcValueCodec,
  affinityKey6Codec, backend6Codec, ctKey6Codec, ctValue6Codec, decodeConfig6, decodeSourceRangeKey6, fragKey6Codec, revNat6Codec,
  sockRevNatKey6Codec, sockRevNatValue6Codec, svcKey6Codec, monitorCodec,
} from './map-values.js';

/** How one side (key or value) of a map is read; cType: the C type the map declares for it. */
export interface Side<T> { cType: string; decode(b: Uint8Array): T; encode?(v: T): Uint8Array }

function struct<T>(c: { struct: string; decode(b: Uint8Array): T; encode(v: Partial<T>): Uint8Array }): Side<T> {
  return { cType: `struct ${c.struct}`, decode: c.decode, encode: c.encode };
}

const u32: Side<number> = { cType: '__u32', decode: decodeU32, encode: encodeU32 };

/** Every map's key and value codec. */
export const MAP_CODECS = {
  sy_services: { key: struct(svcKeyCodec), value: struct(svcValueCodec) },
  sy_backends: { key: u32, value: struct(backendCodec) },
  sy_revnat: { key: u32, value: struct(revNatCodec) },
  // The loader reads a table as M little-endian u32 (it unpacks the inner map's struct sy_maglev_slots).
  sy_maglev: { key: u32, value: { cType: 'sy_maglev_slots table', decode: decodeU32Array } as Side<Uint32Array> },
  sy_conntrack: { key: struct(ctKeyCodec), value: struct(ctValueCodec) },
  sy_affinity: { key: struct(affinityKeyCodec), value: struct(affinityValueCodec) },
  // Per-CPU maps: the loader sums the CPUs' copies.
  sy_counters: { key: u32, value: { cType: '__u64', decode: decodeCounterValue } as Side<bigint> },
  sy_svc_stats: { key: struct(svcStatsKeyCodec), value: { cType: 'struct sy_svc_stats', decode: decodeSvcStatsValue } as Side<ReturnType<typeof decodeSvcStatsValue>> },
  sy_source_ranges: {
    key: { cType: 'struct sy_source_range_key', decode: decodeSourceRangeKey } as Side<ReturnType<typeof decodeSourceRangeKey>>,
    value: { cType: '__u8', decode: (b: Uint8Array) => b[0] ?? 0 } as Side<number>,
  },
  sy_sock_revnat: { key: struct(sockRevNatKeyCodec), value: struct(sockRevNatValueCodec) },
  sy_frag: { key: struct(fragKeyCodec), value: struct(fragValueCodec) },
  sy_dev_mac: { key: u32, value: { cType: 'struct sy_dev_mac', decode: decodeDevMac } as Side<ReturnType<typeof decodeDevMac>> },
  sy_fib_cache: { key: struct(fibKeyCodec), value: struct(fibEntryCodec) },
  sy_fib_gen: { key: u32, value: u32 },
  // Per-CPU scratch of the datapath (a miss's key and entry): nothing to read, shown as bytes.
  sy_fib_scratch: { key: u32, value: { cType: 'struct sy_fib_scratch', decode: (b: Uint8Array) => b } as Side<Uint8Array> },
  sy_attach: { key: struct(attachKeyCodec), value: struct(attachValueCodec) },
  sy_config: { key: u32, value: { cType: 'struct sy_config', decode: decodeConfig } as Side<ReturnType<typeof decodeConfig>> },
  sy_icmp_rate: { key: u32, value: struct(rateBucketCodec) },
  // IPv6 twins (sy_structs.h, "IPv6 twins").
  sy_services6: { key: struct(svcKey6Codec), value: struct(svcValueCodec) },
  sy_backends6: { key: u32, value: struct(backend6Codec) },
  sy_revnat6: { key: u32, value: struct(revNat6Codec) },
  sy_conntrack6: { key: struct(ctKey6Codec), value: struct(ctValue6Codec) },
  sy_affinity6: { key: struct(affinityKey6Codec), value: struct(affinityValueCodec) },
  sy_frag6: { key: struct(fragKey6Codec), value: struct(fragValueCodec) },
  sy_source_ranges6: {
    key: { cType: 'struct sy_source_range_key6', decode: decodeSourceRangeKey6 } as Side<ReturnType<typeof decodeSourceRangeKey6>>,
    value: { cType: '__u8', decode: (b: Uint8Array) => b[0] ?? 0 } as Side<number>,
  },
  sy_sock_revnat6: { key: struct(sockRevNatKey6Codec), value: struct(sockRevNatValue6Codec) },
  sy_config6: { key: u32, value: { cType: 'struct sy_config6', decode: decodeConfig6 } as Side<ReturnType<typeof decodeConfig6>> },
  // The datapath monitor's settings. (Its ring buffer, sy_events, has no keys:
  // its records are streamed by the loader, datapath-event.ts decodes them.)
  sy_monitor: { key: u32, value: struct(monitorCodec) },
  // Per-CPU: the loader returns one CPU's copy after another; shown as the first.
  sy_events_budget: { key: u32, value: struct(eventsBudgetCodec) },
} as const;

export type MapName = keyof typeof MAP_CODECS;
export type KeyOf<M extends MapName> = ReturnType<(typeof MAP_CODECS)[M]['key']['decode']>;
export type ValueOf<M extends MapName> = ReturnType<(typeof MAP_CODECS)[M]['value']['decode']>;
export interface TypedEntry<M extends MapName> { key: KeyOf<M>; value: ValueOf<M> }

export function isMapName(map: string): map is MapName {
  return Object.hasOwn(MAP_CODECS, map);
}

/** Dumped entries of `map`, decoded. */
export function decodeEntries<M extends MapName>(map: M, entries: readonly MapEntry[]): Array<TypedEntry<M>> {
  const c = MAP_CODECS[map] as unknown as { key: Side<KeyOf<M>>; value: Side<ValueOf<M>> };
  return entries.map((e) => ({ key: c.key.decode(e.key), value: c.value.decode(e.value) }));
}

/** The key bytes of `map` for a typed key (lookups). */
export function encodeKey<M extends MapName>(map: M, key: KeyOf<M>): Uint8Array {
  const side = MAP_CODECS[map].key as unknown as Side<KeyOf<M>>;
  if (!side.encode) throw new Error(`${map}: keys are read, not written, by the control plane`);
  return side.encode(key);
}

/** Single keys of `map` by lookup: the decoded value, or undefined when absent. */
export async function lookupEntries<M extends MapName>(
  loader: { lookup(map: string, keys: Uint8Array[]): Promise<Array<Uint8Array | undefined>> }, map: M, keys: ReadonlyArray<KeyOf<M>>,
): Promise<Array<ValueOf<M> | undefined>> {
  const side = MAP_CODECS[map].value as unknown as Side<ValueOf<M>>;
  const values = await loader.lookup(map, keys.map((k) => encodeKey(map, k)));
  return values.map((v) => (v ? side.decode(v) : undefined));
}
