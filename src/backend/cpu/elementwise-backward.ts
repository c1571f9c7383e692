/** Backward of the pointwise activations; add, mul and exp need only mul (see ops/elementwise.ts). */
import type { Tensor } from '../../tensor.js';
import { normalCdf } from './elementwise.js';
import { f32, wrapF32 } from './storage.js';

/** silu'(x) = s (1 + x (1 - s)), s = sigmoid(x) */
export function siluGrad(x: number): number {
  const s = 1 / (1 + Math.exp(-x));
  return s * (1 + x * (1 - s));
}

/** softplus'(x) = sigmoid(x), and 1 above the threshold 20 where the forward is the identity */
export function softplusGrad(x: number): number {
  return x > 20 ? 1 : 1 / (1 + Math.exp(-x));
}

// Two plain loops rather than one loop calling a passed-in derivative: a call per element
// through a shared helper is not inlined once it has seen both functions.
export function siluBackward(x: Tensor, dy: Tensor): Tensor {
  const xs = f32(x), g = f32(dy);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = g[i] * siluGrad(xs[i]);
  return wrapF32(x.backend, x.shape, out);
}

export function softplusBackward(x: Tensor, dy: Tensor): Tensor {
  const xs = f32(x), g = f32(dy);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = g[i] * softplusGrad(xs[i]);
  return wrapF32(x.backend, x.shape, out);
}

export function reluBackward(x: Tensor, dy: Tensor): Tensor {
  const xs = f32(x), g = f32(dy);
  const out = new Float32Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[i] > 0 ? g[i] : 0;
  return wrapF32(x.backend, x.shape, out);
}

/** gelu'(x) = Φ(x) + x φ(x) */
export function geluBackward(x: Tensor, dy: Tensor): Tensor {
  const xs = f32(x), g = f32(dy);
  const out = new Float32Array(xs.length);
  const c = 1 / Math.sqrt(2 * Math.PI);
  for (let i = 0; i < xs.length; i++) out[i] = g[i] * (normalCdf(xs[i]) + xs[i] * c * Math.exp(-0.5 * xs[i] * xs[i]));
  return wrapF32(x.backend, x.shape, out);
}
