/**
 * GEMM micro-kernels as WebAssembly SIMD (f32x4), generated per tile shape.
 *
 * Small and medium M read the operands in place (a pass of packing would cost as much as the
 * work); large M packs them:
 *
 * - `dot` for B = W [N, K] (transB, every Linear): a tile of r rows of A × nr rows of W keeps
 *   r·nr f32x4 partial dot products along k, reads both operands as contiguous rows, and folds
 *   the four lanes at the end (a 4×4 transpose-add per four outputs). The nr W rows of a tile
 *   are `spread` rows apart, not adjacent: a chunk of W is walked as nr long sequential streams
 *   instead of nr streams that restart every row, which streams W from DRAM about twice as fast
 *   per core (M = 1; see bench/RESULTS.md).
 * - `outer` for B [K, N]: a tile of r rows × 4·nv columns; per k one broadcast of A[i, k] times
 *   nv vectors of B's row k (the classic register-blocked outer product).
 * - `panel` (large M, either layout of B): the dot tile on operands packed by `pack_g` / `packT`
 *   into panels of interleaved rows, so that a tile advances 2 pointers instead of 6.
 *
 * Every GEMM kernel takes the same i32 parameters (byte addresses and strides; `spread` in rows):
 *   a, lda      A[i0, k0] and its row stride
 *   mb          number of full r-row blocks; `rem` more rows follow (rem is part of the name)
 *   b, ldb      dot: W[j0, k0], W's row stride;  outer: B[k0, j0], B's row stride
 *   spread      dot: W rows (= C columns) between the rows of one tile; outer: unused
 *   c, ldc      C[i0, j0] and its row stride
 *   kc          length of the k range (floats)
 *   nq          dot: tiles along N, tile q covering columns j0 + q + s·spread (s < nr);
 *               outer: column groups of 4·nv
 *   bias        bias[j0] (read when flags & BIAS)
 *   flags       ACCUMULATE: C += tile (later k blocks) instead of C = tile
 * and loop: for each column tile, for each row block, one tile over the whole k range.
 *
 * Register budget: without relaxed SIMD's fused multiply-add V8 needs a register for each
 * product, and TurboFan hoists every load of a loop iteration to its top; accumulators + loads
 * of one iteration + 1 must fit the 15 xmm registers it allocates, or accumulators spill.
 *
 * The dot form reads A and W four floats at a time past the end of a row when kc % 4 != 0: the
 * last W vector is masked with MASK_TABLE (so garbage, even NaN, never reaches a sum) and A
 * must be zero-padded to a multiple of four (the caller's scratch copy is). Heap blocks leave
 * spare bytes after them so that these reads stay inside the memory.
 */
import {
  encodeModule, F32, F32_ADD, FuncBuilder, I32, I32_ADD, I32_AND, I32_EQ, I32_EQZ, I32_GE_U, I32_MUL, I32_SHL,
  type FuncDef,
  type Local, SIMD, V128,
} from './encoder.js';
import { repeat, transposeAdd, whileBelow } from './emit.js';

export const ACCUMULATE = 1;
export const BIAS = 2;
/** byte address of 4 lane masks: entry t keeps the first t lanes (t = 1..3) */
export const MASK_TABLE = 64;
/** bytes below this address are reserved (masks, and 0 is never a valid pointer) */
export const RESERVED_BYTES = 128;

/** One generated kernel: its form and tile shape (see the file comment). */
export type KernelSpec =
  /** rows × nr tiles with `sets` accumulators per output (independent add chains) */
  | { form: 'dot'; rows: number; rem: number; nr: number; sets: number }
  /** rows × 4·nv tiles */
  | { form: 'outer'; rows: number; rem: number; nv: number }
  /** 2 × 4 dot tiles on packed panels (see panelKernel) */
  | { form: 'panel' }
  /** packs rows into panels of g interleaved rows (see packKernel) */
  | { form: 'pack'; g: number }
  /** packs columns of B [K, N] into the panels pack_4 makes of W = B^T (see packTKernel) */
  | { form: 'packT' };

