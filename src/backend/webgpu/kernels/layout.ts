/**
 * Kernels that move data without arithmetic on it: column copies for split/concat, embedding
 * gathers and the KV-cache append.
 * Copies work on u32 so one kernel serves f32 and i32 tensors.
 */
import type { GpuTensor } from '../buffer-pool.js';
import { grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { flatMain, header } from '../wgsl.js';

const WG = 256;

/** dst[r, dstOff + c] = src[r, srcOff + c] for c < width: one piece of a split or a concat. */
const COLUMNS: Kernel = {
  label: 'copy columns',
  source: `${header('n: u32, width: u32, srcW: u32, srcOff: u32, dstW: u32, dstOff: u32', [['src', 'read', 'u32'], ['dst', 'read_write', 'u32']])}
${flatMain(WG)}
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
${flatMain(WG)}
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
${flatMain(WG)}
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
${flatMain(WG)}
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
