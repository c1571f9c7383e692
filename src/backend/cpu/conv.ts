import type { Tensor } from '../../tensor.js';
import { siluScalar } from './elementwise.js';
import { expectShape, f32, wrapF32 } from './storage.js';

/**
 * Causal depthwise conv1d along L with a carried window (mamba_ssm causal_conv1d_fn / _update).
 * x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? -> y [B, L, C], state [B, C, K-1]
 * y[t, c] = bias[c] + sum_k weight[c, k] * in[t - (K-1) + k, c], where positions before 0 come
 * from the state (the K-1 inputs that preceded x), so chained calls equal one long call.
 */
export function causalConv1d(
  x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean,
): { y: Tensor; state: Tensor } {
  const [B, L, C] = x.shape;
  const K = weight.shape[1];
  const W = K - 1;
  expectShape('causalConv1d weight', weight, [C, K]);
  if (bias) expectShape('causalConv1d bias', bias, [C]);
  if (state) expectShape('causalConv1d state', state, [B, C, W]);
  const xs = f32(x);
  const w = f32(weight);
  const bs = bias ? f32(bias) : undefined;
  const st = state ? f32(state) : new Float32Array(B * C * W);
  const y = new Float32Array(B * L * C);
  const next = new Float32Array(B * C * W);
  // input at position pos (< L) of channel c: x, or the carried window for pos < 0
  const at = (b: number, pos: number, c: number): number => (pos >= 0 ? xs[(b * L + pos) * C + c] : st[(b * C + c) * W + W + pos]);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const yo = (b * L + t) * C;
      if (t >= W) {
        // the common case: all K inputs are rows t-W..t of x, read contiguously across c
        const x0 = (b * L + t - W) * C;
        for (let c = 0; c < C; c++) {
          let s = bs ? bs[c] : 0;
          for (let k = 0; k < K; k++) s += w[c * K + k] * xs[x0 + k * C + c];
          y[yo + c] = silu ? siluScalar(s) : s;
        }
      } else {
        for (let c = 0; c < C; c++) {
          let s = bs ? bs[c] : 0;
          for (let k = 0; k < K; k++) s += w[c * K + k] * at(b, t - W + k, c);
          y[yo + c] = silu ? siluScalar(s) : s;
        }
      }
    }
    for (let c = 0; c < C; c++) for (let k = 0; k < W; k++) next[(b * C + c) * W + k] = at(b, L - W + k, c);
  }
  return { y: wrapF32(x.backend, [B, L, C], y), state: wrapF32(x.backend, [B, C, W], next) };
}
