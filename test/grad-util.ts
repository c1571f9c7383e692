/**
 * Finite-difference checks of an op's backward: our f32 analytic gradient of Σ_k r_k · out_k
 * (r_k fixed random weights) against central differences of a float64 reference forward.
 */
import assert from 'node:assert/strict';
import { valueAndGrad } from '../src/autograd/index.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor.js';
import { cpu, host, randn, rng } from './cpu-util.js';

export interface Input { data: Float32Array; shape: number[] }

export interface GradCase {
  inputs: Record<string, Input>;
  /** the op under test on f32 tensors (outputs may be any shape) */
  ours(x: Record<string, Tensor>): Tensor[];
  /** the float64 reference: same outputs, flattened */
  ref(x: Record<string, Float64Array>): Float64Array[];
}

/** A random input; values in [lo, hi). */
export function input(rand: () => number, shape: number[], lo = -1, hi = 1): Input {
  return { data: randn(rand, shape.reduce((a, b) => a * b, 1), lo, hi), shape };
}

/** Σ y ⊙ r as a [1, 1] tensor, through linear (so its backward is exercised too). */
function dot(y: Tensor, r: Float32Array): Tensor {
  return ops.linear(y.reshape([1, y.size]), cpu.upload(r, [1, y.size]));
}

/**
 * Returns the relative error (max |analytic - numeric| / max |numeric|) of each input's gradient
 * and asserts each is at most `tol`.
 */
export function checkGrad(c: GradCase, tol = 1e-3, seed = 99, h = 1e-4): Record<string, number> {
  const rand = rng(seed);
  const names = Object.keys(c.inputs);
  const base: Record<string, Float64Array> = {};
  for (const n of names) base[n] = Float64Array.from(c.inputs[n].data);
  const sizes = c.ref(base).map((o) => o.length);
  const weights = sizes.map((n) => randn(rand, n));
  const objective = (x: Record<string, Float64Array>): number =>
    c.ref(x).reduce((acc, o, k) => acc + o.reduce((s, v, i) => s + v * weights[k][i], 0), 0);

  const params = new Map(names.map((n) => [n, cpu.upload(c.inputs[n].data, c.inputs[n].shape)]));
  const { grads } = valueAndGrad(() => {
    const outs = c.ours(Object.fromEntries(params));
    assert.deepEqual(outs.map((o) => o.size), sizes, 'outputs differ in size from the reference');
    return outs.map((o, k) => dot(o, weights[k])).reduce((a, b) => ops.add(a, b));
  }, params);

  const errors: Record<string, number> = {};
  for (const n of names) {
    const analytic = host(grads.get(n)!);
    const x = base[n];
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      x[i] = v + h;
      const up = objective(base);
      x[i] = v - h;
      const down = objective(base);
      x[i] = v;
      const numeric = (up - down) / (2 * h);
      maxDiff = Math.max(maxDiff, Math.abs(numeric - analytic[i]));
      maxRef = Math.max(maxRef, Math.abs(numeric));
    }
    assert.ok(maxRef > 0, `${n}: the reference gradient is zero everywhere; the check would prove nothing`);
    errors[n] = maxDiff / maxRef;
  }
  for (const n of names) assert.ok(errors[n] <= tol, `${n}: relative error ${errors[n]} > ${tol}`);
  return errors;
}

export function formatErrors(e: Record<string, number>): string {
  return Object.entries(e).map(([n, v]) => `${n} ${v.toExponential(1)}`).join(', ');
}
