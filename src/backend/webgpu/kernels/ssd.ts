/**
 * Mamba-2 SSD by the chunked algorithm (Dao & Gu §6; the stages of mamba_ssm's
 * mamba_chunk_scan_combined), for chunks of Q steps (the last may be short):
 *   1. dt:     Δ = clamp(softplus(dt + dtBias)); acum = within-chunk cumsum of Δ·A_h (a scan)
 *   2. CB:     CB[i, j] = C_i · B_j per chunk and group (lower-triangular tiles only)
 *   3. states: S_c[p, n] = Σ_i exp(acum_last − acum_i) Δ_i x_i[p] B_i[n]
 *   4. pass:   H_c = exp(acum_last(c−1)) H_{c−1} + S_{c−1} (sequential over chunks; S_c is
 *              overwritten with the state entering chunk c), H_0 = the initial state
 *   5. out:    y_i = Σ_{j≤i} CB[i, j] exp(acum_i − acum_j) Δ_j x_j + exp(acum_i) C_i · H_c + D x_i
 * Decays are differences of within-chunk cumsums, all ≤ 0, so no exp can overflow.
 * With one group and whole chunks (ssdBatched), stage 3 and the state term of stage 5 are batched
 * matmuls over the (b, c) pairs on matmul.ts's large tiles; otherwise every stage is a tiled kernel.
 * Up to RECURRENT_MAX_L steps (decoding) skip the stages and run the recurrence in one kernel.
 *   x [B, L, H, P], dt [B, L, H], A [H], B/C [B, L, G, N], D [H] or [H, P], state [B, H, P, N]
 *   -> y [B, L, H, P], state [B, H, P, N]
 */
import type { SsdArgs } from '../../backend.js';
import type { GpuTensor } from '../buffer-pool.js';
import { f32Bits, grid, storageOf, type Kernel, type KernelHost } from '../runtime.js';
import { ENTRY_ARGS, flatId, GROUP_ID, header, type BufferDecl } from '../wgsl.js';
import { SCALAR_FNS } from './elementwise.js';
import { batchedMatmul, MAX_MATMUL_BATCH } from './matmul.js';
import { tiledSource } from './tiles.js';

const WG = 256;
/** the uniform fields of every SSD kernel, forward and backward (ssd-backward.ts) */
export const FIELDS = 'L: u32, H: u32, P: u32, G: u32, N: u32, Q: u32, nC: u32, n: u32, lo: f32, hi: f32';
const cache = new Map<string, Kernel>();