export function kernelName(s: KernelSpec): string {
  switch (s.form) {
    case 'dot': return `dot_${s.rows}_${s.rem}_${s.nr}_${s.sets}`;
    case 'outer': return `outer_${s.rows}_${s.rem}_${s.nv}`;
    case 'panel': return 'panel';
    case 'pack': return `pack_${s.g}`;
    case 'packT': return 'packT';
  }
}

const N_PARAMS = 12;

/** The parameters by name, and the locals a kernel body shares between its tiles. */
interface Ctx {
  f: FuncBuilder;
  relaxed: boolean;
  a: Local; lda: Local; mb: Local; b: Local; ldb: Local; spread: Local; c: Local; ldc: Local;
  kc: Local; nq: Local; bias: Local; flags: Local;
  ap: Local; cp: Local; ib: Local; kend: Local; kend1: Local; addr: Local; s: Local;
  pa: Local[];
  pb: Local[];
  va: Local[];
  vb: Local[];
  acc: Local[];
  t: Local[];
}

function newCtx(relaxed: boolean, rows: number, nb: number, nAcc: number): Ctx {
  const f = new FuncBuilder(N_PARAMS);
  const [a, lda, mb, b, ldb, spread, c, ldc, kc, nq, bias, flags] = f.params;
  const locals = (type: typeof I32 | typeof V128, n: number) => Array.from({ length: n }, () => f.local(type));
  const [ap, cp, ib, kend, kend1, addr] = locals(I32, 6);
  const pa = locals(I32, rows), pb = locals(I32, nb);
  return {
    f, relaxed, a, lda, mb, b, ldb, spread, c, ldc, kc, nq, bias, flags, ap, cp, ib, kend, kend1, addr,
    s: f.local(F32), pa, pb, va: locals(V128, rows), vb: locals(V128, nb), acc: locals(V128, nAcc), t: locals(V128, 3),
  };
}

/** acc += x * y */
function madd(x: Ctx, acc: Local, va: Local, vb: Local): void {
  const f = x.f;
  if (x.relaxed) f.get(va).get(vb).get(acc).simd(SIMD.F32X4_RELAXED_MADD).set(acc);
  else f.get(acc).get(va).get(vb).simd(SIMD.F32X4_MUL).simd(SIMD.F32X4_ADD).set(acc);
}

/** p_i = base + i * stride for each local p_i */
function rowPointers(x: Ctx, ptrs: readonly Local[], base: Local, stride: Local): void {
  const f = x.f;
  ptrs.forEach((p, i) => {
    if (i === 0) f.get(base).set(p);
    else f.get(ptrs[i - 1]).get(stride).op(I32_ADD).set(p);
  });
}

/** pushes cp + i * ldc */
function cRow(x: Ctx, i: number): void {
  x.f.get(x.cp);
  if (i > 0) x.f.get(x.ldc).i32(i).op(I32_MUL).op(I32_ADD);
}

/**
 * The kernel's outer loops: column tiles, row blocks of `rows`, then a block of `rem` rows. A
 * block advances A by `aRows` strides of lda (rows, or 1 for packed panels).
 */
function tileLoops(x: Ctx, rows: number, rem: number, tile: (r: number) => void, nextColumns: () => void, aRows = rows): void {
  const f = x.f;
  repeat(f, x.nq, () => {
    f.get(x.a).set(x.ap);
    f.get(x.c).set(x.cp);
    f.get(x.mb).set(x.ib);
    repeat(f, x.ib, () => {
      tile(rows);
      f.get(x.ap).get(x.lda).i32(aRows).op(I32_MUL).op(I32_ADD).set(x.ap);
      f.get(x.cp).get(x.ldc).i32(rows).op(I32_MUL).op(I32_ADD).set(x.cp);
    });
    if (rem > 0) tile(rem);
    nextColumns();
  });
}

// ---- dot form (B = W [N, K]) ---------------------------------------------------------------------

/**
 * One k step of 4 floats at byte offset `off` for an r × nr tile into accumulator set u
 * (accumulator of row i, W row j, set u: acc[(i * nr + j) * sets + u]).
 */
