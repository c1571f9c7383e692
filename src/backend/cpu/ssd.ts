/**
 * Mamba-2 SSD by the chunked algorithm (Dao & Gu 2024, §6; mamba_ssm ssd_minimal / ssd_combined).
 * Within a chunk of Q steps the SSM is a masked quadratic form (the "diagonal blocks"); across
 * chunks only a [P, N] state per head is carried. For each chunk:
 *   1. cs_i = Σ_{k≤i} Δ_k A_h, the cumulative log-decay (segsum: decay j→i is exp(cs_i - cs_j) ≤ 1,
 *      never exp(cs_i)/exp(cs_j), which under/overflows for long chunks)
 *   2. intra-chunk:   Y  = (C Bᵀ ∘ decay ∘ Δ) X         [Q, Q] · [Q, P], decay_ij = exp(cs_i - cs_j) for i ≥ j, else 0
 *   3. state→output:  Y += diag(exp(cs)) C Sᵀ           [Q, N] · [N, P]  (S entering the chunk)
 *   4. chunk state:   S ← exp(cs_last) S + (w ∘ X)ᵀ B    [P, Q] · [Q, N],  w_j = exp(cs_last - cs_j) Δ_j
 * Steps 2-4 are matmuls (sgemm, as the paper's point is to run SSMs on matmul units). C Bᵀ, the
 * C Sᵀ of step 3 and the update of step 4 are done once for all heads of a group, whose states
 * are contiguous. A chunk of one step (decoding) is the recurrence itself, done in one pass.
 *
 * Glossary (code -> paper):  B batch, L length, H heads, P head dim (headdim), N state size
 *   (d_state), G groups of B/C (ngroups), Q chunk size, x X, dt Δ (before bias/softplus),
 *   A A (scalar per head), Bmat B, Cmat C, Dskip D, S/h state [P, N].
 */
import type { SsdArgs } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { softplusScalar } from './elementwise.js';
import { sgemm } from './gemm.js';
import { f32, scratchF32, scratchF64, wrapF32 } from './storage.js';

/**
 * Decay factors below this are taken as 0. Decays fall to exp(-hundreds) within a chunk for the
 * fast heads, and their products with B, C, X land among the float32 subnormals, which the
 * WASM SIMD GEMM (no flush-to-zero on x86) multiplies ~4× slower: the SSD GEMMs of a training step
 * spent most of their time there. A term scaled by < 1e-30 is far below float32 resolution of any
 * output that is not itself ~1e-23 or smaller.
 */
export const TINY_DECAY = 1e-30;

/**
 * The chunk length the CPU runs: the model's (256 for mamba_ssm's) up to 64. SSD's result does not
 * depend on the chunking (only float rounding does), and on the CPU the intra-chunk work,
 * O(L Q (N + H P)), is the GEMM time that shrinks with Q, while the state passes, O(L H P N), do
 * not grow; 64 was the fastest of 32-256 for a 14-head layer at length 512, forward and backward
 * (see bench/RESULTS.md).
 */
export function cpuChunk(chunkSize: number): number {
  return Math.min(chunkSize, 64);
}

/** a decay factor, or 0 where it is below TINY_DECAY in magnitude */
export function flushDecay(v: number): number {
  return v < TINY_DECAY && v > -TINY_DECAY ? 0 : v;
}

/**
 * M_ij = CB_ij exp(cs_i - cs_j) Δ_j for i ≥ j, else 0. wd_j = exp(cs_i - cs_j) Δ_j is carried from
 * row i-1 to row i by one factor exp(cs_i - cs_{i-1}) in float64: an exp per element was most of
 * the forward's scalar time, and a product of <= Q factors is as exact as the segment sum here.
 */
function buildM(Lc: number, cs: Float64Array, dtv: Float64Array, CB: Float32Array, wd: Float64Array, M: Float32Array): void {
  for (let i = 0; i < Lc; i++) {
    const a = i > 0 ? Math.exp(cs[i] - cs[i - 1]) : 1;
    for (let j = 0; j < i; j++) {
      const v = wd[j] * a;
      wd[j] = v < TINY_DECAY && v > -TINY_DECAY ? 0 : v;
    }
    wd[i] = dtv[i];
    const row = i * Lc;
    for (let j = 0; j <= i; j++) M[row + j] = CB[row + j] * wd[j];
    M.fill(0, row + i + 1, row + Lc);
  }
}

