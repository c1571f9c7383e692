/**
 * SSD stage 3, and its transpose in the backward: per chunk and head, the sum over the chunk's
 * positions of a row-scaled x-like tensor times B or C (pairs.ts names the scales):
 *   'state'  S_c[p, n] = Σ_i exp(acum_last − acum_i) Δ_i x_i[p] B_i[n]   (the chunk's state increment)
 *   'decay'  U_c[p, n] = Σ_i exp(acum_i) dY_i[p] C_i[n]                    (its dS0 terms, backward)
 * -> [B, nC, H, P, N]. Batched (ssdBatched): one matmul over the (b, c) pairs of the rows the
 * caller scaled; otherwise a tiled kernel that scales as it loads.
 */
import type { GpuTensor } from '../../buffer-pool.js';
import { storageOf, type Kernel, type KernelHost } from '../../runtime.js';
import { cached, type BufferDecl } from '../../wgsl.js';
import { tiledSource } from '../tiles.js';
import { CHUNK, FIELDS, HEAD, tileOf, type SsdDims } from './fields.js';
import { pairStates, rowScale, type RowScale } from './pairs.js';

function statesKernel(mode: RowScale): Kernel {
  const label = `ssd chunk states ${mode}`;
  return cached(label, () => {
    const buffers: BufferDecl[] = [['rowsM', 'read', 'f32'], ['colsM', 'read', 'f32'], ['acum', 'read', 'f32']];
    if (mode === 'state') buffers.push(['dtv', 'read', 'f32']);
    buffers.push(['out', 'read_write', 'f32']);
    return tiledSource({
      label,
      fields: FIELDS,
      buffers,
      setup: `
  ${CHUNK}
  ${HEAD}
  ${tileOf('p.P', 'p.N')}`,
      phases: [{
        kBegin: '0u',
        kEnd: 'Qc',
        A: { kFast: false, at: (pp, i) => `rowsM[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}] * ${rowScale(mode, `hb + l0 + ${i}`, 'hb + l0 + Qc - 1u')}` },
        B: { kFast: false, at: (i, n) => `colsM[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
      }],
      store: (pp, n, acc) => `out[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}] = ${acc};`,
    });
  });
}

/**
 * rows [B, L, H, P] (x or dY), bc [B, L, G, N] (B or C) -> [B, nC, H, P, N]; `scaled`: the rows
 * already scaled as `mode` says (scaledRows), when batched.
 */
export function chunkStates(h: KernelHost, rows: GpuTensor, bc: GpuTensor, acum: GpuTensor, dtv: GpuTensor, mode: RowScale,
  d: SsdDims, scaled?: GpuTensor): GpuTensor {
  const { B, H, P, N, nC } = d;
  const out = h.empty([B, nC, H, P, N]);
  if (scaled) {
    pairStates(h, scaled, bc, out);
  } else {
    const bufs = [storageOf(rows), storageOf(bc), acum.storage, ...(mode === 'state' ? [dtv.storage] : []), out.storage];
    h.rt.dispatch(statesKernel(mode), d.params(0), bufs, [Math.ceil(P / 64) * Math.ceil(N / 64), nC, B * H]);
  }
  return out;
}