function dotStep(x: Ctx, r: number, nr: number, sets: number, u: number, off: number, mask: Local | null): void {
  const f = x.f;
  for (let i = 0; i < r; i++) f.get(x.pa[i]).v128Load(off).set(x.va[i]);
  for (let j = 0; j < nr; j++) {
    f.get(x.pb[j]).v128Load(off);
    if (mask !== null) f.get(mask).simd(SIMD.V128_AND);
    f.set(x.vb[j]);
    for (let i = 0; i < r; i++) madd(x, x.acc[(i * nr + j) * sets + u], x.va[i], x.vb[j]);
  }
}

/** local out = [Σ s0, Σ s1, Σ s2, Σ s3], the lane sums of four accumulators */
function fold4(x: Ctx, s: readonly Local[], out: Local): void {
  transposeAdd(x.f, s, x.t[0], x.t[1], out);
}

/** lane 0 of local out = the lane sum of accumulator s */
function fold1(x: Ctx, s: Local, out: Local): void {
  const f = x.f;
  f.get(s).get(s).shuffle32([2, 3, 2, 3]).get(s).simd(SIMD.F32X4_ADD).set(out);
  f.get(out).get(out).shuffle32([1, 1, 1, 1]).get(out).simd(SIMD.F32X4_ADD).set(out);
}

/**
 * Output (row i, W row j of the tile) from lane `lane` of local v: adds C when ACCUMULATE and
 * the bias when BIAS, and stores it at C[i, j·spread] (byte offset j·csp).
 */
function finishDot(x: Ctx, v: Local, lane: number, i: number, j: number, csp: Local): void {
  const f = x.f;
  const offset = () => { if (j > 0) f.get(csp).i32(j).op(I32_MUL).op(I32_ADD); };
  f.get(v).extractLane(lane).set(x.s);
  cRow(x, i); offset(); f.set(x.addr);
  f.get(x.flags).i32(ACCUMULATE).op(I32_AND).if(() => {
    f.get(x.s).get(x.addr).f32Load().op(F32_ADD).set(x.s);
  });
  f.get(x.flags).i32(BIAS).op(I32_AND).if(() => {
    f.get(x.s).get(x.bias); offset(); f.f32Load().op(F32_ADD).set(x.s);
  });
  f.get(x.addr).get(x.s).f32Store();
}

function dotTile(x: Ctx, r: number, nr: number, sets: number, mask: Local, wsp: Local, csp: Local): void {
  const f = x.f;
  rowPointers(x, x.pa.slice(0, r), x.ap, x.lda);
  rowPointers(x, x.pb.slice(0, nr), x.b, wsp);
  for (let i = 0; i < r * nr * sets; i++) f.v128Zero().set(x.acc[i]);
  // k range: whole iterations of `sets` vectors, single vectors, then a masked partial one
  f.get(x.pa[0]).get(x.kc).i32(-4 * sets).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(x.kend);
  f.get(x.pa[0]).get(x.kc).i32(-4).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(x.kend1);
  const advance = (bytes: number) => {
    for (let i = 0; i < r; i++) f.addTo(x.pa[i], bytes);
    for (let j = 0; j < nr; j++) f.addTo(x.pb[j], bytes);
  };
  whileBelow(x.f, x.pa[0], x.kend, () => {
    for (let u = 0; u < sets; u++) dotStep(x, r, nr, sets, u, 16 * u, null);
    advance(16 * sets);
  });
  if (sets > 1) whileBelow(x.f, x.pa[0], x.kend1, () => { dotStep(x, r, nr, sets, 0, 0, null); advance(16); });
  f.get(x.kc).i32(3).op(I32_AND).if(() => dotStep(x, r, nr, sets, 0, 0, mask));

  for (let t = 0; t < r * nr; t++) {
    for (let u = 1; u < sets; u++) {
      f.get(x.acc[t * sets]).get(x.acc[t * sets + u]).simd(SIMD.F32X4_ADD).set(x.acc[t * sets]);
    }
  }
  // outputs in fours by a transpose-add, any others one by one
  const out = x.t[2];
  const quads = Math.floor(nr / 4);
  for (let i = 0; i < r; i++) {
    for (let g = 0; g < quads; g++) {
      fold4(x, [0, 1, 2, 3].map((j) => x.acc[(i * nr + 4 * g + j) * sets]), out);
      for (let j = 0; j < 4; j++) finishDot(x, out, j, i, 4 * g + j, csp);
    }
    for (let j = 4 * quads; j < nr; j++) {
      fold1(x, x.acc[(i * nr + j) * sets], out);
      finishDot(x, out, 0, i, j, csp);
    }
  }
}

