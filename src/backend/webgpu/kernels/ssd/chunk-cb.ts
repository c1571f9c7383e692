/**
 * SSD stage 2: CB[i, j] = C_i · B_j per chunk and group -> [B, nC, G, Q, Q], lower-triangular
 * 64-tiles only (readers take j ≤ i; tiles above the diagonal are never written).
 */
import type { GpuTensor } from '../../buffer-pool.js';
import { storageOf, type KernelHost } from '../../runtime.js';
import { cached } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { CHUNK, FIELDS, LOWER_TILE, TILE_ORIGIN, type SsdDims } from './fields.js';

const CB_KERNEL = cached('ssd CB', () => tiledSource({
  label: 'ssd CB',
  fields: FIELDS,
  buffers: [['Cm', 'read', 'f32'], ['Bm', 'read', 'f32'], ['CB', 'read_write', 'f32']],
  setup: `
  ${LOWER_TILE}
  ${CHUNK}
  let g = wid.z % p.G;
  let b = wid.z / p.G;
  ${TILE_ORIGIN}`,
  phases: [{
    kBegin: '0u',
    kEnd: 'p.N',
    A: { kFast: true, at: (i, n) => `Cm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
    B: { kFast: true, at: (n, j) => `Bm[((b * p.L + l0 + ${j}) * p.G + g) * p.N + ${n}]` },
  }],
  store: (i, j, acc) => `CB[(((b * p.nC + ch) * p.G + g) * p.Q + ${i}) * p.Q + ${j}] = ${acc};`,
}));

export function chunkCB(h: KernelHost, Cm: GpuTensor, Bm: GpuTensor, d: SsdDims): GpuTensor {
  const { B, G, Q, nC } = d;
  const tQ = Math.ceil(Q / 64);
  const CB = h.empty([B, nC, G, Q, Q]);
  h.rt.dispatch(CB_KERNEL, d.params(0), [storageOf(Cm), storageOf(Bm), CB.storage], [tQ * tQ, nC, B * G]);
  return CB;
}
