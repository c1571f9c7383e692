/**
 * Sampling transforms on hand-made logits, with the distributions worked out by hand, and the
 * seeded generator against values of an independent implementation (Python, same algorithm).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Xoshiro128 } from '../src/rng.js';
import { drawFrom, samplingDistribution, sampleToken, type Distribution, type SamplingOptions } from '../src/generate/sampling.js';

const ln = Math.log;
/** logits whose softmax is `p` */
const logitsOf = (p: number[]) => Float32Array.from(p, (x) => ln(x));

function assertDist(d: Distribution, ids: number[], probs: number[], tol = 1e-6): void {
  assert.deepEqual([...d.ids], ids);
  assert.equal(d.probs.length, probs.length);
  probs.forEach((p, i) => assert.ok(Math.abs(d.probs[i] - p) < tol, `prob of id ${ids[i]}: ${d.probs[i]} vs ${p}`));
}

const dist = (logits: ArrayLike<number>, o: SamplingOptions, history: number[] = [], vocab = logits.length) =>
  samplingDistribution(logits, vocab, history, o);

test('temperature 0 is argmax (first of equal maxima)', () => {
  assertDist(dist([1, 5, 3, 5], { temperature: 0 }), [1], [1]);
  assert.equal(sampleToken([0.1, -2, 0.3], 3, [], { temperature: 0 }, new Xoshiro128(1)), 2);
});

test('temperature scales the logits before the softmax', () => {
  const z = logitsOf([1 / 7, 2 / 7, 4 / 7]);
  assertDist(dist(z, { temperature: 1 }), [0, 1, 2], [1 / 7, 2 / 7, 4 / 7]);
  // z / 0.5 squares the odds: 1 : 4 : 16
  assertDist(dist(z, { temperature: 0.5 }), [0, 1, 2], [1 / 21, 4 / 21, 16 / 21]);
});

test('repetition penalty divides positive and multiplies negative logits of seen ids, before greedy', () => {
  // [3, -1, 2] with ids 0 and 1 seen and r = 2 -> [1.5, -2, 2]
  assertDist(dist([3, -1, 2], { temperature: 0, repetitionPenalty: 2 }, [0, 1, 1]), [2], [1]);
  assertDist(dist([3, -1, 2], { temperature: 0 }, [0, 1]), [0], [1]);
  const e = [Math.exp(1.5), Math.exp(-2), Math.exp(2)];
  const s = e[0] + e[1] + e[2];
  assertDist(dist([3, -1, 2], { temperature: 1, repetitionPenalty: 2 }, [0, 1]), [0, 1, 2], e.map((x) => x / s));
});

test('top-k keeps the k highest logits, ties with the k-th included', () => {
  assertDist(dist([1, 3, 2, 3, 0], { temperature: 1, topK: 2 }), [1, 3], [0.5, 0.5]);
  const e2 = Math.exp(2), e3 = Math.exp(3);
  assertDist(dist([1, 3, 2, 2, 0], { temperature: 1, topK: 2 }), [1, 2, 3], [e3, e2, e2].map((x) => x / (e3 + 2 * e2)));
  assertDist(dist([1, 3, 2], { temperature: 1, topK: 10 }), [0, 1, 2], [1, 3, 2].map((x) => Math.exp(x) / (Math.exp(1) + e3 + e2)));
});

test('top-p keeps the smallest set of top tokens whose mass reaches p', () => {
  const z = logitsOf([0.05, 0.5, 0.15, 0.3]);
  assertDist(dist(z, { temperature: 1, topP: 0.4 }), [1], [1]);
  assertDist(dist(z, { temperature: 1, topP: 0.6 }), [1, 3], [0.5 / 0.8, 0.3 / 0.8]);
  assertDist(dist(z, { temperature: 1, topP: 0.85 }), [1, 2, 3], [0.5 / 0.95, 0.15 / 0.95, 0.3 / 0.95]);
  assertDist(dist(z, { temperature: 1, topP: 1 }), [0, 1, 2, 3], [0.05, 0.5, 0.15, 0.3]);
});

