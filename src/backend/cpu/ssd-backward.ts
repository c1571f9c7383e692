/**
 * Backward of Mamba-2 SSD (ssd.ts), chunk by chunk in reverse, recomputing each chunk's
 * quantities (C Bᵀ, decays, the masked M) instead of saving them. Only the [P, N] state
 * entering each chunk is kept, from one forward pass over the chunk states.
 *
 * For one head of one chunk, with S0 the state entering it, cs_i = Σ_{k≤i} Δ_k A,
 * M_ij = (C_i·B_j) exp(cs_i - cs_j) Δ_j (i ≥ j), w_j = exp(cs_last - cs_j) Δ_j, the forward is
 *   Y = M X + diag(exp cs) C S0ᵀ + D X,      S_end = exp(cs_last) S0 + (w ∘ X)ᵀ B
 * and given dY and dS (the gradient of S_end):
 *   dX = Mᵀ dY + D dY + diag(w) B dSᵀ                          (matmuls)
 *   dM = dY Xᵀ  ->  d(C Bᵀ), dΔ, dcs through M's three factors  (elementwise on [Q, Q])
 *   dC = d(CBᵀ) B + diag(exp cs) dY S0,  dB = d(CBᵀ)ᵀ C + (w ∘ X) dS   (once per group)
 *   dS0 = exp(cs_last) dS + (diag(exp cs) dY)ᵀ C                  (carried to the chunk before)
 *   dcs -> dΔ A and dA by the reverse cumulative sum; dΔ -> dt through the clamp and softplus.
 * Heads of a group share B and C, so their terms are stacked into one [Lc, hpg P] matmul.
 *
 * Glossary as in ssd.ts: B batch, L length, H heads, P head dim, N state, G groups, Q chunk.
 */
import type { SsdArgs, SsdGrads } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { softplusScalar } from './elementwise.js';
import { softplusGrad } from './elementwise-backward.js';
import { sgemm } from './gemm.js';
import { cpuChunk, flushDecay, TINY_DECAY } from './ssd.js';
import { f32, scratchF32, scratchF64, wrapF32 } from './storage.js';

// The [Lc, Lc] loops live in small functions of their own: inside the long backward function
// V8 compiled them poorly (on-stack replacement, deopts on the parts not yet run).

/** ET[j, i] = exp(cs_i - cs_j) (i ≥ j) as a running product of step_i = exp(cs_i - cs_{i-1}), MT = CBT ∘ ET Δ_j */
function buildMT(Lc: number, step: Float64Array, dtv: Float64Array, CBT: Float32Array, ET: Float32Array, MT: Float32Array): void {
  for (let j = 0; j < Lc; j++) {
    const row = j * Lc;
    const dtj = dtv[j];
    MT.fill(0, row, row + j);
    let e = 1;
    ET[row + j] = 1;
    MT[row + j] = CBT[row + j] * dtj;
    for (let i = j + 1; i < Lc; i++) {
      e *= step[i];
      const ef = e < TINY_DECAY ? 0 : e;   // (flushDecay; e > 0)
      ET[row + i] = ef;
      MT[row + i] = CBT[row + i] * ef * dtj;
    }
  }
}

/** through M_ij = CB_ij exp(cs_i - cs_j) Δ_j: dCBT +=, dcs +=, ddtv = (the diagonal's dcs terms cancel) */
function throughM(
  Lc: number, dMT: Float32Array, ET: Float32Array, CBT: Float32Array, dtv: Float64Array,
  dCBT: Float32Array, dcs: Float64Array, ddtv: Float64Array,
): void {
  for (let j = 0; j < Lc; j++) {
    const row = j * Lc;
    const dtj = dtv[j];
    let dDt = 0, dCs = 0;
    for (let i = j; i < Lc; i++) {
      const t = dMT[row + i] * ET[row + i];
      const cb = CBT[row + i];
      dCBT[row + i] += t * dtj;
      dDt += t * cb;
      const gm = t * cb * dtj;
      dcs[i] += gm;
      dCs += gm;
    }
    ddtv[j] = dDt;
    dcs[j] -= dCs;
  }
}

/** through the skip D X: dD += Σ dY ∘ X (per channel or per head), dX += D dY */
function throughD(
  Lc: number, P: number, h: number, perChannel: boolean, Ds: Float32Array,
  dYc: Float32Array, Xc: Float32Array, dXc: Float32Array, dD: Float64Array,
): void {
  if (perChannel) {
    for (let i = 0; i < Lc; i++) {
      for (let p = 0; p < P; p++) {
        const k = h * P + p;
        dD[k] += dYc[i * P + p] * Xc[i * P + p];
        dXc[i * P + p] += Ds[k] * dYc[i * P + p];
      }
    }
    return;
  }
  const d = Ds[h];
  let acc = dD[h];   // the same order of additions as adding into dD[h] element by element
  for (let i = 0; i < Lc * P; i++) {
    acc += dYc[i] * Xc[i];
    dXc[i] += d * dYc[i];
  }
  dD[h] = acc;
}

