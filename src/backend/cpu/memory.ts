import type { Backend } from '../backend.js';
import { Tensor, type DType, type HostArray } from '../../tensor.js';
import { pinWeight } from './gemm.js';
import { expectShape, f32, i32, rowsOf, wrapF32 } from './storage.js';

export function upload(be: Backend, data: HostArray, shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`upload: ${data.length} values for shape [${shape}]`);
  const dtype: DType = data instanceof Int32Array ? 'i32' : 'f32';
  return new Tensor(shape, dtype, data.slice(), be);
}

export function uploadWeight(be: Backend, data: Float32Array, shape: readonly number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new Error(`uploadWeight: ${data.length} values for shape [${shape}]`);
  return wrapF32(be, shape, pinWeight(data));
}

export function zeros(be: Backend, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return new Tensor(shape, dtype, dtype === 'f32' ? new Float32Array(n) : new Int32Array(n), be);
}

/** A copy, so that callers never alias a tensor the backend may still use. */
export function read(t: Tensor): HostArray {
  return t.dtype === 'f32' ? f32(t).slice() : i32(t).slice();
}

/** table [V, C], ids i32 [...S] -> [...S, C] */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const [V, C] = table.shape as [number, number];
  const tab = f32(table);
  const idx = i32(ids);
  const out = new Float32Array(idx.length * C);
  for (let i = 0; i < idx.length; i++) {
    const id = idx[i];
    if (id < 0 || id >= V) throw new RangeError(`embedding: id ${id} outside [0, ${V})`);
    out.set(tab.subarray(id * C, id * C + C), i * C);
  }
  return wrapF32(table.backend, [...ids.shape, C], out);
}

/** x [..., sum(sizes)] -> [..., sizes[i]] */
export function split(x: Tensor, sizes: readonly number[]): Tensor[] {
  const { rows, cols } = rowsOf(x);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== cols) throw new Error(`split: sizes [${sizes}] do not add up to the last dim of [${x.shape}]`);
  const src = f32(x);
  const lead = x.shape.slice(0, -1);
  let off = 0;
  return sizes.map((s) => {
    const out = new Float32Array(rows * s);
    for (let r = 0; r < rows; r++) out.set(src.subarray(r * cols + off, r * cols + off + s), r * s);
    off += s;
    return wrapF32(x.backend, [...lead, s], out);
  });
}

/** [..., C_i] -> [..., sum C_i] */
export function concat(xs: readonly Tensor[]): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const lead = xs[0].shape.slice(0, -1);
  const widths = xs.map((t) => {
    expectShape('concat', t, [...lead, t.shape[t.shape.length - 1]]);
    return t.shape[t.shape.length - 1];
  });
  const cols = widths.reduce((a, b) => a + b, 0);
  const rows = lead.reduce((a, b) => a * b, 1);
  const out = new Float32Array(rows * cols);
  let off = 0;
  xs.forEach((t, k) => {
    const src = f32(t);
    const w = widths[k];
    for (let r = 0; r < rows; r++) out.set(src.subarray(r * w, r * w + w), r * cols + off);
    off += w;
  });
  return wrapF32(xs[0].backend, [...lead, cols], out);
}

/** dst [B, S, ...R] <- src [B, Ls, ...R] at dim-1 offsets offset[b], in place. */
export function writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor {
  const [B, S] = dst.shape;
  const Ls = src.shape[1];
  expectShape('writeAt src', src, [B, Ls, ...dst.shape.slice(2)]);
  if (offset.length !== B) throw new Error(`writeAt: ${offset.length} offsets for batch ${B}`);
  const R = dst.size / (B * S || 1);
  const d = dst.storage as HostArray;
  const s = src.storage as HostArray;
  if (dst.dtype !== src.dtype) throw new Error('writeAt: dtypes differ');
  for (let b = 0; b < B; b++) {
    const o = offset[b];
    if (o < 0 || o + Ls > S) throw new RangeError(`writeAt: positions ${o}..${o + Ls - 1} outside [0, ${S}) of sequence ${b}`);
    d.set(s.subarray(b * Ls * R, (b + 1) * Ls * R), (b * S + o) * R);
  }
  return dst;
}
