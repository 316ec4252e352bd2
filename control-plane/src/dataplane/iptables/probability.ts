// kube-proxy's statistic-match probability: fmt.Sprintf("%0.10f", 1.0/float64(n)).
// Go rounds the exact binary value of the double half-to-even; JavaScript's
// toFixed rounds ties up, which differs (e.g. 1/2048). This reproduces Go.

const SCALE = 10n ** 10n;

/** Formats a finite non-negative double like Go's "%0.10f". */
export function formatFixed10(x: number): string {
  if (!Number.isFinite(x) || x < 0) throw new Error(`cannot format ${x}`);
  // Exact value of the double: mantissa * 2^exponent.
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, x);
  const hi = buf.getUint32(0);
  const lo = buf.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  let q: bigint;
  if (exp >= 0) q = (mant << BigInt(exp)) * SCALE;
  else {
    const den = 1n << BigInt(-exp);
    const num = mant * SCALE;
    q = num / den;
    const rem = num % den;
    const twice = rem * 2n;
    if (twice > den || (twice === den && q % 2n === 1n)) q += 1n;
  }
  const s = q.toString().padStart(11, '0');
  return `${s.slice(0, -10)}.${s.slice(-10)}`;
}

const cache: string[] = [];

/** probability(n) = 1/n with ten decimals, as kube-proxy writes it. */
export function probability(n: number): string {
  if (!Number.isInteger(n) || n < 1) throw new Error(`probability of ${n}`);
  return (cache[n] ??= formatFixed10(1 / n));
}
