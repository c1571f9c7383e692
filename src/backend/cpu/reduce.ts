/** Sums over whole tensors: a bias's gradient (sumRows) and the squares of the gradient norm. */
import type { Backend } from '../backend.js';
import type { Tensor } from '../../tensor.js';
import { f32, rowsOf, scratchF64, wrapF32 } from './storage.js';

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

/** xs -> [xs.length], each sum of squares accumulated in float64 */
export function sumOfSquares(be: Backend, xs: readonly Tensor[]): Tensor {
  const out = new Float32Array(xs.length);
  xs.forEach((x, i) => {
    const d = f32(x);
    let s = 0;
    for (let j = 0; j < d.length; j++) s += d[j] * d[j];
    out[i] = s;
  });
  return wrapF32(be, [xs.length], out);
}
