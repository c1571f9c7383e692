/** RMSNorm and Mamba-2's gated RMSNorm in float64, over rows of C channels. */
import { silu64 } from '../cpu-util.js';

/** x [..., C] normalized over each group of `groupSize` channels, times w [C] */
function groupRms(x: ArrayLike<number>, w: ArrayLike<number>, C: number, groupSize: number, eps: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r0 = 0; r0 < x.length; r0 += groupSize) {
    let ss = 0;
    for (let i = 0; i < groupSize; i++) ss += x[r0 + i] * x[r0 + i];
    const rms = Math.sqrt(ss / groupSize + eps);
    for (let i = 0; i < groupSize; i++) out[r0 + i] = (x[r0 + i] / rms) * w[(r0 + i) % C];
  }
  return out;
}

/** x [..., C], w [C] -> x / rms(x) * w */
export function rmsNormRef(x: ArrayLike<number>, w: ArrayLike<number>, C: number, eps: number): Float64Array {
  return groupRms(x, w, C, C, eps);
}

/** normBeforeGate: rmsnorm(x) * silu(z); otherwise rmsnorm(x * silu(z)); per group of `groupSize` */
export function gatedRmsNormRef(x: ArrayLike<number>, z: ArrayLike<number>, w: ArrayLike<number>, C: number, groupSize: number,
  normBeforeGate: boolean, eps: number): Float64Array {
  const gated = Float64Array.from(x, (v, i) => v * silu64(z[i]));
  if (!normBeforeGate) return groupRms(gated, w, C, groupSize, eps);
  return groupRms(x, w, C, groupSize, eps).map((v, i) => v * silu64(z[i]));
}
