/**
 * Every GradKernels method on WebGPU against the CPU reference backend, by normalized max error
 * (max |gpu − cpu| / max |cpu|), with shapes that are not multiples of the kernels' tiles, chunks
 * or workgroups; then whole models: a small hybrid's loss and gradients against the CPU, and
 * hf/mamba2-tiny's against its float64 reference. Skips, saying why, only where no WebGPU adapter
 * can be created, and never in CI (see webgpu-util).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { valueAndGrad } from '../src/autograd/index.js';
import type { Backend, GradKernels } from '../src/backend/backend.js';
import { CpuBackend } from '../src/backend/cpu/index.js';
import { createWebGpuBackend } from '../src/backend/webgpu/backend.js';
import { readCheckpoint } from '../src/io/checkpoint.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { mambaSsmMlp, type ModelConfig } from '../src/config.js';
import { MambaLM } from '../src/model/lm.js';
import { randomWeights } from '../src/model/presets.js';
import { uploadWeights } from '../src/model/weights.js';
import * as ops from '../src/ops/index.js';
import type { HostArray, Tensor } from '../src/tensor.js';
import { FIXTURES } from './model-util.js';
import { openTestGpu } from './webgpu-util.js';

const { gpu, skip: noGpu } = await openTestGpu();
// the row reductions again with shared-memory trees, when the device has subgroups
const plain = gpu?.info.subgroups ? await createWebGpuBackend({ subgroups: false }) : undefined;
const cpu = new CpuBackend();
after(() => {
  gpu?.destroy();
  plain?.destroy();
});

type Trainable = Backend & GradKernels;

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
  inputs: Record<string, [HostArray, number[]]>;
  run: (be: Trainable, t: Record<string, Tensor>) => (Tensor | undefined)[];
  /** 1e-4 by default; 1e-3 for long reductions and scans */
  tol?: number;
  /** run on the subgroup-free backend too */
  reduces?: boolean;
}

const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const r = (shape: number[], seed: number, lo = -1, hi = 1): [Float32Array, number[]] => [rand(size(shape), seed, lo, hi), shape];
const ints = (shape: number[], seed: number, lo: number, hi: number): [Int32Array, number[]] =>
  [Int32Array.from(rand(size(shape), seed, lo, hi), Math.floor), shape];

const cases: Case[] = [];

// ---- linear algebra ------------------------------------------------------------------------
cases.push({
  name: 'sumRows [3, 37, 45] and [1000, 5]',
  inputs: { x: r([3, 37, 45], 1), y: r([1000, 5], 2) },
  run: (be, t) => [be.sumRows(t.x), be.sumRows(t.y)],
  tol: 1e-3,
});
cases.push({
  name: 'embeddingBackward (ids repeat; one row hit 40 times)',
  inputs: { dy: r([3, 41, 33], 3), ids: ints([3, 41], 4, 0, 20), hot: ints([40], 5, 7, 8), dyHot: r([40, 33], 6) },
  run: (be, t) => [be.embeddingBackward(t.dy, t.ids, 23), be.embeddingBackward(t.dyHot, t.hot, 9)],
});

// ---- elementwise -----------------------------------------------------------------------------
cases.push({
  name: 'siluBackward, softplusBackward (both sides of the threshold 20), reluBackward, geluBackward',
  inputs: { x: r([3, 5, 71], 7, -30, 30), dy: r([3, 5, 71], 8) },
  run: (be, t) => [be.siluBackward(t.x, t.dy), be.softplusBackward(t.x, t.dy), be.reluBackward(t.x, t.dy), be.geluBackward(t.x, t.dy)],
});
cases.push({
  name: 'scaleBy',
  inputs: { x: r([7, 13], 9), s: r([], 10) },
  run: (be, t) => [be.scaleBy(t.x, t.s)],
});