function dotKernel(relaxed: boolean, rows: number, rem: number, nr: number, sets: number): FuncDef {
  const x = newCtx(relaxed, rows, nr, rows * nr * sets);
  const f = x.f;
  const mask = f.local(V128), wsp = f.local(I32), csp = f.local(I32);
  f.get(x.kc).i32(3).op(I32_AND).i32(4).op(I32_SHL).i32(MASK_TABLE).op(I32_ADD).v128Load().set(mask);
  f.get(x.spread).get(x.ldb).op(I32_MUL).set(wsp);
  f.get(x.spread).i32(2).op(I32_SHL).set(csp);
  tileLoops(x, rows, rem, (r) => dotTile(x, r, nr, sets, mask, wsp, csp), () => {
    f.get(x.b).get(x.ldb).op(I32_ADD).set(x.b);
    f.addTo(x.c, 4);
    f.addTo(x.bias, 4);
  });
  return { name: kernelName({ form: 'dot', rows, rem, nr, sets }), nParams: N_PARAMS, body: f };
}

// ---- outer form (B [K, N]) -----------------------------------------------------------------------

/** Adds C (when ACCUMULATE) and bias (when BIAS) to the vector in local v, then stores it. */
function finishVector(x: Ctx, v: Local, i: number, offset: number): void {
  const f = x.f;
  f.get(x.flags).i32(ACCUMULATE).op(I32_AND).if(() => {
    cRow(x, i); f.v128Load(offset).get(v).simd(SIMD.F32X4_ADD).set(v);
  });
  f.get(x.flags).i32(BIAS).op(I32_AND).if(() => {
    f.get(x.bias).v128Load(offset).get(v).simd(SIMD.F32X4_ADD).set(v);
  });
  cRow(x, i); f.get(v).v128Store(offset);
}

/** One k step: row k of B at pb (nv vectors), A[i, k] at pa_i. */
function outerStep(x: Ctx, r: number, nv: number): void {
  const f = x.f;
  const pb = x.pb[0];
  for (let v = 0; v < nv; v++) f.get(pb).v128Load(16 * v).set(x.vb[v]);
  for (let i = 0; i < r; i++) {
    f.get(x.pa[i]).load32Splat().set(x.va[i]);
    for (let v = 0; v < nv; v++) madd(x, x.acc[i * nv + v], x.va[i], x.vb[v]);
  }
}

function outerTile(x: Ctx, r: number, nv: number): void {
  const f = x.f;
  const pb = x.pb[0];
  rowPointers(x, x.pa.slice(0, r), x.ap, x.lda);
  f.get(x.b).set(pb);
  for (let i = 0; i < r * nv; i++) f.v128Zero().set(x.acc[i]);
  f.get(x.pa[0]).get(x.kc).i32(2).op(I32_SHL).op(I32_ADD).set(x.kend);
  whileBelow(x.f, x.pa[0], x.kend, () => {
    outerStep(x, r, nv);
    for (let i = 0; i < r; i++) f.addTo(x.pa[i], 4);
    f.get(pb).get(x.ldb).op(I32_ADD).set(pb);
  });
  for (let i = 0; i < r; i++) for (let v = 0; v < nv; v++) finishVector(x, x.acc[i * nv + v], i, 16 * v);
}

function outerKernel(relaxed: boolean, rows: number, rem: number, nv: number): FuncDef {
  const x = newCtx(relaxed, rows, nv, rows * nv);
  const f = x.f;
  tileLoops(x, rows, rem, (r) => outerTile(x, r, nv), () => {
    f.addTo(x.b, 16 * nv);
    f.addTo(x.c, 16 * nv);
    f.addTo(x.bias, 16 * nv);
  });
  return { name: kernelName({ form: 'outer', rows, rem, nv }), nParams: N_PARAMS, body: f };
}

// ---- packed panels (B = W [N, K], large M) ----------------------------------------------------

