/**
 * Moving recurrent state and caches around. writeAt is differentiable (attention reads the KV
 * cache it writes); concatBatch and selectBatch are built from differentiable ops.
 */
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';
import { embedding } from './linear.js';

/**
 * dst [B, S, ...R] <- src [B, Ls, ...R] at dim-1 offsets, in place (KV cache append).
 * Backward: src gets the gradient's rows at those positions; the overwritten dst the rest.
 */
export function writeAt(dst: Tensor, src: Tensor, offset: Int32Array): Tensor {
  const out = dst.backend.writeAt(dst, src, offset);
  tapeFor(dst, src)?.record([dst, src], [out], ([dy], needs) => {
    const be = dst.backend;
    const [B, S] = dst.shape;
    const Ls = src.shape[1];
    const R = dst.size / (B * S || 1);
    const rows = new Int32Array(B * Ls);
    const kept = new Float32Array(dst.size).fill(1);
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < Ls; i++) rows[b * Ls + i] = b * S + offset[b] + i;
      kept.fill(0, (b * S + offset[b]) * R, (b * S + offset[b] + Ls) * R);
    }
    return [
      needs[0] ? be.mul(dy, be.upload(kept, dst.shape)) : undefined,
      needs[1] ? be.embedding(dy.reshape([B * S, R]), be.upload(rows, [B * Ls])).reshape(src.shape) : undefined,
    ];
  });
  return out;
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
  return embedding(t.reshape([t.shape[0], R]), ids).reshape([indices.length, ...rest]);
}
