/**
 * Causal depthwise conv1d along L with a carried window (mamba_ssm causal_conv1d_fn / _update).
 * The math runs in the WebAssembly SIMD kernel of wasm/conv-kernel.ts; this file stages the
 * operands in the shared heap and copies the results out.
 */
import type { Tensor } from '../../tensor.js';
import { siluScalar } from './elementwise.js';
import { layout, roundUp, stageRows, unstageRows } from './staging.js';
import { f32, wrapF32 } from './storage.js';
import { instantiateKernels, wasm } from './wasm/api.js';
import { buildConvModule, SILU } from './wasm/conv-kernel.js';
import { MAX_PAGES, memory, ScratchBlock } from './wasm/heap.js';

const kernel = instantiateKernels(new wasm.Module(buildConvModule(MAX_PAGES)), memory).kernels[0];
const block = new ScratchBlock();
/** time steps per kernel call: bounds the heap the window takes for long sequences */
const MAX_STEPS = 256;

/**
 * x [B, L, C], weight [C, K], bias [C]?, state [B, C, K-1]? -> y [B, L, C], state [B, C, K-1]
 * y[t, c] = bias[c] + sum_k weight[c, k] * in[t - (K-1) + k, c], where positions before 0 come
 * from the state (the K-1 inputs that preceded x), so chained calls equal one long call.
 */
export function causalConv1d(
  x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean,
): { y: Tensor; state: Tensor } {
  const { B, L, C, K, W, y, next, done } = outputs(x, weight);
  const Cp = roundUp(C, 4);
  const Lc = Math.min(L, MAX_STEPS);
  // weight, bias for the call; the state for one sequence; the window [state rows, x] and y for
  // up to Lc of its steps
  const { H, at: [oW, oBias, oState, oXw, oY] } = layout(block, [Cp * K, Cp, Cp * W, (W + Lc) * Cp, Lc * Cp]);
  stageRows(H, oW, f32(weight), 0, C, K, K, Cp);
  if (bias) stageRows(H, oBias, f32(bias), 0, 1, C, Cp, 1); else H.fill(0, oBias, oBias + Cp);
  for (let b = 0; b < B; b++) {
    if (state) stageRows(H, oState, f32(state), b * C * W, C, W, W, Cp); else H.fill(0, oState, oState + Cp * W);
    // the kernel leaves the last W inputs in the state, where the next block of steps starts
    for (let t0 = 0; t0 < L; t0 += Lc) {
      const n = Math.min(Lc, L - t0), row = (b * L + t0) * C;
      stageRows(H, oXw + W * Cp, f32(x), row, n, C, Cp, n);
      kernel(4 * oXw, 4 * oY, 4 * oState, 4 * oW, 4 * oBias, n, Cp, K, silu ? SILU : 0);
      unstageRows(H, oY, y, row, n, C, Cp);
    }
    unstageRows(H, oState, next, b * C * W, C, W, W);
  }
  return done();
}

/** a conv's sizes (W = K-1, the window), its output arrays, and `done` wrapping them as tensors */
function outputs(x: Tensor, weight: Tensor) {
  const [B, L, C] = x.shape;
  const K = weight.shape[1];
  const W = K - 1;
  const y = new Float32Array(B * L * C);
  const next = new Float32Array(B * C * W);
  const done = () => ({ y: wrapF32(x.backend, [B, L, C], y), state: wrapF32(x.backend, [B, C, W], next) });
  return { B, L, C, K, W, y, next, done };
}

/**
 * The same conv as plain loops, as the WASM kernel computes it: the statement the kernel's tests
 * hold it to (test/cpu-ops.test.ts), as sgemmLoops is for the GEMM.
 */
export function causalConv1dLoops(
  x: Tensor, weight: Tensor, bias: Tensor | undefined, state: Tensor | undefined, silu: boolean,
): { y: Tensor; state: Tensor } {
  const { B, L, C, K, W, y, next, done } = outputs(x, weight);
  const xs = f32(x), ws = f32(weight);
  // input position t of sequence b, channel c; t < 0 reads the carried window
  const at = (b: number, t: number, c: number): number =>
    t >= 0 ? xs[(b * L + t) * C + c] : state ? f32(state)[(b * C + c) * W + W + t] : 0;
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) {
    for (let t = 0; t < L; t++) {
      let s = bias ? f32(bias)[c] : 0;
      for (let k = 0; k < K; k++) s += ws[c * K + k] * at(b, t - W + k, c);
      y[(b * L + t) * C + c] = silu ? siluScalar(s) : s;
    }
    for (let k = 0; k < W; k++) next[(b * C + c) * W + k] = at(b, L - W + k, c);
  }
  return done();
}
