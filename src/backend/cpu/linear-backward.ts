/**
 * The parts of linear / embedding backward that are not matmuls (those go through `matmul`):
 * a bias's gradient and the embedding's scatter-add.
 */
import type { Tensor } from '../../tensor.js';
import { expectShape, f32, i32, rowsOf, scratchF64, wrapF32 } from './storage.js';

/** x [..., C] -> [C], summed in float64 over every row */
export function sumRows(x: Tensor): Tensor {
  const { rows, cols } = rowsOf(x);
  const src = f32(x);
  const acc = scratchF64('sumRows', cols).fill(0, 0, cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += src[o + c];
  }
  return wrapF32(x.backend, [cols], Float32Array.from(acc.subarray(0, cols)));
}

/** dy [...S, C], ids i32 [...S] -> dtable [V, C]; ids repeat, so rows add up */
export function embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor {
  const idx = i32(ids);
  const C = dy.shape[dy.shape.length - 1];
  expectShape('embeddingBackward dy', dy, [...ids.shape, C]);
  const g = f32(dy);
  const out = new Float32Array(V * C);
  for (let i = 0; i < idx.length; i++) {
    const o = idx[i] * C;
    const s = i * C;
    for (let c = 0; c < C; c++) out[o + c] += g[s + c];
  }
  return wrapF32(dy.backend, [V, C], out);
}