/** the kernel of this label, its WGSL made once */
export function cached(key: string, make: () => string): Kernel {
  let k = cache.get(key);
  if (!k) cache.set(key, (k = { label: key, source: make() }));
  return k;
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

/**
 * Stage 1, one workgroup per (b, h, chunk): each invocation takes a contiguous run of the
 * chunk's steps, sums its Δ·A, the workgroup scans the sums (Hillis-Steele in shared memory),
 * and each run is written out from its exclusive prefix.
 */
function dtKernel(bias: boolean, softplus: boolean): Kernel {
  return cached(`ssd dt ${bias} ${softplus}`, () => {
    const buffers: BufferDecl[] = [['dt', 'read', 'f32'], ['A', 'read', 'f32']];
    if (bias) buffers.push(['dtBias', 'read', 'f32']);
    buffers.push(['dtv', 'read_write', 'f32'], ['acum', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
var<workgroup> sums: array<f32, ${WG}>;

fn delta(b: u32, l: u32, h: u32) -> f32 {
  var d = dt[(b * p.L + l) * p.H + h]${bias ? ' + dtBias[h]' : ''};
  ${softplus ? 'd = softplus(d);' : ''}
  return clamp(d, p.lo, p.hi);
}

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let w = ${GROUP_ID};
  let ch = w % p.nC;
  let h = (w / p.nC) % p.H;
  let b = w / (p.nC * p.H);
  let a = A[h];
  let l0 = ch * p.Q;
  let Qc = min(p.Q, p.L - l0);
  let run = (Qc + ${WG - 1}u) / ${WG}u;
  let s0 = min(lid * run, Qc);
  let s1 = min(s0 + run, Qc);
  var total = 0.0;
  for (var l = s0; l < s1; l++) { total = fma(delta(b, l0 + l, h), a, total); }
  sums[lid] = total;
  workgroupBarrier();
  for (var off = 1u; off < ${WG}u; off = off << 1u) {
    let v = select(0.0, sums[lid - min(off, lid)], lid >= off);
    workgroupBarrier();
    sums[lid] += v;
    workgroupBarrier();
  }
  var cum = sums[lid] - total;
  for (var l = s0; l < s1; l++) {
    let d = delta(b, l0 + l, h);
    let o = (b * p.H + h) * p.L + l0 + l;
    dtv[o] = d;
    cum = fma(d, a, cum);
    acum[o] = cum;
  }
}`;
  });
}

/** also the backward's CB (it reads only j ≤ i; tiles above the diagonal are never written) */
export const CB_KERNEL = cached('ssd CB', () => tiledSource({
  label: 'ssd CB',
  fields: FIELDS,
  buffers: [['Cm', 'read', 'f32'], ['Bm', 'read', 'f32'], ['CB', 'read_write', 'f32']],
  setup: `
  ${LOWER_TILE}
  ${CHUNK}
  let g = wid.z % p.G;
  let b = wid.z / p.G;
  ${TILE_ORIGIN}`,
  phases: [{
    kBegin: '0u',
    kEnd: 'p.N',
    A: { kFast: true, at: (i, n) => `Cm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
    B: { kFast: true, at: (n, j) => `Bm[((b * p.L + l0 + ${j}) * p.G + g) * p.N + ${n}]` },
  }],
  store: (i, j, acc) => `CB[(((b * p.nC + ch) * p.G + g) * p.Q + ${i}) * p.Q + ${j}] = ${acc};`,
}));

const STATES_KERNEL = cached('ssd chunk states', () => tiledSource({
  label: 'ssd chunk states',
  fields: FIELDS,
  buffers: [['x', 'read', 'f32'], ['Bm', 'read', 'f32'], ['dtv', 'read', 'f32'], ['acum', 'read', 'f32'], ['S', 'read_write', 'f32']],
  setup: `
  let tN = (p.N + 63u) / 64u;
  ${CHUNK}
  ${HEAD}
  let aLast = acum[hb + l0 + Qc - 1u];
  let r0 = (wid.x / tN) * 64u;
  let c0 = (wid.x % tN) * 64u;
  let rows = p.P;
  let cols = p.N;`,
  phases: [{
    kBegin: '0u',
    kEnd: 'Qc',
    A: { kFast: false, at: (pp, i) => `x[((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp}] * exp(aLast - acum[hb + l0 + ${i}]) * dtv[hb + l0 + ${i}]` },
    B: { kFast: false, at: (i, n) => `Bm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}]` },
  }],
  store: (pp, n, acc) => `S[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}] = ${acc};`,
}));

/**
 * A [B, L, H, P] tensor (x or dY) with each (b, l, h) row scaled, as the batched matmuls of the
 * chunk states and their gradients take it (acum_last: the end of l's chunk):
 *   'state'  x̃_l = exp(acum_last − acum_l) Δ_l x_l
 *   'decay'  exp(acum_l) dY_l
 * Each invocation scales `V` (4 where P allows) adjacent p of one (b, l, h).
 */
type RowScale = 'state' | 'decay';

function scaledRowsKernel(mode: RowScale, V: 1 | 4): Kernel {
  const T = V === 4 ? 'vec4<f32>' : 'f32';
  return cached(`ssd scaled rows ${mode} ${V}`, () => {
    const buffers: BufferDecl[] = [['src', 'read', T], ['acum', 'read', 'f32']];
    if (mode === 'state') buffers.push(['dtv', 'read', 'f32']);
    buffers.push(['out', 'read_write', T]);
    const scale = mode === 'state' ? 'exp(acum[hb + min(p.L, (l / p.Q + 1u) * p.Q) - 1u] - acum[hb + l]) * dtv[hb + l]' : 'exp(acum[hb + l])';
    return `${header(FIELDS, buffers)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let bl = i / (p.H * p.P / ${V}u);  // b * L + l
  let h = (i / (p.P / ${V}u)) % p.H;
  let l = bl % p.L;
  let hb = (bl - l) * p.H + h * p.L;
  out[i] = src[i] * (${scale});
}`;
  });
}

