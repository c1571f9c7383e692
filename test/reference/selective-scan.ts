/** Mamba-1's selective scan (S6) in float64, step by step: the reference of every scan test. */
import { silu64, softplus64 } from '../cpu-util.js';

type Values = Record<string, ArrayLike<number> | undefined>;

/**
 * u, delta [B, L, D], A [D, N], Bm, Cm [B, L, N], and where given Dskip [D], z [B, L, D],
 * bias [D], state [B, D, N] (zeros when absent) -> [y [B, L, D], final state [B, D, N]]
 */
export function selectiveScanRef(v: Values, B: number, L: number, D: number, N: number, softplus: boolean): [Float64Array, Float64Array] {
  const { u, delta, A, Bm, Cm, Dskip, z, bias, state } = v as Record<string, ArrayLike<number>>;
  const y = new Float64Array(B * L * D);
  const h = new Float64Array(B * D * N);
  if (state) h.set(state);
  for (let b = 0; b < B; b++) for (let tt = 0; tt < L; tt++) for (let d = 0; d < D; d++) {
    const i = (b * L + tt) * D + d;
    const raw = delta[i] + (bias ? bias[d] : 0);
    const dt = softplus ? softplus64(raw) : raw;
    let acc = 0;
    for (let n = 0; n < N; n++) {
      const k = (b * D + d) * N + n;
      h[k] = Math.exp(dt * A[d * N + n]) * h[k] + dt * Bm[(b * L + tt) * N + n] * u[i];
      acc += Cm[(b * L + tt) * N + n] * h[k];
    }
    if (Dskip) acc += Dskip[d] * u[i];
    if (z) acc *= silu64(z[i]);
    y[i] = acc;
  }
  return [y, h];
}
