/**
 * Projections. Each op file pairs an op's forward with its backward; the backward (and the
 * tape that records calls here) comes with autograd, so models only ever call these functions.
 */
import type { Tensor } from '../tensor.js';

/** x [..., K], w [N, K], b [N]? -> [..., N]   (y = x Wᵀ + b) */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  return x.backend.linear(x, w, b);
}

/** op(a) [M, K] · op(b) [K, N] -> [M, N] */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return a.backend.matmul(a, b, transA, transB);
}

/** table [V, C], ids i32 [...S] -> [...S, C] */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  return table.backend.embedding(table, ids);
}
