/**
 * Backend.mamba2Step on the CPU, composed of the reference kernels it fuses (split, conv, SSD
 * with one chunk of one step), so the fused GPU kernel is held to exactly those semantics.
 */
import type { Mamba2StepArgs } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { causalConv1d } from './conv.js';
import { mul, silu } from './elementwise.js';
import { split } from './layout.js';
import { ssdChunked } from './ssd.js';
import { f32 } from './storage.js';

/** conv update, SSD recurrence of one step (into `ssm`), gate: see Mamba2StepArgs */
export function mamba2Step(a: Mamba2StepArgs): { y: Tensor; conv: Tensor } {
  const [B, H, P, N] = a.ssm.shape;
  const G = a.nGroups;
  const dSsm = H * P;
  const [convDim] = a.convWeight.shape;
  const W = a.proj.shape[1];
  const used = dSsm + convDim + H;
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