/** MAMBA_TS_SSD=tiled keeps every stage in its tiled kernel (to compare both in one run). */
const tiledOnly = typeof process !== 'undefined' && process.env?.MAMBA_TS_SSD === 'tiled';

/**
 * Whether the chunk states and the products with them run as batched matmuls over the (b, c)
 * pairs (on the large-tile matmul kernel): one group of B/C and whole chunks, so that each pair's
 * rows of x, y, B and C are one contiguous block.
 */
export function ssdBatched(B: number, L: number, G: number, Q: number): boolean {
  return !tiledOnly && G === 1 && L % Q === 0 && B * (L / Q) <= MAX_MATMUL_BATCH;
}

/*
 * The products over the (b, c) pairs (where ssdBatched): x-like tensors [B, L, H, P] give each pair
 * a block [Q, H·P], B/C [B, L, 1, N] a block [Q, N], states [B, nC, H, P, N] a block [H·P, N],
 * CB-like [B, nC, 1, Q, Q] a block [Q, Q].
 */

/** out_c = rows_cᵀ bc_c: [H·P, Q] · [Q, N] per pair, into states `out` (chunk states, dS0 terms) */
export function pairStates(h: KernelHost, rows: GpuTensor, bc: GpuTensor, out: GpuTensor): void {
  const [B, L, H, P] = rows.shape;
  const [, nC, , , N] = out.shape;
  const Q = L / nC;
  batchedMatmul(h, rows, bc, out, H * P, N, Q, true, false, { count: B * nC, strideA: Q * H * P, strideB: Q * N, strideC: H * P * N });
}

/** out_c = bc_c st_cᵀ: [Q, N] · [N, H·P] per pair, into x-like `out` (C·Hᵀ, B·dSᵀ, C·S0ᵀ) */
export function pairRowsTimesStates(h: KernelHost, bc: GpuTensor, st: GpuTensor, out: GpuTensor): void {
  const [B, L, H, P] = out.shape;
  const [, nC, , , N] = st.shape;
  const Q = L / nC;
  batchedMatmul(h, bc, st, out, Q, H * P, N, false, true, { count: B * nC, strideA: Q * N, strideB: H * P * N, strideC: Q * H * P });
}

/** out_c += rows_c st_c: [Q, H·P] · [H·P, N] per pair, added to B/C-like `out` (the state terms of dC, dB) */
export function pairRowsByStates(h: KernelHost, rows: GpuTensor, st: GpuTensor, out: GpuTensor): void {
  const [B, L, H, P] = rows.shape;
  const [, nC, , , N] = st.shape;
  const Q = L / nC;
  batchedMatmul(h, rows, st, out, Q, N, H * P, false, false, { count: B * nC, strideA: Q * H * P, strideB: H * P * N, strideC: Q * N }, true);
}

/** out_c = op(cb_c) bc_c: [Q, Q] · [Q, N] per pair (op: transposed when `trans`), into B/C-like `out` */
export function pairCBTimes(h: KernelHost, cb: GpuTensor, bc: GpuTensor, out: GpuTensor, trans: boolean): void {
  const [B, nC, , Q] = cb.shape;
  const N = bc.shape[3];
  batchedMatmul(h, cb, bc, out, Q, N, Q, trans, false, { count: B * nC, strideA: Q * Q, strideB: Q * N, strideC: Q * N });
}

/** `src` [B, L, H, P] with its rows scaled as `mode` says (scaledRowsKernel); params as the SSD kernels take them. */
export function scaledRows(h: KernelHost, src: GpuTensor, acum: GpuTensor, dtv: GpuTensor, params: (n: number) => number[], mode: RowScale): GpuTensor {
  const out = h.empty(src.shape);
  const V = src.shape[3] % 4 === 0 ? 4 : 1;
  const bufs = [src.storage, acum.storage, ...(mode === 'state' ? [dtv.storage] : []), out.storage];
  h.rt.dispatch(scaledRowsKernel(mode, V), params(out.size / V), bufs, grid(out.size / V, WG));
  return out;
}

