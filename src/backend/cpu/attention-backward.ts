/**
 * Backward of causal GQA attention (attention.ts), recomputing each query's softmax instead of
 * saving the [Lq, S] probabilities. With s_j = scale q·k_j, p = softmax(s), o = Σ_j p_j v_j:
 *   dv_j += p_j do,  dp_j = do·v_j,  ds_j = p_j (dp_j - do·o),  dq = scale Σ_j ds_j k_j,
 *   dk_j += scale ds_j q.
 * A query head's k/v gradients go to its KV head (GQA), so they add up over the group.
 */
import type { Tensor } from '../../tensor.js';
import { forEachQuery, type AttentionOpts } from './attention.js';
import { f32, scratchF64, wrapF32 } from './storage.js';

/** q, dout [B, Lq, Hq, E], k/v [B, S, Hkv, E] -> dq, dk, dv */
export function attentionBackward(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOpts, dout: Tensor): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const [, , , E] = q.shape;
  const [, S, Hkv] = k.shape;
  const qs = f32(q), ks = f32(k), vs = f32(v), g = f32(dout);
  const { scale } = opts;
  const dq = new Float32Array(q.size);
  const dk = scratchF64('attentionB.dk', k.size).fill(0, 0, k.size);
  const dv = scratchF64('attentionB.dv', v.size).fill(0, 0, v.size);
  const p = scratchF64('attentionB.p', S);
  const dp = scratchF64('attentionB.dp', S);
  forEachQuery(q, k, opts, p, (qo, b, kh, nKeys, m) => {
    let total = 0;
    for (let j = 0; j < nKeys; j++) {
      p[j] = Math.exp(p[j] - m);
      total += p[j];
    }
    // do·o = Σ_j p_j dp_j
    let dot = 0;
    for (let j = 0; j < nKeys; j++) {
      p[j] /= total;
      const vo = ((b * S + j) * Hkv + kh) * E;
      let d = 0;
      for (let e = 0; e < E; e++) {
        d += g[qo + e] * vs[vo + e];
        dv[vo + e] += p[j] * g[qo + e];
      }
      dp[j] = d;
      dot += p[j] * d;
    }
    for (let j = 0; j < nKeys; j++) {
      const ds = scale * p[j] * (dp[j] - dot);
      const ko = ((b * S + j) * Hkv + kh) * E;
      for (let e = 0; e < E; e++) {
        dq[qo + e] += ds * ks[ko + e];
        dk[ko + e] += ds * qs[qo + e];
      }
    }
  });
  const be = q.backend;
  return {
    dq: wrapF32(be, q.shape, dq),
    dk: wrapF32(be, k.shape, Float32Array.from(dk.subarray(0, k.size))),
    dv: wrapF32(be, v.shape, Float32Array.from(dv.subarray(0, v.size))),
  };
}