/**
 * pack_g(src, ld, nrows, ngroups, dst, kc): rows src + r·ld (r < nrows) of kc floats into
 * `ngroups` panels of g rows, each panel [⌈kc/4⌉][g][4] (16-byte vectors of the g rows
 * interleaved), so that a tile reads one sequential stream. Rows past nrows repeat the last row
 * (their outputs are computed and discarded); the k tail is masked to zeros, so padded lanes
 * contribute 0 · 0.
 */
function packKernel(g: number): FuncDef {
  const f = new FuncBuilder(6);
  const [src, ld, nrows, ngroups, dst, kc] = f.params;
  const row = f.local(I32), last = f.local(I32), end = f.local(I32), mask = f.local(V128);
  const ps = Array.from({ length: g }, () => f.local(I32));
  f.get(kc).i32(3).op(I32_AND).i32(4).op(I32_SHL).i32(MASK_TABLE).op(I32_ADD).v128Load().set(mask);
  f.get(nrows).i32(-1).op(I32_ADD).set(last);
  const step = (m: boolean) => {
    for (let r = 0; r < g; r++) {
      f.get(dst).get(ps[r]).v128Load();
      if (m) f.get(mask).simd(SIMD.V128_AND);
      f.v128Store(16 * r);
    }
    for (let r = 0; r < g; r++) f.addTo(ps[r], 16);
    f.addTo(dst, 16 * g);
  };
  f.i32(0).set(row);
  f.block(() => {
    f.get(ngroups).op(I32_EQZ).brIf(0);
    f.loop(() => {
      // row pointers, clamped to the last row
      ps.forEach((p, r) => {
        f.get(row).i32(r).op(I32_ADD).tee(p).get(last).op(I32_GE_U).if(() => f.get(last).set(p));
        f.get(p).get(ld).op(I32_MUL).get(src).op(I32_ADD).set(p);
      });
      f.get(ps[0]).get(kc).i32(-4).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(end);
      whileBelow(f, ps[0], end, () => step(false));
      f.get(kc).i32(3).op(I32_AND).if(() => step(true));
      f.addTo(row, g);
      f.get(ngroups).i32(-1).op(I32_ADD).tee(ngroups).brIf(0);
    });
  });
  return { name: kernelName({ form: 'pack', g }), nParams: 6, body: f };
}

/**
 * packT(src, ld, ncols, ngroups, dst, kc): columns of B [K, N] (src = B[k0, j0], ld = row
 * stride) into `ngroups` panels of 4 columns, the layout pack_4 gives the rows of W = B^T: per
 * k step a 4 × 4 block of B is loaded and transposed. Columns past the last valid one hold
 * whatever follows in memory (their outputs are dropped); rows past kc are zeros, never read.
 */
function packTKernel(): FuncDef {
  const f = new FuncBuilder(6);
  const [src, ld] = f.params;
  const [, , , ngroups, dst, kc] = f.params;
  const col = f.local(I32), p = f.local(I32), end = f.local(I32);
  const v = Array.from({ length: 4 }, () => f.local(V128));
  const [t0, t1, t2, t3] = Array.from({ length: 4 }, () => f.local(V128));
  /** rows p + r·ld (r < n, zeros after) into v, transposed into dst[0..64) */
  const block = (n: number) => {
    for (let r = 0; r < 4; r++) {
      if (r < n) {
        f.get(p);
        if (r > 0) f.get(ld).i32(r).op(I32_MUL).op(I32_ADD);
        f.v128Load().set(v[r]);
      } else f.v128Zero().set(v[r]);
    }
    // [a b c d] rows -> columns: interleave pairs, then halves
    f.get(v[0]).get(v[1]).shuffle32([0, 4, 1, 5]).set(t0);
    f.get(v[2]).get(v[3]).shuffle32([0, 4, 1, 5]).set(t1);
    f.get(v[0]).get(v[1]).shuffle32([2, 6, 3, 7]).set(t2);
    f.get(v[2]).get(v[3]).shuffle32([2, 6, 3, 7]).set(t3);
    f.get(dst).get(t0).get(t1).shuffle32([0, 1, 4, 5]).v128Store(0);
    f.get(dst).get(t0).get(t1).shuffle32([2, 3, 6, 7]).v128Store(16);
    f.get(dst).get(t2).get(t3).shuffle32([0, 1, 4, 5]).v128Store(32);
    f.get(dst).get(t2).get(t3).shuffle32([2, 3, 6, 7]).v128Store(48);
    f.addTo(dst, 64);
  };
  f.get(src).set(col);
  f.block(() => {
    f.get(ngroups).op(I32_EQZ).brIf(0);
    f.loop(() => {
      // p walks down the 4 columns at `col`, 4 rows per step
      f.get(col).set(p);
      f.get(ld).get(kc).i32(-4).op(I32_AND).op(I32_MUL).get(col).op(I32_ADD).set(end);
      whileBelow(f, p, end, () => {
        block(4);
        f.get(p).get(ld).i32(2).op(I32_SHL).op(I32_ADD).set(p);
      });
      for (let n = 1; n < 4; n++) f.get(kc).i32(3).op(I32_AND).i32(n).op(I32_EQ).if(() => block(n));
      f.addTo(col, 16);
      f.get(ngroups).i32(-1).op(I32_ADD).tee(ngroups).brIf(0);
    });
  });
  return { name: kernelName({ form: 'packT' }), nParams: 6, body: f };
}

