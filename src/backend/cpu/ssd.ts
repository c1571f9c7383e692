/**
 * Mamba-2 SSD by the chunked algorithm (Dao & Gu 2024, §6; mamba_ssm ssd_minimal / ssd_combined).
 * Within a chunk of Q steps the SSM is a masked quadratic form (the "diagonal blocks"); across
 * chunks only a [P, N] state per head is carried. For each chunk:
 *   1. cs_i = Σ_{k≤i} Δ_k A_h, the cumulative log-decay (segsum: decay j→i is exp(cs_i - cs_j) ≤ 1,
 *      never exp(cs_i)/exp(cs_j), which under/overflows for long chunks)
 *   2. intra-chunk:   y_i += Σ_{j≤i} (C_i·B_j) exp(cs_i - cs_j) Δ_j x_j
 *   3. state→output:  y_i += exp(cs_i) S C_i           (S = state entering the chunk)
 *   4. chunk state:   S ← exp(cs_last) S + Σ_j exp(cs_last - cs_j) Δ_j x_j B_jᵀ   (state passing)
 * C_i·B_j is shared by all heads of a group, so it is computed once per group and chunk.
 *
 * Glossary (code -> paper):  B batch, L length, H heads, P head dim (headdim), N state size
 *   (d_state), G groups of B/C (ngroups), Q chunk size, x X, dt Δ (before bias/softplus),
 *   A A (scalar per head), Bmat B, Cmat C, Dskip D, S/h state [P, N].
 */
import type { SsdArgs } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { softplusScalar } from './elementwise.js';
import { expectShape, f32, scratchF64, wrapF32 } from './storage.js';

/** -> y [B, L, H, P], state [B, H, P, N] */
export function ssdChunked(args: SsdArgs): { y: Tensor; state: Tensor } {
  const { x, dt, A, Bmat, Cmat, Dskip, dtBias, dtSoftplus, dtLimit, chunkSize: Q, state } = args;
  const [B, L, H, P] = x.shape;
  const [, , G, N] = Bmat.shape;
  expectShape('ssd dt', dt, [B, L, H]);
  expectShape('ssd A', A, [H]);
  expectShape('ssd B', Bmat, [B, L, G, N]);
  expectShape('ssd C', Cmat, [B, L, G, N]);
  if (H % G !== 0) throw new Error(`ssd: ${H} heads are not a multiple of ${G} groups`);
  if (!(Q >= 1)) throw new Error(`ssd: chunk size ${Q}`);
  const dPerHead = Dskip !== undefined && Dskip.size === H * P && P !== 1;
  if (Dskip && !dPerHead) expectShape('ssd D', Dskip, [H]);
  if (dtBias) expectShape('ssd dtBias', dtBias, [H]);
  if (state) expectShape('ssd state', state, [B, H, P, N]);

  const xs = f32(x), dts = f32(dt), As = f32(A), Bs = f32(Bmat), Cs = f32(Cmat);
  const Ds = Dskip ? f32(Dskip) : undefined;
  const bias = dtBias ? f32(dtBias) : undefined;
  const [dtMin, dtMax] = dtLimit;
  const headsPerGroup = H / G;
  const y = new Float32Array(B * L * H * P);
  // S lives in the output: the state of (b, h) is the [P, N] block at ((b H + h) P) N
  const S = state ? f32(state).slice() : new Float32Array(B * H * P * N);
  const Qc = Math.min(Q, L);
  const CB = scratchF64('ssd.CB', G * Qc * Qc);   // C_i·B_j, lower triangle, per group
  const dtv = scratchF64('ssd.dt', Qc);           // Δ of one head over the chunk
  const cs = scratchF64('ssd.cs', Qc);            // cumulative Δ A of one head
  const eIn = scratchF64('ssd.eIn', Qc);          // exp(cs_i): decay from the chunk start to i
  const wOut = scratchF64('ssd.wOut', Qc);        // exp(cs_last - cs_j) Δ_j: weight of x_j in the chunk state
  const acc = scratchF64('ssd.acc', Qc * P);      // y of one head over the chunk
  const row = scratchF64('ssd.row', N);           // one row S[p, :] in float64
  const bcRow = (b: number, t: number, g: number): number => ((b * L + t) * G + g) * N;

  for (let b = 0; b < B; b++) {
    for (let c0 = 0; c0 < L; c0 += Q) {
      const Lc = Math.min(Q, L - c0);
      for (let g = 0; g < G; g++) {
        for (let i = 0; i < Lc; i++) {
          const ci = bcRow(b, c0 + i, g);
          for (let j = 0; j <= i; j++) {
            const bj = bcRow(b, c0 + j, g);
            let s = 0;
            for (let n = 0; n < N; n++) s += Cs[ci + n] * Bs[bj + n];
            CB[(g * Qc + i) * Qc + j] = s;
          }
        }
      }
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / headsPerGroup);
        let run = 0;
        for (let i = 0; i < Lc; i++) {
          let d = dts[(b * L + c0 + i) * H + h] + (bias ? bias[h] : 0);
          if (dtSoftplus) d = softplusScalar(d);
          d = Math.min(Math.max(d, dtMin), dtMax);
          dtv[i] = d;
          run += d * As[h];
          cs[i] = run;
        }
        const last = cs[Lc - 1];
        const eLast = Math.exp(last);
        for (let i = 0; i < Lc; i++) {
          eIn[i] = Math.exp(cs[i]);
          wOut[i] = Math.exp(last - cs[i]) * dtv[i];
        }
        // state -> output, then the state passed on; row by row so S[p, :] stays in cache
        for (let p = 0; p < P; p++) {
          const sp = ((b * H + h) * P + p) * N;
          for (let n = 0; n < N; n++) row[n] = S[sp + n];
          for (let i = 0; i < Lc; i++) {
            const ci = bcRow(b, c0 + i, g);
            let s = 0;
            for (let n = 0; n < N; n++) s += row[n] * Cs[ci + n];
            acc[i * P + p] = eIn[i] * s;
          }
          for (let n = 0; n < N; n++) row[n] *= eLast;
          for (let j = 0; j < Lc; j++) {
            const wx = wOut[j] * xs[((b * L + c0 + j) * H + h) * P + p];
            const bj = bcRow(b, c0 + j, g);
            for (let n = 0; n < N; n++) row[n] += wx * Bs[bj + n];
          }
          for (let n = 0; n < N; n++) S[sp + n] = row[n];
        }
        // intra-chunk (the diagonal block): y_i += Σ_{j≤i} C_i·B_j exp(cs_i - cs_j) Δ_j x_j
        for (let i = 0; i < Lc; i++) {
          const ai = i * P;
          for (let j = 0; j <= i; j++) {
            const w = CB[(g * Qc + i) * Qc + j] * Math.exp(cs[i] - cs[j]) * dtv[j];
            const xj = ((b * L + c0 + j) * H + h) * P;
            for (let p = 0; p < P; p++) acc[ai + p] += w * xs[xj + p];
          }
          const xi = ((b * L + c0 + i) * H + h) * P;
          for (let p = 0; p < P; p++) {
            const dSkip = Ds ? (dPerHead ? Ds[h * P + p] : Ds[h]) : 0;
            y[xi + p] = acc[ai + p] + dSkip * xs[xi + p];
          }
        }
      }
    }
  }
  return { y: wrapF32(x.backend, [B, L, H, P], y), state: wrapF32(x.backend, [B, H, P, N], S) };
}
