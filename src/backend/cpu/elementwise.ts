import type { Tensor } from '../../tensor.js';
import { expectShape, f32, wrapF32 } from './storage.js';

/** log(1 + e^x) with torch's threshold: above 20 the result is x to f32 precision. */
export function softplusScalar(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

export function siluScalar(x: number): number {
  return x / (1 + Math.exp(-x));
}

function binary(a: Tensor, b: Tensor, what: string, f: (x: number, y: number) => number): Tensor {
  expectShape(what, b, a.shape);
  const x = f32(a);
  const y = f32(b);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i], y[i]);
  return wrapF32(a.backend, a.shape, out);
}

function unary(a: Tensor, f: (x: number) => number): Tensor {
  const x = f32(a);
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return wrapF32(a.backend, a.shape, out);
}

export const add = (a: Tensor, b: Tensor): Tensor => binary(a, b, 'add', (x, y) => x + y);
export const mul = (a: Tensor, b: Tensor): Tensor => binary(a, b, 'mul', (x, y) => x * y);
export const silu = (a: Tensor): Tensor => unary(a, siluScalar);
export const softplus = (a: Tensor): Tensor => unary(a, softplusScalar);
export const exp = (a: Tensor): Tensor => unary(a, Math.exp);
