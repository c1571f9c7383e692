/**
 * Mamba-2 SSD by the chunked algorithm (Dao & Gu §6; the stages of mamba_ssm's
 * mamba_chunk_scan_combined), for chunks of Q steps (the last may be short), a file a stage:
 *   1. dt-cumsum:     Δ = clamp(softplus(dt + dtBias)); acum = within-chunk cumsum of Δ·A_h
 *   2. chunk-cb:      CB[i, j] = C_i · B_j per chunk and group (lower-triangular tiles only)
 *   3. chunk-states:  S_c[p, n] = Σ_i exp(acum_last − acum_i) Δ_i x_i[p] B_i[n]
 *   4. state-passing: H_c = exp(acum_last(c−1)) H_{c−1} + S_{c−1} (sequential over chunks; S_c is
 *                     overwritten with the state entering chunk c), H_0 = the initial state
 *   5. chunk-output:  y_i = Σ_{j≤i} CB[i, j] exp(acum_i − acum_j) Δ_j x_j + exp(acum_i) C_i · H_c + D x_i
 * Decays are differences of within-chunk cumsums, all ≤ 0, so no exp can overflow.
 * With one group and whole chunks (ssdBatched), stage 3 and the state term of stage 5 are batched
 * matmuls over the (b, c) pairs (pairs.ts); otherwise every stage is a tiled kernel.
 * Up to RECURRENT_MAX_L steps (decoding) skip the stages and run the recurrence in one kernel.
 *   x [B, L, H, P], dt [B, L, H], A [H], B/C [B, L, G, N], D [H] or [H, P], state [B, H, P, N]
 *   -> y [B, L, H, P], state [B, H, P, N]
 */
import type { SsdArgs } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { storageOf, type KernelHost } from '../../runtime.js';
import { chunkCB } from './chunk-cb.js';
import { chunkOutput } from './chunk-output.js';
import { chunkStates } from './chunk-states.js';
import { dtCumsum } from './dt-cumsum.js';
import { dModeOf, ssdBatched, ssdDims } from './fields.js';
import { scaledRows } from './pairs.js';
import { RECURRENT_MAX_L, ssdRecurrent } from './recurrent.js';
import { rowsTimesStates } from './rows-times-states.js';
import { statePassing } from './state-passing.js';

export function ssdChunked(h: KernelHost, a: SsdArgs): { y: GpuTensor; state: GpuTensor } {
  const d = ssdDims(a);
  if (d.L > 0 && d.L <= RECURRENT_MAX_L) return ssdRecurrent(h, a, d);
  const x = a.x as GpuTensor;
  const Bm = a.Bmat as GpuTensor;
  const Cm = a.Cmat as GpuTensor;

  const { dtv, acum } = dtCumsum(h, a, d);
  const CB = chunkCB(h, Cm, Bm, d);
  const batched = ssdBatched(d);
  // S_c = x̃_cᵀ B_c
  const xs = batched ? scaledRows(h, x, acum, dtv, d, 'state') : undefined;
  const S = chunkStates(h, x, Bm, acum, dtv, 'state', d, xs);
  xs?.dispose();

  const state = h.empty([d.B, d.H, d.P, d.N]);
  statePassing(h, acum, a.state && storageOf(a.state as GpuTensor), S, state, false, d);

  // batched: y_c = C_c H_cᵀ first; the output kernel decays it and adds the rest
  const y = batched ? rowsTimesStates(h, Cm, S, d, true) : h.empty([d.B, d.L, d.H, d.P]);
  chunkOutput(h, y, CB, acum, dtv, storageOf(x), batched ? undefined : [storageOf(Cm), S], a.Dskip && storageOf(a.Dskip as GpuTensor), dModeOf(a), d);

  for (const t of [dtv, acum, CB, S]) t.dispose();
  return { y, state };
}
