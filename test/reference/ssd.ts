/** Mamba-2's SSD in float64 by the plain recurrence (no chunks): the reference of every SSD test. */
import { softplus64 } from '../cpu-util.js';

type Values = Record<string, ArrayLike<number> | undefined>;

export interface SsdRefDims {
  B: number; L: number; H: number; P: number; G: number; N: number;
  limit: [number, number];
  /** Dskip is [H, P] rather than [H] */
  dPerChannel: boolean;
}

/**
 * x [B, L, H, P], dt [B, L, H], A [H], Bm, Cm [B, L, G, N], and where given Dskip, bias [H] and
 * state [B, H, P, N] (zeros when absent); Δ = clamp(softplus(dt + bias), limit)
 * -> [y [B, L, H, P], final state [B, H, P, N]]
 */
export function ssdRef(v: Values, s: SsdRefDims): [Float64Array, Float64Array] {
  const { x, dt, A, Bm, Cm, Dskip, bias, state } = v as Record<string, ArrayLike<number>>;
  const { B, L, H, P, G, N, limit, dPerChannel } = s;
  const y = new Float64Array(B * L * H * P);
  const S = new Float64Array(B * H * P * N);
  if (state) S.set(state);
  for (let b = 0; b < B; b++) for (let tt = 0; tt < L; tt++) for (let h = 0; h < H; h++) {
    const g = Math.floor(h / (H / G));
    const d = Math.min(Math.max(softplus64(dt[(b * L + tt) * H + h] + (bias ? bias[h] : 0)), limit[0]), limit[1]);
    const decay = Math.exp(d * A[h]);
    const bc = ((b * L + tt) * G + g) * N;
    for (let p = 0; p < P; p++) {
      const xi = x[((b * L + tt) * H + h) * P + p];
      let acc = 0;
      for (let n = 0; n < N; n++) {
        const k = ((b * H + h) * P + p) * N + n;
        S[k] = decay * S[k] + d * xi * Bm[bc + n];
        acc += S[k] * Cm[bc + n];
      }
      if (Dskip) acc += (dPerChannel ? Dskip[h * P + p] : Dskip[h]) * xi;
      y[((b * L + tt) * H + h) * P + p] = acc;
    }
  }
  return [y, S];
}
