/**
 * Every Backend op on WebGPU against the CPU reference backend, by normalized max error
 * (max |gpu − cpu| / max |cpu|), the way ggml's test-backend-ops checks its backends. Shapes are
 * deliberately not multiples of the kernels' tiles (64, 128, 16, 32 keys, 64 channels).
 * Skips, saying why, only where no WebGPU adapter can be created, and never in CI (see webgpu-util).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, SelectiveScanArgs } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { createWebGpuBackend, WebGpuBackend } from '../src/backend/webgpu/backend.js';
import type { GpuTensor } from '../src/backend/webgpu/buffer-pool.js';
import { batchedMatmul } from '../src/backend/webgpu/kernels/matmul.js';
import { selectiveScan } from '../src/backend/webgpu/kernels/selective-scan.js';
import type { HostArray, Tensor } from '../src/tensor.js';
import { openTestGpu } from './webgpu-util.js';

const { gpu, skip: noGpu } = await openTestGpu();
// the same kernels again with shared-memory reductions, when the device has subgroups
const plain = gpu?.info.subgroups ? await createWebGpuBackend({ subgroups: false }) : undefined;
// and with Chrome's 10 storage buffers per stage, where kernels that bind more fall back
const narrow = gpu ? await createWebGpuBackend({ maxStorageBuffers: 10 }) : undefined;
const cpu = new CpuBackend();
after(() => {
  gpu?.destroy();
  plain?.destroy();
  narrow?.destroy();
});

/** Deterministic uniform values in [lo, hi). */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return out;
}