/** -> y [B, L, H, P], state [B, H, P, N] */
export function ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
  const { x, dt, A, Bmat, Cmat, Dskip, dtBias, dtSoftplus, dtLimit, chunkSize, state } = args;
  const [B, L, H, P] = x.shape;
  const [, , G, N] = Bmat.shape;
  const Q = cpuChunk(chunkSize);
  const dPerChannel = Dskip !== undefined && Dskip.size === H * P && P !== 1;

  const xs = f32(x), dts = f32(dt), As = f32(A), Bs = f32(Bmat), Cs = f32(Cmat);
  const Ds = Dskip ? f32(Dskip) : undefined;
  const bias = dtBias ? f32(dtBias) : undefined;
  const [dtMin, dtMax] = dtLimit;
  const hpg = H / G;                                   // heads per group
  const y = new Float32Array(B * L * H * P);
  // S lives in the output: the state of (b, h) is the [P, N] block at ((b H + h) P) N
  const S = state ? f32(state).slice() : new Float32Array(B * H * P * N);
  const Qc = Math.min(Q, L);
  const Cc = scratchF32('ssd.C', Qc * N);             // C of one group over the chunk [Lc, N]
  const Bc = scratchF32('ssd.B', Qc * N);             // B likewise [Lc, N]
  const CB = scratchF32('ssd.CB', Qc * Qc);           // C Bᵀ [Lc, Lc]
  const M = scratchF32('ssd.M', Qc * Qc);             // masked, decayed CB of one head [Lc, Lc]
  const Xc = scratchF32('ssd.X', Qc * P);             // x of one head [Lc, P]
  const Yd = scratchF32('ssd.Yd', Qc * P);            // intra-chunk y of one head [Lc, P]
  const Ys = scratchF32('ssd.Ys', Qc * hpg * P);      // C Sᵀ for the group's heads [Lc, hpg P]
  const Xw = scratchF32('ssd.Xw', hpg * P * Qc);      // (w ∘ X)ᵀ for the group's heads [hpg P, Lc]
  const dS = scratchF32('ssd.dS', hpg * P * N);       // state increment [hpg P, N]
  const dtv = scratchF64('ssd.dt', Qc);                // Δ of one head
  const cs = scratchF64('ssd.cs', Qc);                 // cumulative Δ A of one head
  const eLast = scratchF64('ssd.eLast', hpg);          // exp(cs_last) per head of the group
  const wd = scratchF64('ssd.wd', Qc);                 // exp(cs_i - cs_j) Δ_j of the row being built
  const dRow = scratchF32('ssd.dRow', P);              // D of one head per channel
  const dtAt = (b: number, t: number, h: number): number => {
    let d = dts[(b * L + t) * H + h] + (bias ? bias[h] : 0);
    if (dtSoftplus) d = softplusScalar(d);
    return Math.min(Math.max(d, dtMin), dtMax);
  };
  const dAt = (h: number, p: number): number => (Ds ? (dPerChannel ? Ds[h * P + p] : Ds[h]) : 0);

  for (let b = 0; b < B; b++) {
    for (let c0 = 0; c0 < L; c0 += Q) {
      const Lc = Math.min(Q, L - c0);
      for (let g = 0; g < G; g++) {
        const sBase = (b * H + g * hpg) * P * N;
        if (Lc === 1) {
          const bc = ((b * L + c0) * G + g) * N;
          for (let hh = 0; hh < hpg; hh++) {
            const h = g * hpg + hh;
            const d = dtAt(b, c0, h);
            const dA = Math.exp(d * As[h]);
            const xo = ((b * L + c0) * H + h) * P;
            for (let p = 0; p < P; p++) {
              const xdt = d * xs[xo + p];
              const sp = sBase + (hh * P + p) * N;
              let acc = 0;
              for (let n = 0; n < N; n++) {
                const v = dA * S[sp + n] + xdt * Bs[bc + n];
                S[sp + n] = v;
                acc += v * Cs[bc + n];
              }
              y[xo + p] = acc + dAt(h, p) * xs[xo + p];
            }
          }
          continue;
        }
        for (let i = 0; i < Lc; i++) {
          const o = ((b * L + c0 + i) * G + g) * N;
          for (let n = 0; n < N; n++) {
            Cc[i * N + n] = Cs[o + n];
            Bc[i * N + n] = Bs[o + n];
          }
        }
        sgemm(Lc, Lc, N, Cc, Bc, true, CB);
        sgemm(Lc, hpg * P, N, Cc, S.subarray(sBase, sBase + hpg * P * N), true, Ys);
        for (let hh = 0; hh < hpg; hh++) {
          const h = g * hpg + hh;
          let run = 0;
          for (let i = 0; i < Lc; i++) {
            dtv[i] = dtAt(b, c0 + i, h);
            run += dtv[i] * As[h];
            cs[i] = run;
          }
          const last = cs[Lc - 1];
          eLast[hh] = flushDecay(Math.exp(last));
          // wd_j = exp(cs_i - cs_j) Δ_j along row i, carried from row i-1 by one factor
          // exp(cs_i - cs_{i-1}) in float64 (an exp per element was most of this loop's time;
          // the product of <= Q factors is as exact as the segment sum for our purposes)
          buildM(Lc, cs, dtv, CB, wd, M);
          for (let i = 0; i < Lc; i++) {
            const xo = ((b * L + c0 + i) * H + h) * P;
            for (let p = 0; p < P; p++) Xc[i * P + p] = xs[xo + p];
          }
          sgemm(Lc, P, Lc, M, Xc, false, Yd);
          for (let p = 0; p < P; p++) dRow[p] = dAt(h, p);
          for (let i = 0; i < Lc; i++) {
            const eIn = flushDecay(Math.exp(cs[i]));
            const yo = ((b * L + c0 + i) * H + h) * P;
            const so = i * hpg * P + hh * P;
            for (let p = 0; p < P; p++) y[yo + p] = Yd[i * P + p] + eIn * Ys[so + p] + dRow[p] * Xc[i * P + p];
          }
          for (let j = 0; j < Lc; j++) {
            const w = flushDecay(Math.exp(last - cs[j])) * dtv[j];
            for (let p = 0; p < P; p++) Xw[(hh * P + p) * Lc + j] = w * Xc[j * P + p];
          }
        }
        sgemm(hpg * P, N, Lc, Xw, Bc, false, dS);
        for (let hh = 0; hh < hpg; hh++) {
          const e = eLast[hh];
          const o = sBase + hh * P * N;
          for (let k = 0; k < P * N; k++) S[o + k] = e * S[o + k] + dS[hh * P * N + k];
        }
      }
    }
  }
  return { y: wrapF32(x.backend, [B, L, H, P], y), state: wrapF32(x.backend, [B, H, P, N], S) };
}