/**
 * 2 × 4 dot tiles on packed operands: A in panels of 2 rows, W in panels of 4 rows (pack_2,
 * pack_4), so a k step is 6 loads at fixed offsets from 2 pointers (the in-place dot tile needs 6
 * pointers and spends about a quarter of its instructions advancing them). Parameters as in the
 * file comment, with: lda = bytes between A panels, mb = A panels, b = first W panel, ldb =
 * bytes between W panels, nq = W panels, C [2 mb, 4 nq] written with vector stores.
 */
function panelKernel(relaxed: boolean): FuncDef {
  const x = newCtx(relaxed, 2, 4, 8);
  const f = x.f;
  const pa = x.pa[0], pb = x.pb[0];
  const tile = () => {
    f.get(x.ap).set(pa);
    f.get(x.b).set(pb);
    for (let t = 0; t < 8; t++) f.v128Zero().set(x.acc[t]);
    // steps of 4 floats: ⌈kc / 4⌉, each 32 bytes of A
    f.get(pa).get(x.kc).i32(3).op(I32_ADD).i32(-4).op(I32_AND).i32(3).op(I32_SHL).op(I32_ADD).set(x.kend);
    whileBelow(x.f, pa, x.kend, () => {
      for (let i = 0; i < 2; i++) f.get(pa).v128Load(16 * i).set(x.va[i]);
      for (let j = 0; j < 4; j++) {
        f.get(pb).v128Load(16 * j).set(x.vb[j]);
        for (let i = 0; i < 2; i++) madd(x, x.acc[i * 4 + j], x.va[i], x.vb[j]);
      }
      f.addTo(pa, 32);
      f.addTo(pb, 64);
    });
    for (let i = 0; i < 2; i++) {
      fold4(x, [0, 1, 2, 3].map((j) => x.acc[i * 4 + j]), x.t[2]);
      finishVector(x, x.t[2], i, 0);
    }
  };
  tileLoops(x, 2, 0, tile, () => {
    f.get(x.b).get(x.ldb).op(I32_ADD).set(x.b);
    f.addTo(x.c, 16);
    f.addTo(x.bias, 16);
  }, 1);
  return { name: kernelName({ form: 'panel' }), nParams: N_PARAMS, body: f };
}

/** The given kernels, as one module importing a shared memory of up to `maxPages`. */
export function buildGemmModule(specs: readonly KernelSpec[], relaxed: boolean, maxPages: number): Uint8Array {
  return encodeModule(specs.map((k) => {
    switch (k.form) {
      case 'dot': return dotKernel(relaxed, k.rows, k.rem, k.nr, k.sets);
      case 'outer': return outerKernel(relaxed, k.rows, k.rem, k.nv);
      case 'panel': return panelKernel(relaxed);
      case 'pack': return packKernel(k.g);
      case 'packT': return packTKernel();
    }
  }), maxPages);
}
