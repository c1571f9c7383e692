/**
 * Projections, each forward paired with its backward (recorded on the autograd tape only while
 * one is active and an input depends on a tracked tensor; see autograd/tape.ts).
 */
import { gradKernels } from '../backend/backend.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/** x [..., K], w [N, K], b [N]? -> [..., N]   (y = x Wᵀ + b) */
export function linear(x: Tensor, w: Tensor, b?: Tensor): Tensor {
  const y = x.backend.linear(x, w, b);
  tapeFor(x, w, b)?.record([x, w, b], [y], ([dy], needs) => linearBackward(x, w, dy, needs));
  return y;
}

/** dy [..., N] -> dx = dy W [..., K], dW = dyᵀ x [N, K], db = Σ_rows dy [N] */
function linearBackward(x: Tensor, w: Tensor, dy: Tensor, needs: readonly boolean[]): (Tensor | undefined)[] {
  const be = gradKernels(x.backend);
  const [N, K] = w.shape;
  const M = x.size / K;
  const g = dy.reshape([M, N]);
  return [
    needs[0] ? be.matmul(g, w, false, false).reshape(x.shape) : undefined,
    needs[1] ? be.matmul(g, x.reshape([M, K]), true, false) : undefined,
    needs[2] ? be.sumRows(g) : undefined,
  ];
}

/** op(a) [M, K] · op(b) [K, N] -> [M, N] */
export function matmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  const y = a.backend.matmul(a, b, transA, transB);
  tapeFor(a, b)?.record([a, b], [y], ([dy], needs) => matmulBackward(a, b, transA, transB, dy, needs));
  return y;
}

/** d op(a) = dy op(b)ᵀ and d op(b) = op(a)ᵀ dy, each transposed back when its operand was */
function matmulBackward(a: Tensor, b: Tensor, transA: boolean, transB: boolean, dy: Tensor, needs: readonly boolean[]): (Tensor | undefined)[] {
  const be = a.backend;
  return [
    needs[0] ? (transA ? be.matmul(b, dy, transB, true) : be.matmul(dy, b, false, !transB)) : undefined,
    needs[1] ? (transB ? be.matmul(dy, a, true, transA) : be.matmul(a, dy, !transA, false)) : undefined,
  ];
}

/** table [V, C], ids i32 [...S] -> [...S, C]; backward adds rows of dy into the rows they read */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const y = table.backend.embedding(table, ids);
  tapeFor(table)?.record([table], [y], ([dy]) => [gradKernels(table.backend).embeddingBackward(dy, ids, table.shape[0])]);
  return y;
}
