/**
 * The decoding fusions (Backend.normLinear, Backend.mamba2Step) on the CPU, composed of the
 * reference kernels they fuse, so the fused GPU kernels are held to exactly those semantics.
 */
import type { Mamba2StepArgs, RowNorm } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { causalConv1d } from './conv.js';
import { add, mul, silu } from './elementwise.js';
import { linear } from './linear.js';
import { split } from './memory.js';
import { ssdChunked } from './ssd.js';
import { expectShape, f32, rowsOf, wrapF32 } from './storage.js';

/** x [..., K] -> x / rms over each group of `groupSize` channels * weight */
export function groupRmsNorm(x: Tensor, { weight, eps, groupSize }: RowNorm): Tensor {
  const { rows, cols } = rowsOf(x);
  expectShape('normLinear norm weight', weight, [cols]);
  if (groupSize <= 0 || cols % groupSize !== 0) throw new Error(`normLinear: group size ${groupSize} does not divide ${cols}`);
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
  if (!residual) return y;
  expectShape('normLinear residual', residual, y.shape);
  return add(y, residual);
}

/** conv update, SSD recurrence of one step (into `ssm`), gate: see Mamba2StepArgs */
export function mamba2Step(a: Mamba2StepArgs): { y: Tensor; conv: Tensor } {
  const [B, H, P, N] = a.ssm.shape;
  const G = a.nGroups;
  const dSsm = H * P;
  const [convDim] = a.convWeight.shape;
  const W = a.proj.shape[1];
  const used = dSsm + convDim + H;
  if (a.proj.shape.length !== 2 || a.proj.shape[0] !== B || W < used || convDim !== dSsm + 2 * G * N) {
    throw new Error(`mamba2Step: proj [${a.proj.shape}], conv weight [${a.convWeight.shape}] and state [${a.ssm.shape}] with ${G} groups do not match`);
  }
  const [, z, xBC, dt] = split(a.proj, [W - used, dSsm, convDim, H]);
  const conv = causalConv1d(xBC.reshape([B, 1, convDim]), a.convWeight, a.convBias, a.conv, true);
  const [xs, Bm, Cm] = split(conv.y, [dSsm, G * N, G * N]);
  const scan = ssdChunked({
    x: xs.reshape([B, 1, H, P]), dt: dt.reshape([B, 1, H]), A: a.A, Bmat: Bm.reshape([B, 1, G, N]),
    Cmat: Cm.reshape([B, 1, G, N]), Dskip: a.Dskip, dtBias: a.dtBias, dtSoftplus: true, dtLimit: a.dtLimit,
    chunkSize: 1, state: a.ssm,
  });
  f32(a.ssm).set(f32(scan.state));
  return { y: mul(scan.y.reshape([B, dSsm]), silu(z)), conv: conv.state };
}