// ---- normalization / softmax / loss -------------------------------------------------------------
cases.push({
  name: 'rmsNormBackward C=300',
  inputs: { x: r([3, 7, 300], 11, -3, 3), w: r([300], 12), dy: r([3, 7, 300], 13) },
  run: (be, t) => {
    const { dx, dweight } = be.rmsNormBackward(t.x, t.w, 1e-5, t.dy);
    return [dx, dweight];
  },
  tol: 1e-3,
  reduces: true,
});
for (const normBeforeGate of [true, false]) {
  cases.push({
    name: `gatedRmsNormBackward groups of 100 and 300, normBeforeGate=${normBeforeGate}`,
    inputs: { x: r([2, 9, 300], 14, -3, 3), z: r([2, 9, 300], 15, -3, 3), w: r([300], 16), dy: r([2, 9, 300], 17) },
    run: (be, t) => [100, 300].flatMap((gs) => {
      const g = be.gatedRmsNormBackward(t.x, t.z, t.w, 1e-5, gs, normBeforeGate, t.dy);
      return [g.dx, g.dz, g.dweight];
    }),
    tol: 1e-3,
    reduces: true,
  });
}
cases.push({
  name: 'softmaxBackward / logSoftmax backward over 1000 and 3',
  inputs: { x: r([5, 1000], 18, -10, 10), dx: r([5, 1000], 19), y: r([4, 3], 20, -5, 5), dy: r([4, 3], 21) },
  run: (be, t) => [
    be.softmaxBackward(be.softmax(t.x), t.dx, false), be.softmaxBackward(be.logSoftmax(t.x), t.dx, true),
    be.softmaxBackward(be.softmax(t.y), t.dy, false), be.softmaxBackward(be.logSoftmax(t.y), t.dy, true),
  ],
  tol: 1e-3,
  reduces: true,
});
cases.push({
  name: 'crossEntropy V=1000 with ignored rows, with and without the gradient',
  inputs: { x: r([3, 7, 1000], 22, -8, 8), tg: [Int32Array.from(rand(21, 23, 0, 1000), (v, i) => (i % 5 === 2 ? -100 : Math.floor(v))), [3, 7]] },
  run: (be, t) => {
    const a = be.crossEntropy(t.x, t.tg, -100, true);
    return [a.loss, a.dlogits, be.crossEntropy(t.x, t.tg, -100, false).loss];
  },
  tol: 1e-3,
  reduces: true,
});
cases.push({
  name: 'crossEntropy with every row ignored: loss 0, gradient 0',
  inputs: { x: r([4, 9], 24), tg: [new Int32Array(4).fill(-1), [4]] },
  run: (be, t) => {
    const a = be.crossEntropy(t.x, t.tg, -1, true);
    return [a.loss, a.dlogits];
  },
});

// ---- sequence mixing ----------------------------------------------------------------------------
for (const [withBias, withState, silu] of [[true, true, true], [false, false, false], [true, false, true], [false, true, false]]) {
  cases.push({
    name: `causalConv1dBackward K=4 bias=${withBias} state=${withState} silu=${silu}`,
    inputs: { x: r([2, 19, 37], 30), w: r([37, 4], 31), b: r([37], 32), s: r([2, 37, 3], 33), dy: r([2, 19, 37], 34), ds: r([2, 37, 3], 35) },
    run: (be, t) => {
      const g = be.causalConv1dBackward(t.x, t.w, withBias ? t.b : undefined, withState ? t.s : undefined, silu, t.dy, t.ds);
      return [g.dx, g.dweight, g.dbias, g.dstate];
    },
  });
}
cases.push({
  name: 'causalConv1dBackward L=2 < K-1: the returned state reaches back into the initial one',
  inputs: { x: r([2, 2, 5], 36), w: r([5, 4], 37), s: r([2, 5, 3], 38), dy: r([2, 2, 5], 39), ds: r([2, 5, 3], 40) },
  run: (be, t) => {
    const g = be.causalConv1dBackward(t.x, t.w, undefined, t.s, true, t.dy, t.ds);
    return [g.dx, g.dweight, g.dbias, g.dstate];
  },
});