interface Case {
  name: string;
  /** host data and shapes of the inputs */
  inputs: Record<string, [HostArray, number[]]>;
  run: (be: Backend, t: Record<string, Tensor>) => Tensor[];
  /** 1e-4 by default; 1e-3 for long reductions */
  tol?: number;
  /** run on the subgroup-free backend too */
  reduces?: boolean;
  /** run on the backend with 10 storage buffers per stage too */
  binds?: boolean;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const r = (shape: number[], seed: number, lo = -1, hi = 1): [Float32Array, number[]] => [rand(size(shape), seed, lo, hi), shape];
const ids = (shape: number[], V: number, seed: number): [Int32Array, number[]] =>
  [Int32Array.from(rand(size(shape), seed, 0, V), Math.floor), shape];
const A = (shape: number[], seed: number): [Float32Array, number[]] => [rand(size(shape), seed, -2, -0.1), shape];

const cases: Case[] = [];

// ---- linear algebra ------------------------------------------------------------------------
for (const [M, K, N] of [[70, 33, 50], [132, 64, 136], [1, 45, 67]]) {
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
    cases.push({
      name: `matmul ${M}x${K}x${N} transA=${ta} transB=${tb}`,
      inputs: { a: r(ta ? [K, M] : [M, K], M + K), b: r(tb ? [N, K] : [K, N], N + 1) },
      run: (be, t) => [be.matmul(t.a, t.b, ta, tb)],
    });
  }
}
cases.push({
  name: 'matmul 1540x20x1290 (128-wide tiles)',
  inputs: { a: r([1540, 20], 3), b: r([20, 1290], 4) },
  run: (be, t) => [be.matmul(t.a, t.b, false, false)],
});
for (const tb of [false, true]) {
  cases.push({
    name: `matmul 2100x20x4100 transB=${tb} (256×128 tiles)`,
    inputs: { a: r([2100, 20], 7), b: r(tb ? [4100, 20] : [20, 4100], 8) },
    run: (be, t) => [be.matmul(t.a, t.b, false, tb)],
  });
}
// the tunings `matmul` does not pick by default (bench/gpu-matmul.ts compares them), one layout
// each: every pipeline costs SwiftShader seconds to compile
for (const tuning of [
  { tile: 8, bk: 16, prefetch: true }, { tile: 8, bk: 16, prefetch: false }, { tile: 4, bk: 16, prefetch: false },
  { tile: 8, tileN: 16, bk: 16, prefetch: false }, { tile: 8, tileN: 16, bk: 8, prefetch: false }, { tile: 8, tileN: 16, bk: 8, prefetch: true },
] as const) {
  cases.push({
    name: `matmul 150x70x93 tuning ${JSON.stringify(tuning)}`,
    inputs: { a: r([150, 70], 68), b: r([70, 93], 72) },
    run: (be, t) => [be instanceof WebGpuBackend ? be.matmulTuned(t.a, t.b, false, false, tuning) : be.matmul(t.a, t.b, false, false)],
  });
}
cases.push({
  name: 'matmul K=300 (long reduction)',
  inputs: { a: r([37, 300], 5), b: r([41, 300], 6) },
  run: (be, t) => [be.matmul(t.a, t.b, false, true)],
  tol: 1e-3,
});
cases.push({
  name: 'linear x [2, 37, 45] w [67, 45] + bias',
  inputs: { x: r([2, 37, 45], 7), w: r([67, 45], 8), b: r([67], 9) },
  run: (be, t) => [be.linear(t.x, t.w, t.b), be.linear(t.x, t.w)],
});
cases.push({
  name: 'linear x [8, 45] w [1001, 45] + bias (few rows: GEMV)',
  inputs: { x: r([8, 45], 58), w: r([1001, 45], 59), b: r([1001], 60) },
  run: (be, t) => [be.linear(t.x, t.w, t.b), be.linear(t.x, t.w)],
  reduces: true,
});
cases.push({
  name: 'linear x [3, 64] w [68, 64] + bias (vec4 GEMV)',
  inputs: { x: r([3, 64], 10), w: r([68, 64], 11), b: r([68], 12) },
  run: (be, t) => [be.linear(t.x, t.w, t.b)],
  reduces: true,
});
cases.push({
  name: 'linear x [1, 1000] w [37, 1000] (GEMV: unrolled loop and tail)',
  inputs: { x: r([1, 1000], 65), w: r([37, 1000], 66) },
  run: (be, t) => [be.linear(t.x, t.w)],
  reduces: true,
  tol: 1e-3,
});
// normLinear: the GEMV with the norm and the residual folded in (few rows), else three kernels
for (const [M, K, N, gs, withBias, withResidual] of [
  [1, 64, 70, 64, true, true], [3, 45, 37, 45, false, true], [8, 64, 33, 16, true, false], [2, 48, 50, 12, false, true],
  [1, 30, 9, 0, true, true], [8, 64, 20, 4, false, true], [20, 64, 40, 16, true, true], [0, 8, 5, 8, false, false],
  // past 4 × 32 lanes of K: the unrolled loop, vec4 and scalar
  [2, 640, 20, 160, true, true], [3, 600, 17, 150, false, true], [1, 1000, 30, 1000, true, false],
] as const) {
  cases.push({
    name: `normLinear M=${M} K=${K} N=${N} ${gs ? `groups of ${gs}` : 'no norm'} bias=${withBias} residual=${withResidual}`,
    inputs: { x: r([M, K], 70, -3, 3), nw: r([K], 71, 0.5, 1.5), w: r([N, K], 72), b: r([N], 73), res: r([M, N], 74) },
    run: (be, t) => [be.normLinear(t.x, gs ? { weight: t.nw, eps: 1e-5, groupSize: gs } : undefined, t.w,
      withBias ? t.b : undefined, withResidual ? t.res : undefined)],
    reduces: true,
  });
}
// mamba2Step against split + conv + split + the SSD recurrence + gate, with in_proj's extra columns
for (const [H, P, G, N, K, dShape, full] of [
  [4, 20, 2, 18, 4, 'HP', true], [3, 16, 1, 32, 4, 'H', false], [2, 8, 2, 4, 2, 'none', true], [2, 64, 1, 128, 4, 'H', true],
] as const) {
  const B = 3;
  const dSsm = H * P;
  const C = dSsm + 2 * G * N;
  const W = 6 + dSsm + C + H;
  cases.push({
    name: `mamba2Step H=${H} P=${P} G=${G} N=${N} K=${K} D=${dShape} ${full ? 'conv bias, dt bias, dt limit' : 'bare'}`,
    inputs: {
      proj: r([B, W], 80, -2, 2), cw: r([C, K], 81), cb: r([C], 82), conv: r([B, C, K - 1], 83), ssm: r([B, H, P, N], 84),
      A: A([H], 85), D: r(dShape === 'HP' ? [H, P] : [H], 86), dtBias: r([H], 87, -1, 0),
    },
    run: (be, t) => {
      const { y, conv } = be.mamba2Step({
        proj: t.proj, convWeight: t.cw, convBias: full ? t.cb : undefined, conv: t.conv, ssm: t.ssm, A: t.A,
        Dskip: dShape === 'none' ? undefined : t.D, dtBias: full ? t.dtBias : undefined,
        dtLimit: full ? [0.01, 0.5] : [0, Infinity], nGroups: G,
      });
      return [y, conv, t.ssm, t.conv];
    },
    tol: 1e-3,
    binds: true,
  });
}
cases.push({
  name: 'embedding',
  inputs: { table: r([50, 33], 13), ids: ids([3, 7], 50, 14) },
  run: (be, t) => [be.embedding(t.table, t.ids)],
});

