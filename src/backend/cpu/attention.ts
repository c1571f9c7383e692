import type { Tensor } from '../../tensor.js';
import { f32, wrapF32 } from './storage.js';

/**
 * Causal scaled-dot-product attention with grouped KV heads (GQA: query head h reads KV head
 * floor(h / (Hq/Hkv))), over a KV cache with per-sequence lengths.
 * q [B, Lq, Hq, E], k/v [B, S, Hkv, E] -> [B, Lq, Hq, E]
 * Query i of sequence b sits at position kvLen[b] - Lq + i and sees keys j < kvLen[b] (and
 * j <= its position when causal). A query that sees no key gets zeros.
 */
export function attention(
  q: Tensor, k: Tensor, v: Tensor, opts: { causal: boolean; scale: number; kvLen?: Int32Array },
): Tensor {
  const [B, Lq, Hq, E] = q.shape;
  const [, S, Hkv] = k.shape;
  const qs = f32(q), ks = f32(k), vs = f32(v);
  const out = new Float32Array(q.size);
  const rep = Hq / Hkv;
  const scores = new Float64Array(S);
  const acc = new Float64Array(E);
  for (let b = 0; b < B; b++) {
    const len = opts.kvLen ? opts.kvLen[b] : S;
    for (let i = 0; i < Lq; i++) {
      const pos = len - Lq + i;
      const nKeys = opts.causal ? Math.min(pos + 1, len) : len;
      for (let h = 0; h < Hq; h++) {
        const qo = ((b * Lq + i) * Hq + h) * E;
        const kh = Math.floor(h / rep);
        let m = -Infinity;
        for (let j = 0; j < nKeys; j++) {
          const ko = ((b * S + j) * Hkv + kh) * E;
          let s = 0;
          for (let e = 0; e < E; e++) s += qs[qo + e] * ks[ko + e];
          s *= opts.scale;
          scores[j] = s;
          if (s > m) m = s;
        }
        acc.fill(0);
        let total = 0;
        for (let j = 0; j < nKeys; j++) {
          const p = Math.exp(scores[j] - m);
          total += p;
          const vo = ((b * S + j) * Hkv + kh) * E;
          for (let e = 0; e < E; e++) acc[e] += p * vs[vo + e];
        }
        for (let e = 0; e < E; e++) out[qo + e] = total > 0 ? acc[e] / total : 0;
      }
    }
  }
  return wrapF32(q.backend, q.shape, out);
}
