/**
 * The SSD's products over the (b, c) pairs, as batched matmuls on matmul.ts's large tiles (where
 * ssdBatched): x-like tensors [B, L, H, P] give each pair a block [Q, H·P], B/C [B, L, 1, N] a
 * block [Q, N], states [B, nC, H, P, N] a block [H·P, N], CB-like [B, nC, 1, Q, Q] a block [Q, Q].
 * Their row-scaled operands come from `scaledRows`.
 */
import type { GpuTensor } from '../../buffer-pool.js';
import { grid, type Kernel, type KernelHost } from '../../runtime.js';
import { cached, flatMain, header, type BufferDecl } from '../../wgsl.js';
import { batchedMatmul } from '../matmul.js';
import { FIELDS, WG, type SsdDims } from './fields.js';

/** out_c = rows_cᵀ bc_c: [H·P, Q] · [Q, N] per pair, into states `out` (chunk states, dS0 terms) */
export function pairStates(h: KernelHost, rows: GpuTensor, bc: GpuTensor, out: GpuTensor): void {
  const [B, L, H, P] = rows.shape;
  const [, nC, , , N] = out.shape;
  const Q = L / nC;
  batchedMatmul(h, rows, bc, out, H * P, N, Q, true, false, { count: B * nC, strideA: Q * H * P, strideB: Q * N, strideC: H * P * N });
}

/** out_c = bc_c st_cᵀ: [Q, N] · [N, H·P] per pair, into x-like `out` (C·Hᵀ, B·dSᵀ, C·S0ᵀ) */
export function pairRowsTimesStates(h: KernelHost, bc: GpuTensor, st: GpuTensor, out: GpuTensor): void {
  const [B, L, H, P] = out.shape;
  const [, nC, , , N] = st.shape;
  const Q = L / nC;
  batchedMatmul(h, bc, st, out, Q, H * P, N, false, true, { count: B * nC, strideA: Q * N, strideB: H * P * N, strideC: Q * H * P });
}

/** out_c += rows_c st_c: [Q, H·P] · [H·P, N] per pair, added to B/C-like `out` (the state terms of dC, dB) */
export function pairRowsByStates(h: KernelHost, rows: GpuTensor, st: GpuTensor, out: GpuTensor): void {
  const [B, L, H, P] = rows.shape;
  const [, nC, , , N] = st.shape;
  const Q = L / nC;
  batchedMatmul(h, rows, st, out, Q, N, H * P, false, false, { count: B * nC, strideA: Q * H * P, strideB: H * P * N, strideC: Q * N }, true);
}

/** out_c = op(cb_c) bc_c: [Q, Q] · [Q, N] per pair (op: transposed when `trans`), into B/C-like `out` */
export function pairCBTimes(h: KernelHost, cb: GpuTensor, bc: GpuTensor, out: GpuTensor, trans: boolean): void {
  const [B, nC, , Q] = cb.shape;
  const N = bc.shape[3];
  batchedMatmul(h, cb, bc, out, Q, N, Q, trans, false, { count: B * nC, strideA: Q * Q, strideB: Q * N, strideC: Q * N });
}

/**
 * How a [B, L, H, P] tensor (x or dY) has each (b, l, h) row scaled for the products with the
 * chunk states (acum_last: the end of l's chunk):
 *   'state'  x̃_l = exp(acum_last − acum_l) Δ_l x_l      (the chunk states S = x̃ᵀ B)
 *   'decay'  exp(acum_l) dY_l                            (the gradient's U = dỸᵀ C)
 */
export type RowScale = 'state' | 'decay';

/** the WGSL scale of row `l` (an expression of hb + l0 + l indexing acum and dtv) as `mode` says */
export function rowScale(mode: RowScale, at: string, last: string): string {
  return mode === 'state' ? `exp(acum[${last}] - acum[${at}]) * dtv[${at}]` : `exp(acum[${at}])`;
}

/** Each invocation scales `V` (4 where P allows) adjacent p of one (b, l, h). */
function scaledRowsKernel(mode: RowScale, V: 1 | 4): Kernel {
  const T = V === 4 ? 'vec4<f32>' : 'f32';
  return cached(`ssd scaled rows ${mode} ${V}`, () => {
    const buffers: BufferDecl[] = [['src', 'read', T], ['acum', 'read', 'f32']];
    if (mode === 'state') buffers.push(['dtv', 'read', 'f32']);
    buffers.push(['out', 'read_write', T]);
    return `${header(FIELDS, buffers)}
${flatMain(WG)}
  let bl = i / (p.H * p.P / ${V}u);  // b * L + l
  let h = (i / (p.P / ${V}u)) % p.H;
  let l = bl % p.L;
  let hb = (bl - l) * p.H + h * p.L;
  out[i] = src[i] * (${rowScale(mode, 'hb + l', 'hb + min(p.L, (l / p.Q + 1u) * p.Q) - 1u')});
}`;
  });
}

/** `src` [B, L, H, P] with its rows scaled as `mode` says */
export function scaledRows(h: KernelHost, src: GpuTensor, acum: GpuTensor, dtv: GpuTensor, d: SsdDims, mode: RowScale): GpuTensor {
  const out = h.empty(src.shape);
  const V = src.shape[3] % 4 === 0 ? 4 : 1;
  const bufs = [src.storage, acum.storage, ...(mode === 'state' ? [dtv.storage] : []), out.storage];
  h.rt.dispatch(scaledRowsKernel(mode, V), d.params(out.size / V), bufs, grid(out.size / V, WG));
  return out;
}
