import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { pinWeight, setGemmThreads, sgemm, unpinWeight, workerChunks } from '../src/backend/cpu/gemm.js';
import { relaxedSimd as relaxedByDefault } from '../src/backend/cpu/wasm/module.js';

/** deterministic values in [-1, 1) */
function rand(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/**
 * Checks C against a float64 reference, element by element, within the f32 rounding bound of a
 * K-term dot product: |c - ref| <= 2 K eps Σ_k |a_ik b_kj| (+ bias rounding).
 */
function check(M: number, N: number, K: number, A: Float32Array, B: Float32Array, transB: boolean, C: Float32Array, bias?: Float32Array): void {
  const eps = 2 ** -23;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      let mag = bias ? Math.abs(bias[j]) : 0;
      for (let k = 0; k < K; k++) {
        const p = A[i * K + k] * (transB ? B[j * K + k] : B[k * N + j]);
        s += p;
        mag += Math.abs(p);
      }
      const err = Math.abs(C[i * N + j] - s);
      if (!(err <= 2 * (K + 1) * eps * mag + 1e-30)) {
        assert.fail(`M=${M} N=${N} K=${K} transB=${transB}: C[${i}, ${j}] = ${C[i * N + j]}, reference ${s}`);
      }
    }
  }
}

function run(M: number, N: number, K: number, transB: boolean, opts: { pinned: boolean; bias: boolean }): Float32Array {
  const seed = M * 1_000_003 + N * 1009 + K;
  const A = rand(M * K, seed);
  const Bhost = rand(N * K, seed + 1);
  const B = opts.pinned ? pinWeight(Bhost) : Bhost;
  const bias = opts.bias ? rand(N, seed + 2) : undefined;
  const C = new Float32Array(M * N).fill(NaN);
  sgemm(M, N, K, A, B, transB, C, bias);
  check(M, N, K, A, Bhost, transB, C, bias);
  if (opts.pinned) unpinWeight(B);
  return C;
}

// Odd sizes around every blocking edge: tiny (plain loops), streamed W (M <= 16), in-place
// tiles (M < 32), packed panels (M >= 32, rows split when N is small), K tails of 1..3, K blocks
// (K > 1024), column tails, row remainders.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 17, 63], [1, 129, 65], [2, 63, 129], [5, 65, 17], [16, 33, 130], [17, 65, 129],
  [31, 66, 1030], [63, 129, 17], [65, 63, 3], [129, 17, 600], [33, 131, 1029], [67, 131, 1029], [200, 33, 70],
  [1, 3000, 768], [4, 1001, 7],
];

for (const threads of [1, 2]) {
  test(`sgemm matches a float64 reference (${threads} thread${threads > 1 ? 's' : ''})`, () => {
    setGemmThreads(threads);
    for (const [M, N, K] of SHAPES) {
      for (const transB of [true, false]) {
        for (const pinned of [false, true]) {
          for (const bias of [false, true]) run(M, N, K, transB, { pinned, bias });
        }
      }
    }
  });
}

test('threaded and single-threaded results are identical, and the worker takes chunks', () => {
  const [M, N, K] = [33, 2050, 300];
  const A = rand(M * K, 1);
  const W = pinWeight(rand(N * K, 2));
  const one = new Float32Array(M * N);
  setGemmThreads(1);
  sgemm(M, N, K, A, W, true, one);
  setGemmThreads(2);
  const before = workerChunks();
  const two = new Float32Array(M * N);
  // The worker starts asynchronously; until it is up the main thread takes every chunk.
  const deadline = Date.now() + 10_000;
  do sgemm(M, N, K, A, W, true, two); while (workerChunks() === before && Date.now() < deadline);
  assert.ok(workerChunks() > before, 'no chunk ran on the worker thread');
  assert.deepEqual(two, one);
  unpinWeight(W);
});

test('M = 1 matvec over a wide weight (decode shape)', () => {
  setGemmThreads(2);
  run(1, 5000, 768, true, { pinned: true, bias: true });
  run(3, 5000, 96, true, { pinned: true, bias: false });
});

test('garbage after a row of W never reaches a sum (K tail masking)', () => {
  // K = 5: the kernel reads W[j, 4..7], i.e. 3 floats of the next row, and must mask them.
  const [N, K] = [1000, 5];
  const host = rand(N * K, 4);
  for (let j = 1; j < N; j += 2) host[j * K] = NaN;
  const W = pinWeight(host);
  for (const M of [1, 40]) {
    const A = rand(M * K, 3);
    const C = new Float32Array(M * N);
    sgemm(M, N, K, A, W, true, C);
    for (let i = 0; i < M; i++) for (let j = 0; j < N; j += 2) assert.ok(Number.isFinite(C[i * N + j]), `M=${M}: C[${i}, ${j}] = ${C[i * N + j]}`);
  }
  unpinWeight(W);
});