for (const [full, L, D, N] of [[true, 45, 70, 16], [false, 45, 70, 16], [true, 37, 21, 6], [true, 3, 300, 1]] as const) {
  const B = 2;
  cases.push({
    name: `selectiveScanBackward L=${L} D=${D} N=${N} ${full ? 'D, z, deltaBias, softplus, state' : 'bare'}`,
    inputs: {
      u: r([B, L, D], 41), delta: r([B, L, D], 42, -3, 1), dpos: r([B, L, D], 43, 0.01, 0.5), A: r([D, N], 44, -2, -0.1),
      Bm: r([B, L, N], 45), Cm: r([B, L, N], 46), Dskip: r([D], 47), z: r([B, L, D], 48), bias: r([D], 49, -1, 0),
      s: r([B, D, N], 50), dy: r([B, L, D], 51), ds: r([B, D, N], 52),
    },
    run: (be, t) => {
      const g = be.selectiveScanBackward(full
        ? { u: t.u, delta: t.delta, A: t.A, Bmat: t.Bm, Cmat: t.Cm, Dskip: t.Dskip, z: t.z, deltaBias: t.bias, deltaSoftplus: true, state: t.s }
        : { u: t.u, delta: t.dpos, A: t.A, Bmat: t.Bm, Cmat: t.Cm, deltaSoftplus: false }, t.dy, t.ds);
      return [g.du, g.ddelta, g.dA, g.dB, g.dC, g.dD, g.dz, g.ddeltaBias, g.dstate];
    },
    tol: 1e-3,
  });
}

for (const [L, H, P, G, N, Q, dShape] of [
  [77, 4, 20, 2, 18, 32, 'HP'], [70, 1, 66, 1, 65, 64, 'H'], [5, 3, 8, 3, 4, 16, 'none'], [130, 2, 16, 1, 8, 128, 'H'],
  // one group and whole chunks: the products with the chunk states as batched matmuls
  [128, 3, 20, 1, 18, 32, 'HP'], [64, 2, 6, 1, 8, 16, 'none'], [96, 2, 16, 1, 12, 32, 'H'],
] as const) {
  const B = 2;
  cases.push({
    name: `ssdChunkedBackward L=${L} H=${H} P=${P} G=${G} N=${N} chunk=${Q} D=${dShape}`,
    inputs: {
      x: r([B, L, H, P], 53), dt: r([B, L, H], 54, -3, 1), A: r([H], 55, -2, -0.1), Bm: r([B, L, G, N], 56), Cm: r([B, L, G, N], 57),
      D: r(dShape === 'HP' ? [H, P] : [H], 58), dtBias: r([H], 59, -1, 0), s: r([B, H, P, N], 60), dy: r([B, L, H, P], 61), ds: r([B, H, P, N], 62),
    },
    run: (be, t) => {
      const g = be.ssdChunkedBackward({
        x: t.x, dt: t.dt, A: t.A, Bmat: t.Bm, Cmat: t.Cm, Dskip: dShape === 'none' ? undefined : t.D,
        dtBias: dShape === 'none' ? undefined : t.dtBias, dtSoftplus: dShape !== 'none', dtLimit: dShape === 'none' ? [0.01, 0.5] : [0, Infinity],
        chunkSize: Q, state: dShape === 'none' ? undefined : t.s,
      }, t.dy, t.ds);
      return [g.dx, g.ddt, g.dA, g.dB, g.dC, g.dD, g.ddtBias, g.dstate];
    },
    tol: 1e-3,
  });
}

// ---- attention ------------------------------------------------------------------------------------
for (const [Lq, S, Hq, Hkv, E, causal, kvLen] of [
  [19, 40, 4, 2, 24, true, [40, 25]],
  [19, 40, 4, 4, 24, false, [33, 40]],
  [1, 70, 4, 2, 64, true, [70, 23]],
  [13, 13, 2, 1, 10, true, [13, 13]],
  [5, 37, 3, 1, 10, true, [37, 3]],
] as const) {
  const B = 2;
  cases.push({
    name: `attentionBackward Lq=${Lq} S=${S} Hq=${Hq} Hkv=${Hkv} E=${E} causal=${causal} kvLen=${kvLen}`,
    inputs: { q: r([B, Lq, Hq, E], 63, -2, 2), k: r([B, S, Hkv, E], 64, -2, 2), v: r([B, S, Hkv, E], 65), dout: r([B, Lq, Hq, E], 66) },
    run: (be, t) => {
      const g = be.attentionBackward(t.q, t.k, t.v, { causal, scale: 1 / Math.sqrt(E), kvLen: Int32Array.from(kvLen) }, t.dout);
      return [g.dq, g.dk, g.dv];
    },
    tol: 1e-3,
  });
}
for (const interleaved of [false, true]) {
  cases.push({
    name: `rotaryBackward rotaryDim 12 of 20, interleaved=${interleaved}`,
    inputs: { dy: r([2, 7, 3, 20], 25) },
    run: (be, t) => [be.rotaryBackward(t.dy, Int32Array.from([0, 4097]), 12, 10000, interleaved)],
  });
}