function passKernel(init: boolean): Kernel {
  return cached(`ssd state passing ${init}`, () => {
    const buffers: BufferDecl[] = [['acum', 'read', 'f32']];
    if (init) buffers.push(['state0', 'read', 'f32']);
    buffers.push(['S', 'read_write', 'f32'], ['stateOut', 'read_write', 'f32']);
    return `${header(FIELDS, buffers)}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let i = ${flatId(WG)};
  if (i >= p.n) { return; }
  let n = i % p.N;
  let pp = (i / p.N) % p.P;
  let h = (i / (p.N * p.P)) % p.H;
  let b = i / (p.N * p.P * p.H);
  var s = ${init ? 'state0[i]' : '0.0'};
  // chunk c's S at o0 + c·stride; four chunks' loads go out before the chain uses them
  let stride = p.H * p.P * p.N;
  let o0 = ((b * p.nC * p.H + h) * p.P + pp) * p.N + n;
  let ac = (b * p.H + h) * p.L;
  var ch = 0u;
  for (; ch + 4u <= p.nC; ch += 4u) {
    var add: array<f32, 4>;
    for (var j = 0u; j < 4u; j++) { add[j] = S[o0 + (ch + j) * stride]; }
    for (var j = 0u; j < 4u; j++) {
      S[o0 + (ch + j) * stride] = s;
      s = fma(exp(acum[ac + min(p.L, (ch + j + 1u) * p.Q) - 1u]), s, add[j]);
    }
  }
  for (; ch < p.nC; ch++) {
    let add = S[o0 + ch * stride];
    S[o0 + ch * stride] = s;
    s = fma(exp(acum[ac + min(p.L, (ch + 1u) * p.Q) - 1u]), s, add);
  }
  stateOut[i] = s;
}`;
  });
}

type DMode = 'none' | 'head' | 'headDim';

/**
 * The recurrence itself, for a few steps (decoding: L = 1), where the chunked stages would be
 * five dispatches of mostly idle tiles:
 *   h[p, n] = exp(Δ_t A_h) h[p, n] + Δ_t x_t[p] B_t[n];   y_t[p] = Σ_n h[p, n] C_t[n] + D x_t[p]
 * A state row (b, h, p) belongs to 32 lanes of a workgroup (8 rows of 256 invocations), lane j
 * updating n ≡ j mod 32, so the row is read and written once, coalesced; the lanes' partial
 * y_t are summed in shared memory.
 */
const ROW_LANES = 32;
const ROWS_PER_GROUP = WG / ROW_LANES;

