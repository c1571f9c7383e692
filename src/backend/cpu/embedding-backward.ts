import type { Tensor } from '../../tensor.js';
import { f32, i32, wrapF32 } from './storage.js';

/** dy [...S, C], ids i32 [...S] -> dtable [V, C]; ids repeat, so rows add up */
export function embeddingBackward(dy: Tensor, ids: Tensor, V: number): Tensor {
  const idx = i32(ids);
  const C = dy.shape[dy.shape.length - 1];
  const g = f32(dy);
  const out = new Float32Array(V * C);
  for (let i = 0; i < idx.length; i++) {
    const o = idx[i] * C;
    const s = i * C;
    for (let c = 0; c < C; c++) out[o + c] += g[s + c];
  }
  return wrapF32(dy.backend, [V, C], out);
}