test('min-p drops tokens below min-p times the top probability', () => {
  const z = logitsOf([0.5, 0.3, 0.15, 0.05]);
  assertDist(dist(z, { temperature: 1, minP: 0.2 }), [0, 1, 2], [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95]);
  assertDist(dist(z, { temperature: 1, minP: 0.5 }), [0, 1], [0.5 / 0.8, 0.3 / 0.8]);
});

test('order: temperature before top-p, top-k before top-p', () => {
  const z = logitsOf([0.5, 0.3, 0.15, 0.05]);
  // T = 2 flattens to sqrt(p): masses .379 .294 .207 .120, so p = 0.7 needs three tokens (two at T = 1)
  const r = [0.5, 0.3, 0.15].map(Math.sqrt);
  const s = r[0] + r[1] + r[2];
  assertDist(dist(z, { temperature: 2, topP: 0.7 }), [0, 1, 2], r.map((x) => x / s));
  assertDist(dist(z, { temperature: 1, topP: 0.7 }), [0, 1], [0.5 / 0.8, 0.3 / 0.8]);
  // top-k 2 renormalizes .4 .3 to .571 .429, after which p = 0.5 needs one token (two on the raw .4 .3 .2 .1)
  const y = logitsOf([0.4, 0.3, 0.2, 0.1]);
  assertDist(dist(y, { temperature: 1, topK: 2, topP: 0.5 }), [0], [1]);
  assertDist(dist(y, { temperature: 1, topP: 0.5 }), [0, 1], [4 / 7, 3 / 7]);
  // min-p after top-k: relative to the same maximum, so top-k 3 + min-p 0.2 keeps three
  assertDist(dist(z, { temperature: 1, topK: 3, minP: 0.2 }), [0, 1, 2], [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95]);
});

test('ids at or above vocab (padded rows) are never candidates', () => {
  const logits = Float32Array.of(0, 1, 2, 50, 60);   // rows 3 and 4 are padding of a vocab of 3
  assertDist(dist(logits, { temperature: 0 }, [], 3), [2], [1]);
  const d = dist(logits, { temperature: 5 }, [], 3);
  assert.deepEqual([...d.ids], [0, 1, 2]);
  const rng = new Xoshiro128(3);
  for (let i = 0; i < 200; i++) assert.ok(sampleToken(logits, 3, [], { temperature: 100 }, rng) < 3);
});

test('draws follow the distribution', () => {
  const d: Distribution = { ids: Int32Array.of(4, 7, 9), probs: Float64Array.of(0.2, 0.3, 0.5) };
  const rng = new Xoshiro128(11);
  const counts = new Map<number, number>();
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const id = drawFrom(d, rng);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.deepEqual([...counts.keys()].sort(), [4, 7, 9]);
  for (const [i, id] of [4, 7, 9].entries()) assert.ok(Math.abs(counts.get(id)! / n - d.probs[i]) < 0.015, `id ${id}: ${counts.get(id)}`);
});

test('Xoshiro128: xoshiro128** seeded by splitmix32 gives the reference values', () => {
  const first = (seed: number, n: number) => {
    const r = new Xoshiro128(seed);
    return Array.from({ length: n }, () => r.nextU32());
  };
  assert.deepEqual(first(0, 4), [1789933344, 44971166, 2521387044, 3848737593]);
  assert.deepEqual(first(42, 4), [660444221, 3652823732, 77672526, 910233633]);
  assert.deepEqual(first(2 ** 40 + 3, 2), [2777902645, 2236084094]);
  const r = new Xoshiro128(5);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const u = r.next();
    assert.ok(u >= 0 && u < 1);
    sum += u;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.01);
  assert.throws(() => new Xoshiro128(1.5), RangeError);
});

test('invalid options are refused', () => {
  assert.throws(() => dist([1, 2], { temperature: -1 }), /temperature/);
  assert.throws(() => dist([1, 2], { temperature: 1, topP: 0 }), /topP/);
  assert.throws(() => dist([1, 2], { temperature: 1, topK: 1.5 }), /topK/);
  assert.throws(() => dist([1, 2], { temperature: 1, minP: 2 }), /minP/);
  assert.throws(() => dist([1, 2], { temperature: 1, repetitionPenalty: 0 }), /repetitionPenalty/);
});
