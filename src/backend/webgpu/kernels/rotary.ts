/**
 * Rotary position embedding (RoPE) on the device, forward and, rotating by −θ, backward.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { flatMain, header } from '../wgsl.js';

const WG = 256;

/**
 * Rotary embedding on the first 2·half dims of x [B, L, H, E]. cs holds cos and sin per
 * (b, l, j) as computed on the host in float64: a GPU's sin/cos lose accuracy on the large
 * angles late positions reach. `sign` −1 rotates by −θ: the backward, rotary being orthogonal.
 */
const ROTARY = (interleaved: boolean): Kernel => ({
  label: `rotary${interleaved ? ' interleaved' : ''}`,
  source: `${header('n: u32, H: u32, E: u32, half: u32, sign: f32', [['x', 'read', 'f32'], ['cs', 'read', 'f32'], ['out', 'read_write', 'f32']])}
${flatMain(WG)}
  let e = i % p.E;
  if (e >= 2u * p.half) { out[i] = x[i]; return; }
  let base = i - e;
  let tok = i / (p.H * p.E);
  ${interleaved
    ? `let j = e / 2u;
  let x0 = x[base + 2u * j];
  let x1 = x[base + 2u * j + 1u];
  let c = cs[(tok * p.half + j) * 2u];
  let s = p.sign * cs[(tok * p.half + j) * 2u + 1u];
  out[i] = select(x1 * c + x0 * s, x0 * c - x1 * s, e % 2u == 0u);`
    : `let j = e % p.half;
  let x0 = x[base + j];
  let x1 = x[base + j + p.half];
  let c = cs[(tok * p.half + j) * 2u];
  let s = p.sign * cs[(tok * p.half + j) * 2u + 1u];
  out[i] = select(x1 * c + x0 * s, x0 * c - x1 * s, e < p.half);`}
}`,
});
const ROTARY_PLAIN = ROTARY(false);
const ROTARY_INTERLEAVED = ROTARY(true);

/** The last cos/sin table per backend: every attention layer of a forward reuses it. */
const tables = new WeakMap<KernelHost, { key: string; t: GpuTensor }>();

function rotaryTable(h: KernelHost, B: number, L: number, pos0: Int32Array, half: number, base: number): GpuTensor {
  const key = `${B} ${L} ${half} ${base} ${pos0.join(',')}`;
  const hit = tables.get(h);
  if (hit && hit.key === key && !hit.t.disposed) return hit.t;
  hit?.t.dispose();
  const cs = new Float32Array(B * L * half * 2);
  const invFreq = Array.from({ length: half }, (_, j) => Math.pow(base, (-2 * j) / (2 * half)));
  for (let b = 0; b < B; b++) {
    for (let l = 0; l < L; l++) {
      const pos = pos0[b] + l;
      const row = (b * L + l) * half * 2;
      for (let j = 0; j < half; j++) {
        cs[row + 2 * j] = Math.cos(pos * invFreq[j]);
        cs[row + 2 * j + 1] = Math.sin(pos * invFreq[j]);
      }
    }
  }
  const t = h.upload(cs, [B, L, half, 2]);
  tables.set(h, { key, t });
  return t;
}

/** x [B, L, H, E] rotated by θ, or by −θ when `inverse` (the gradient of the forward rotation) */
export function rotary(h: KernelHost, x: GpuTensor, pos0: Int32Array, rotaryDim: number, base: number, interleaved: boolean, inverse = false): GpuTensor {
  const [B, L, H, E] = x.shape;
  const half = rotaryDim / 2;
  const out = h.empty(x.shape);
  if (x.size === 0) return out;
  const cs = rotaryTable(h, B, L, pos0, half, base);
  h.rt.dispatch(interleaved ? ROTARY_INTERLEAVED : ROTARY_PLAIN, [x.size, H, E, half, f32Bits(inverse ? -1 : 1)], [storageOf(x), cs.storage, out.storage], grid(x.size, WG));
  return out;
}
