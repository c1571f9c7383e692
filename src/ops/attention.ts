/** Attention and its position encoding (forward here; backward with autograd). */
import type { Tensor } from '../tensor.js';

/** q [B, Lq, Hq, E], k/v [B, S, Hkv, E] -> [B, Lq, Hq, E]; see Backend.attention for kvLen. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor {
  return q.backend.attention(q, k, v, opts);
}

/** x [B, L, H, E]; token i of sequence b is at position pos0[b] + i. */
export function rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
  return x.backend.rotary(x, pos0, rotaryDim, base, interleaved);
}
