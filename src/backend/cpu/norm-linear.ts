/**
 * Backend.normLinear on the CPU, composed of the reference kernels it fuses (group RMSNorm,
 * linear, add), so the fused GPU kernel is held to exactly those semantics.
 */
import type { RowNorm } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { add } from './elementwise.js';
import { linear } from './matmul.js';
import { f32, rowsOf, wrapF32 } from './storage.js';

/** x [..., K] -> x / rms over each group of `groupSize` channels * weight */
function groupRmsNorm(x: Tensor, { weight, eps, groupSize }: RowNorm): Tensor {
  const { rows, cols } = rowsOf(x);
  const xs = f32(x);
  const w = f32(weight);
  const out = new Float32Array(xs.length);
  for (let r = 0; r < rows; r++) {
    for (let c0 = r * cols; c0 < (r + 1) * cols; c0 += groupSize) {
      let ss = 0;
      for (let c = 0; c < groupSize; c++) ss += xs[c0 + c] * xs[c0 + c];
      const inv = 1 / Math.sqrt(ss / groupSize + eps);
      const wOff = c0 - r * cols;
      for (let c = 0; c < groupSize; c++) out[c0 + c] = xs[c0 + c] * inv * w[wOff + c];
    }
  }
  return wrapF32(x.backend, x.shape, out);
}

/** residual + linear(norm(x), w, bias) */
export function normLinear(x: Tensor, norm: RowNorm | undefined, w: Tensor, bias?: Tensor, residual?: Tensor): Tensor {
  const y = linear(norm ? groupRmsNorm(x, norm) : x, w, bias);
  return residual ? add(y, residual) : y;
}
