/**
 * What every SSD kernel shares, forward and backward: the uniform fields, the sizes they hold,
 * and the WGSL snippets that place a tile in its chunk and head.
 */
import type { SsdArgs } from '../../../backend.js';
import { f32Bits } from '../../runtime.js';
import { MAX_MATMUL_BATCH } from '../matmul.js';

export const WG = 256;

/** the uniform fields of every SSD kernel */
export const FIELDS = 'L: u32, H: u32, P: u32, G: u32, N: u32, Q: u32, nC: u32, n: u32, lo: f32, hi: f32';

/** The sizes of one SSD call (Q the chunk size, nC the chunks) and its uniforms, `n` per dispatch. */
export interface SsdDims {
  B: number; L: number; H: number; P: number; G: number; N: number; Q: number; nC: number;
  params(n: number): number[];
}

export function ssdDims(a: SsdArgs): SsdDims {
  const [B, L, H, P] = a.x.shape;
  const [, , G, N] = a.Bmat.shape;
  const Q = a.chunkSize;
  const nC = Math.ceil(L / Q);
  const [lo, hi] = a.dtLimit;
  return { B, L, H, P, G, N, Q, nC, params: (n) => [L, H, P, G, N, Q, nC, n, f32Bits(lo), f32Bits(hi)] };
}

/** How D enters: absent, one per head, or one per head and channel. */
export type DMode = 'none' | 'head' | 'headDim';

export const dModeOf = (a: SsdArgs): DMode => (!a.Dskip ? 'none' : a.Dskip.shape.length === 2 ? 'headDim' : 'head');

/** the WGSL term D·v[o] of a tile's output o (head h, column oC), '' without D */
export const skipTerm = (d: DMode, v: string): string =>
  d === 'head' ? ` + Dskip[h] * ${v}[o]` : d === 'headDim' ? ` + Dskip[h * p.P + oC] * ${v}[o]` : '';


/** MAMBA_TS_SSD=tiled keeps every stage in its tiled kernel (to compare both in one run). */
const tiledOnly = typeof process !== 'undefined' && process.env?.MAMBA_TS_SSD === 'tiled';

/**
 * Whether the chunk states and the products with them run as batched matmuls over the (b, c)
 * pairs (on the large-tile matmul kernel, pairs.ts): one group of B/C and whole chunks, so that
 * each pair's rows of x, y, B and C are one contiguous block.
 */
export function ssdBatched(d: SsdDims): boolean {
  return !tiledOnly && d.G === 1 && d.L % d.Q === 0 && d.B * d.nC <= MAX_MATMUL_BATCH;
}

/** a [Q, Q] tile (ti, tj) of a chunk from wid.x; tiles above the diagonal return at once */
export const LOWER_TILE = `
  let tI = (p.Q + 63u) / 64u;
  let ti = wid.x / tI;
  let tj = wid.x % tI;
  if (tj > ti) { return; }`;

/** the first row and column of a lower tile, and the chunk's extent both ways */
export const TILE_ORIGIN = `
  let r0 = ti * 64u;
  let c0 = tj * 64u;
  let rows = Qc;
  let cols = Qc;`;

/** Common tile setup: chunk `ch`, head h (or group g), sequence b and the chunk's extent. */
export const CHUNK = `
  let ch = wid.y;
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);`;

/** a tile's head h, its group g, sequence b; hb indexes [B, H, L] */
export const HEAD = `
  let h = wid.z % p.H;
  let b = wid.z / p.H;
  let g = h / (p.H / p.G);
  let hb = (b * p.H + h) * p.L;`;

/** a tile's group g and sequence b; the group's first head h0 */
export const GROUP = `
  let g = wid.z % p.G;
  let b = wid.z / p.G;
  let hpg = p.H / p.G;
  let h0 = g * hpg;
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;`;

/** a [Q or P or N]-by-[P or N] 64-tile of one chunk and head: origin r0, c0 from wid.x over `colsOf` columns */
export const tileOf = (rowsOf: string, colsOf: string): string => `
  let tC = (${colsOf} + 63u) / 64u;
  let r0 = (wid.x / tC) * 64u;
  let c0 = (wid.x % tC) * 64u;
  let rows = ${rowsOf};
  let cols = ${colsOf};`;

/** a [Qc, P] 64-tile of one chunk and head (rows: the chunk's positions), with its CB block's first row cbBase */
export const POSITION_TILE = `
  ${CHUNK}
  ${HEAD}
  ${tileOf('Qc', 'p.P')}
  if (r0 >= Qc) { return; }
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;`;