/** max |a − ref| / max |ref| (NaN anywhere fails) */
function normalizedError(a: HostArray, ref: HostArray): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(a[i] - ref[i]);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return scale === 0 ? err : err / scale;
}

async function runOn(be: Trainable, c: Case): Promise<(HostArray | undefined)[]> {
  const t: Record<string, Tensor> = {};
  for (const [k, [data, shape]] of Object.entries(c.inputs)) t[k] = be.upload(data, shape);
  const outs = c.run(be, t);
  const host = await Promise.all(outs.map((o) => o?.read()));
  for (const o of new Set([...outs, ...Object.values(t)])) o?.dispose();
  return host;
}

for (const c of cases) {
  test(`webgpu ${c.name}`, { skip: noGpu }, async (t) => {
    const want = await runOn(cpu, c);
    const backends: [string, Trainable][] = [['', gpu!]];
    if (plain && c.reduces) backends.push([' (no subgroups)', plain]);
    let worst = 0;
    for (const [tag, be] of backends) {
      const got = await runOn(be, c);
      assert.equal(got.length, want.length);
      got.forEach((g, i) => {
        const w = want[i];
        assert.equal(g === undefined, w === undefined, `output ${i}${tag}: present on one backend only`);
        if (!g || !w) return;
        assert.equal(g.length, w.length, `output ${i}${tag}: length`);
        const e = normalizedError(g, w);
        worst = Math.max(worst, e);
        assert.ok(e <= (c.tol ?? 1e-4), `output ${i}${tag}: normalized max error ${e.toExponential(2)} > ${c.tol ?? 1e-4}`);
      });
    }
    t.diagnostic(`worst normalized error ${worst.toExponential(2)}`);
  });
}

test('webgpu crossEntropy: a target outside the vocabulary makes the loss NaN', { skip: noGpu }, async () => {
  const be = gpu!;
  const { loss } = be.crossEntropy(be.upload(rand(6, 26), [2, 3]), be.upload(Int32Array.from([1, 3]), [2]), -1, false);
  assert.ok(Number.isNaN((await loss.read())[0]));
});

// ---- whole models ----------------------------------------------------------------------------------

/** Mean cross-entropy of predicting ids[:, 1:] (the last position ignored) and every parameter's gradient. */
function lossAndGrads(model: MambaLM, be: Trainable, ids: Int32Array, B: number, L: number): { loss: Tensor; grads: Map<string, Tensor> } {
  const targets = new Int32Array(B * L).fill(-1);
  for (let b = 0; b < B; b++) for (let l = 0; l + 1 < L; l++) targets[b * L + l] = ids[b * L + l + 1];
  return valueAndGrad(() => ops.crossEntropy(model.forward(be.upload(ids, [B, L])).logits, be.upload(targets, [B, L])), model.parameters());
}

