/**
 * Single-precision GEMM for the CPU backend: C[M, N] = A[M, K] · op(B) (+ bias[N]).
 * B is [N, K] (the Linear weight layout, y = x W^T) when transB, else [K, N]. C is written, not
 * accumulated.
 *
 * Fast path: WebAssembly SIMD kernels (wasm/kernels.ts) on one shared WebAssembly memory
 * (wasm/heap.ts), split over the main thread and worker threads (pool.ts). Weights are pinned
 * into that memory once (`pinWeight`, called by the backend's uploadWeight), so the kernels read
 * them in place; A, an unpinned B, the bias and C go through a scratch block per call
 * (O(MK + MN) copies against O(MNK) work).
 *
 * Shapes of work: M >= PANEL_M packs A and B into panels (compute bound). Below that, B = W
 * [N, K] is read in place by the dot-form kernels (M <= SMALL_M: W streamed once, memory bound)
 * and B [K, N] by the outer-product kernels.
 */
import { F, Form, type Plan } from './pool-job.js';
import { Pool } from './pool.js';
import { instantiateKernels } from './wasm/api.js';
import { heapAlloc, heapF32, heapFree, inHeap, memory, ScratchBlock } from './wasm/heap.js';
import { kernelName, type KernelSpec } from './wasm/kernels.js';
import { gemmModule, TILES } from './wasm/module.js';

/** up to this many rows, B = W [N, K] is streamed once, in chunks split over the threads */
const SMALL_M = 16;
/** from this many rows, B is worth packing into panels (an extra pass over B) */
const PANEL_M = 32;
/** M·N·K up to this: plain loops (copies and a call into wasm would cost more) */
const TINY = 4096;
/** M·N·K from this on: worth waking the pool */
const PARALLEL_MIN = 1 << 16;
/** k block (floats) and row block of the tiled kernels; a block of A (MC × KC) stays in L2 */
const KC = 512;
const MC = 64;
/** chunk indices are 16 bits (pool.ts); row blocks grow past MC to stay under this */
const MAX_ROW_BLOCKS = 4096;

const { names, kernels } = instantiateKernels(gemmModule, memory);
const kernelIds = new Map(names.map((n, i) => [n, i]));
const kernelId = (spec: KernelSpec) => kernelIds.get(kernelName(spec)) as number;
const pool = new Pool(gemmModule, memory, kernels);

