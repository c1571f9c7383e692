import type { Tensor } from '../../tensor.js';
import { f32, i32 } from './storage.js';

/** logits [..., V] -> ids i32 [...]: per row the first index of the largest of the first `vocab`, NaN never winning */
export function argmax(logits: Tensor, vocab: number): Tensor {
  const V = logits.shape[logits.shape.length - 1];
  const z = f32(logits);
  const ids = logits.backend.zeros(logits.shape.slice(0, -1), 'i32');
  const out = i32(ids);
  for (let r = 0; r < out.length; r++) {
    let best = -1;
    for (let i = 0; i < vocab; i++) {
      const v = z[r * V + i];
      if (!Number.isNaN(v) && (best < 0 || v > z[r * V + best])) best = i;
    }
    out[r] = Math.max(best, 0);
  }
  return ids;
}
