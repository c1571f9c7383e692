/**
 * GEMM micro-kernels as WebAssembly SIMD (f32x4), generated per tile shape.
 *
 * Two forms, so that neither operand is ever repacked:
 *
 * - `dot` for B = W [N, K] (transB, every Linear): a tile of r rows of A × nr rows of W keeps
 *   r·nr f32x4 partial dot products along k, reads both operands as contiguous rows, and folds
 *   the four lanes at the end (a 4×4 transpose-add per group of four outputs). W is streamed in
 *   place, which is what makes M = 1..64 decode run at memory speed.
 * - `outer` for B [K, N]: a tile of r rows × 4·nv columns; per k one broadcast of A[i, k] times
 *   nv vectors of B's row k (the classic register-blocked outer product).
 *
 * Every kernel has the same i32 parameters (byte addresses and strides):
 *   a, lda      A[i0, k0] and its row stride
 *   mb          number of full r-row blocks; `rem` more rows follow (rem is baked into the name)
 *   b, ldb      dot: W[j0, k0], W's row stride;  outer: B[k0, j0], B's row stride
 *   c, ldc      C[i0, j0] and its row stride
 *   kc          length of the k range (floats)
 *   nq          number of column groups (nr columns for dot, 4·nv for outer)
 *   bias        bias[j0] (read when flags & BIAS)
 *   flags       ACCUMULATE: C += tile (later k blocks) instead of C = tile
 * and loops: for each column group, for each row block, one tile over the whole k range.
 *
 * The dot form reads A and W four floats at a time past the end of a row when kc % 4 != 0: the
 * last W vector is masked with MASK_TABLE (so garbage, even NaN, never reaches a sum) and A
 * must be zero-padded to a multiple of four (the caller's scratch copy is). Allocations leave
 * 16 spare bytes so that these reads stay inside the memory.
 */
import {
  encodeModule, FuncBuilder, I32, I32_ADD, I32_AND, I32_EQZ, I32_SHL, I32_GE_U, I32_LT_U, I32_MUL,
  type FuncDef, type Local, SIMD, V128,
} from './encoder.js';

export const ACCUMULATE = 1;
export const BIAS = 2;
/** byte address of 4 lane masks: entry t keeps the first t lanes (t = 1..3) */
export const MASK_TABLE = 64;
/** bytes below this address are reserved (masks, and 0 is never a valid pointer) */
export const RESERVED_BYTES = 128;

/**
 * Tile shapes. V8 (without relaxed SIMD's fused multiply-add) needs a register per product, so
 * the tiles are sized to keep every accumulator in the 15 xmm registers it allocates:
 * - big: dot 2 × 4 (8 accumulators, 2 A + 1 W + 1 product register) for M > smallM;
 * - vec: dot r × 1 with `vecSets[r]` accumulator sets for M <= smallM: one W row at a time, so W
 *   streams from memory in a single sequential run (the hardware prefetcher's best case) and is
 *   read once for up to `vecRows` rows of A;
 * - outer: 4 × 8 for B [K, N].
 */
export interface KernelShapes {
  bigRows: number;
  vecRows: number;
  /** accumulator sets for a vec tile of r rows, indexed by r */
  vecSets: readonly number[];
  outerRows: number;
  outerVecs: number;
}

export const SHAPES: KernelShapes = { bigRows: 2, vecRows: 4, vecSets: [0, 4, 2, 2, 2], outerRows: 4, outerVecs: 2 };

export function dotName(rows: number, rem: number, nr: number, sets: number): string {
  return `dot_${rows}_${rem}_${nr}_${sets}`;
}
export function outerName(rows: number, rem: number, nv: number): string { return `outer_${rows}_${rem}_${nv}`; }

const N_PARAMS = 11;

/** The parameters by name, and the scratch locals a kernel body shares between its tiles. */
interface Ctx {
  f: FuncBuilder;
  relaxed: boolean;
  a: Local; lda: Local; mb: Local; b: Local; ldb: Local; c: Local; ldc: Local;
  kc: Local; nq: Local; bias: Local; flags: Local;
  ap: Local; cp: Local; ib: Local; kend: Local; kend2: Local;
  pa: Local[];
  pb: Local[];
  va: Local[];
  vb: Local[];
  acc: Local[];
  t: Local[];
}

