/**
 * Kernels that move data without arithmetic on it (plus rotary, which only mixes pairs):
 * column copies for split/concat, embedding gathers, the KV-cache append and rotary embedding.
 * Copies work on u32 so one kernel serves f32 and i32 tensors.
 */
import type { GpuTensor } from '../memory.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, header } from '../wgsl.js';

const WG = 256;

/** dst[r, dstOff + c] = src[r, srcOff + c] for c < width: one piece of a split or a concat. */
const COLUMNS: Kernel = {
  label: 'copy columns',
  source: `${header('n: u32, width: u32, srcW: u32, srcOff: u32, dstW: u32, dstOff: u32', [['src', 'read', 'u32'], ['dst', 'read_write', 'u32']])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let r = i / p.width;
  let c = i % p.width;
  dst[r * p.dstW + p.dstOff + c] = src[r * p.srcW + p.srcOff + c];
}`,
};

function copyColumns(h: KernelHost, src: GpuTensor, dst: GpuTensor, rows: number, width: number,
  srcW: number, srcOff: number, dstW: number, dstOff: number): void {
  const n = rows * width;
  h.rt.dispatch(COLUMNS, [n, width, srcW, srcOff, dstW, dstOff], [storageOf(src), storageOf(dst)], grid(n, WG));
}

/**
 * Splits into k pieces in one pass: invocation i reads x[i] and writes it to the piece its
 * column falls in (piece j starts at column p.o[j]). A decode step splits twice per layer, so
 * one dispatch instead of k matters there.
 */
function splitKernel(k: number): Kernel {
  let kernel = splitKernels.get(k);
  if (!kernel) {
    const outs = Array.from({ length: k }, (_, j) => [`y${j}`, 'read_write', 'u32'] as const);
    const fields = ['n: u32', 'W: u32', ...Array.from({ length: k + 1 }, (_, j) => `o${j}: u32`)].join(', ');
    const branches = Array.from({ length: k }, (_, j) =>
      `if (c < p.o${j + 1}) { y${j}[r * (p.o${j + 1} - p.o${j}) + c - p.o${j}] = v; return; }`);
    kernel = {
      label: `split ${k}`,
      source: `${header(fields, [['x', 'read', 'u32'], ...outs])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let r = i / p.W;
  let c = i % p.W;
  if (c < p.o0) { return; }
  let v = x[i];
  ${branches.join('\n  ')}
}`,
    };
    splitKernels.set(k, kernel);
  }
  return kernel;
}
const splitKernels = new Map<number, Kernel>();

/** x [..., sum(sizes)] -> [..., sizes[i]] */
export function split(h: KernelHost, x: GpuTensor, sizes: readonly number[]): GpuTensor[] {
  const W = x.shape[x.shape.length - 1];
  const rows = W === 0 ? 0 : x.size / W;
  const outs = sizes.map((w) => h.empty([...x.shape.slice(0, -1), w], x.dtype));
  // empty pieces bind nothing; the rest go in groups that fit the device's storage bindings
  const live = sizes.map((_, j) => j).filter((j) => sizes[j] > 0);
  const offsets = sizes.reduce((o, w) => [...o, o[o.length - 1] + w], [0]);
  const most = h.rt.info.maxStorageBuffersPerShaderStage - 1;
  for (let g = 0; g < live.length && rows > 0; g += most) {
    const group = live.slice(g, g + most);
    // columns outside the group's range fall through every branch and are not written
    const o = [...group.map((j) => offsets[j]), offsets[group[group.length - 1] + 1]];
    const n = rows * W;
    h.rt.dispatch(splitKernel(group.length), [n, W, ...o], [storageOf(x), ...group.map((j) => outs[j].storage)], grid(n, WG));
  }
  return outs;
}

/** concatenation along the last dimension */
export function concat(h: KernelHost, xs: readonly GpuTensor[]): GpuTensor {
  const lead = xs[0].shape.slice(0, -1);
  const W = xs.reduce((s, t) => s + t.shape[t.shape.length - 1], 0);
  const out = h.empty([...lead, W], xs[0].dtype);
  const rows = lead.reduce((a, b) => a * b, 1);
  let off = 0;
  for (const t of xs) {
    const w = t.shape[t.shape.length - 1];
    copyColumns(h, t, out, rows, w, w, 0, W, off);
    off += w;
  }
  return out;
}

/** Rows of table [V, C] by ids (any shape); an id outside [0, V) gives a zero row. */
const EMBEDDING: Kernel = {
  label: 'embedding',
  source: `${header('n: u32, C: u32, V: u32', [['table', 'read', 'f32'], ['ids', 'read', 'i32'], ['out', 'read_write', 'f32']])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let id = ids[i / p.C];
  var v = 0.0;
  if (id >= 0 && u32(id) < p.V) { v = table[u32(id) * p.C + i % p.C]; }
  out[i] = v;
}`,
};

export function embedding(h: KernelHost, table: GpuTensor, ids: GpuTensor): GpuTensor {
  const [V, C] = table.shape;
  const out = h.empty([...ids.shape, C]);
  h.rt.dispatch(EMBEDDING, [out.size, C, V], [storageOf(table), storageOf(ids), out.storage], grid(out.size, WG));
  return out;
}

/** dst[b, offset[b] + t, r] = src[b, t, r]: the KV-cache append, in place. */
const WRITE_AT: Kernel = {
  label: 'writeAt',
  source: `${header('n: u32, S: u32, Ls: u32, R: u32', [['src', 'read', 'u32'], ['offset', 'read', 'i32'], ['dst', 'read_write', 'u32']])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let b = i / (p.Ls * p.R);
  let rest = i % (p.Ls * p.R);
  dst[(b * p.S + u32(offset[b])) * p.R + rest] = src[i];
}`,
};

export function writeAt(h: KernelHost, dst: GpuTensor, src: GpuTensor, offset: Int32Array): GpuTensor {
  const [B, Ls] = src.shape;
  const S = dst.shape[1];
  const R = B * Ls === 0 ? 0 : src.size / (B * Ls);
  if (src.size === 0) return dst;
  const off = h.upload(offset, [B]);
  h.rt.dispatch(WRITE_AT, [src.size, S, Ls, R], [storageOf(src), off.storage, storageOf(dst)], grid(src.size, WG));
  off.dispose();
  return dst;
}

/**
 * Rotary embedding on the first 2·half dims of x [B, L, H, E]. cs holds cos and sin per
 * (b, l, j) as computed on the host in float64: a GPU's sin/cos lose accuracy on the large
 * angles late positions reach. `sign` −1 rotates by −θ: the backward, rotary being orthogonal.
 */
const ROTARY = (interleaved: boolean): Kernel => ({
  label: `rotary${interleaved ? ' interleaved' : ''}`,
  source: `${header('n: u32, H: u32, E: u32, half: u32, sign: f32', [['x', 'read', 'f32'], ['cs', 'read', 'f32'], ['out', 'read_write', 'f32']])}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
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
