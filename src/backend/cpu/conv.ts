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
  // window[c*K + k] holds in[t - (K-1) + k, c]; shifted one step per t so no input is re-gathered
  const win = new Float64Array(C * K);
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) for (let k = 0; k < W; k++) win[c * K + k + 1] = st[(b * C + c) * W + k];
    for (let t = 0; t < L; t++) {
      const xo = (b * L + t) * C;
      for (let c = 0; c < C; c++) {
        const o = c * K;
        for (let k = 0; k < W; k++) win[o + k] = win[o + k + 1];
        win[o + W] = xs[xo + c];
        let s = bs ? bs[c] : 0;
        for (let k = 0; k < K; k++) s += w[o + k] * win[o + k];
        y[xo + c] = silu ? siluScalar(s) : s;
      }
    }
    for (let c = 0; c < C; c++) for (let k = 0; k < W; k++) next[(b * C + c) * W + k] = win[c * K + k + 1];
  }
  return { y: wrapF32(x.backend, [B, L, C], y), state: wrapF32(x.backend, [B, C, W], next) };
}
