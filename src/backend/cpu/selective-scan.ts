/**
 * Mamba-1 selective scan (S6), the recurrence of Gu & Dao Alg. 2 as mamba_ssm's
 * selective_scan_ref computes it, fused: discretize, scan, read out, skip, gate.
 *
 * Glossary (code -> paper):  B batch (b), L length (l), D channels (d_in), N state size (n),
 *   u input x, delta Δ (before bias/softplus), A A, Bmat B, Cmat C, Dskip D, z gate, h state.
 */
import type { SelectiveScanArgs } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { siluScalar, softplusScalar } from './elementwise.js';
import { expectShape, f32, scratchF64, wrapF32 } from './storage.js';

/** -> y [B, L, D], state [B, D, N] */
export function selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
  const { u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, deltaSoftplus, state } = args;
  const [B, L, D] = u.shape;
  const N = A.shape[1];
  expectShape('selectiveScan delta', delta, [B, L, D]);
  expectShape('selectiveScan A', A, [D, N]);
  expectShape('selectiveScan B', Bmat, [B, L, N]);
  expectShape('selectiveScan C', Cmat, [B, L, N]);
  if (Dskip) expectShape('selectiveScan D', Dskip, [D]);
  if (z) expectShape('selectiveScan z', z, [B, L, D]);
  if (deltaBias) expectShape('selectiveScan deltaBias', deltaBias, [D]);
  if (state) expectShape('selectiveScan state', state, [B, D, N]);

  const us = f32(u), ds = f32(delta), As = f32(A), Bs = f32(Bmat), Cs = f32(Cmat);
  const Ds = Dskip ? f32(Dskip) : undefined;
  const zs = z ? f32(z) : undefined;
  const bias = deltaBias ? f32(deltaBias) : undefined;
  const y = new Float32Array(B * L * D);
  const hOut = new Float32Array(B * D * N);
  // h [D, N] of one sequence stays in this buffer for all L steps; (B, L, D, N) never exists
  const h = scratchF64('selectiveScan.h', D * N);
  for (let b = 0; b < B; b++) {
    if (state) { const s = f32(state); for (let i = 0; i < D * N; i++) h[i] = s[b * D * N + i]; } else h.fill(0, 0, D * N);
    for (let t = 0; t < L; t++) {
      const row = (b * L + t) * D;
      const bc = (b * L + t) * N;
      for (let d = 0; d < D; d++) {
        let dt = ds[row + d] + (bias ? bias[d] : 0);
        if (deltaSoftplus) dt = softplusScalar(dt);
        const x = us[row + d];
        const dtx = dt * x;
        const o = d * N;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const hn = Math.exp(dt * As[o + n]) * h[o + n] + dtx * Bs[bc + n];
          h[o + n] = hn;
          acc += Cs[bc + n] * hn;
        }
        if (Ds) acc += Ds[d] * x;
        if (zs) acc *= siluScalar(zs[row + d]);
        y[row + d] = acc;
      }
    }
    for (let i = 0; i < D * N; i++) hOut[b * D * N + i] = h[i];
  }
  return { y: wrapF32(u.backend, [B, L, D], y), state: wrapF32(u.backend, [B, D, N], hOut) };
}
