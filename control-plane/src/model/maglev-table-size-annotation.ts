// switchyard.io/maglev-table-size: a Service pins the size of its Maglev
// tables, so that no backend count crosses a size step (a step changes M and
// with it the slot of nearly every new flow; for LoadBalancer and ExternalIP
// traffic spread over nodes by ECMP that breaks cross-node consistency just
// when the Service scales). The value must be one of the allowed primes and
// lie within the agent's floor and ceiling; anything else is refused with the
// reason, and the Service keeps the default sizing.
import { MAGLEV_PRIMES, type MaglevSizing } from '../dataplane/maglev.js';

export const MAGLEV_TABLE_SIZE_ANNOTATION = 'switchyard.io/maglev-table-size';

export interface TableSizeAnnotation {
  /** The annotation's value as written. */
  value: string;
  /** The pinned table size, when the value was accepted. */
  pinned?: number;
  /** Why the value was refused (the Service then keeps the default sizing). */
  refused?: string;
}

/** Reads the annotation; undefined when the Service does not carry it. */
export function parseTableSizeAnnotation(annotations: Record<string, string> | undefined, sizing?: MaglevSizing): TableSizeAnnotation | undefined {
  const value = annotations?.[MAGLEV_TABLE_SIZE_ANNOTATION];
  if (value === undefined) return undefined;
  const primes: readonly number[] = MAGLEV_PRIMES;
  const refuse = (why: string): TableSizeAnnotation => ({
    value, refused: `annotation ${MAGLEV_TABLE_SIZE_ANNOTATION}=${JSON.stringify(value)} refused: ${why}; using the default sizing`,
  });
  const trimmed = value.trim();
  if (!/^[0-9]+$/.test(trimmed)) return refuse(`not a number (allowed: ${primes.join(', ')})`);
  const size = Number(trimmed);
  if (!primes.includes(size)) return refuse(`${size} is not one of the allowed primes ${primes.join(', ')}`);
  if (sizing && size < sizing.floor) return refuse(`${size} is below the agent's table floor ${sizing.floor}`);
  if (sizing && size > sizing.ceiling) return refuse(`${size} is above the agent's table ceiling ${sizing.ceiling}`);
  return { value, pinned: size };
}
