/**
 * Backward of the causal depthwise conv (conv.ts). With W = K−1 and `in` the input extended on
 * the left by the carried window (times −W..−1), y[t, c] = act(pre[t, c]) and
 * pre[t, c] = bias[c] + Σ_k w[c, k] in[t − W + k, c], so
 *   dpre = dy act'(pre),  dbias[c] = Σ_t dpre[t, c],  dw[c, k] = Σ_t dpre[t, c] in[t − W + k, c],
 *   din[e, c] = Σ_k dpre[e + W − k, c] w[c, k]  (+ dstate where in[e] is one of the last W inputs,
 *   which the returned state holds).
 * Up to four dispatches: dpre (only with SiLU), din over the extended times (x's part and the
 * initial state's), and the two column sums.
 *   x, dy [B, L, C], weight [C, K], state, dstate [B, C, K−1] -> dx, dweight [C, K], dbias [C], dstate
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../wgsl.js';
import { inputAt, preActivation } from './conv.js';
import { GRAD_FNS } from './elementwise-backward.js';
import { columnSum, sumRows, type ColumnSum } from './reduce.js';

const WG = 256;
const FIELDS = 'n: u32, L: u32, C: u32, K: u32';

function inputs(hasState: boolean): BufferDecl[] {
  return hasState ? [['x', 'read', 'f32'], ['state', 'read', 'f32']] : [['x', 'read', 'f32']];
}

/** dpre = dy · silu'(pre), the forward's pre-activation recomputed */
function dpreKernel(hasBias: boolean, hasState: boolean): Kernel {
  return cached(`conv backward dpre ${hasBias} ${hasState}`, () => {
    const buffers: BufferDecl[] = [...inputs(hasState), ['w', 'read', 'f32']];
    if (hasBias) buffers.push(['bias', 'read', 'f32']);
    buffers.push(['dy', 'read', 'f32'], ['dpre', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${GRAD_FNS}
${inputAt(hasState)}
${preActivation(hasBias)}
${flatMain(WG)}
  dpre[i] = dy[i] * siluGrad(preActivation(i / (p.C * p.L), (i / p.C) % p.L, i % p.C));
}`;
  });
}

/**
 * din at extended time e' = e + W in [0, L + W), one invocation each: x's gradient for e' ≥ W,
 * the initial state's below. The returned state's gradient adds to the last W extended times.
 */
const DIN = cached('conv backward din', () => `${header(FIELDS, [['dpre', 'read', 'f32'], ['w', 'read', 'f32'], ['dnext', 'read', 'f32'],
  ['dx', 'read_write', 'f32'], ['dstate', 'read_write', 'f32']])}
${flatMain(WG)}
  let W = p.K - 1u;
  let c = i % p.C;
  let e = (i / p.C) % (p.L + W);
  let b = i / (p.C * (p.L + W));
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    // the output at time t = e' − k read this input through tap k
    if (e >= k && e - k < p.L) { acc = fma(dpre[(b * p.L + e - k) * p.C + c], w[c * p.K + k], acc); }
  }
  if (e >= p.L) { acc += dnext[(b * p.C + c) * W + e - p.L]; }
  if (e >= W) { dx[(b * p.L + e - W) * p.C + c] = acc; }
  else { dstate[(b * p.C + c) * W + e] = acc; }
}`);

function dweightSum(hasState: boolean): ColumnSum {
  return {
    label: `conv backward dweight ${hasState}`,
    fields: 'L: u32, C: u32, K: u32',
    buffers: [['dpre', 'read', 'f32'], ...inputs(hasState)],
    // column c = (channel, tap), row r = (b, t)
    term: 'dpre[r * p.C + c / p.K] * inputAt(r / p.L, i32(r % p.L) - i32(p.K - 1u) + i32(c % p.K), c / p.K)',
    prelude: inputAt(hasState),
  };
}

export function causalConv1dBackward(h: KernelHost, x: GpuTensor, weight: GpuTensor, bias: GpuTensor | undefined,
  state: GpuTensor | undefined, silu: boolean, dy: GpuTensor, dnext: GpuTensor): { dx: GpuTensor; dweight: GpuTensor; dbias: GpuTensor; dstate: GpuTensor } {
  const [B, L, C] = x.shape;
  const K = weight.shape[1];
  const ins = state ? [storageOf(x), storageOf(state)] : [storageOf(x)];
  let dpre = dy;
  if (silu) {
    dpre = h.empty([B, L, C]);
    const s = [...ins, storageOf(weight)];
    if (bias) s.push(storageOf(bias));
    h.rt.dispatch(dpreKernel(bias !== undefined, state !== undefined), [dy.size, L, C, K], [...s, storageOf(dy), dpre.storage], grid(dy.size, WG));
  }
  const dx = h.empty([B, L, C]);
  const dstate = h.empty([B, C, K - 1]);
  const n = B * (L + K - 1) * C;
  h.rt.dispatch(DIN, [n, L, C, K], [storageOf(dpre), storageOf(weight), storageOf(dnext), dx.storage, dstate.storage], grid(n, WG));
  const dweight = columnSum(h, dweightSum(state !== undefined), B * L, C * K, [L, C, K], state ? [dpre, x, state] : [dpre, x], [C, K]);
  const dbias = sumRows(h, dpre, C);
  if (dpre !== dy) dpre.dispose();
  return { dx, dweight, dbias, dstate };
}
