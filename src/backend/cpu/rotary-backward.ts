import type { Tensor } from '../../tensor.js';
import { f32, wrapF32 } from './storage.js';

/**
 * Backward of rotary (rotary.ts): each pair was rotated by an angle θ, an orthogonal map, so the
 * gradient is rotated back by -θ.  dy [B, L, H, E] -> dx
 */
export function rotaryBackward(dy: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
  const [B, L, H, E] = dy.shape;
  const half = rotaryDim / 2;
  const src = f32(dy);
  const out = src.slice();
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const pos = pos0[b] + t;
      for (let k = 0; k < half; k++) {
        const angle = pos * Math.pow(base, (-2 * k) / rotaryDim);
        const cos = Math.cos(angle), sin = Math.sin(angle);
        for (let h = 0; h < H; h++) {
          const o = ((b * L + t) * H + h) * E;
          const i1 = interleaved ? o + 2 * k : o + k;
          const i2 = interleaved ? i1 + 1 : i1 + half;
          const g1 = src[i1], g2 = src[i2];
          out[i1] = g1 * cos + g2 * sin;
          out[i2] = g2 * cos - g1 * sin;
        }
      }
    }
  }
  return wrapF32(dy.backend, dy.shape, out);
}
