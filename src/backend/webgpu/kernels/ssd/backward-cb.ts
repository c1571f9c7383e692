/**
 * The SSD backward's products of dY and X within a chunk, K_ij = (dY_i·X_j) E_ij for j ≤ i
 * (E_ij = exp(acum_i − acum_j)), and what they give: dCB_ij = Σ_heads K_ij Δ_j, and R (for the
 * positions' row sums). Tiled (GE, then dCB) where K and R fit one storage binding each; otherwise
 * one invocation per (chunk, group, i, j) forms CB and dCB without K and R, and the positions
 * kernel forms the dot products itself.
 */
import type { SsdArgs } from '../../../backend.js';
import type { GpuTensor } from '../../buffer-pool.js';
import { grid, storageOf, type KernelHost } from '../../runtime.js';
import { cached, flatMain, header } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { chunkCB } from './chunk-cb.js';
import { CHUNK, FIELDS, HEAD, LOWER_TILE, TILE_ORIGIN, WG, type SsdDims } from './fields.js';

/** the entry point of a kernel over [B, nC, G, Q, Q], invocation o at (b, ch, g, i, j); only i, j < Qc go on */
const CB_ENTRY = `${flatMain(WG, 'o')}
  let j = o % p.Q;
  let i = (o / p.Q) % p.Q;
  let g = (o / (p.Q * p.Q)) % p.G;
  let ch = (o / (p.Q * p.Q * p.G)) % p.nC;
  let b = o / (p.Q * p.Q * p.G * p.nC);
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  if (i >= Qc || j >= Qc) { return; }`;

/**
 * CB[i, j] = C_i·B_j and dCB[i, j] = Σ_heads (dY_i·X_j) E_ij Δ_j for j ≤ i, zero above the
 * diagonal (the dC and dB tiles read whole rows), one invocation per entry.
 */
const CB_KERNEL = cached('ssd backward CB dCB', () => `${header(FIELDS, [['x', 'read', 'f32'], ['dy', 'read', 'f32'], ['Bm', 'read', 'f32'],
  ['Cm', 'read', 'f32'], ['dtv', 'read', 'f32'], ['acum', 'read', 'f32'], ['CB', 'read_write', 'f32'], ['dCB', 'read_write', 'f32']])}
${CB_ENTRY}
  if (j > i) {
    CB[o] = 0.0;
    dCB[o] = 0.0;
    return;
  }
  let ci = ((b * p.L + l0 + i) * p.G + g) * p.N;
  let bj = ((b * p.L + l0 + j) * p.G + g) * p.N;
  var cb = 0.0;
  for (var n = 0u; n < p.N; n++) { cb = fma(Cm[ci + n], Bm[bj + n], cb); }
  var dcb = 0.0;
  let hpg = p.H / p.G;
  for (var h = g * hpg; h < (g + 1u) * hpg; h++) {
    let yi = ((b * p.L + l0 + i) * p.H + h) * p.P;
    let xj = ((b * p.L + l0 + j) * p.H + h) * p.P;
    var dm = 0.0;
    for (var pp = 0u; pp < p.P; pp++) { dm = fma(dy[yi + pp], x[xj + pp], dm); }
    let hb = (b * p.H + h) * p.L + l0;
    dcb = fma(dm, exp(acum[hb + i] - acum[hb + j]) * dtv[hb + j], dcb);
  }
  CB[o] = cb;
  dCB[o] = dcb;
}`);

/**
 * Per chunk and head, a 64-tile of G = dY Xᵀ (i rows, j columns, lower-triangular tiles only),
 * stored as K_ij = G_ij E_ij and, transposed, R_ji = K_ij CB_ij Δ_j; both zero above the diagonal
 * inside the diagonal tiles (tiles above it are never written, nor read).
 */
