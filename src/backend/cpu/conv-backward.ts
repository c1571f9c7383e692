/**
 * Backward of the causal depthwise conv (conv.ts). With W = K-1 and `in` the input extended on
 * the left by the carried window (positions -W..-1), y[t, c] = act(pre[t, c]) and
 * pre[t, c] = bias[c] + Σ_k w[c, k] in[t - W + k, c], so
 *   dpre = dy act'(pre),  dbias[c] = Σ_t dpre[t, c],  dw[c, k] = Σ_t dpre[t, c] in[t - W + k, c],
 *   din[t - W + k, c] += dpre[t, c] w[c, k],
 * and the returned state (the last W inputs) sends its gradient back to those inputs.
 */
import type { Tensor } from '../../tensor.js';
import { siluGrad } from './elementwise-backward.js';
import { f32, scratchF64, wrapF32 } from './storage.js';

/** x, dy [B, L, C], weight [C, K], bias [C]?, state, dstate [B, C, K-1] -> dx, dweight, dbias [C], dstate */
export function causalConv1dBackward(
  x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean, dy: Tensor, dstate: Tensor,
): { dx: Tensor; dweight: Tensor; dbias: Tensor; dstate: Tensor } {
  const [B, L, C] = x.shape;
  const K = weight.shape[1];
  const W = K - 1;
  const xs = f32(x), w = f32(weight), g = f32(dy), gNext = f32(dstate);
  const bs = bias ? f32(bias) : undefined;
  const st = state ? f32(state) : undefined;
  // one sequence's extended input and its gradient, [W + L, C], and the weights as [K, C], so
  // that every inner loop runs along c over contiguous memory
  const inp = scratchF64('convBackward.in', (W + L) * C);
  const dinp = scratchF64('convBackward.din', (W + L) * C);
  const wT = scratchF64('convBackward.wT', K * C);
  const dwT = scratchF64('convBackward.dwT', K * C).fill(0, 0, K * C);
  const db = scratchF64('convBackward.db', C).fill(0, 0, C);
  const dpre = scratchF64('convBackward.dpre', C);
  for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) wT[k * C + c] = w[c * K + k];
  const dx = new Float32Array(B * L * C);
  const dst = new Float32Array(B * C * W);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < W; k++) for (let c = 0; c < C; c++) inp[k * C + c] = st ? st[(b * C + c) * W + k] : 0;
    for (let i = 0; i < L * C; i++) inp[W * C + i] = xs[b * L * C + i];
    dinp.fill(0, 0, (W + L) * C);
    // the returned state is the last W extended rows
    for (let c = 0; c < C; c++) for (let k = 0; k < W; k++) dinp[(L + k) * C + c] += gNext[(b * C + c) * W + k];
    for (let t = 0; t < L; t++) {
      const yo = (b * L + t) * C;
      if (silu) {
        for (let c = 0; c < C; c++) dpre[c] = bs ? bs[c] : 0;
        for (let k = 0; k < K; k++) {
          const e = (t + k) * C, wo = k * C;
          for (let c = 0; c < C; c++) dpre[c] += wT[wo + c] * inp[e + c];
        }
        for (let c = 0; c < C; c++) dpre[c] = g[yo + c] * siluGrad(dpre[c]);
      } else {
        for (let c = 0; c < C; c++) dpre[c] = g[yo + c];
      }
      for (let c = 0; c < C; c++) db[c] += dpre[c];
      for (let k = 0; k < K; k++) {
        const e = (t + k) * C, wo = k * C;
        for (let c = 0; c < C; c++) {
          dwT[wo + c] += dpre[c] * inp[e + c];
          dinp[e + c] += dpre[c] * wT[wo + c];
        }
      }
    }
    for (let k = 0; k < W; k++) for (let c = 0; c < C; c++) dst[(b * C + c) * W + k] = dinp[k * C + c];
    for (let i = 0; i < L * C; i++) dx[b * L * C + i] = dinp[W * C + i];
  }
  const dw = new Float32Array(C * K);
  for (let c = 0; c < C; c++) for (let k = 0; k < K; k++) dw[c * K + k] = dwT[k * C + c];
  const be = x.backend;
  return {
    dx: wrapF32(be, [B, L, C], dx),
    dweight: wrapF32(be, [C, K], dw),
    dbias: wrapF32(be, [C], Float32Array.from(db.subarray(0, C))),
    dstate: wrapF32(be, [B, C, W], dst),
  };
}
