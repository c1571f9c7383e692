/**
 * out[i, p] = Σ_n bc[i, n] st[p, n] per chunk and head: B or C [B, L, G, N] times the chunk's
 * states [B, nC, H, P, N] -> [B, L, H, P]. The forward's state term C Hᵀ (where batched; the
 * tiled output kernel forms it itself), the backward's B dSᵀ and C S0ᵀ.
 */
import type { GpuTensor } from '../../buffer-pool.js';
import { storageOf, type KernelHost } from '../../runtime.js';
import { cached } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { FIELDS, POSITION_TILE, type SsdDims } from './fields.js';
import { pairRowsTimesStates } from './pairs.js';

const ROWS_STATE = cached('ssd rows times states', () => tiledSource({
  label: 'ssd rows times states',
  fields: FIELDS,
  buffers: [['rowsM', 'read', 'f32'], ['st', 'read', 'f32'], ['out', 'read_write', 'f32']],
  setup: POSITION_TILE,
  phases: [{
    kBegin: '0u',
    kEnd: 'p.N',
    A: { kFast: true, at: (i, n) => `rowsM[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
    B: { kFast: true, at: (n, pp) => `st[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}]` },
  }],
  store: (i, pp, acc) => `out[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}] = ${acc};`,
}));

export function rowsTimesStates(h: KernelHost, bc: GpuTensor, st: GpuTensor, d: SsdDims, batched: boolean): GpuTensor {
  const { B, L, H, P, Q, nC } = d;
  const out = h.empty([B, L, H, P]);
  if (batched) pairRowsTimesStates(h, bc, st, out);
  else h.rt.dispatch(ROWS_STATE, d.params(0), [storageOf(bc), st.storage, out.storage], [Math.ceil(Q / 64) * Math.ceil(P / 64), nC, B * H]);
  return out;
}