// ---- elementwise / shape ---------------------------------------------------------------------
cases.push({
  name: 'add, mul, silu, relu, gelu, softplus, exp',
  inputs: { a: r([3, 5, 71], 15, -30, 30), b: r([3, 5, 71], 16, -3, 3) },
  run: (be, t) => [be.add(t.a, t.b), be.mul(t.a, t.b), be.silu(t.a), be.relu(t.a), be.gelu(t.a), be.gelu(t.b), be.softplus(t.a), be.exp(t.b), be.softplus(t.b)],
});
cases.push({
  name: 'split / concat',
  inputs: { x: r([4, 5, 30], 17) },
  run: (be, t) => {
    const parts = be.split(t.x, [7, 13, 10]);
    return [...parts, be.concat([parts[2], parts[0], parts[1]])];
  },
});
cases.push({
  // more pieces than one dispatch can bind (SwiftShader: 11 outputs), empty ones among them
  name: 'split into 15 pieces, some empty',
  inputs: { x: r([3, 2, 40], 67) },
  run: (be, t) => be.split(t.x, [3, 0, 2, 5, 1, 0, 4, 2, 2, 3, 1, 6, 4, 7, 0]),
});

// ---- normalization / softmax -------------------------------------------------------------------
cases.push({
  name: 'rmsNorm C=300',
  inputs: { x: r([3, 7, 300], 19, -3, 3), w: r([300], 20) },
  run: (be, t) => [be.rmsNorm(t.x, t.w, 1e-5)],
  reduces: true,
});
for (const normBeforeGate of [true, false]) {
  cases.push({
    name: `gatedRmsNorm groups of 100 and 300, normBeforeGate=${normBeforeGate}`,
    inputs: { x: r([2, 9, 300], 21, -3, 3), z: r([2, 9, 300], 22, -3, 3), w: r([300], 23) },
    run: (be, t) => [be.gatedRmsNorm(t.x, t.z, t.w, 1e-5, 100, normBeforeGate), be.gatedRmsNorm(t.x, t.z, t.w, 1e-5, 300, normBeforeGate)],
    reduces: true,
  });
}
cases.push({
  name: 'softmax / logSoftmax over 1000 and 3',
  inputs: { x: r([5, 1000], 24, -10, 10), y: r([4, 3], 25, -5, 5) },
  run: (be, t) => [be.softmax(t.x), be.logSoftmax(t.x), be.softmax(t.y), be.logSoftmax(t.y)],
  reduces: true,
  tol: 1e-3,
});

