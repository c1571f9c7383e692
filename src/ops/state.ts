/**
 * Moving recurrent state and caches around: not differentiable (inference only), but kept here
 * so that models never touch a backend.
 */
import type { Tensor } from '../tensor.js';

/** dst [B, S, ...] <- src [B, Ls, ...] at dim-1 offsets, in place (KV cache append). */
export function writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor {
  return dst.backend.writeAt(dst, src, offset);
}

/** [B_i, ...R] (same R) -> [sum B_i, ...R], stacking the batch dims in order. */
export function concatBatch(ts: readonly Tensor[]): Tensor {
  const rest = ts[0].shape.slice(1);
  const R = rest.reduce((a, b) => a * b, 1);
  const total = ts.reduce((a, t) => a + t.shape[0], 0);
  // a batch concat is a dim-1 write into a [1, total, R] view
  const out = ts[0].backend.zeros([1, total, R], ts[0].dtype);
  let at = 0;
  for (const t of ts) {
    if (t.size !== t.shape[0] * R) throw new Error(`concatBatch: [${t.shape}] does not stack with [${ts[0].shape}]`);
    writeAt(out, t.reshape([1, t.shape[0], R]), Int32Array.of(at));
    at += t.shape[0];
  }
  return out.reshape([total, ...rest]);
}

/** t [B, ...R] -> [indices.length, ...R], rows picked (and repeated) by index. */
export function selectBatch(t: Tensor, indices: readonly number[]): Tensor {
  const rest = t.shape.slice(1);
  const R = rest.reduce((a, b) => a * b, 1);
  const ids = t.backend.upload(Int32Array.from(indices), [indices.length]);
  return t.backend.embedding(t.reshape([t.shape[0], R]), ids).reshape([indices.length, ...rest]);
}
