import type { Tensor } from '../../tensor.js';
import { f32, wrapF32 } from './storage.js';

/**
 * Causal scaled-dot-product attention with grouped KV heads (GQA: query head h reads KV head
 * floor(h / (Hq/Hkv))), over a KV cache with per-sequence lengths.
 * q [B, Lq, Hq, E], k/v [B, S, Hkv, E] -> [B, Lq, Hq, E]
 * Query i of sequence b sits at position kvLen[b] - Lq + i and sees keys j < kvLen[b] (and
 * j <= its position when causal). A query that sees no key gets zeros.
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpts): Tensor {
  const [, , , E] = q.shape;
  const [, S, Hkv] = k.shape;
  const vs = f32(v);
  const out = new Float32Array(q.size);
  const scores = new Float64Array(S);
  const acc = new Float64Array(E);
  forEachQuery(q, k, opts, scores, (qo, b, kh, nKeys, m) => {
    acc.fill(0);
    let total = 0;
    for (let j = 0; j < nKeys; j++) {
      const p = Math.exp(scores[j] - m);
      total += p;
      const vo = ((b * S + j) * Hkv + kh) * E;
      for (let e = 0; e < E; e++) acc[e] += p * vs[vo + e];
    }
    for (let e = 0; e < E; e++) out[qo + e] = total > 0 ? acc[e] / total : 0;
  });
  return wrapF32(q.backend, q.shape, out);
}

export type AttentionOpts = { causal: boolean; scale: number; kvLen?: Int32Array };

/**
 * For every query head (b, i, h): writes the scaled scores s_j = scale q·k_j of the keys it sees
 * (j < nKeys) into `scores`, then calls `each` with the head's offset qo in q, its sequence b,
 * its KV head kh, nKeys and the largest score (forward and backward take their softmax from it).
 */
export function forEachQuery(q: Tensor, k: Tensor, opts: AttentionOpts, scores: Float64Array,
  each: (qo: number, b: number, kh: number, nKeys: number, max: number) => void): void {
  const [B, Lq, Hq, E] = q.shape;
  const [, S, Hkv] = k.shape;
  const qs = f32(q), ks = f32(k);
  const rep = Hq / Hkv;
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
        each(qo, b, kh, nKeys, m);
      }
    }
  }
}