// ---- sequence mixing ------------------------------------------------------------------------------
for (const [withBias, withState, silu] of [[true, true, true], [false, false, false], [true, false, true]]) {
  cases.push({
    name: `causalConv1d K=4 bias=${withBias} state=${withState} silu=${silu}`,
    inputs: { x: r([2, 19, 37], 26), w: r([37, 4], 27), b: r([37], 28), s: r([2, 37, 3], 29) },
    run: (be, t) => {
      const { y, state } = be.causalConv1d(t.x, t.w, withBias ? t.b : undefined, withState ? t.s : undefined, silu);
      return [y, state];
    },
  });
}
cases.push({
  name: 'causalConv1d L=2 < K-1 carries the old window',
  inputs: { x: r([2, 2, 5], 30), w: r([5, 4], 31), s: r([2, 5, 3], 32) },
  run: (be, t) => {
    const { y, state } = be.causalConv1d(t.x, t.w, undefined, t.s, true);
    return [y, state];
  },
});
for (const [full, N, tuning] of [
  [true, 16, undefined], [false, 16, undefined], [true, 6, undefined], [true, 16, { C: 16, R: 1 }], [true, 6, { C: 64, R: 2 }],
  // L split into chunks walked in parallel: 12, 15 or 7 steps (the last one 9, 15 or 3)
  [true, 16, { C: 32, R: 4, K: 4 }], [false, 6, { C: 16, R: 1, K: 3 }], [true, 16, { C: 64, R: 2, K: 7, T: 4 }],
] as const) {
  const [B, L, D] = [2, 45, 70];
  cases.push({
    name: `selectiveScan L=${L} D=${D} N=${N} ${full ? 'D, z, deltaBias, softplus, state' : 'bare'} tuning ${JSON.stringify(tuning ?? 'default')}`,
    inputs: {
      u: r([B, L, D], 33), delta: r([B, L, D], 34, -3, 1), dpos: r([B, L, D], 57, 0.01, 0.5), A: A([D, N], 35), Bm: r([B, L, N], 36), Cm: r([B, L, N], 37),
      Dskip: r([D], 38), z: r([B, L, D], 39), bias: r([D], 40, -1, 0), s: r([B, D, N], 41),
    },
    run: (be, t) => {
      const args: SelectiveScanArgs = full
        ? { u: t.u, delta: t.delta, A: t.A, Bmat: t.Bm, Cmat: t.Cm, Dskip: t.Dskip, z: t.z, deltaBias: t.bias, deltaSoftplus: true, state: t.s }
        : { u: t.u, delta: t.dpos, A: t.A, Bmat: t.Bm, Cmat: t.Cm, deltaSoftplus: false };
      const { y, state } = be instanceof WebGpuBackend && tuning ? selectiveScan(be, args, tuning) : be.selectiveScan(args);
      return [y, state];
    },
    tol: 1e-3,
    binds: full,
  });
}
for (const [L, H, P, G, N, Q, dShape] of [
  [77, 4, 20, 2, 18, 16, 'HP'], [77, 2, 70, 1, 70, 64, 'H'], [5, 3, 8, 3, 4, 16, 'none'], [130, 2, 16, 1, 8, 128, 'H'],
  // one group and whole chunks: the chunk states and the states' part of y as batched matmuls
  [128, 3, 20, 1, 18, 32, 'HP'], [64, 2, 16, 1, 8, 16, 'none'], [96, 2, 6, 1, 8, 32, 'H'],
  // a few steps: the recurrence in one kernel
  [1, 4, 20, 2, 18, 32, 'HP'], [3, 2, 70, 1, 70, 64, 'H'], [1, 3, 8, 3, 4, 16, 'none'],
] as const) {
  const B = 2;
  cases.push({
    name: `ssdChunked L=${L} H=${H} P=${P} G=${G} N=${N} chunk=${Q} D=${dShape}`,
    inputs: {
      x: r([B, L, H, P], 42), dt: r([B, L, H], 43, -3, 1), A: A([H], 44), Bm: r([B, L, G, N], 45), Cm: r([B, L, G, N], 46),
      D: r(dShape === 'HP' ? [H, P] : [H], 47), dtBias: r([H], 48, -1, 0), s: r([B, H, P, N], 49),
    },
    run: (be, t) => {
      const { y, state } = be.ssdChunked({
        x: t.x, dt: t.dt, A: t.A, Bmat: t.Bm, Cmat: t.Cm, Dskip: dShape === 'none' ? undefined : t.D,
        dtBias: t.dtBias, dtSoftplus: true, dtLimit: dShape === 'none' ? [0.01, 0.5] : [0, Infinity], chunkSize: Q,
        state: dShape === 'none' ? undefined : t.s,
      });
      return [y, state];
    },
    tol: 1e-3,
  });
}
for (const [Lq, S, Hq, Hkv, E, causal, kvLen] of [
  [19, 40, 4, 2, 24, true, [40, 25]],
  [19, 40, 4, 4, 24, false, [33, 40]],
  [1, 300, 4, 2, 64, true, [300, 123]],
  [70, 70, 2, 1, 16, true, [70, 70]],
  [5, 37, 3, 1, 10, true, [37, 20]],
] as const) {
  const B = 2;
  cases.push({
    name: `attention Lq=${Lq} S=${S} Hq=${Hq} Hkv=${Hkv} E=${E} causal=${causal} kvLen=${kvLen}`,
    inputs: { q: r([B, Lq, Hq, E], 50, -2, 2), k: r([B, S, Hkv, E], 51, -2, 2), v: r([B, S, Hkv, E], 52) },
    run: (be, t) => [be.attention(t.q, t.k, t.v, { causal, scale: 1 / Math.sqrt(E), kvLen: Int32Array.from(kvLen) })],
    tol: 1e-3,
  });
}
for (const interleaved of [false, true]) {
  cases.push({
    name: `rotary rotaryDim 12 of 20, interleaved=${interleaved}`,
    inputs: { x: r([2, 7, 3, 20], 53) },
    run: (be, t) => [be.rotary(t.x, Int32Array.from([0, 4097]), 12, 10000, interleaved)],
  });
}
for (const gradScale of [undefined, 0.25]) {
  cases.push({
    name: `adamw in place, step 3, gradScale ${gradScale}`,
    inputs: { p: r([3, 77], 61), g: r([3, 77], 62), m: r([3, 77], 63, -0.1, 0.1), v: r([3, 77], 64, 0, 0.01) },
    run: (be, t) => {
      be.adamw(t.p, t.g, t.m, t.v, { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3, gradScale });
      return [t.p, t.m, t.v];
    },
  });
}
// ---- reductions ------------------------------------------------------------------------------
// rows of 700 (several strided passes of the 256-lane workgroup): an ordinary row, a tie (the
// first wins), NaN first (never chosen), the max in the padding past vocab 640, nothing finite
const argmaxRows = [
  (i: number) => Math.sin(i * 0.37),
  (i: number) => (i === 5 || i === 600 ? 3 : 0),
  (i: number) => (i === 0 ? NaN : i === 300 ? 2 : 1),
  (i: number) => (i === 650 ? 9 : -Infinity),
  () => -Infinity,
];
cases.push({
  name: 'argmax of the first 640 of 700 and of all 700 (ties, NaN, padding, rows of -inf)',
  inputs: { z: [Float32Array.from({ length: argmaxRows.length * 700 }, (_, k) => argmaxRows[Math.floor(k / 700)](k % 700)), [argmaxRows.length, 700]] },
  run: (be, t) => [be.argmax(t.z, 640), be.argmax(t.z)],
});
cases.push({
  name: 'sumOfSquares of [1], [3, 37, 45], [2100, 1001] (all 512 partials, each over 16 lanes) and [1000, 5]',
  inputs: { a: r([1], 1), x: r([3, 37, 45], 2), big: r([2100, 1001], 3, -2, 2), y: r([1000, 5], 4) },
  run: (be, t) => [be.sumOfSquares([t.a, t.x, t.big, t.y]), be.sumOfSquares([t.big])],
  tol: 1e-4,
  reduces: true,
});
cases.push({
  name: 'writeAt (KV cache append, in place)',
  inputs: { dst: r([2, 10, 3, 4], 54), src: r([2, 3, 3, 4], 55) },
  run: (be, t) => [be.writeAt(t.dst, t.src, Int32Array.from([0, 6]))],
});

