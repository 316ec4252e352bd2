/** A duration in ms at 0.01 ms, for logs: a one-Service sync takes well under a millisecond. */
export function ms2(ms: number): number {
  return Math.round(ms * 100) / 100;
}