test('pinned views stay valid when the heap grows', () => {
  const small = rand(1000, 5);
  const pinned = pinWeight(small);
  // 64 MiB: more than the heap's free space, so it must grow
  const big = pinWeight(new Float32Array(16 << 20).fill(0.5));
  assert.deepEqual(pinned, small);
  assert.equal(big[(16 << 20) - 1], 0.5);
  const C = new Float32Array(20 * 10);
  const A = rand(20 * 100, 6);
  sgemm(20, 10, 100, A, pinned, true, C);
  check(20, 10, 100, A, small, true, C);
  unpinWeight(big);
  unpinWeight(pinned);
});

test('sgemm rejects arrays shorter than the shapes', () => {
  assert.throws(() => sgemm(2, 2, 2, new Float32Array(3), new Float32Array(4), true, new Float32Array(4)), RangeError);
});

test('the relaxed-SIMD (fused multiply-add) kernels are correct where the engine has them', () => {
  // Node 20 has relaxed SIMD behind a V8 flag: run the check in a child process with it on
  // (later versions have it by default, and may not know the flag).
  const gemmUrl = new URL('../src/backend/cpu/gemm.js', import.meta.url).href;
  const moduleUrl = new URL('../src/backend/cpu/wasm/module.js', import.meta.url).href;
  const code = `
    const { sgemm, setGemmThreads } = await import(${JSON.stringify(gemmUrl)});
    const { relaxedSimd } = await import(${JSON.stringify(moduleUrl)});
    let worst = 0;
    for (const threads of [1, 2]) for (const [M, N, K] of [[1, 700, 301], [37, 70, 301], [64, 64, 1030]]) for (const transB of [true, false]) {
      setGemmThreads(threads);
      const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
      const B = Float32Array.from({ length: N * K }, (_, i) => Math.cos(i * 0.7));
      const C = new Float32Array(M * N);
      sgemm(M, N, K, A, B, transB, C);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let s = 0, mag = 0;
        for (let k = 0; k < K; k++) { const p = A[i * K + k] * (transB ? B[j * K + k] : B[k * N + j]); s += p; mag += Math.abs(p); }
        worst = Math.max(worst, Math.abs(C[i * N + j] - s) / (K * mag * 2 ** -23));
      }
    }
    console.log(JSON.stringify({ relaxedSimd, worst }));`;
  const flags = relaxedByDefault ? [] : ['--experimental-wasm-relaxed-simd'];
  const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { relaxedSimd, worst } = JSON.parse(r.stdout) as { relaxedSimd: boolean; worst: number };
  assert.equal(relaxedSimd, true);
  assert.ok(worst <= 2, `error ${worst} × K eps Σ|ab|`);
});

test('results stay exact when the cores are oversubscribed (stragglers, scratch regions)', async () => {
  // Two busy threads on top of the pool: workers get descheduled mid-chunk, so the main thread
  // takes over late chunks and alternates scratch regions while a worker may still be running.
  const hogs = Array.from({ length: 2 }, () => new Worker(
    'const end = Date.now() + 1500; while (Date.now() < end);', { eval: true },
  ));
  try {
    const shapes: [number, number, number][] = [[1, 3072, 768], [1, 80, 1536], [1, 1536, 48], [3, 768, 1536], [40, 300, 200]];
    const cases = shapes.map(([M, N, K], s) => ({ M, N, K, A: rand(M * K, 10 + s), W: pinWeight(rand(N * K, 20 + s)) }));
    setGemmThreads(1);
    const expected = cases.map(({ M, N, K, A, W }) => {
      const C = new Float32Array(M * N);
      sgemm(M, N, K, A, W, true, C);
      return C;
    });
    setGemmThreads(2);
    const end = Date.now() + 1000;
    for (let round = 0; Date.now() < end; round++) {
      cases.forEach(({ M, N, K, A, W }, s) => {
        const C = new Float32Array(M * N);
        sgemm(M, N, K, A, W, true, C);
        assert.deepEqual(C, expected[s], `round ${round}, shape ${s}`);
      });
    }
    for (const { W } of cases) unpinWeight(W);
  } finally {
    await Promise.all(hogs.map((h) => h.terminate()));
  }
});