const GE_KERNEL = cached('ssd backward GE', () => tiledSource({
  label: 'ssd backward GE',
  fields: FIELDS,
  buffers: [['dy', 'read', 'f32'], ['x', 'read', 'f32'], ['CB', 'read', 'f32'], ['dtv', 'read', 'f32'], ['acum', 'read', 'f32'],
    ['K', 'read_write', 'f32'], ['R', 'read_write', 'f32']],
  setup: `
  ${LOWER_TILE}
  ${CHUNK}
  ${HEAD}
  let kBase = ((b * p.nC + ch) * p.H + h) * p.Q * p.Q;
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;
  ${TILE_ORIGIN}`,
  phases: [{
    kBegin: '0u',
    kEnd: 'p.P',
    A: { kFast: true, at: (i, pp) => `dy[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}]` },
    B: { kFast: true, at: (pp, j) => `x[((b * p.L + l0 + ${j}) * p.H + h) * p.P + ${pp}]` },
  }],
  store: (i, j, acc) => `let e = select(0.0, ${acc} * exp(acum[hb + l0 + ${i}] - acum[hb + l0 + ${j}]), ${j} <= ${i});
    K[kBase + ${i} * p.Q + ${j}] = e;
    R[kBase + ${j} * p.Q + ${i}] = e * CB[(cbBase + ${i}) * p.Q + ${j}] * dtv[hb + l0 + ${j}];`,
}));

/** dCB[i, j] = Σ_heads K_ij Δ_j for j ≤ i, zero above the diagonal (the dC and dB tiles read whole rows) */
const DCB_KERNEL = cached('ssd backward dCB', () => `${header(FIELDS, [['K', 'read', 'f32'], ['dtv', 'read', 'f32'], ['dCB', 'read_write', 'f32']])}
${CB_ENTRY}
  var dcb = 0.0;
  if (j <= i) {
    let hpg = p.H / p.G;
    for (var h = g * hpg; h < (g + 1u) * hpg; h++) {
      let k = (((b * p.nC + ch) * p.H + h) * p.Q + i) * p.Q + j;
      dcb = fma(K[k], dtv[(b * p.H + h) * p.L + l0 + j], dcb);
    }
  }
  dCB[o] = dcb;
}`);

/** CB and dCB [B, nC, G, Q, Q]; K and R [B, nC, H, Q, Q] on the tiled path */
export function cbGrads(h: KernelHost, a: SsdArgs, dy: GpuTensor, dtv: GpuTensor, acum: GpuTensor, d: SsdDims):
  { CB: GpuTensor; dCB: GpuTensor; K?: GpuTensor; R?: GpuTensor } {
  const { B, H, G, Q, nC } = d;
  const s = (t: unknown) => storageOf(t as GpuTensor);
  const nCB = B * nC * G * Q * Q;
  const dCB = h.empty([B, nC, G, Q, Q]);
  // K and R hold Q² values per chunk and head: the tiled path needs each in one binding
  if (4 * B * nC * H * Q * Q > h.rt.info.maxStorageBufferBindingSize) {
    const CB = h.empty([B, nC, G, Q, Q]);
    h.rt.dispatch(CB_KERNEL, d.params(nCB), [s(a.x), s(dy), s(a.Bmat), s(a.Cmat), dtv.storage, acum.storage, CB.storage, dCB.storage], grid(nCB, WG));
    return { CB, dCB };
  }
  const CB = chunkCB(h, a.Cmat as GpuTensor, a.Bmat as GpuTensor, d);
  const tQ = Math.ceil(Q / 64);
  const K = h.empty([B, nC, H, Q, Q]);
  const R = h.empty([B, nC, H, Q, Q]);
  h.rt.dispatch(GE_KERNEL, d.params(0), [s(dy), s(a.x), CB.storage, dtv.storage, acum.storage, K.storage, R.storage], [tQ * tQ, nC, B * H]);
  h.rt.dispatch(DCB_KERNEL, d.params(nCB), [K.storage, dtv.storage, dCB.storage], grid(nCB, WG));
  return { CB, dCB, K, R };
}
