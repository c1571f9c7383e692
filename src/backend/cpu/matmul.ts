import type { Tensor } from '../../tensor.js';
import { sgemm } from './gemm.js';
import { f32, rowsOf, wrapF32 } from './storage.js';

/** x [..., K], w [N, K], bias [N]? -> [..., N] */
export function linear(x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  const { rows: M, cols: K } = rowsOf(x);
  const N = w.shape[0];
  const out = new Float32Array(M * N);
  if (M > 0) sgemm(M, N, K, f32(x), f32(w), true, out, bias ? f32(bias) : undefined);
  return wrapF32(x.backend, [...x.shape.slice(0, -1), N], out);
}

/**
 * a [R, C] -> aᵀ [C, R], in 32 × 32 tiles so that both the reads and the writes stay within a few
 * cache lines (the plain loop wrote with a stride of R floats, and a weight gradient's dyᵀ took
 * a good part of the time of its matmul).
 */
function transpose(a: Float32Array, R: number, C: number): Float32Array {
  const t = new Float32Array(R * C);
  const TB = 32;
  for (let r0 = 0; r0 < R; r0 += TB) {
    const r1 = Math.min(r0 + TB, R);
    for (let c0 = 0; c0 < C; c0 += TB) {
      const c1 = Math.min(c0 + TB, C);
      for (let c = c0; c < c1; c++) {
        const o = c * R;
        for (let r = r0; r < r1; r++) t[o + r] = a[r * C + c];
      }
    }
  }
  return t;
}

/** op(a) [M, K] · op(b) [K, N] -> [M, N]; sgemm reads A untransposed, so a^T is copied first. */
export function matmul(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const N = transB ? b.shape[0] : b.shape[1];
  let A = f32(a);
  if (transA) {
    A = transpose(A, K, M);
  }
  const out = new Float32Array(M * N);
  if (M > 0 && N > 0) sgemm(M, N, K, A, f32(b), transB, out);
  return wrapF32(a.backend, [M, N], out);
}
