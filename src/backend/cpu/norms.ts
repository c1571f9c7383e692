import type { Tensor } from '../../tensor.js';
import { siluScalar } from './elementwise.js';
import { f32, rowsOf, wrapF32 } from './storage.js';

/** x [..., C], weight [C] -> x / sqrt(mean(x^2) + eps) * weight */
export function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  const { rows, cols } = rowsOf(x);
  const src = f32(x);
  const w = f32(weight);
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += src[o + c] * src[o + c];
    const inv = 1 / Math.sqrt(ss / cols + eps);
    for (let c = 0; c < cols; c++) out[o + c] = src[o + c] * inv * w[c];
  }
  return wrapF32(x.backend, x.shape, out);
}

/**
 * Mamba-2's gated RMSNorm (mamba_ssm RMSNormGated): each group of `groupSize` channels is
 * normalized on its own. normBeforeGate: norm(x) * silu(z); else norm(x * silu(z)).
 * x, z [..., C], weight [C]
 */
export function gatedRmsNorm(
  x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean,
): Tensor {
  const { rows, cols } = rowsOf(x);
  const xs = f32(x);
  const zs = f32(z);
  const w = f32(weight);
  const out = new Float32Array(xs.length);
  const g = new Float64Array(groupSize);
  for (let r = 0; r < rows; r++) {
    for (let c0 = r * cols; c0 < (r + 1) * cols; c0 += groupSize) {
      let ss = 0;
      for (let c = 0; c < groupSize; c++) {
        const v = normBeforeGate ? xs[c0 + c] : xs[c0 + c] * siluScalar(zs[c0 + c]);
        g[c] = v;
        ss += v * v;
      }
      const inv = 1 / Math.sqrt(ss / groupSize + eps);
      const wOff = c0 - r * cols;
      for (let c = 0; c < groupSize; c++) {
        const n = g[c] * inv * w[wOff + c];
        out[c0 + c] = normBeforeGate ? n * siluScalar(zs[c0 + c]) : n;
      }
    }
  }
  return wrapF32(x.backend, x.shape, out);
}

/** Along the last dim, shifted by the row max so exp never overflows. */
export function softmax(x: Tensor): Tensor {
  return softmaxRows(x, false);
}

export function logSoftmax(x: Tensor): Tensor {
  return softmaxRows(x, true);
}

function softmaxRows(x: Tensor, log: boolean): Tensor {
  const { rows, cols } = rowsOf(x);
  const src = f32(x);
  const out = new Float32Array(src.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let m = -Infinity;
    for (let c = 0; c < cols; c++) if (src[o + c] > m) m = src[o + c];
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(src[o + c] - m);
    if (log) {
      const lse = m + Math.log(s);
      for (let c = 0; c < cols; c++) out[o + c] = src[o + c] - lse;
    } else {
      for (let c = 0; c < cols; c++) out[o + c] = Math.exp(src[o + c] - m) / s;
    }
  }
  return wrapF32(x.backend, x.shape, out);
}