/** Threads sgemm may use (main thread included); defaults to the machine's cores, at most 8. */
export function setGemmThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setGemmThreads: ${n} is not a positive integer`);
  pool.threads = n;
}

export function gemmThreads(): number {
  return pool.threads;
}

/** Chunks of work the worker threads have run since the start (tests check they take part). */
export function workerChunks(): number {
  return pool.workerChunks();
}

/**
 * Returns a view of w's contents placed in the shared heap, where the kernels read weights
 * without a copy. The block stays reserved until `unpinWeight` (the CPU backend never frees
 * weights; a process holds at most 4 GiB of them).
 */
export function pinWeight(w: Float32Array): Float32Array {
  if (inHeap(w)) return w;
  const at = heapAlloc(4 * w.length);
  const view = heapF32().subarray(at / 4, at / 4 + w.length);
  view.set(w);
  return view;
}

/** Releases a view returned by pinWeight; it must not be used afterwards. */
export function unpinWeight(w: Float32Array): void {
  if (!inHeap(w)) throw new Error('unpinWeight: not a pinned weight');
  heapFree(w.byteOffset);
}

/** two scratch blocks, one per pool region (see pool.ts: a late worker may still read one) */
const scratchBlocks = [new ScratchBlock(), new ScratchBlock()];

function scratch(bytes: number): number {
  return scratchBlocks[pool.nextRegion()].reserve(bytes);
}

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

export function sgemm(
  M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, transB: boolean,
  C: Float32Array, bias?: Float32Array,
): void {
  if (A.length < M * K || B.length < K * N || C.length < M * N || (bias && bias.length < N)) {
    throw new RangeError(`sgemm: arrays too short for M=${M} N=${N} K=${K}`);
  }
  if (M === 0 || N === 0) return;
  if (M * N * K <= TINY) return sgemmLoops(M, N, K, A, B, transB, C, bias);

  const threads = M * N * K >= PARALLEL_MIN ? pool.threads : 1;
  const p = pool.beginPlan();
  if (M >= PANEL_M) planPanel(p, M, N, K, A, B, transB, bias, threads);
  else if (transB) planDot(p, M, N, K, A, B, bias, threads);
  else planOuter(p, M, N, K, A, B, bias, threads);
  p[F.HasBias] = bias ? 1 : 0;
  pool.run(threads);

  const H = heapF32();
  const c = (p[F.C] >>> 0) / 4, ldc = p[F.Ldc] / 4;
  if (ldc === N) C.set(H.subarray(c, c + M * N));
  else for (let i = 0; i < M; i++) C.set(H.subarray(c + i * ldc, c + i * ldc + N), i * N);
}

/**
 * Lays out scratch (A with row stride lda floats, zero-padded; B when not pinned; bias padded to
 * biasLen; C with row stride ldc) and returns the byte addresses.
 */
function stage(
  M: number, N: number, K: number, lda: number, A: Float32Array,
  B: Float32Array, bCopy: ((dst: Float32Array, at: number) => void) | null, bFloats: number,
  bias: Float32Array | undefined, biasLen: number, ldc: number, cRows = M, extraBytes = 0,
): { a: number; b: number; bias: number; c: number; extra: number } {
  const aBytes = roundUp(4 * M * lda, 64);
  const bBytes = bCopy ? roundUp(4 * bFloats, 64) : 0;
  const biasBytes = bias ? roundUp(4 * biasLen, 64) : 0;
  const cBytes = roundUp(4 * cRows * ldc, 64);
  const at = scratch(aBytes + bBytes + biasBytes + cBytes + extraBytes);
  const H = heapF32();
  const a = at / 4;
  if (lda === K) H.set(A.subarray(0, M * K), a);
  else {
    for (let i = 0; i < M; i++) {
      H.set(A.subarray(i * K, i * K + K), a + i * lda);
      H.fill(0, a + i * lda + K, a + (i + 1) * lda);
    }
  }
  const b = at + aBytes;
  if (bCopy) bCopy(H, b / 4);
  const bi = b + bBytes;
  if (bias) {
    H.set(bias.subarray(0, N), bi / 4);
    H.fill(0, bi / 4 + N, bi / 4 + biasLen);
  }
  const c = bi + biasBytes;
  return { a: at, b: bCopy ? b : B.byteOffset, bias: bi, c, extra: c + cBytes };
}

function setAddresses(p: Plan, s: { a: number; b: number; bias: number; c: number }): void {
  p[F.A] = s.a; p[F.B] = s.b; p[F.Bias] = s.bias; p[F.C] = s.c;
}

function rowBlock(M: number, rows: number): number {
  return roundUp(Math.max(Math.min(MC, M), Math.ceil(M / MAX_ROW_BLOCKS)), rows);
}

/**
 * Cuts N columns into chunks: about `perThread` chunks per thread over all row blocks, at least
 * `minCols` columns each, a multiple of `unit` columns (but the last), and at most 15 column
 * chunks per row block (chunk numbers are 16 bits, with up to MAX_ROW_BLOCKS row blocks).
 */
function columnChunks(p: Plan, N: number, unit: number, minCols: number, threads: number, rowBlocks: number, perThread: number): void {
  // one thread: no balancing to do, so no more kernel calls than needed
  const want = threads === 1 ? 1 : Math.max(1, Math.ceil((threads * perThread) / rowBlocks));
  const cols = roundUp(Math.max(minCols, Math.ceil(N / want), Math.ceil(N / 15), 1), unit);
  p[F.ColsPerChunk] = cols;
  p[F.ColChunks] = Math.ceil(N / cols);
  p[F.Chunks] = p[F.ColChunks] * rowBlocks;
}

/** B = W [N, K]: dot-form kernels. */
function planDot(
  p: Plan, M: number, N: number, K: number, A: Float32Array, B: Float32Array,
  bias: Float32Array | undefined, threads: number,
): void {
  const lda = roundUp(K, 4);
  const pinned = inHeap(B);
  const s = stage(M, N, K, lda, A, B, pinned ? null : (H, at) => H.set(B.subarray(0, N * K), at), N * K, bias, N, N);
  setAddresses(p, s);
  p[F.Form] = Form.Dot; p[F.Lda] = 4 * lda; p[F.Ldb] = 4 * K; p[F.Ldc] = 4 * N;
  p[F.M] = M; p[F.N] = N; p[F.K] = K;
  // M = 1: one-row tiles of more W rows (more streams); otherwise two-row tiles
  const [rows, dotCols] = M === 1 ? [1, TILES.matvecCols] : [TILES.dotRows, TILES.dotCols];
  p[F.Rows] = rows;
  for (let rem = 0; rem < rows; rem++) {
    p[F.MainKernels + rem] = kernelId({ form: 'dot', rows, rem, nr: dotCols, sets: 1 });
    p[F.TailKernels + rem] = kernelId({ form: 'dot', rows, rem, nr: 1, sets: 1 });
  }
  p[F.MainCols] = dotCols; p[F.TailCols] = 1;
  if (M <= SMALL_M) {
    // Memory bound: one row block and the whole k range, so that W is streamed exactly once;
    // chunks of at least 64 KiB of W, several per thread so a busy core does not hold up the rest.
    p[F.Mc] = M; p[F.Kc] = Math.max(K, 1);
    columnChunks(p, N, dotCols, Math.ceil(65536 / (4 * Math.max(K, 1))), threads, 1, 8);
  } else {
    const mc = rowBlock(M, rows);
    p[F.Mc] = mc;
    // k blocks must be whole vectors but the last (the zero padding of A is at the row end)
    p[F.Kc] = K <= 2 * KC ? Math.max(roundUp(K, 4), 4) : KC;
    columnChunks(p, N, dotCols, 16, threads, Math.ceil(M / mc), 4);
  }
}

/**
 * Many rows: A packed into 2-row panels here, W (or B [K, N], transposed) packed per chunk and k
 * block by the thread that runs it (pool-job.ts). Chunks are 64..256 columns, and split the rows
 * as well when there are too few columns to keep every thread busy. Padding: M to even, N and K
 * to multiples of 4; the padded rows and columns are computed and dropped.
 */
function planPanel(
  p: Plan, M: number, N: number, K: number, A: Float32Array, B: Float32Array, transB: boolean,
  bias: Float32Array | undefined, threads: number,
): void {
  const M2 = roundUp(M, 2), N4 = roundUp(N, 4), K4 = roundUp(K, 4);
  const kc = K <= 2 * KC ? K4 : KC;
  // (at most 4096 column chunks: chunk numbers are 16 bits)
  const cols = Math.max(
    Math.min(256, Math.max(64, roundUp(Math.ceil(N4 / (4 * threads)), 4))),
    roundUp(Math.ceil(N4 / 4096), 4),
  );
  const colChunks = Math.ceil(N4 / cols);
  const rowChunks = threads === 1 ? 1 : Math.min(Math.ceil((4 * threads) / colChunks), M2 / 2, 1024);
  const mc = roundUp(Math.ceil(M2 / rowChunks), 2);
  const panelsBytes = roundUp((M2 / 2) * K4 * 8, 64);
  const packBytes = roundUp(cols * kc * 4, 64);
  const pinned = inHeap(B);
  const copyB = pinned ? null : (H: Float32Array, at: number) => H.set(B.subarray(0, N * K), at);
  const s = stage(M, N, K, K, A, B, copyB, N * K, bias, N4, N4, M2, panelsBytes + threads * packBytes);
  kernels[kernelId({ form: 'pack', g: 2 })](s.a, 4 * K, M, M2 / 2, s.extra, K);
  p[F.Form] = Form.Panel;
  p[F.A] = s.extra; p[F.Lda] = 8 * K4; p[F.B] = s.b; p[F.Ldb] = 4 * (transB ? K : N);
  p[F.C] = s.c; p[F.Ldc] = 4 * N4; p[F.Bias] = s.bias;
  p[F.M] = M2; p[F.N] = N4; p[F.NValid] = N; p[F.K] = K; p[F.Kc] = kc;
  p[F.Mc] = mc; p[F.SubRows] = MC;
  p[F.ColsPerChunk] = cols; p[F.ColChunks] = colChunks; p[F.Chunks] = colChunks * Math.ceil(M2 / mc);
  p[F.PackAt] = s.extra + panelsBytes; p[F.PackStride] = packBytes;
  p[F.MainKernels] = kernelId({ form: 'panel' });
  p[F.PackKernel] = kernelId(transB ? { form: 'pack', g: 4 } : { form: 'packT' });
  p[F.BTrans] = transB ? 0 : 1;
}

/** B [K, N]: outer-product kernels on 4-column vectors; B and C padded to N4 columns if need be. */
function planOuter(
  p: Plan, M: number, N: number, K: number, A: Float32Array, B: Float32Array,
  bias: Float32Array | undefined, threads: number,
): void {
  const N4 = roundUp(N, 4);
  const direct = inHeap(B) && N4 === N;
  const copyB = (H: Float32Array, at: number) => {
    if (N4 === N) H.set(B.subarray(0, K * N), at);
    else for (let k = 0; k < K; k++) H.set(B.subarray(k * N, k * N + N), at + k * N4);
  };
  const s = stage(M, N, K, K, A, B, direct ? null : copyB, K * N4, bias, N4, N4);
  setAddresses(p, s);
  p[F.Form] = Form.Outer; p[F.Lda] = 4 * K; p[F.Ldb] = 4 * N4; p[F.Ldc] = 4 * N4;
  p[F.M] = M; p[F.N] = N4; p[F.K] = K;
  const { outerRows: rows, outerVecs } = TILES;
  const mc = rowBlock(M, rows);
  p[F.Rows] = rows; p[F.Mc] = mc; p[F.Kc] = K <= 2 * KC ? Math.max(K, 1) : KC;
  for (let rem = 0; rem < rows; rem++) {
    p[F.MainKernels + rem] = kernelId({ form: 'outer', rows, rem, nv: outerVecs });
    p[F.TailKernels + rem] = kernelId({ form: 'outer', rows, rem, nv: 1 });
  }
  p[F.MainCols] = 4 * outerVecs; p[F.TailCols] = 4;
  columnChunks(p, N4, 4 * outerVecs, 16, threads, Math.ceil(M / mc), 4);
}

/** The reference loops, for problems too small to be worth the copies. */
function sgemmLoops(
  M: number, N: number, K: number,
  A: Float32Array, B: Float32Array, transB: boolean,
  C: Float32Array, bias?: Float32Array,
): void {
  for (let i = 0; i < M; i++) {
    const a0 = i * K;
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      if (transB) {
        const b0 = j * K;
        for (let k = 0; k < K; k++) s += A[a0 + k] * B[b0 + k];
      } else {
        for (let k = 0; k < K; k++) s += A[a0 + k] * B[k * N + j];
      }
      C[i * N + j] = s;
    }
  }
}
