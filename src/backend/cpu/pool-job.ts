/**
 * One GEMM as a list of independent chunks that any thread can run: the plan the main thread
 * writes into shared control memory, and the code every thread (main and workers) runs on it.
 *
 * C [M, N] is cut into row blocks of `Mc` rows × column chunks of `ColsPerChunk` columns; chunk c
 * is (row block ⌊c / ColChunks⌋, column chunk c mod ColChunks), so consecutive chunks share their
 * rows of A. Inside a chunk the k range is walked in blocks of `Kc` (the first block writes C,
 * adding the bias; later ones accumulate) and each kernel call covers all the chunk's rows.
 *
 * Dot form: the chunk's columns are S = ⌊cols / nr⌋ tiles of nr W rows S apart (nr = MainCols:
 * 4, or 8 when M = 1; nr sequential streams through W, see kernels.ts), then 0..nr-1 single
 * columns. Outer form: groups of 4·nv
 * columns, then groups of 4 (C and B are padded to a multiple of 4 columns). Panel form (large
 * M): A was packed into 2-row panels before the job; per k block the chunk packs its columns of
 * W (or of B [K, N], transposed) into 4-row panels in the thread's own buffer, then runs
 * sub-blocks of `SubRows` rows.
 */
import type { Kernel } from './wasm/api.js';
import { ACCUMULATE, BIAS } from './wasm/kernels.js';

export const enum Form { Outer, Dot, Panel }

/** The plan, as i32 fields (byte addresses are i32 bit patterns, read back with >>> 0). */
export const enum F {
  /** a Form */
  Form,
  A, Lda, B, Ldb, C, Ldc, Bias, HasBias,
  M, N, K, Kc, Mc,
  /** rows per tile of the main kernel */
  Rows,
  /** kernel ids (index in the kernel list) by remainder rows (< Rows): main tiles, tail tiles */
  MainKernels,
  TailKernels = MainKernels + 4,
  /** columns per main tile (dot: 4; outer: 4·nv) and per tail tile (dot: 1; outer: 4) */
  MainCols = TailKernels + 4,
  TailCols,
  ColsPerChunk, ColChunks, Chunks,
  /** how many threads (main + workers) may take chunks of this plan */
  Threads,
  /** scratch region (0 or 1), job id and the job's 16-bit gen, see pool.ts */
  Region, Job, Gen,
  /** panel form: W rows that exist (N is padded), rows per sub-block, W panel buffers */
  NValid, SubRows, PackAt, PackStride,
  /** panel form: the kernel that packs W (pack_4, or packT when B is [K, N], BTrans = 1) */
  PackKernel, BTrans,
  Size,
}

export type Plan = Int32Array;

/** Runs chunk `chunk` of plan p on thread `tid` (0: the main thread; panel buffers are per thread). */
export function runChunk(kernels: readonly Kernel[], p: Plan, chunk: number, tid: number): void {
  if (p[F.Form] === Form.Panel) {
    runPanelChunk(kernels, p, chunk, tid);
    return;
  }
  const colChunks = p[F.ColChunks];
  const rb = Math.floor(chunk / colChunks), cc = chunk - rb * colChunks;
  const rows = p[F.Rows];
  const r0 = rb * p[F.Mc];
  const mm = Math.min(p[F.Mc], p[F.M] - r0);
  const mb = Math.floor(mm / rows), rem = mm - mb * rows;
  const j0 = cc * p[F.ColsPerChunk];
  const cols = Math.min(p[F.ColsPerChunk], p[F.N] - j0);
  const dot = p[F.Form] === Form.Dot;
  const mainTiles = Math.floor(cols / p[F.MainCols]);
  const jt = j0 + mainTiles * p[F.MainCols];
  const tailTiles = (j0 + cols - jt) / p[F.TailCols];
  // dot: main tiles are 4 columns `mainTiles` apart; outer: contiguous groups
  const spread = dot ? mainTiles : 0;
  const a = p[F.A] >>> 0, lda = p[F.Lda], b = p[F.B] >>> 0, ldb = p[F.Ldb];
  const c = p[F.C] >>> 0, ldc = p[F.Ldc], bias = p[F.Bias] >>> 0;
  const K = p[F.K], kc = p[F.Kc];
  const main = kernels[p[F.MainKernels + rem]];
  const tail = kernels[p[F.TailKernels + rem]];
  // B at (column j, k): W[j, k] for dot, B[k, j] for outer
  const bAt = (j: number, k: number) => (dot ? b + j * ldb + 4 * k : b + k * ldb + 4 * j);
  for (let k0 = 0; k0 < K || k0 === 0; k0 += kc) {
    const kk = Math.min(kc, K - k0);
    const flags = (k0 > 0 ? ACCUMULATE : 0) | (k0 === 0 && p[F.HasBias] ? BIAS : 0);
    const aPtr = a + r0 * lda + 4 * k0;
    const cRow = c + r0 * ldc;
    if (mainTiles > 0) main(aPtr, lda, mb, bAt(j0, k0), ldb, spread, cRow + 4 * j0, ldc, kk, mainTiles, bias + 4 * j0, flags);
    if (tailTiles > 0) tail(aPtr, lda, mb, bAt(jt, k0), ldb, 1, cRow + 4 * jt, ldc, kk, tailTiles, bias + 4 * jt, flags);
  }
}

function runPanelChunk(kernels: readonly Kernel[], p: Plan, chunk: number, tid: number): void {
  const colChunks = p[F.ColChunks];
  const rb = Math.floor(chunk / colChunks), cc = chunk - rb * colChunks;
  const r0 = rb * p[F.Mc];
  const rows = Math.min(p[F.Mc], p[F.M] - r0);
  const j0 = cc * p[F.ColsPerChunk];
  const cols = Math.min(p[F.ColsPerChunk], p[F.N] - j0);
  const a = p[F.A] >>> 0, lda = p[F.Lda], b = p[F.B] >>> 0, ldb = p[F.Ldb];
  const c = p[F.C] >>> 0, ldc = p[F.Ldc], bias = p[F.Bias] >>> 0;
  const K = p[F.K], kc = p[F.Kc], sub = p[F.SubRows];
  const pack = kernels[p[F.PackKernel]], panel = kernels[p[F.MainKernels]];
  const buf = (p[F.PackAt] >>> 0) + tid * p[F.PackStride];
  const validRows = Math.max(1, Math.min(cols, p[F.NValid] - j0));
  for (let k0 = 0; k0 < K || k0 === 0; k0 += kc) {
    const kk = Math.min(kc, K - k0);
    const flags = (k0 > 0 ? ACCUMULATE : 0) | (k0 === 0 && p[F.HasBias] ? BIAS : 0);
    pack(p[F.BTrans] ? b + k0 * ldb + 4 * j0 : b + j0 * ldb + 4 * k0, ldb, validRows, cols / 4, buf, kk);
    const panelBytes = 64 * Math.ceil(kk / 4);
    for (let i = r0; i < r0 + rows; i += sub) {
      const m = Math.min(sub, r0 + rows - i);
      // A panel of rows i, i+1 starts at (i / 2) · lda; k0 is a multiple of 4
      panel(a + (i / 2) * lda + 8 * k0, lda, m / 2, buf, panelBytes, 0, c + i * ldc + 4 * j0, ldc, kk, cols / 4, bias + 4 * j0, flags);
    }
  }
}
