/**
 * One GEMM as a list of independent chunks that any thread can run: the plan the main thread
 * writes into shared control memory, and the code every thread (main and workers) runs on it.
 *
 * C [M, N] is cut into row blocks of `mc` rows × column chunks of `groupsPerChunk` column groups;
 * chunk c is (row block ⌊c / colChunks⌋, column chunk c mod colChunks), so consecutive chunks
 * share their rows of A. Inside a chunk the k range is walked in blocks of `kc` (the first block
 * writes C, adding the bias; later ones accumulate) and each kernel call covers all the chunk's
 * rows and column groups.
 */
import type { Kernel } from './wasm/api.js';
import { ACCUMULATE, BIAS } from './wasm/kernels.js';

/** The plan, as i32 fields (byte addresses are i32 bit patterns, read back with >>> 0). */
export const enum F {
  /** 1: dot form (B = W [N, K]); 0: outer form (B [K, N]) */
  Dot,
  A, Lda, B, Ldb, C, Ldc, Bias, HasBias,
  M, K, Kc, Mc,
  /** rows per tile of the main kernel */
  Rows,
  /** kernel ids (index into the kernel list): main[rem], tail[rem] for rem < Rows */
  MainKernels,
  TailKernels = MainKernels + 4,
  /** full column groups, columns per group, and trailing units after them (tail kernel) */
  Groups = TailKernels + 4,
  GroupCols, TailUnits,
  GroupsPerChunk, ColChunks, Chunks,
  /** how many threads (main + workers) may take chunks of this plan */
  Threads,
  Size,
}

export type Plan = Int32Array;

export function runChunk(kernels: readonly Kernel[], p: Plan, chunk: number): void {
  const colChunks = p[F.ColChunks];
  const rb = Math.floor(chunk / colChunks), cc = chunk - rb * colChunks;
  const rows = p[F.Rows];
  const r0 = rb * p[F.Mc];
  const mm = Math.min(p[F.Mc], p[F.M] - r0);
  const mb = Math.floor(mm / rows), rem = mm - mb * rows;
  const gpc = p[F.GroupsPerChunk];
  const g0 = cc * gpc;
  const ng = Math.min(gpc, p[F.Groups] - g0);
  const tail = cc === colChunks - 1 ? p[F.TailUnits] : 0;
  const j0 = g0 * p[F.GroupCols];
  const jt = p[F.Groups] * p[F.GroupCols];
  const dot = p[F.Dot] === 1;
  const a = p[F.A] >>> 0, lda = p[F.Lda], b = p[F.B] >>> 0, ldb = p[F.Ldb];
  const c = p[F.C] >>> 0, ldc = p[F.Ldc], bias = p[F.Bias] >>> 0;
  const K = p[F.K], kc = p[F.Kc];
  const main = kernels[p[F.MainKernels + rem]];
  const tailKernel = kernels[p[F.TailKernels + rem]];
  // B at (column j, k): W[j, k] for dot, B[k, j] for outer
  const bAt = (j: number, k: number) => (dot ? b + j * ldb + 4 * k : b + k * ldb + 4 * j);
  for (let k0 = 0; k0 < K || k0 === 0; k0 += kc) {
    const kk = Math.min(kc, K - k0);
    const flags = (k0 > 0 ? ACCUMULATE : 0) | (k0 === 0 && p[F.HasBias] ? BIAS : 0);
    const aPtr = a + r0 * lda + 4 * k0;
    const cRow = c + r0 * ldc;
    if (ng > 0) main(aPtr, lda, mb, bAt(j0, k0), ldb, cRow + 4 * j0, ldc, kk, ng, bias + 4 * j0, flags);
    if (tail > 0) tailKernel(aPtr, lda, mb, bAt(jt, k0), ldb, cRow + 4 * jt, ldc, kk, tail, bias + 4 * jt, flags);
  }
}
