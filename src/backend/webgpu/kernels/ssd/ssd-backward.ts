/**
 * Backward of Mamba-2 SSD (ssd.ts), chunk by chunk as cpu/ssd-backward.ts derives it: nothing
 * per step is kept from the forward; the chunks' quantities are recomputed, and only [P, N]
 * states per chunk and head exist (the state entering each chunk, and the gradient of the state
 * leaving it). For one head of one chunk, with cs_i = Σ_{k≤i} Δ_k A, E_ij = exp(cs_i − cs_j),
 * M_ij = (C_i·B_j) E_ij Δ_j (i ≥ j), w_j = exp(cs_last − cs_j) Δ_j and S0 the entering state:
 *   Y = M X + diag(exp cs) C S0ᵀ + D X,      S_end = exp(cs_last) S0 + (w ∘ X)ᵀ B
 * and with dS the gradient of S_end:
 *   dX = Mᵀ dY + diag(w) B dSᵀ + D dY
 *   dCB_ij = Σ_heads (dY_i·X_j) E_ij Δ_j        dC = dCB B + Σ_heads diag(exp cs) dY S0
 *   dB = dCBᵀ C + Σ_heads (w ∘ X) dS            dS0 = exp(cs_last) dS + (diag(exp cs) dY)ᵀ C
 *   dcs and dΔ from M's factors, the state terms and S_end; then dΔ A and dA by the reverse
 *   cumulative sum of dcs, and dt through the clamp and softplus.
 * The stages (Q the chunk size; tiles of 64 from tiles.ts where a stage is a matmul), the
 * forward's where they are the same:
 *   dt-cumsum           Δ and cs per (b, h, chunk)                             -> dtv, acum [B, H, L]
 *   backward-cb         CB (chunk-cb.ts), K_ij = (dY_i·X_j) E_ij (j ≤ i),
 *                       R = (K ∘ CB ∘ Δ_j)ᵀ, dCB_ij = Σ_heads K_ij Δ_j           -> [B, nC, G or H, Q, Q]
 *   chunk-states        (w ∘ X)ᵀ B and, 'decay', (diag(exp cs) dY)ᵀ C           -> S, U [B, nC, H, P, N]
 *   state-passing       forward over chunks (S -> S0), in reverse (U -> dS)     -> dstate [B, H, P, N]
 *   rows-times-states   Tm = B dSᵀ and Ys = C S0ᵀ per chunk and head              -> [B, L, H, P]
 *   backward-dx         dX = Mᵀ dY + w ∘ Tm + D dY
 *   backward-positions  per (b, h, l): the row sum of R, the column sum of K ∘ CB, x·Tm, dY·Ys
 *   sdot                Σ S0 ∘ dS per chunk and head (the exp(cs_last) S0 term's dcs)
 *   backward-dt         per (b, h, chunk) the reverse cumulative sum -> ddt, dA, ddtBias
 *   backward-dc-db      dC and dB per chunk and group
 *   column sums         dD
 * With one group and whole chunks (ssdBatched), the products with the chunk states are batched
 * matmuls over the (b, c) pairs (pairs.ts) of x̃ = w ∘ X and dỸ = diag(exp cs) dY, made once each.
 *   x, dy [B, L, H, P], dt [B, L, H], A [H], B/C [B, L, G, N], D [H] or [H, P], states [B, H, P, N]
 */
import type { SsdArgs, SsdGrads } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { storageOf, type KernelHost } from '../../runtime.js';
import { columnSum } from '../reduce.js';
import { cbGrads } from './backward-cb.js';
import { dCdB } from './backward-dc-db.js';
import { dtGrads } from './backward-dt.js';
import { dxOf } from './backward-dx.js';
import { positions } from './backward-positions.js';
import { chunkStates } from './chunk-states.js';
import { dtCumsum } from './dt-cumsum.js';
import { dModeOf, ssdBatched, ssdDims } from './fields.js';
import { scaledRows } from './pairs.js';
import { rowsTimesStates } from './rows-times-states.js';
import { statePassing } from './state-passing.js';

export function ssdChunkedBackward(h: KernelHost, a: SsdArgs, dy: GpuTensor, dnext: GpuTensor): SsdGrads {
  const d = ssdDims(a);
  const { B, L, H, P, N, nC } = d;
  const x = a.x as GpuTensor;
  const Bm = a.Bmat as GpuTensor;
  const Cm = a.Cmat as GpuTensor;

  const { dtv, acum } = dtCumsum(h, a, d);
  const { CB, dCB, K, R } = cbGrads(h, a, dy, dtv, acum, d);

  const batched = ssdBatched(d);
  const scaled = batched ? { xs: scaledRows(h, x, acum, dtv, d, 'state'), dys: scaledRows(h, dy, acum, dtv, d, 'decay') } : undefined;
  const S = chunkStates(h, x, Bm, acum, dtv, 'state', d, scaled?.xs);
  const U = chunkStates(h, dy, Cm, acum, dtv, 'decay', d, scaled?.dys);
  const dstate = h.empty([B, H, P, N]);
  // the forward pass's final state lands in dstate, which the reverse pass then overwrites
  statePassing(h, acum, a.state && storageOf(a.state as GpuTensor), S, dstate, false, d);
  statePassing(h, acum, storageOf(dnext), U, dstate, true, d);
  const S0 = S;
  const dS = U;

  const Tm = rowsTimesStates(h, Bm, dS, d, batched);
  const Ys = rowsTimesStates(h, Cm, S0, d, batched);
  const dMode = dModeOf(a);
  const dx = dxOf(h, CB, acum, dtv, storageOf(dy), Tm, a.Dskip && storageOf(a.Dskip as GpuTensor), dMode, d);
  const pos = positions(h, storageOf(x), storageOf(dy), CB, K && R && [K, R], dtv, acum, Tm, Ys, d);
  K?.dispose();
  R?.dispose();
  const sdot = columnSum(h, { label: 'ssd backward sdot', fields: '', buffers: [['S0', 'read', 'f32'], ['dS', 'read', 'f32']],
    term: 'S0[c * p.rows + r] * dS[c * p.rows + r]' }, P * N, B * nC * H, [], [S0, dS]);
  const { ddt, dA, ddtBias } = dtGrads(h, a, dtv, acum, pos, sdot, d);
  const { dC, dB } = dCdB(h, a, dy, dCB, acum, dtv, S0, dS, d, scaled);
  scaled?.xs.dispose();
  scaled?.dys.dispose();

  let dD: GpuTensor | undefined;
  if (a.Dskip) {
    // Σ over (b, l) of dY ∘ X per (h, p); a per-head D then sums over p
    const perChannel = a.Dskip.size === H * P;
    const dHP = columnSum(h, { label: 'ssd backward dD', fields: '', buffers: [['dy', 'read', 'f32'], ['x', 'read', 'f32']],
      term: 'dy[r * p.cols + c] * x[r * p.cols + c]' }, B * L, H * P, [], [dy, x], perChannel ? a.Dskip.shape : [H, P]);
    if (perChannel) {
      dD = dHP;
    } else {
      dD = columnSum(h, { label: 'ssd backward dD per head', fields: '', buffers: [['dHP', 'read', 'f32']], term: 'dHP[c * p.rows + r]' },
        P, H, [], [dHP]);
      dHP.dispose();
    }
  }
  for (const t of [dtv, acum, CB, dCB, S, U, Tm, Ys, pos, sdot]) t.dispose();
  return { dx, ddt, dA, dB, dC, dD, ddtBias, dstate };
}