/** max |a − ref| / max |ref| */
function normalizedError(a: HostArray, ref: HostArray): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(a[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? err : err / scale;
}

async function runOn(be: Backend, c: Case): Promise<HostArray[]> {
  const t: Record<string, Tensor> = {};
  for (const [k, [data, shape]] of Object.entries(c.inputs)) t[k] = be.upload(data, shape);
  const outs = c.run(be, t);
  const host = await Promise.all(outs.map((o) => o.read()));
  const all = new Set([...outs, ...Object.values(t)]);
  for (const o of all) o.dispose();
  return host;
}

for (const c of cases) {
  test(`webgpu ${c.name}`, { skip: noGpu }, async () => {
    const want = await runOn(cpu, c);
    const backends: [string, WebGpuBackend][] = [['', gpu!]];
    if (plain && c.reduces) backends.push([' (no subgroups)', plain]);
    if (narrow && c.binds) backends.push([' (10 storage buffers)', narrow]);
    for (const [tag, be] of backends) {
      const got = await runOn(be, c);
      assert.equal(got.length, want.length);
      got.forEach((g, i) => {
        assert.equal(g.length, want[i].length, `output ${i}: length`);
        const e = normalizedError(g, want[i]);
        assert.ok(e <= (c.tol ?? 1e-4), `output ${i}${tag}: normalized max error ${e.toExponential(2)} > ${c.tol ?? 1e-4}`);
      });
    }
  });
}

test('webgpu batchedMatmul: strided entries, every transpose, accumulate, vec4 and scalar paths', { skip: noGpu }, async () => {
  // the SSD's products with the chunk states: entry z reads a[z·strideA..], b[z·strideB..] and
  // writes (or adds to) c[z·strideC..]; the strides leave gaps that must stay untouched
  const be = gpu!;
  for (const [M, N, K, transA, transB, accumulate] of [
    [20, 12, 9, false, false, false], [7, 33, 16, true, false, true], [16, 8, 40, false, true, false], [5, 6, 3, true, true, true],
  ] as const) {
    const count = 3;
    const [sA, sB, sC] = [M * K + 4, K * N + 8, M * N + 4];
    const a = rand(count * sA, 70), b = rand(count * sB, 71), c0 = rand(count * sC, 72);
    const want = Float32Array.from(c0);
    for (let z = 0; z < count; z++) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let k = 0; k < K; k++) {
            acc += a[z * sA + (transA ? k * M + i : i * K + k)] * b[z * sB + (transB ? j * K + k : k * N + j)];
          }
          const o = z * sC + i * N + j;
          want[o] = (accumulate ? c0[o] : 0) + acc;
        }
      }
    }
    const out = be.upload(c0, [count * sC]) as GpuTensor;
    batchedMatmul(be, be.upload(a, [count * sA]) as GpuTensor, be.upload(b, [count * sB]) as GpuTensor, out, M, N, K, transA, transB,
      { count, strideA: sA, strideB: sB, strideC: sC }, accumulate);
    const err = normalizedError(await out.read(), want);
    assert.ok(err < 1e-5, `M ${M} N ${N} K ${K} transA ${transA} transB ${transB} accumulate ${accumulate}: error ${err}`);
  }
});

