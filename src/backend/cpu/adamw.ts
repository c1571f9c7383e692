import type { AdamWStep } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { f32 } from './storage.js';

/** AdamW in place on param, m, v (see AdamWStep); the arithmetic in float64, stored as f32. */
export function adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, o: AdamWStep): void {
  const p = f32(param), g = f32(grad), mm = f32(m), vv = f32(v);
  const scale = o.gradScale ?? 1;
  const decay = 1 - o.lr * o.weightDecay;
  const stepSize = o.lr / (1 - o.beta1 ** o.step);
  const sqrtBc2 = Math.sqrt(1 - o.beta2 ** o.step);
  const b1 = o.beta1, b2 = o.beta2, eps = o.eps;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] * scale;
    const mi = b1 * mm[i] + (1 - b1) * gi;
    const vi = b2 * vv[i] + (1 - b2) * gi * gi;
    mm[i] = mi;
    vv[i] = vi;
    p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + eps);
  }
}
