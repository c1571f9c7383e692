import type { Tensor } from '../../tensor.js';
import { f32, wrapF32 } from './storage.js';

/** log(1 + e^x) with torch's threshold: above 20 the result is x to f32 precision. */
export function softplusScalar(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

export function siluScalar(x: number): number {
  return x / (1 + Math.exp(-x));
}

/**
 * Φ(x), the standard normal CDF, as 1 - erfc(x/√2)/2 with erfc from Abramowitz & Stegun 7.1.26
 * (error below 1.5e-7, under f32's resolution of Φ): the tail keeps its own small values.
 */
export function normalCdf(x: number): number {
  const z = Math.abs(x) * Math.SQRT1_2;
  const t = 1 / (1 + 0.3275911 * z);
  const erfc = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.exp(-z * z);
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

/**
 * One loop per op, not one loop calling a function argument: V8 optimizes a shared loop for the
 * first function it sees (A = -exp(A_log) is a mul at load time) and deoptimizes on the next, and
 * the residual add of every decode step then ran several times slower.
 */
function operands(a: Tensor, b: Tensor): [Float32Array, Float32Array, Float32Array] {
  return [f32(a), f32(b), new Float32Array(a.size)];
}

export function add(a: Tensor, b: Tensor): Tensor {
  const [x, y, out] = operands(a, b);
  for (let i = 0; i < out.length; i++) out[i] = x[i] + y[i];
  return wrapF32(a.backend, a.shape, out);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const [x, y, out] = operands(a, b);
  for (let i = 0; i < out.length; i++) out[i] = x[i] * y[i];
  return wrapF32(a.backend, a.shape, out);
}

export function silu(a: Tensor): Tensor {
  const x = f32(a), out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = siluScalar(x[i]);
  return wrapF32(a.backend, a.shape, out);
}

export function relu(a: Tensor): Tensor {
  const x = f32(a), out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] > 0 ? x[i] : 0;
  return wrapF32(a.backend, a.shape, out);
}

export function gelu(a: Tensor): Tensor {
  const x = f32(a), out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * normalCdf(x[i]);
  return wrapF32(a.backend, a.shape, out);
}

export function softplus(a: Tensor): Tensor {
  const x = f32(a), out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = softplusScalar(x[i]);
  return wrapF32(a.backend, a.shape, out);
}

export function exp(a: Tensor): Tensor {
  const x = f32(a), out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.exp(x[i]);
  return wrapF32(a.backend, a.shape, out);
}