// ---- memory and lifetimes ---------------------------------------------------------------------------

test('webgpu upload / zeros / read round trip (f32, i32, empty)', { skip: noGpu }, async () => {
  const be = gpu!;
  const f = Float32Array.from([1.5, -2, 3e-8, 7]);
  assert.deepEqual(await be.upload(f, [2, 2]).read(), f);
  const i = Int32Array.from([-5, 0, 2 ** 30]);
  assert.deepEqual(await be.upload(i, [3]).read(), i);
  assert.deepEqual(await be.uploadWeight(f, [4]).read(), f);
  assert.deepEqual(await be.zeros([3], 'i32').read(), new Int32Array(3));
  assert.deepEqual(await be.zeros([0, 5]).read(), new Float32Array(0));
  // the copy kernels move i32 bits unchanged (the CPU reference splits f32 only)
  const [lo, hi] = be.split(be.upload(Int32Array.from([1, 2, 3, -4, 5, 6]), [2, 3]), [1, 2]);
  assert.deepEqual(await lo.read(), Int32Array.from([1, -4]));
  assert.deepEqual(await be.concat([hi, lo]).read(), Int32Array.from([2, 3, 1, 5, 6, -4]));
});

test('webgpu reshape shares storage until every view is disposed', { skip: noGpu }, async () => {
  const be = gpu!;
  const x = be.upload(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  const v = x.reshape([3, 2]);
  x.dispose();
  x.dispose(); // a second dispose of the same view frees nothing more
  const got = await be.exp(v).read();
  assert.ok(normalizedError(got, Float32Array.from([1, 2, 3, 4, 5, 6], Math.exp)) < 1e-6);
  v.dispose();
  assert.throws(() => be.silu(v), /used after dispose/);
  assert.throws(() => be.add(x, x), /used after dispose/);
});

test('webgpu pooled buffers are reused without corrupting pending work', { skip: noGpu }, async () => {
  const be = gpu!;
  // each freed intermediate is handed to the next upload or output before anything is submitted
  const data = rand(1000, 56);
  let acc: Tensor = be.upload(data, [1000]);
  for (let k = 0; k < 20; k++) {
    const one = be.upload(new Float32Array(1000).fill(1), [1000]);
    const next = be.add(acc, one);
    acc.dispose();
    one.dispose();
    acc = next;
  }
  const got = await acc.read();
  for (let i = 0; i < 1000; i++) assert.ok(Math.abs(got[i] - (data[i] + 20)) < 1e-5);
  acc.dispose();
  be.trim();
  assert.equal(be.rt.pool.pooledBytes, 0);
  assert.deepEqual(await be.exp(be.zeros([2])).read(), Float32Array.from([1, 1]));
});

test('webgpu many dispatches per submission, over several submissions', { skip: noGpu }, async () => {
  // thousands of dispatches fill and recycle many uniform chunks (256 parameter blocks each)
  const be = gpu!;
  let x: Tensor = be.zeros([3]);
  const one = be.upload(Float32Array.from([1, 2, 3]), [3]);
  for (let round = 1; round <= 3; round++) {
    for (let k = 0; k < 700; k++) {
      const next = be.add(x, one);
      x.dispose();
      x = next;
    }
    assert.deepEqual(await x.read(), Float32Array.from([700 * round, 1400 * round, 2100 * round]));
  }
  x.dispose();
  one.dispose();
});

test('webgpu shape errors name the op', { skip: noGpu }, () => {
  const be = gpu!;
  const a = be.zeros([2, 3]);
  const b = be.zeros([4, 5]);
  assert.throws(() => be.matmul(a, b, false, false), /webgpu matmul: inner dimensions differ/);
  assert.throws(() => be.add(a, b), /webgpu add: shapes/);
  assert.throws(() => be.add(a, cpu.zeros([2, 3])), /not on this WebGPU backend/);
  assert.throws(() => be.zeros([2 ** 30]), /maxStorageBufferBindingSize/);
  a.dispose();
  b.dispose();
});

test('webgpu destroy frees the device; later use fails clearly', { skip: noGpu }, async () => {
  const be = await createWebGpuBackend();
  const x = be.upload(Float32Array.from([1, 2]), [2]);
  be.destroy();
  assert.ok(be.destroyed);
  assert.throws(() => be.exp(x), /device was destroyed/);
  await assert.rejects(x.read(), /device was destroyed/);
});
