// The eBPF back end's part of the warm-up after a start (sync/warm-change-path.ts
// says why): scratch changes go through a map builder of their own and are
// planned and encoded as a sync would send them, against a picture of their
// own. Nothing is sent to the loader; the agent's builder, ids and
// programmed picture are not touched.
import type { DesiredServicePort } from '../desired-state.js';
import type { ServiceKey } from '../../model/service-key.js';
import { DesiredMapsBuilder, type MapBuilderOptions } from './desired-maps.js';
import { checkedRequest } from './loader-client.js';
import { RequestType } from './loader-protocol.js';
import { emptyMapsContent, type MapsContent } from './maps-content.js';
import { SyncRun, type LoaderOp } from './sync-plan.js';

/** Encodes the request a sync would send (and drops it). */
async function encodeOnly(ops: LoaderOp[]): Promise<void> {
  RequestType.encodeDelimited(checkedRequest({ seq: 0, apply: { ops } })).finish();
}

async function plan(programmed: MapsContent, builder: DesiredMapsBuilder, keys: Iterable<ServiceKey>, deletable: MapsContent, desired: MapsContent): Promise<number> {
  const run = new SyncRun(programmed, { send: encodeOnly, maxBatchBytes: 4 << 20 });
  await run.run(builder.wants(keys), deletable, desired);
  return run.landed;
}

/**
 * The first change as a full sync, the others as partial ones. Returns the
 * ops planned (0 would mean the changes exercised nothing).
 */
export async function warmUpChangePath(opts: MapBuilderOptions, changes: ReadonlyArray<ReadonlyMap<ServiceKey, DesiredServicePort[]>>): Promise<number> {
  if (changes.length === 0) return 0;
  const builder = new DesiredMapsBuilder(opts);
  const programmed = emptyMapsContent();
  const want = builder.build([...changes[0]!.values()].flat());
  let ops = await plan(programmed, builder, builder.serviceKeys(), programmed, want);
  for (const changed of changes.slice(1)) {
    const { before, after } = builder.update(changed);
    ops += await plan(programmed, builder, changed.keys(), before, after);
  }
  return ops;
}