// Every mixer: Mamba-1, Mamba-2 with grouped gated norm, per-channel D and a gated MLP, causal GQA
// attention with rotary and a conv, tied head; a length off the chunk. Every feature width is a
// multiple of 4 and B·L is not, as in hf/mamba2-tiny: the two tests then share the four matmul
// pipelines a training step needs (compiling one takes seconds on a software GPU).
const hybrid: ModelConfig = {
  dModel: 24, vocabSize: 45, padVocabSizeMultiple: 8, tieEmbeddings: true, normEpsilon: 1e-5, residualInFp32: true,
  layers: [
    { mixer: { kind: 'mamba1', dState: 8, dConv: 4, expand: 2, dInner: 48, dtRank: 4, convBias: true, bias: true,
      dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4 } },
    { mixer: { kind: 'mamba2', dState: 8, dConv: 4, expand: 2, headDim: 12, dSsm: 48, nHeads: 4, nGroups: 2, chunkSize: 7,
      convBias: true, bias: false, rmsNorm: true, normBeforeGate: false, dHasHdim: true, dtLimit: [0.001, 0.5],
      dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dMlp: 0 }, mlp: { ...mambaSsmMlp(40), bias: true } },
    { mixer: { kind: 'attention', projections: 'fused', nHeads: 4, nKvHeads: 2, headDim: 6, rotaryEmbDim: 4, rotaryBase: 10000, rotaryInterleaved: false,
      causal: true, qkvProjBias: true, outProjBias: false, dConv: 3, mlpDim: 0, softmaxScale: 0.4 } },
  ],
};

test('webgpu hybrid model: loss and every parameter gradient match the CPU', { skip: noGpu }, async (t) => {
  const [B, L] = [2, 17];
  const ids = Int32Array.from(rand(B * L, 70, 0, hybrid.vocabSize), Math.floor);
  const weights = randomWeights(hybrid, 5);
  const want = lossAndGrads(new MambaLM(hybrid, uploadWeights(weights, cpu), cpu), cpu, ids, B, L);
  const model = new MambaLM(hybrid, uploadWeights(weights, gpu!), gpu!);
  // under tidy, as a training step would run: the saved activations and every backward
  // temporary go back to the pool, and only the loss and the gradients survive
  const got = gpu!.tidy(() => lossAndGrads(model, gpu!, ids, B, L));
  const lossErr = normalizedError(await got.loss.read(), await want.loss.read());
  assert.ok(lossErr < 1e-3, `loss: relative error ${lossErr}`);
  assert.equal(got.grads.size, want.grads.size);
  let worst = 0;
  let worstName = '';
  for (const [name, g] of want.grads) {
    const e = normalizedError(await got.grads.get(name)!.read(), await g.read());
    if (e > worst) [worst, worstName] = [e, name];
    assert.ok(e < 1e-3, `${name}: relative error ${e}`);
  }
  t.diagnostic(`loss error ${lossErr.toExponential(2)}; worst gradient ${worstName} ${worst.toExponential(2)} (of ${want.grads.size})`);
});

test('webgpu hf/mamba2-tiny: loss and every gradient match the float64 reference', { skip: noGpu }, async (t) => {
  const dir = join(FIXTURES, 'hf/mamba2-tiny');
  const ckpt = readCheckpoint(dir);
  const expected = readSafetensors(join(dir, 'expected.safetensors'));
  const ids = expected.get('input_ids')!;
  const [B, L] = ids.shape;
  const model = new MambaLM(ckpt.config, uploadWeights(ckpt.weights, gpu!), gpu!);
  const { loss, grads } = lossAndGrads(model, gpu!, ids.data as Int32Array, B, L);
  const lossErr = normalizedError(await loss.read(), expected.get('loss')!.data);
  assert.ok(lossErr < 1e-3, `loss: relative error ${lossErr}`);
  assert.equal(grads.size, [...expected.keys()].filter((k) => k.startsWith('grad.')).length, 'one gradient per fixture grad.* entry');
  let worst = 0;
  let worstName = '';
  for (const [canonical, g] of grads) {
    const ref = expected.get(`grad.${ckpt.checkpointNames.get(canonical)}`);
    assert.ok(ref, `fixture has no gradient for ${canonical}`);
    const e = normalizedError(await g.read(), ref.data);
    if (e > worst) [worst, worstName] = [e, canonical];
    assert.ok(e < 1e-3, `${canonical}: relative error ${e}`);
  }
  t.diagnostic(`loss error ${lossErr.toExponential(2)}; worst gradient ${worstName} ${worst.toExponential(2)}`);
});
