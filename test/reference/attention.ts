/** Attention in float64 written the plain way: KV heads repeated, full score matrix, explicit mask. */

/**
 * q [B, Lq, Hq, E], k/v [B, S, Hkv, E]; query i of sequence b sits at kvLen[b] − Lq + i and sees
 * keys j < kvLen[b] (and j ≤ its position when causal) -> [B, Lq, Hq, E]
 */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, B: number, Lq: number, S: number,
  Hq: number, Hkv: number, E: number, scale: number, causal: boolean, kvLen: ArrayLike<number>): Float64Array {
  const out = new Float64Array(B * Lq * Hq * E);
  for (let b = 0; b < B; b++) for (let h = 0; h < Hq; h++) {
    const kh = Math.floor(h / (Hq / Hkv));
    for (let i = 0; i < Lq; i++) {
      const pos = kvLen[b] - Lq + i;
      const s: number[] = [];
      for (let j = 0; j < S; j++) {
        let d = 0;
        for (let e = 0; e < E; e++) d += q[((b * Lq + i) * Hq + h) * E + e] * k[((b * S + j) * Hkv + kh) * E + e];
        s.push(j < kvLen[b] && (!causal || j <= pos) ? d * scale : -Infinity);
      }
      const m = Math.max(...s);
      const p = s.map((x) => Math.exp(x - m));
      const z = p.reduce((a, c) => a + c, 0);
      for (let e = 0; e < E; e++) {
        let acc = 0;
        for (let j = 0; j < S; j++) acc += p[j] * v[((b * S + j) * Hkv + kh) * E + e];
        out[((b * Lq + i) * Hq + h) * E + e] = acc / z;
      }
    }
  }
  return out;
}