function newCtx(relaxed: boolean, rows: number, nb: number, sets: number): Ctx {
  const f = new FuncBuilder(N_PARAMS);
  const [a, lda, mb, b, ldb, c, ldc, kc, nq, bias, flags] = f.params;
  const i32s = (n: number) => Array.from({ length: n }, () => f.local(I32));
  const ap = f.local(I32), cp = f.local(I32), ib = f.local(I32), kend = f.local(I32), kend2 = f.local(I32);
  const pa = i32s(rows), pb = i32s(nb);
  const v128s = (n: number) => Array.from({ length: n }, () => f.local(V128));
  return {
    f, relaxed, a, lda, mb, b, ldb, c, ldc, kc, nq, bias, flags, ap, cp, ib, kend, kend2, pa, pb,
    va: v128s(rows), vb: v128s(nb), acc: v128s(rows * nb * sets), t: v128s(3),
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

/** `while (ptr < end) { body }` for an i32 byte pointer that body advances. */
function whileBelow(x: Ctx, ptr: Local, end: Local, body: () => void): void {
  const f = x.f;
  f.block(() => {
    f.get(ptr).get(end).op(I32_GE_U).brIf(0);
    f.loop(() => {
      body();
      f.get(ptr).get(end).op(I32_LT_U).brIf(0);
    });
  });
}

/** `for (n = count; n > 0; n--) { body }` on an i32 local holding the count. */
function repeat(x: Ctx, counter: Local, body: () => void): void {
  const f = x.f;
  f.block(() => {
    f.get(counter).op(I32_EQZ).brIf(0);
    f.loop(() => {
      body();
      f.get(counter).i32(-1).op(I32_ADD).tee(counter).brIf(0);
    });
  });
}

/** Adds C (when ACCUMULATE) and bias (when BIAS) to the vector in local v, then stores it. */
function finishVector(x: Ctx, v: Local, cAddr: () => void, offset: number): void {
  const f = x.f;
  f.get(x.flags).i32(ACCUMULATE).op(I32_AND).if(() => {
    cAddr(); f.v128Load(offset).get(v).simd(SIMD.F32X4_ADD).set(v);
  });
  f.get(x.flags).i32(BIAS).op(I32_AND).if(() => {
    f.get(x.bias).v128Load(offset).get(v).simd(SIMD.F32X4_ADD).set(v);
  });
  cAddr(); f.get(v).v128Store(offset);
}

/** pushes cp + i * ldc */
function cRow(x: Ctx, i: number): () => void {
  return () => {
    x.f.get(x.cp);
    if (i > 0) x.f.get(x.ldc).i32(i).op(I32_MUL).op(I32_ADD);
  };
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

/** vector [Σ s0, Σ s1, Σ s2, Σ s3] of the lane sums of four accumulators, into local out */
function fold4(x: Ctx, s: readonly Local[], out: Local): void {
  const f = x.f;
  const [u01, u23] = x.t;
  const pair = (p: Local, q: Local, dst: Local) => {
    f.get(p).get(q).shuffle32([0, 4, 1, 5]).get(p).get(q).shuffle32([2, 6, 3, 7]).simd(SIMD.F32X4_ADD).set(dst);
  };
  pair(s[0], s[1], u01);
  pair(s[2], s[3], u23);
  f.get(u01).get(u23).shuffle32([0, 1, 4, 5]).get(u01).get(u23).shuffle32([2, 3, 6, 7]).simd(SIMD.F32X4_ADD).set(out);
}

/** the lane sum of accumulator s, splatted into local out */
function fold1(x: Ctx, s: Local, out: Local): void {
  const f = x.f;
  const t = x.t[0];
  f.get(s).get(s).shuffle32([2, 3, 2, 3]).get(s).simd(SIMD.F32X4_ADD).tee(t);
  f.get(t).shuffle32([1, 1, 1, 1]).get(t).simd(SIMD.F32X4_ADD).extractLane(0).simd(SIMD.F32X4_SPLAT).set(out);
}

/** Adds C (when ACCUMULATE) and bias (when BIAS) to lane 0 of local v, then stores that lane. */
function finishScalar(x: Ctx, v: Local, cAddr: () => void): void {
  const f = x.f;
  f.get(x.flags).i32(ACCUMULATE).op(I32_AND).if(() => {
    cAddr(); f.load32Splat(0).get(v).simd(SIMD.F32X4_ADD).set(v);
  });
  f.get(x.flags).i32(BIAS).op(I32_AND).if(() => {
    f.get(x.bias).load32Splat(0).get(v).simd(SIMD.F32X4_ADD).set(v);
  });
  cAddr(); f.get(v).extractLane(0).f32Store(0);
}

function dotTile(x: Ctx, r: number, nr: number, sets: number, mask: Local): void {
  const f = x.f;
  const [kendSets, kend1] = [x.kend, x.kend2];
  rowPointers(x, x.pa.slice(0, r), x.ap, x.lda);
  rowPointers(x, x.pb.slice(0, nr), x.b, x.ldb);
  for (let i = 0; i < r * nr * sets; i++) f.v128Zero().set(x.acc[i]);
  // k range split: whole iterations of `sets` vectors, single vectors, then a masked partial one
  f.get(x.pa[0]).get(x.kc).i32(-4 * sets).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(kendSets);
  f.get(x.pa[0]).get(x.kc).i32(-4).op(I32_AND).i32(2).op(I32_SHL).op(I32_ADD).set(kend1);
  const advance = (bytes: number) => {
    for (let i = 0; i < r; i++) f.addTo(x.pa[i], bytes);
    for (let j = 0; j < nr; j++) f.addTo(x.pb[j], bytes);
  };
  whileBelow(x, x.pa[0], kendSets, () => {
    for (let u = 0; u < sets; u++) dotStep(x, r, nr, sets, u, 16 * u, null);
    advance(16 * sets);
  });
  if (sets > 1) whileBelow(x, x.pa[0], kend1, () => { dotStep(x, r, nr, sets, 0, 0, null); advance(16); });
  f.get(x.kc).i32(3).op(I32_AND).if(() => dotStep(x, r, nr, sets, 0, 0, mask));

  for (let t = 0; t < r * nr; t++) {
    for (let u = 1; u < sets; u++) {
      f.get(x.acc[t * sets]).get(x.acc[t * sets + u]).simd(SIMD.F32X4_ADD).set(x.acc[t * sets]);
    }
  }
  const out = x.t[2];
  for (let i = 0; i < r; i++) {
    if (nr === 1) {
      fold1(x, x.acc[i * sets], out);
      finishScalar(x, out, cRow(x, i));
    } else {
      for (let g = 0; g < nr / 4; g++) {
        fold4(x, [0, 1, 2, 3].map((j) => x.acc[(i * nr + 4 * g + j) * sets]), out);
        finishVector(x, out, cRow(x, i), 16 * g);
      }
    }
  }
}

/**
 * dot kernel: tiles of `rows` rows (then `rem` rows) × `nr` W rows (nr = 1 or a multiple of 4),
 * with `sets` independent accumulators per output so that one output's adds do not wait on
 * each other (latency; matters when the tile is small, as for M = 1).
 */
function dotKernel(relaxed: boolean, rows: number, rem: number, nr: number, sets: number): FuncDef {
  const x = newCtx(relaxed, rows, nr, sets);
  const f = x.f;
  const mask = f.local(V128);
  f.get(x.kc).i32(3).op(I32_AND).i32(4).op(I32_SHL).i32(MASK_TABLE).op(I32_ADD).v128Load().set(mask);
  repeat(x, x.nq, () => {
    f.get(x.a).set(x.ap);
    f.get(x.c).set(x.cp);
    f.get(x.mb).set(x.ib);
    repeat(x, x.ib, () => {
      dotTile(x, rows, nr, sets, mask);
      f.get(x.ap).get(x.lda).i32(rows).op(I32_MUL).op(I32_ADD).set(x.ap);
      f.get(x.cp).get(x.ldc).i32(rows).op(I32_MUL).op(I32_ADD).set(x.cp);
    });
    if (rem > 0) dotTile(x, rem, nr, sets, mask);
    f.get(x.b).get(x.ldb).i32(nr).op(I32_MUL).op(I32_ADD).set(x.b);
    f.addTo(x.c, 4 * nr);
    f.addTo(x.bias, 4 * nr);
  });
  return { name: dotName(rows, rem, nr, sets), nParams: N_PARAMS, body: f };
}

// ---- outer form (B [K, N]) -----------------------------------------------------------------------

/** One k step: row k of B at pb (nv vectors), A[i, k] at pa_i + off. */
function outerStep(x: Ctx, r: number, nv: number, pb: Local, off: number): void {
  const f = x.f;
  for (let v = 0; v < nv; v++) f.get(pb).v128Load(16 * v).set(x.vb[v]);
  for (let i = 0; i < r; i++) {
    f.get(x.pa[i]).load32Splat(off).set(x.va[0]);
    for (let v = 0; v < nv; v++) madd(x, x.acc[i * nv + v], x.va[0], x.vb[v]);
  }
}

function outerTile(x: Ctx, r: number, nv: number, kb8: Local): void {
  const f = x.f;
  const [pb0, pb1] = x.pb;
  rowPointers(x, x.pa.slice(0, r), x.ap, x.lda);
  f.get(x.b).set(pb0);
  f.get(x.b).get(x.ldb).op(I32_ADD).set(pb1);
  for (let i = 0; i < r * nv; i++) f.v128Zero().set(x.acc[i]);
  // kb8 holds (kc & ~1) * 4 here: pairs of k steps
  f.get(x.pa[0]).get(kb8).op(I32_ADD).set(x.kend);
  whileBelow(x, x.pa[0], x.kend, () => {
    outerStep(x, r, nv, pb0, 0);
    outerStep(x, r, nv, pb1, 4);
    for (let i = 0; i < r; i++) f.addTo(x.pa[i], 8);
    f.get(pb0).get(x.ldb).i32(1).op(I32_SHL).op(I32_ADD).set(pb0);
    f.get(pb1).get(x.ldb).i32(1).op(I32_SHL).op(I32_ADD).set(pb1);
  });
  f.get(x.kc).i32(1).op(I32_AND).if(() => outerStep(x, r, nv, pb0, 0));
  for (let i = 0; i < r; i++) for (let v = 0; v < nv; v++) finishVector(x, x.acc[i * nv + v], cRow(x, i), 16 * v);
}

function outerKernel(relaxed: boolean, rows: number, rem: number, nv: number): FuncDef {
  const x = newCtx(relaxed, rows, Math.max(nv, 2), 1);
  const f = x.f;
  const kb8 = f.local(I32);
  f.get(x.kc).i32(~1).op(I32_AND).i32(2).op(I32_SHL).set(kb8);
  repeat(x, x.nq, () => {
    f.get(x.a).set(x.ap);
    f.get(x.c).set(x.cp);
    f.get(x.mb).set(x.ib);
    repeat(x, x.ib, () => {
      outerTile(x, rows, nv, kb8);
      f.get(x.ap).get(x.lda).i32(rows).op(I32_MUL).op(I32_ADD).set(x.ap);
      f.get(x.cp).get(x.ldc).i32(rows).op(I32_MUL).op(I32_ADD).set(x.cp);
    });
    if (rem > 0) outerTile(x, rem, nv, kb8);
    f.addTo(x.b, 16 * nv);
    f.addTo(x.c, 16 * nv);
    f.addTo(x.bias, 16 * nv);
  });
  return { name: outerName(rows, rem, nv), nParams: N_PARAMS, body: f };
}

/** Every kernel the driver uses, as one module importing a shared memory of up to `maxPages`. */
export function buildGemmModule(relaxed: boolean, maxPages: number, shapes: KernelShapes = SHAPES): Uint8Array {
  const { bigRows, vecRows, vecSets, outerRows, outerVecs } = shapes;
  const funcs: FuncDef[] = [];
  for (let rem = 0; rem < bigRows; rem++) {
    funcs.push(dotKernel(relaxed, bigRows, rem, 4, 1));
    funcs.push(dotKernel(relaxed, bigRows, rem, 1, 1));
  }
  for (let r = 1; r < vecRows; r++) funcs.push(dotKernel(relaxed, r, 0, 1, vecSets[r]));
  for (let rem = 0; rem < vecRows; rem++) funcs.push(dotKernel(relaxed, vecRows, rem, 1, vecSets[vecRows]));
  for (let rem = 0; rem < outerRows; rem++) {
    funcs.push(outerKernel(relaxed, outerRows, rem, outerVecs));
    funcs.push(outerKernel(relaxed, outerRows, rem, 1));
  }
  return encodeModule(funcs, maxPages);
}
