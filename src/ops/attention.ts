/** Attention and its position encoding, with their backward. */
import { gradKernels } from '../backend/backend.js';
import { tapeFor } from '../autograd/tape.js';
import type { Tensor } from '../tensor.js';

/** q [B, Lq, Hq, E], k/v [B, S, Hkv, E] -> [B, Lq, Hq, E]; see Backend.attention for kvLen. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array }): Tensor {
  const y = q.backend.attention(q, k, v, opts);
  tapeFor(q, k, v)?.record([q, k, v], [y], ([dy]) => {
    const g = gradKernels(q.backend).attentionBackward(q, k, v, opts, dy);
    return [g.dq, g.dk, g.dv];
  });
  return y;
}

/** x [B, L, H, E]; token i of sequence b is at position pos0[b] + i. */
export function rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
  const y = x.backend.rotary(x, pos0, rotaryDim, base, interleaved);
  tapeFor(x)?.record([x], [y], ([dy]) => [gradKernels(x.backend).rotaryBackward(dy, pos0, rotaryDim, base, interleaved)]);
  return y;
}
