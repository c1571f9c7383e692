import type { Tensor } from '../../tensor.js';
import { f32, wrapF32 } from './storage.js';

/**
 * Rotary position embedding (RoFormer; flash_attn RotaryEmbedding as mamba_ssm's MHA uses it)
 * on the first `rotaryDim` channels of x [B, L, H, E]; token i of sequence b is at pos0[b] + i.
 * Pair k (k < rotaryDim/2) rotates by angle pos · base^(-2k/rotaryDim); the pair is
 * (k, k + rotaryDim/2) in the GPT-NeoX layout, (2k, 2k+1) when interleaved.
 */
export function rotary(x: Tensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean): Tensor {
  const [B, L, H, E] = x.shape;
  const half = rotaryDim / 2;
  const invFreq = new Float64Array(half);
  for (let k = 0; k < half; k++) invFreq[k] = Math.pow(base, (-2 * k) / rotaryDim);
  const src = f32(x);
  const out = src.slice();
  const cos = new Float64Array(half);
  const sin = new Float64Array(half);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const pos = pos0[b] + t;
      for (let k = 0; k < half; k++) {
        cos[k] = Math.cos(pos * invFreq[k]);
        sin[k] = Math.sin(pos * invFreq[k]);
      }
      for (let h = 0; h < H; h++) {
        const o = ((b * L + t) * H + h) * E;
        for (let k = 0; k < half; k++) {
          const i1 = interleaved ? o + 2 * k : o + k;
          const i2 = interleaved ? i1 + 1 : i1 + half;
          const x1 = src[i1], x2 = src[i2];
          out[i1] = x1 * cos[k] - x2 * sin[k];
          out[i2] = x2 * cos[k] + x1 * sin[k];
        }
      }
    }
  }
  return wrapF32(x.backend, x.shape, out);
}
