// struct sy_event (the sy_events ring buffer, bpf/include/sy_events.h) as
// the agent shows it: kind, reason (the SY_CNT_* name the datapath counted),
// the packet's tuple as received and after the translation, ids. Names of
// Services and backends are added by the monitor (monitor/), which knows
// the ids.
import { formatIP } from '../../util/ip.js';
import { counterName, hookName, protoName } from './map-values.js';
import { structCodec } from './struct-codec.js';
import { SY_ENUMS, SY_STRUCTS } from './sy-layout.generated.js';

export const eventCodec = structCodec('sy_event', {
  tsNs: ['ts_ns', 'u64'], type: ['type', 'u8'], family: ['family', 'u8'], proto: ['proto', 'u8'], hook: ['hook', 'u8'],
  reason: ['reason', 'u16'], flags: ['flags', 'u8'], frontendId: ['frontend_id', 'u32'], backendId: ['backend_id', 'u32'],
  sport: ['sport', 'be16'], dport: ['dport', 'be16'], natSport: ['nat_sport', 'be16'], natDport: ['nat_dport', 'be16'],
});

export type EventKind = 'drop' | 'reject' | 'trace' | 'ct';
export const EVENT_KINDS: readonly EventKind[] = ['drop', 'reject', 'trace', 'ct'];

const KIND_OF: Record<number, EventKind> = {
  [SY_ENUMS.sy_event_type.SY_EV_DROP]: 'drop',
  [SY_ENUMS.sy_event_type.SY_EV_REJECT]: 'reject',
  [SY_ENUMS.sy_event_type.SY_EV_TRACE]: 'trace',
  [SY_ENUMS.sy_event_type.SY_EV_CT_NEW]: 'ct',
};

export interface DatapathEvent {
  kind: EventKind;
  /** drop / reject: the SY_CNT_* counter name (e.g. drop_source_range, reject_tcp); '' otherwise. */
  reason: string;
  /** bpf_ktime_get_ns() of the event (CLOCK_MONOTONIC, ns). */
  monotonicNs: bigint;
  hook: string;
  family: 4 | 6;
  proto: string;
  src: string;
  sport: number;
  dst: string;
  dport: number;
  /** After the translation (trace, ct); as received otherwise. */
  natSrc: string;
  natSport: number;
  natDst: string;
  natDport: number;
  /** Frontend (rev-NAT) id; 0 when the datapath did not know it. */
  frontendId: number;
  backendId: number;
  reply: boolean;
  snat: boolean;
}

const F = SY_STRUCTS.sy_event.fields;

function addr(b: Uint8Array, off: number, family: number): string {
  return family === 6 ? formatIP(b.subarray(off, off + 16)) : `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/** One event; undefined when its size or type is not one this agent knows (a newer datapath). */
export function decodeEvent(b: Uint8Array): DatapathEvent | undefined {
  if (b.length !== eventCodec.size) return undefined;
  const e = eventCodec.decode(b);
  const kind = KIND_OF[e.type];
  if (!kind) return undefined;
  const family = e.family === 6 ? 6 : 4;
  return {
    kind,
    reason: kind === 'drop' || kind === 'reject' ? counterName(e.reason) : '',
    monotonicNs: e.tsNs, hook: hookName(e.hook), family, proto: protoName(e.proto),
    src: addr(b, F.saddr.offset, family), sport: e.sport, dst: addr(b, F.daddr.offset, family), dport: e.dport,
    natSrc: addr(b, F.nat_saddr.offset, family), natSport: e.natSport, natDst: addr(b, F.nat_daddr.offset, family), natDport: e.natDport,
    frontendId: e.frontendId, backendId: e.backendId,
    reply: (e.flags & SY_ENUMS.sy_event_flag.SY_EV_F_REPLY) !== 0,
    snat: (e.flags & SY_ENUMS.sy_event_flag.SY_EV_F_SNAT) !== 0,
  };
}