/** dy [B, L, H, P], dstate [B, H, P, N] (of the final state) -> gradients of args' tensors */
export function ssdChunkedBackward(args: SsdArgs, dy: Tensor, dstate: Tensor): SsdGrads {
  const { x, dt, A, Bmat, Cmat, Dskip, dtBias, dtSoftplus, dtLimit, chunkSize, state } = args;
  const Q = cpuChunk(chunkSize);   // as the forward chunks (ssd.ts)
  const [B, L, H, P] = x.shape;
  const [, , G, N] = Bmat.shape;
  const xs = f32(x), dts = f32(dt), As = f32(A), Bs = f32(Bmat), Cs = f32(Cmat);
  const Ds = Dskip ? f32(Dskip) : undefined;
  const dPerChannel = Dskip !== undefined && Dskip.size === H * P && P !== 1;
  const bias = dtBias ? f32(dtBias) : undefined;
  const gy = f32(dy);
  const [dtMin, dtMax] = dtLimit;
  const hpg = H / G;
  const HPN = H * P * N;
  const nC = Math.ceil(L / Q);
  const Qc = Math.min(Q, L);

  const dx = new Float32Array(B * L * H * P);
  const ddt = new Float32Array(B * L * H);
  const dB = new Float32Array(B * L * G * N);
  const dC = new Float32Array(B * L * G * N);
  const dh0 = new Float32Array(B * HPN);
  const dA = scratchF64('ssdB.dA', H).fill(0, 0, H);
  const dD = scratchF64('ssdB.dD', H * P).fill(0, 0, H * P);
  const dBias = scratchF64('ssdB.dBias', H).fill(0, 0, H);

  const entry = scratchF32('ssdB.entry', nC * HPN);       // state entering each chunk [nC, H, P, N]
  const dS = scratchF32('ssdB.dS', HPN);                  // gradient of the state leaving the chunk
  const Cc = scratchF32('ssdB.C', Qc * N);                // [Lc, N]
  const Bc = scratchF32('ssdB.B', Qc * N);
  // the [Lc, Lc] quantities are kept transposed (row j, column i ≥ j), so the loops over them
  // run along contiguous rows; sgemm gives the transposes directly (B Cᵀ, X dYᵀ)
  const CBT = scratchF32('ssdB.CBT', Qc * Qc);            // (C Bᵀ)ᵀ
  const ET = scratchF32('ssdB.ET', Qc * Qc);              // exp(cs_i - cs_j) at [j, i]
  const MT = scratchF32('ssdB.MT', Qc * Qc);              // Mᵀ of one head
  const dMT = scratchF32('ssdB.dMT', Qc * Qc);            // (dY Xᵀ)ᵀ
  const dCBT = scratchF32('ssdB.dCBT', Qc * Qc);          // d(C Bᵀ)ᵀ, summed over the group's heads
  const dCB = scratchF32('ssdB.dCB', Qc * Qc);
  const Xc = scratchF32('ssdB.X', Qc * P);                // [Lc, P] of one head
  const dYc = scratchF32('ssdB.dY', Qc * P);
  const dXc = scratchF32('ssdB.dX', Qc * P);
  const Ys = scratchF32('ssdB.Ys', Qc * hpg * P);         // C S0ᵀ [Lc, hpg P]
  const T = scratchF32('ssdB.T', Qc * hpg * P);           // B dSᵀ [Lc, hpg P]
  const dYe = scratchF32('ssdB.dYe', Qc * hpg * P);       // diag(exp cs) dY [Lc, hpg P]
  const dYeT = scratchF32('ssdB.dYeT', hpg * P * Qc);     // its transpose [hpg P, Lc]
  const Xw = scratchF32('ssdB.Xw', Qc * hpg * P);         // w ∘ X [Lc, hpg P]
  const XwT = scratchF32('ssdB.XwT', hpg * P * Qc);       // forward pass: (w ∘ X)ᵀ [hpg P, Lc]
  const mm1 = scratchF32('ssdB.mm1', Math.max(Qc, hpg * P) * N);
  const mm2 = scratchF32('ssdB.mm2', Qc * N);
  const raw = scratchF64('ssdB.raw', Qc);                 // dt + bias
  const dtv = scratchF64('ssdB.dtv', Qc);                 // Δ
  const cs = scratchF64('ssdB.cs', Qc);
  const dcs = scratchF64('ssdB.dcs', Qc);
  const ddtv = scratchF64('ssdB.ddtv', Qc);
  const eLast = scratchF64('ssdB.eLast', hpg);
  const step = scratchF64('ssdB.step', Qc);              // exp(cs_i - cs_{i-1})

  /** Δ (and the pre-softplus value) of chunk rows c0.. of head h, and cs; -> cs_last */
  const chunkDecay = (b: number, c0: number, Lc: number, h: number): number => {
    let run = 0;
    for (let i = 0; i < Lc; i++) {
      const v = dts[(b * L + c0 + i) * H + h] + (bias ? bias[h] : 0);
      raw[i] = v;
      dtv[i] = Math.min(Math.max(dtSoftplus ? softplusScalar(v) : v, dtMin), dtMax);
      run += dtv[i] * As[h];
      cs[i] = run;
    }
    return run;
  };
  const gather = (src: Float32Array, b: number, c0: number, Lc: number, g: number, dst: Float32Array): void => {
    for (let i = 0; i < Lc; i++) {
      const o = ((b * L + c0 + i) * G + g) * N;
      for (let n = 0; n < N; n++) dst[i * N + n] = src[o + n];
    }
  };
  const headRows = (src: Float32Array, b: number, c0: number, Lc: number, h: number, dst: Float32Array): void => {
    for (let i = 0; i < Lc; i++) {
      const o = ((b * L + c0 + i) * H + h) * P;
      for (let p = 0; p < P; p++) dst[i * P + p] = src[o + p];
    }
  };

  for (let b = 0; b < B; b++) {
    // forward over the chunk states only: entry[c] = the state entering chunk c
    if (state) entry.set(f32(state).subarray(b * HPN, (b + 1) * HPN));
    else entry.fill(0, 0, HPN);
    for (let c = 0; c + 1 < nC; c++) {
      const c0 = c * Q, Lc = Math.min(Q, L - c0);
      const S = entry.subarray(c * HPN, (c + 1) * HPN);
      const Snext = entry.subarray((c + 1) * HPN, (c + 2) * HPN);
      for (let g = 0; g < G; g++) {
        gather(Bs, b, c0, Lc, g, Bc);
        for (let hh = 0; hh < hpg; hh++) {
          const h = g * hpg + hh;
          const last = chunkDecay(b, c0, Lc, h);
          eLast[hh] = flushDecay(Math.exp(last));
          headRows(xs, b, c0, Lc, h, Xc);
          for (let j = 0; j < Lc; j++) {
            const w = flushDecay(Math.exp(last - cs[j])) * dtv[j];
            for (let p = 0; p < P; p++) XwT[(hh * P + p) * Lc + j] = w * Xc[j * P + p];
          }
        }
        sgemm(hpg * P, N, Lc, XwT, Bc, false, mm1);
        const o = g * hpg * P * N;
        for (let hh = 0; hh < hpg; hh++) {
          for (let k = hh * P * N; k < (hh + 1) * P * N; k++) Snext[o + k] = eLast[hh] * S[o + k] + mm1[k];
        }
      }
    }

    dS.set(f32(dstate).subarray(b * HPN, (b + 1) * HPN));
    for (let c = nC - 1; c >= 0; c--) {
      const c0 = c * Q, Lc = Math.min(Q, L - c0);
      const HP = hpg * P;
      for (let g = 0; g < G; g++) {
        const o = c * HPN + g * HP * N;
        const S0g = entry.subarray(o, o + HP * N);
        const dSg = dS.subarray(g * HP * N, (g + 1) * HP * N);
        gather(Cs, b, c0, Lc, g, Cc);
        gather(Bs, b, c0, Lc, g, Bc);
        sgemm(Lc, Lc, N, Bc, Cc, true, CBT);
        sgemm(Lc, HP, N, Cc, S0g, true, Ys);
        sgemm(Lc, HP, N, Bc, dSg, true, T);
        dCBT.fill(0, 0, Lc * Lc);
        for (let hh = 0; hh < hpg; hh++) {
          const h = g * hpg + hh;
          const last = chunkDecay(b, c0, Lc, h);
          const eL = flushDecay(Math.exp(last));
          eLast[hh] = eL;
          headRows(xs, b, c0, Lc, h, Xc);
          headRows(gy, b, c0, Lc, h, dYc);
          // exp(cs_i - cs_j) along row j as a running product of the per-step factors
          // exp(cs_i - cs_{i-1}) in float64 (one exp per step, not per element)
          for (let i = 1; i < Lc; i++) step[i] = Math.exp(cs[i] - cs[i - 1]);
          buildMT(Lc, step, dtv, CBT, ET, MT);
          sgemm(Lc, P, Lc, MT, dYc, false, dXc);
          sgemm(Lc, Lc, P, Xc, dYc, true, dMT);
          dcs.fill(0, 0, Lc);
          // through M_ij = CB_ij exp(cs_i - cs_j) Δ_j (the diagonal's dcs terms cancel)
          throughM(Lc, dMT, ET, CBT, dtv, dCBT, dcs, ddtv);
          // through the state entering the chunk: exp(cs_i) C_i S0ᵀ
          for (let i = 0; i < Lc; i++) {
            const eIn = flushDecay(Math.exp(cs[i]));
            const r = i * HP + hh * P;
            let s = 0;
            for (let p = 0; p < P; p++) {
              const gp = dYc[i * P + p];
              s += gp * Ys[r + p];
              const ge = eIn * gp;
              dYe[r + p] = ge;
              dYeT[(hh * P + p) * Lc + i] = ge;
            }
            dcs[i] += eIn * s;
          }
          if (Ds) throughD(Lc, P, h, dPerChannel, Ds, dYc, Xc, dXc, dD);
          // through the state leaving the chunk: exp(cs_last) S0 + Σ_j w_j x_j B_jᵀ
          for (let j = 0; j < Lc; j++) {
            const ej = flushDecay(Math.exp(last - cs[j]));
            const w = ej * dtv[j];
            const r = j * HP + hh * P;
            let dw = 0;
            for (let p = 0; p < P; p++) {
              const tp = T[r + p];
              dw += Xc[j * P + p] * tp;
              dXc[j * P + p] += w * tp;
              Xw[r + p] = w * Xc[j * P + p];
            }
            ddtv[j] += dw * ej;
            dcs[Lc - 1] += dw * w;
            dcs[j] -= dw * w;
          }
          let sdot = 0;
          for (let k = hh * P * N; k < (hh + 1) * P * N; k++) sdot += dSg[k] * S0g[k];
          dcs[Lc - 1] += eL * sdot;
          for (let i = 0; i < Lc; i++) {
            const o2 = ((b * L + c0 + i) * H + h) * P;
            for (let p = 0; p < P; p++) dx[o2 + p] = dXc[i * P + p];
          }
          // cs_i = Σ_{k≤i} Δ_k A: the gradient of Δ_k A is the sum of dcs_i over i ≥ k
          let run = 0;
          for (let k = Lc - 1; k >= 0; k--) {
            run += dcs[k];
            ddtv[k] += As[h] * run;
            dA[h] += dtv[k] * run;
            const pre = dtSoftplus ? softplusScalar(raw[k]) : raw[k];
            const pass = pre >= dtMin && pre <= dtMax ? 1 : 0;
            const d = pass * ddtv[k] * (dtSoftplus ? softplusGrad(raw[k]) : 1);
            ddt[(b * L + c0 + k) * H + h] = d;
            dBias[h] += d;
          }
        }
        for (let j = 0; j < Lc; j++) for (let i = 0; i < Lc; i++) dCB[i * Lc + j] = dCBT[j * Lc + i];
        sgemm(Lc, N, Lc, dCB, Bc, false, mm1);
        sgemm(Lc, N, HP, dYe, S0g, false, mm2);
        for (let i = 0; i < Lc; i++) {
          const o2 = ((b * L + c0 + i) * G + g) * N;
          for (let n = 0; n < N; n++) dC[o2 + n] = mm1[i * N + n] + mm2[i * N + n];
        }
        sgemm(Lc, N, Lc, dCBT, Cc, false, mm1);
        sgemm(Lc, N, HP, Xw, dSg, false, mm2);
        for (let i = 0; i < Lc; i++) {
          const o2 = ((b * L + c0 + i) * G + g) * N;
          for (let n = 0; n < N; n++) dB[o2 + n] = mm1[i * N + n] + mm2[i * N + n];
        }
        // dS becomes the gradient of the state entering this chunk (= leaving the one before)
        sgemm(HP, N, Lc, dYeT, Cc, false, mm1);
        for (let hh = 0; hh < hpg; hh++) {
          for (let k = hh * P * N; k < (hh + 1) * P * N; k++) dSg[k] = eLast[hh] * dSg[k] + mm1[k];
        }
      }
    }
    dh0.set(dS.subarray(0, HPN), b * HPN);
  }
  const be = x.backend;
  return {
    dx: wrapF32(be, [B, L, H, P], dx),
    ddt: wrapF32(be, [B, L, H], ddt),
    dA: wrapF32(be, [H], Float32Array.from(dA.subarray(0, H))),
    dB: wrapF32(be, [B, L, G, N], dB),
    dC: wrapF32(be, [B, L, G, N], dC),
    dD: Dskip ? wrapF32(be, Dskip.shape, Float32Array.from(dD.subarray(0, Dskip.size))) : undefined,
    ddtBias: bias ? wrapF32(be, [H], Float32Array.from(dBias.subarray(0, H))) : undefined,
    dstate: wrapF32(be, [B, H, P, N], dh0),
  };
}
