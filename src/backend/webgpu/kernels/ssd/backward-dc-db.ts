/**
 * The SSD backward's dC = dCB B + Σ_heads diag(exp cs) dY S0 and dB = dCBᵀ C + Σ_heads (w ∘ X) dS
 * per chunk and group: batched matmuls over the (b, c) pairs where ssdBatched, else two tiled
 * kernels of two phases each (the second over the group's heads × P).
 */
import type { SsdArgs } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { storageOf, type KernelHost } from '../../runtime.js';
import { cached } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { CHUNK, FIELDS, GROUP, tileOf, type SsdDims } from './fields.js';
import { pairCBTimes, pairRowsByStates } from './pairs.js';

/** dC = dCB B + Σ_heads diag(exp cs) dY S0, per chunk and group; k of phase 2 runs over (head, p) */
const DC_KERNEL = cached('ssd backward dC', () => tiledSource({
  label: 'ssd backward dC',
  fields: FIELDS,
  buffers: [['dCB', 'read', 'f32'], ['Bm', 'read', 'f32'], ['acum', 'read', 'f32'], ['dy', 'read', 'f32'], ['S0', 'read', 'f32'], ['dC', 'read_write', 'f32']],
  setup: `
  ${CHUNK}
  ${GROUP}
  ${tileOf('Qc', 'p.N')}
  if (r0 >= Qc) { return; }`,
  phases: [
    {
      kBegin: '0u',
      kEnd: 'min(Qc, r0 + 64u)',
      A: { kFast: true, at: (i, j) => `dCB[(cbBase + ${i}) * p.Q + ${j}]` },
      B: { kFast: false, at: (j, n) => `Bm[((b * p.L + l0 + ${j}) * p.G + g) * p.N + ${n}]` },
    },
    {
      kBegin: '0u',
      kEnd: 'hpg * p.P',
      A: { kFast: true, at: (i, k) => `exp(acum[((b * p.H + h0 + (${k}) / p.P) * p.L) + l0 + ${i}]) * dy[((b * p.L + l0 + ${i}) * p.H + h0) * p.P + ${k}]` },
      B: { kFast: false, at: (k, n) => `S0[(((b * p.nC + ch) * p.H + h0) * p.P + ${k}) * p.N + ${n}]` },
    },
  ],
  store: (i, n, acc) => `dC[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}] = ${acc};`,
}));

/** dB = dCBᵀ C + Σ_heads (w ∘ X) dS, per chunk and group */
const DB_KERNEL = cached('ssd backward dB', () => tiledSource({
  label: 'ssd backward dB',
  fields: FIELDS,
  buffers: [['dCB', 'read', 'f32'], ['Cm', 'read', 'f32'], ['acum', 'read', 'f32'], ['dtv', 'read', 'f32'], ['x', 'read', 'f32'],
    ['dS', 'read', 'f32'], ['dB', 'read_write', 'f32']],
  setup: `
  ${CHUNK}
  ${GROUP}
  ${tileOf('Qc', 'p.N')}
  if (r0 >= Qc) { return; }`,
  prelude: `
fn weight(b: u32, h: u32, l0: u32, Qc: u32, j: u32) -> f32 {
  let hb = (b * p.H + h) * p.L + l0;
  return exp(acum[hb + Qc - 1u] - acum[hb + j]) * dtv[hb + j];
}`,
  phases: [
    {
      // dCB_ij = 0 for i < j, so k starts at this row tile
      kBegin: 'r0',
      kEnd: 'Qc',
      A: { kFast: false, at: (j, i) => `dCB[(cbBase + ${i}) * p.Q + ${j}]` },
      B: { kFast: false, at: (i, n) => `Cm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
    },
    {
      kBegin: '0u',
      kEnd: 'hpg * p.P',
      A: { kFast: true, at: (j, k) => `weight(b, h0 + (${k}) / p.P, l0, Qc, ${j}) * x[((b * p.L + l0 + ${j}) * p.H + h0) * p.P + ${k}]` },
      B: { kFast: false, at: (k, n) => `dS[(((b * p.nC + ch) * p.H + h0) * p.P + ${k}) * p.N + ${n}]` },
    },
  ],
  store: (j, n, acc) => `dB[((b * p.L + l0 + ${j}) * p.G + g) * p.N + ${n}] = ${acc};`,
}));

/** `scaled`: x̃ and dỸ (pairs.ts's scaledRows) where batched */
export function dCdB(h: KernelHost, a: SsdArgs, dy: GpuTensor, dCB: GpuTensor, acum: GpuTensor, dtv: GpuTensor, S0: GpuTensor, dS: GpuTensor,
  d: SsdDims, scaled?: { xs: GpuTensor; dys: GpuTensor }): { dC: GpuTensor; dB: GpuTensor } {
  const { B, L, G, N, Q, nC } = d;
  const Bm = a.Bmat as GpuTensor;
  const Cm = a.Cmat as GpuTensor;
  const dC = h.empty([B, L, G, N]);
  const dB = h.empty([B, L, G, N]);
  if (scaled) {
    // dC_c = dCB_c B_c + dỸ_c S0_c, dB_c = dCB_cᵀ C_c + x̃_c dS_c
    pairCBTimes(h, dCB, Bm, dC, false);
    pairRowsByStates(h, scaled.dys, S0, dC);
    pairCBTimes(h, dCB, Cm, dB, true);
    pairRowsByStates(h, scaled.xs, dS, dB);
  } else {
    const tiles: [number, number, number] = [Math.ceil(Q / 64) * Math.ceil(N / 64), nC, B * G];
    h.rt.dispatch(DC_KERNEL, d.params(0), [dCB.storage, storageOf(Bm), acum.storage, storageOf(dy), S0.storage, dC.storage], tiles);
    h.rt.dispatch(DB_KERNEL, d.params(0), [dCB.storage, storageOf(Cm), acum.storage, dtv.storage, storageOf(a.x as GpuTensor), dS.storage, dB.storage], tiles);
  }
  return { dC, dB };
}
