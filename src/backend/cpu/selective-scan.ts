/**
 * Mamba-1 selective scan (S6), the recurrence of Gu & Dao Alg. 2 as mamba_ssm's
 * selective_scan_ref computes it, fused: discretize, scan, read out, skip, gate. The math runs in
 * the WebAssembly SIMD kernel of wasm/scan-kernel.ts, in f32 as mamba_ssm's CUDA kernel does;
 * this file stages the operands in the shared heap in the layout the kernel reads (padded to
 * whole vectors) and copies the results out.
 *
 * Glossary (code -> paper):  B batch (b), L length (l), D channels (d_in), N state size (n),
 *   u input x, delta Δ (before bias/softplus), A A, Bmat B, Cmat C, Dskip D, z gate, h state.
 */
import type { SelectiveScanArgs } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { siluScalar, softplusScalar } from './elementwise.js';
import { layout, roundUp, stageRows, unstageRows } from './staging.js';
import { f32, wrapF32 } from './storage.js';
import { instantiateKernels, wasm } from './wasm/api.js';
import { MAX_PAGES, memory, ScratchBlock } from './wasm/heap.js';
import { buildScanModule, GATE, SOFTPLUS } from './wasm/scan-kernel.js';

const kernel = instantiateKernels(new wasm.Module(buildScanModule(MAX_PAGES)), memory).kernels[0];
const block = new ScratchBlock();
/** time steps per kernel call: bounds the heap the per-step operands take for long sequences */
const MAX_STEPS = 256;

/** -> y [B, L, D], state [B, D, N] */
export function selectiveScan(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
  const { u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, deltaSoftplus, state } = args;
  const [B, L, D] = u.shape;
  const N = A.shape[1];

  const y = new Float32Array(B * L * D);
  const hOut = new Float32Array(B * D * N);
  const Dp = roundUp(D, 4), Np = roundUp(N, 4);
  const Lc = Math.min(L, MAX_STEPS);
  // A, dskip, bias for the call; h for one sequence; u, delta, z, y, bc for up to Lc of its steps
  const { H, at } = layout(block, [Dp * Np, Dp, Dp, Dp * Np, Lc * Dp, Lc * Dp, Lc * Dp, Lc * Dp, 2 * Lc * Np]);
  const [oA, oDskip, oBias, oH, oU, oDelta, oZ, oY, oBC] = at;

  stageRows(H, oA, f32(A), 0, D, N, Np, Dp);
  if (Dskip) stageRows(H, oDskip, f32(Dskip), 0, 1, D, Dp, 1); else H.fill(0, oDskip, oDskip + Dp);
  if (deltaBias) stageRows(H, oBias, f32(deltaBias), 0, 1, D, Dp, 1); else H.fill(0, oBias, oBias + Dp);
  const flags = (deltaSoftplus ? SOFTPLUS : 0) | (z ? GATE : 0);
  for (let b = 0; b < B; b++) {
    if (state) stageRows(H, oH, f32(state), b * D * N, D, N, Np, Dp); else H.fill(0, oH, oH + Dp * Np);
    // h stays in the heap from one block of steps to the next
    for (let t0 = 0; t0 < L; t0 += Lc) {
      const n = Math.min(Lc, L - t0), row = (b * L + t0) * D;
      stageRows(H, oU, f32(u), row, n, D, Dp, n);
      stageRows(H, oDelta, f32(delta), row, n, D, Dp, n);
      if (z) stageRows(H, oZ, f32(z), row, n, D, Dp, n);
      stageBC(H, oBC, f32(Bmat), f32(Cmat), (b * L + t0) * N, n, N, Np);
      kernel(4 * oU, 4 * oDelta, 4 * oZ, 4 * oY, 4 * oBC, 4 * oA, 4 * oH, 4 * oDskip, 4 * oBias, n, Dp, Np, flags);
      unstageRows(H, oY, y, row, n, D, Dp);
    }
    unstageRows(H, oH, hOut, b * D * N, D, N, Np);
  }
  return { y: wrapF32(u.backend, [B, L, D], y), state: wrapF32(u.backend, [B, D, N], hOut) };
}

/** B, C [L, N] (from srcAt) -> H[at ..] as [L, Np/4, 2, 4]: per t and four n, B's then C's, zero-padded */
function stageBC(H: Float32Array, at: number, Bs: Float32Array, Cs: Float32Array, srcAt: number, L: number, N: number, Np: number): void {
  for (let t = 0; t < L; t++) {
    const row = at + 2 * t * Np, src = srcAt + t * N;
    for (let n = 0; n < Np; n++) {
      const o = row + 8 * (n >> 2) + (n & 3);
      H[o] = n < N ? Bs[src + n] : 0;
      H[o + 4] = n < N ? Cs[src + n] : 0;
    }
  }
}

/**
 * The same scan as plain loops over (b, d, t, n), as the WASM kernel computes it: the statement
 * the kernel's tests hold it to (test/cpu-scan.test.ts), as sgemmLoops is for the GEMM.
 */
export function selectiveScanLoops(args: SelectiveScanArgs): { y: Tensor; state: Tensor } {
  const { u, delta, A, Bmat, Cmat, Dskip, z, deltaBias, deltaSoftplus, state } = args;
  const [B, L, D] = u.shape;
  const N = A.shape[1];
  const us = f32(u), ds = f32(delta), As = f32(A), Bs = f32(Bmat), Cs = f32(Cmat);
  const y = new Float32Array(B * L * D);
  const h = state ? f32(state).slice() : new Float32Array(B * D * N);
  for (let b = 0; b < B; b++) for (let d = 0; d < D; d++) {
    const row = (b * D + d) * N;
    for (let t = 0; t < L; t++) {
      const i = (b * L + t) * D + d;
      const raw = ds[i] + (deltaBias ? f32(deltaBias)[d] : 0);
      const dt = deltaSoftplus ? softplusScalar(raw) : raw;
      let out = 0;
      for (let n = 0; n < N; n++) {
        h[row + n] = Math.exp(dt * As[d * N + n]) * h[row + n] + dt * Bs[(b * L + t) * N + n] * us[i];
        out += Cs[(b * L + t) * N + n] * h[row + n];
      }
      if (Dskip) out += f32(Dskip)[d] * us[i];
      y[i] = z ? out * siluScalar(f32(z)[i]) : out;
    }
  }
  return { y: wrapF32(u.backend, [B, L, D], y), state: wrapF32(u.backend, [B, D, N], h) };
}
