import type { Tensor } from '../src/tensor.js';
import { Mulberry32 } from '../src/rng.js';
import { CpuBackend } from '../src/backend/cpu/index.js';

export const cpu = new CpuBackend();

/** uniform [0, 1) numbers from a seed, so every test sees the same numbers */
export function rng(seed: number): () => number {
  const r = new Mulberry32(seed);
  return () => r.next();
}

/** uniform in [lo, hi) */
export function randn(rand: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rand();
  return out;
}

export function t(data: Float32Array, shape: number[]): Tensor {
  return cpu.upload(data, shape);
}

export function host(x: Tensor): Float32Array {
  return x.storage as Float32Array;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths ${a.length} and ${b.length} differ`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export const silu64 = (x: number): number => x / (1 + Math.exp(-x));
export const softplus64 = (x: number): number => (x > 20 ? x : Math.log(1 + Math.exp(x)));

/** Rows [lo, hi) along dim 1 of a [B, L, ...] array. */
export function sliceL(x: Float32Array, shape: number[], lo: number, hi: number): Float32Array {
  const [B, L] = shape;
  const R = x.length / (B * L);
  const out = new Float32Array(B * (hi - lo) * R);
  for (let b = 0; b < B; b++) out.set(x.subarray((b * L + lo) * R, (b * L + hi) * R), b * (hi - lo) * R);
  return out;
}

/** erf by its Taylor series in float64, for |x| <= 3 (terms below 1e-17 by n = 60) */
export function erf64(x: number): number {
  if (Math.abs(x) > 3) throw new RangeError(`erf64(${x}): |x| > 3`);
  let term = x, sum = x;
  for (let n = 1; n < 60; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/** the erf GELU in float64, |x| <= 4.2 */
export function gelu64(x: number): number {
  return 0.5 * x * (1 + erf64(x / Math.SQRT2));
}