function recurrentKernel(bias: boolean, softplus: boolean, init: boolean, d: DMode): Kernel {
  return cached(`ssd recurrent ${bias} ${softplus} ${init} D=${d}`, () => {
    const buffers: BufferDecl[] = [['x', 'read', 'f32'], ['dt', 'read', 'f32'], ['A', 'read', 'f32'], ['Bm', 'read', 'f32'], ['Cm', 'read', 'f32']];
    if (bias) buffers.push(['dtBias', 'read', 'f32']);
    if (d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
    if (init) buffers.push(['state0', 'read', 'f32']);
    buffers.push(['y', 'read_write', 'f32'], ['stateOut', 'read_write', 'f32']);
    const skip = d === 'head' ? 'Dskip[h]' : d === 'headDim' ? 'Dskip[h * p.P + pp]' : '0.0';
    return `${header(FIELDS, buffers)}
${SCALAR_FNS}
var<workgroup> part: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let lane = lid % ${ROW_LANES}u;
  let r = ${GROUP_ID} * ${ROWS_PER_GROUP}u + lid / ${ROW_LANES}u;
  let live = r < p.n;
  // dead rows compute on row n-1 and write nothing, so every lane reaches every barrier
  let i = min(r, p.n - 1u);
  let pp = i % p.P;
  let h = (i / p.P) % p.H;
  let b = i / (p.P * p.H);
  let g = h / (p.H / p.G);
  let row = i * p.N;  // this (b, h, p)'s state row in [B, H, P, N]
  for (var t = 0u; t < p.L; t++) {
    let bt = b * p.L + t;
    var d = dt[bt * p.H + h]${bias ? ' + dtBias[h]' : ''};
    ${softplus ? 'd = softplus(d);' : ''}
    d = clamp(d, p.lo, p.hi);
    let decay = exp(d * A[h]);
    let xo = (bt * p.H + h) * p.P + pp;
    let dx = d * x[xo];
    let bc = (bt * p.G + g) * p.N;
    var acc = 0.0;
    for (var n = lane; n < p.N; n += ${ROW_LANES}u) {
      let prev = ${init ? 'select(stateOut[row + n], state0[row + n], t == 0u)' : 'select(stateOut[row + n], 0.0, t == 0u)'};
      let s = fma(decay, prev, dx * Bm[bc + n]);
      if (live) { stateOut[row + n] = s; }
      acc = fma(s, Cm[bc + n], acc);
    }
    part[lid] = acc;
    workgroupBarrier();
    for (var s = ${ROW_LANES / 2}u; s > 0u; s = s >> 1u) {
      if (lane < s) { part[lid] += part[lid + s]; }
      workgroupBarrier();
    }
    if (live && lane == 0u) { y[xo] = fma(${skip}, x[xo], part[lid]); }
    workgroupBarrier();
  }
}`;
  });
}

/** At most this many steps run through the recurrence instead of the chunked stages. */
const RECURRENT_MAX_L = 4;

/**
 * Stage 5 as one tiled kernel; with `stateInY`, y already holds C_i · H_c (batched matmuls,
 * ssdChunked) and the kernel runs the intra-chunk phase only, adding exp(acum_i) times it.
 */
function outKernel(d: DMode, stateInY: boolean): Kernel {
  return cached(`ssd output D=${d}${stateInY ? ' intra' : ''}`, () => {
    const buffers: BufferDecl[] = [['CB', 'read', 'f32'], ['acum', 'read', 'f32'], ['dtv', 'read', 'f32'], ['x', 'read', 'f32']];
    if (!stateInY) buffers.push(['Cm', 'read', 'f32'], ['S', 'read', 'f32']);
    if (d !== 'none') buffers.push(['Dskip', 'read', 'f32']);
    buffers.push(['y', 'read_write', 'f32']);
    const skip = d === 'head' ? ' + Dskip[h] * x[o]' : d === 'headDim' ? ' + Dskip[h * p.P + oC] * x[o]' : '';
    const fromState = stateInY ? ' + exp(acum[hb + l0 + oR]) * y[o]' : '';
    const intra = {
      // intra-chunk: only j <= i contributes, so k stops at the end of this row tile
      kBegin: '0u',
      kEnd: 'min(Qc, r0 + 64u)',
      A: {
        kFast: true,
        at: (i: string, j: string) => `select(0.0, CB[(cbBase + ${i}) * p.Q + ${j}] * exp(acum[hb + l0 + ${i}] - acum[hb + l0 + ${j}]) * dtv[hb + l0 + ${j}], ${j} <= ${i})`,
      },
      B: { kFast: false, at: (j: string, pp: string) => `x[((b * p.L + l0 + ${j}) * p.H + h) * p.P + ${pp}]` },
    };
    const state = {
      // the state entering the chunk, decayed to each position
      kBegin: '0u',
      kEnd: 'p.N',
      A: { kFast: true, at: (i: string, n: string) => `Cm[((b * p.L + l0 + ${i}) * p.G + g) * p.N + ${n}] * exp(acum[hb + l0 + ${i}])` },
      B: { kFast: true, at: (n: string, pp: string) => `S[(((b * p.nC + ch) * p.H + h) * p.P + ${pp}) * p.N + ${n}]` },
    };
    return tiledSource({
      label: 'ssd output',
      fields: FIELDS,
      buffers,
      setup: `
  let tP = (p.P + 63u) / 64u;
  ${CHUNK}
  ${HEAD}
  let r0 = (wid.x / tP) * 64u;
  let c0 = (wid.x % tP) * 64u;
  if (r0 >= Qc) { return; }
  let rows = Qc;
  let cols = p.P;
  let cbBase = ((b * p.nC + ch) * p.G + g) * p.Q;`,
      phases: stateInY ? [intra] : [intra, state],
      store: (i, pp, acc) => `let o = ((b * p.L + l0 + ${i}) * p.H + h) * p.P + ${pp};
    y[o] = ${acc}${fromState}${skip};`,
    });
  });
}

export function ssdChunked(h: KernelHost, a: SsdArgs): { y: GpuTensor; state: GpuTensor } {
  const x = a.x as GpuTensor;
  const [B, L, H, P] = x.shape;
  const [, , G, N] = a.Bmat.shape;
  const Q = a.chunkSize;
  const nC = Math.ceil(L / Q);
  const [lo, hi] = a.dtLimit;
  const params = (n: number) => [L, H, P, G, N, Q, nC, n, f32Bits(lo), f32Bits(hi)];
  const s = (t: unknown) => storageOf(t as GpuTensor);
  const rt = h.rt;
  const dMode: DMode = !a.Dskip ? 'none' : a.Dskip.shape.length === 2 ? 'headDim' : 'head';

  if (L > 0 && L <= RECURRENT_MAX_L) {
    const y = h.empty([B, L, H, P]);
    const state = h.empty([B, H, P, N]);
    const inputs = [s(x), s(a.dt), s(a.A), s(a.Bmat), s(a.Cmat)];
    for (const t of [a.dtBias, a.Dskip, a.state]) if (t) inputs.push(s(t));
    const rows = B * H * P;
    rt.dispatch(recurrentKernel(a.dtBias !== undefined, a.dtSoftplus, a.state !== undefined, dMode), params(rows),
      [...inputs, y.storage, state.storage], grid(Math.ceil(rows / ROWS_PER_GROUP), 1));
    return { y, state };
  }

  const dtv = h.empty([B, H, L]);
  const acum = h.empty([B, H, L]);
  const dtIn = [s(a.dt), s(a.A)];
  if (a.dtBias) dtIn.push(s(a.dtBias));
  rt.dispatch(dtKernel(a.dtBias !== undefined, a.dtSoftplus), params(B * H * nC), [...dtIn, dtv.storage, acum.storage], grid(B * H * nC, 1));

  const tQ = Math.ceil(Q / 64);
  const CB = h.empty([B, nC, G, Q, Q]);
  rt.dispatch(CB_KERNEL, params(0), [s(a.Cmat), s(a.Bmat), CB.storage], [tQ * tQ, nC, B * G]);

  const batched = ssdBatched(B, L, G, Q);
  const S = h.empty([B, nC, H, P, N]);
  if (batched) {
    // S_c = x̃_cᵀ B_c
    const xs = scaledRows(h, x, acum, dtv, params, 'state');
    pairStates(h, xs, a.Bmat as GpuTensor, S);
    xs.dispose();
  } else {
    rt.dispatch(STATES_KERNEL, params(0), [s(x), s(a.Bmat), dtv.storage, acum.storage, S.storage],
      [Math.ceil(P / 64) * Math.ceil(N / 64), nC, B * H]);
  }

  const state = h.empty([B, H, P, N]);
  const passIn = [acum.storage];
  if (a.state) passIn.push(s(a.state));
  rt.dispatch(passKernel(a.state !== undefined), params(state.size), [...passIn, S.storage, state.storage], grid(state.size, WG));

  const y = h.empty([B, L, H, P]);
  // y_c = C_c H_cᵀ; the output kernel decays it and adds the rest
  if (batched) pairRowsTimesStates(h, a.Cmat as GpuTensor, S, y);
  const outIn = [CB.storage, acum.storage, dtv.storage, s(x)];
  if (!batched) outIn.push(s(a.Cmat), S.storage);
  if (a.Dskip) outIn.push(s(a.Dskip));
  rt.dispatch(outKernel(dMode, batched), params(0), [...outIn, y.storage], [tQ * Math.ceil(P / 64), nC, B * H]);

  for (const t of [dtv, acum, CB, S]) t.dispose();
  return { y, state };
}
