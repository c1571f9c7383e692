/**
 * Backward of the normalizations and softmax (norms.ts). With n = v / rms(v) the normalized
 * group and g the gradient reaching n, the gradient of v is (g - n mean(g n)) / rms(v).
 */
import type { Tensor } from '../../tensor.js';
import { f32, rowsOf, scratchF64, wrapF32 } from './storage.js';

/** x, dy [..., C], weight [C] -> dx [..., C], dweight [C] */
export function rmsNormBackward(x: Tensor, weight: Tensor, eps: number, dy: Tensor): { dx: Tensor; dweight: Tensor } {
  const { rows, cols } = rowsOf(x);
  const xs = f32(x), w = f32(weight), g = f32(dy);
  const dx = new Float32Array(xs.length);
  const dw = scratchF64('rmsNorm.dw', cols).fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let c = 0; c < cols; c++) ss += xs[o + c] * xs[o + c];
    const inv = 1 / Math.sqrt(ss / cols + eps);
    let dot = 0;
    for (let c = 0; c < cols; c++) {
      const n = xs[o + c] * inv;
      dw[c] += g[o + c] * n;
      dot += g[o + c] * w[c] * n;
    }
    const mean = dot / cols;
    for (let c = 0; c < cols; c++) dx[o + c] = inv * (g[o + c] * w[c] - xs[o + c] * inv * mean);
  }
  return { dx: wrapF32(x.backend, x.shape, dx), dweight: wrapF32(x.backend, [cols], Float32Array.from(dw.subarray(0, cols))) };
}

/**
 * Grouped gated RMSNorm backward. normBeforeGate: y = n w silu(z) with n = norm(x);
 * otherwise y = n w with n = norm(v), v = x silu(z).  x, z, dy [..., C], weight [C]
 */
export function gatedRmsNormBackward(
  x: Tensor, z: Tensor, weight: Tensor, eps: number, groupSize: number, normBeforeGate: boolean, dy: Tensor,
): { dx: Tensor; dz: Tensor; dweight: Tensor } {
  const { rows, cols } = rowsOf(x);
  const xs = f32(x), zs = f32(z), w = f32(weight), g = f32(dy);
  const dx = new Float32Array(xs.length);
  const dz = new Float32Array(xs.length);
  const dw = scratchF64('gatedRmsNorm.dw', cols).fill(0, 0, cols);
  const v = scratchF64('gatedRmsNorm.v', groupSize);   // the normalized input of one group
  const sg = scratchF64('gatedRmsNorm.sg', groupSize);  // sigmoid(z): silu(z) = z sg, silu'(z) = sg (1 + z (1 - sg))
  const gn = scratchF64('gatedRmsNorm.gn', groupSize);  // the gradient reaching n
  for (let r = 0; r < rows; r++) {
    for (let c0 = r * cols; c0 < (r + 1) * cols; c0 += groupSize) {
      const w0 = c0 - r * cols;
      let ss = 0;
      for (let c = 0; c < groupSize; c++) {
        const sig = 1 / (1 + Math.exp(-zs[c0 + c]));
        sg[c] = sig;
        const val = normBeforeGate ? xs[c0 + c] : xs[c0 + c] * zs[c0 + c] * sig;
        v[c] = val;
        ss += val * val;
      }
      const inv = 1 / Math.sqrt(ss / groupSize + eps);
      let dot = 0;
      for (let c = 0; c < groupSize; c++) {
        const i = c0 + c;
        const n = v[c] * inv;
        if (normBeforeGate) {
          const gate = zs[i] * sg[c];
          dw[w0 + c] += g[i] * n * gate;
          dz[i] = g[i] * n * w[w0 + c] * sg[c] * (1 + zs[i] * (1 - sg[c]));
          gn[c] = g[i] * w[w0 + c] * gate;
        } else {
          dw[w0 + c] += g[i] * n;
          gn[c] = g[i] * w[w0 + c];
        }
        dot += gn[c] * n;
      }
      const mean = dot / groupSize;
      for (let c = 0; c < groupSize; c++) {
        const i = c0 + c;
        const dv = inv * (gn[c] - v[c] * inv * mean);
        if (normBeforeGate) {
          dx[i] = dv;
        } else {
          dx[i] = dv * zs[i] * sg[c];
          dz[i] = dv * xs[i] * sg[c] * (1 + zs[i] * (1 - sg[c]));
        }
      }
    }
  }
  const be = x.backend;
  return { dx: wrapF32(be, x.shape, dx), dz: wrapF32(be, x.shape, dz), dweight: wrapF32(be, [cols], Float32Array.from(dw.subarray(0, cols))) };
}

/** softmax: dx = y (dy - Σ dy y); logSoftmax: dx = dy - e^y Σ dy.  y, dy [..., C] */
export function softmaxBackward(y: Tensor, dy: Tensor, log: boolean): Tensor {
  const { rows, cols } = rowsOf(y);
  const ys = f32(y), g = f32(dy);
  const dx = new Float32Array(ys.length);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += log ? g[o + c] : g[o + c] * ys[o + c];
    for (let c = 0; c < cols; c++) dx[o + c] = log ? g[o + c] - Math.exp(ys[o + c]) * s : ys[o + c] * (g[o + c] - s);
  }
  return wrapF32(y.backend, y.shape, dx);
}
