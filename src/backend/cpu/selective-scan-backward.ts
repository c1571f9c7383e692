/**
 * Backward of the Mamba-1 selective scan (selective-scan.ts), as mamba_ssm's selective_scan_bwd
 * does it: the states are recomputed, not saved. For one channel (b, d) the forward is
 *   Δ_t = softplus(delta_t + bias),  ā_tn = exp(Δ_t A_n),  h_tn = ā_tn h_(t-1)n + Δ_t B_tn u_t,
 *   y'_t = Σ_n C_tn h_tn + D u_t,    y_t = y'_t silu(z_t)
 * and walking t backwards with dh_n (the gradient reaching h_tn, carried as ā_tn dh_n):
 *   dy'_t = dy_t silu(z_t),  dz_t = dy_t y'_t silu'(z_t),  dh_n += dy'_t C_tn,  dC_tn += dy'_t h_tn,
 *   dΔ_t = Σ_n dh_n (A_n ā_tn h_(t-1)n + B_tn u_t),  dA_n += Σ_t dh_n Δ_t ā_tn h_(t-1)n,
 *   dB_tn += dh_n Δ_t u_t,  du_t = dy'_t D + Σ_n dh_n Δ_t B_tn.
 * Per channel, h and ā of its L steps live in an [L, N] scratch; (B, L, D, N) never exists.
 */
import type { SelectiveScanArgs, SelectiveScanGrads } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { siluScalar, softplusScalar } from './elementwise.js';
import { siluGrad, softplusGrad } from './elementwise-backward.js';
import { f32, scratchF64, wrapF32 } from './storage.js';

/** dy [B, L, D], dstate [B, D, N] (of the final state) -> gradients of args' tensors */
export function selectiveScanBackward(args: SelectiveScanArgs, dy: Tensor, dstate: Tensor): SelectiveScanGrads {
  const { u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, deltaSoftplus, state } = args;
  const [B, L, D] = u.shape;
  const N = A.shape[1];
  const us = f32(u), ds = f32(delta), As = f32(A), Bs = f32(Bmat), Cs = f32(Cmat);
  const Ds = Dskip ? f32(Dskip) : undefined;
  const zs = z ? f32(z) : undefined;
  const bias = deltaBias ? f32(deltaBias) : undefined;
  const h0 = state ? f32(state) : undefined;
  const g = f32(dy), gState = f32(dstate);

  const du = new Float32Array(B * L * D);
  const ddelta = new Float32Array(B * L * D);
  const dz = zs ? new Float32Array(B * L * D) : undefined;
  const dB = new Float32Array(B * L * N);
  const dC = new Float32Array(B * L * N);
  const dh0 = new Float32Array(B * D * N);
  const dA = scratchF64('scanBackward.dA', D * N).fill(0, 0, D * N);
  const dD = scratchF64('scanBackward.dD', D).fill(0, 0, D);
  const dBias = scratchF64('scanBackward.dBias', D).fill(0, 0, D);
  const hs = scratchF64('scanBackward.h', (L + 1) * N);   // h_(t-1) at row t, h_t at row t + 1
  const decay = scratchF64('scanBackward.decay', L * N);  // ā_t at row t
  const dts = scratchF64('scanBackward.dt', L);
  const ys = scratchF64('scanBackward.y', L);              // y'_t, before the gate
  const dh = scratchF64('scanBackward.dh', N);
  const dBb = scratchF64('scanBackward.dB', L * N);        // dB, dC of one sequence, summed over d
  const dCb = scratchF64('scanBackward.dC', L * N);

  for (let b = 0; b < B; b++) {
    dBb.fill(0, 0, L * N);
    dCb.fill(0, 0, L * N);
    for (let d = 0; d < D; d++) {
      const a0 = d * N;
      for (let n = 0; n < N; n++) hs[n] = h0 ? h0[(b * D + d) * N + n] : 0;
      for (let t = 0; t < L; t++) {
        const i = (b * L + t) * D + d;
        const v = ds[i] + (bias ? bias[d] : 0);
        const dt = deltaSoftplus ? softplusScalar(v) : v;
        dts[t] = dt;
        const dtx = dt * us[i];
        const bc = (b * L + t) * N;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const e = Math.exp(dt * As[a0 + n]);
          const hn = e * hs[t * N + n] + dtx * Bs[bc + n];
          decay[t * N + n] = e;
          hs[(t + 1) * N + n] = hn;
          acc += Cs[bc + n] * hn;
        }
        ys[t] = acc + (Ds ? Ds[d] * us[i] : 0);
      }
      for (let n = 0; n < N; n++) dh[n] = gState[(b * D + d) * N + n];
      for (let t = L - 1; t >= 0; t--) {
        const i = (b * L + t) * D + d;
        let gy = g[i];
        if (zs && dz) {
          dz[i] = gy * ys[t] * siluGrad(zs[i]);
          gy *= siluScalar(zs[i]);
        }
        const x = us[i];
        const dt = dts[t];
        const bc = (b * L + t) * N;
        let ddt = 0;
        let dx = Ds ? gy * Ds[d] : 0;
        if (Ds) dD[d] += gy * x;
        for (let n = 0; n < N; n++) {
          const hPrev = hs[t * N + n];
          const e = decay[t * N + n];
          dCb[bc - b * L * N + n] += gy * hs[(t + 1) * N + n];
          const dhn = dh[n] + gy * Cs[bc + n];
          const Bn = Bs[bc + n];
          const eh = e * hPrev;
          ddt += dhn * (As[a0 + n] * eh + Bn * x);
          dA[a0 + n] += dhn * dt * eh;
          dBb[bc - b * L * N + n] += dhn * dt * x;
          dx += dhn * dt * Bn;
          dh[n] = dhn * e;
        }
        du[i] = dx;
        const v = ds[i] + (bias ? bias[d] : 0);
        const dv = deltaSoftplus ? ddt * softplusGrad(v) : ddt;
        ddelta[i] = dv;
        dBias[d] += dv;
      }
      for (let n = 0; n < N; n++) dh0[(b * D + d) * N + n] = dh[n];
    }
    for (let i = 0; i < L * N; i++) {
      dB[b * L * N + i] = dBb[i];
      dC[b * L * N + i] = dCb[i];
    }
  }
  const be = u.backend;
  return {
    du: wrapF32(be, [B, L, D], du),
    ddelta: wrapF32(be, [B, L, D], ddelta),
    dA: wrapF32(be, [D, N], Float32Array.from(dA.subarray(0, D * N))),
    dB: wrapF32(be, [B, L, N], dB),
    dC: wrapF32(be, [B, L, N], dC),
    dD: Ds ? wrapF32(be, [D], Float32Array.from(dD.subarray(0, D))) : undefined,
    dz: dz ? wrapF32(be, [B, L, D], dz) : undefined,
    ddeltaBias: bias ? wrapF32(be, [D], Float32Array.from(dBias.subarray(0, D))) : undefined,
    dstate: wrapF32(be, [B, D, N], dh0),
  };
}
