/** The layout ops on the CPU: embedding gathers, split / concat along the last dim, the KV-cache append. */
import type { HostArray, Tensor } from '../../tensor.js';
import { f32, i32, rowsOf, wrapF32 } from './storage.js';

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
  const lead = xs[0].shape.slice(0, -1);
  const widths = xs.map((t) => t.shape[t.shape.length - 1]);
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
  const R = dst.size / (B * S || 1);
  const d = dst.storage as HostArray;
  const s = src.storage as HostArray;
  for (let b = 0; b < B; b++) {
    d.set(s.subarray(b * Ls * R, (b + 1) * Ls * R), (b * S + offset[b]) * R);
  }
  return dst;
}
