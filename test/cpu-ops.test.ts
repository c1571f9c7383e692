import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpu, gelu64, host, maxAbsDiff, randn, rng, silu64, sliceL, softplus64, t } from './cpu-util.js';
import { gatedRmsNormRef, rmsNormRef } from './reference/norms.js';
import { causalConv1dLoops } from '../src/backend/cpu/conv.js';

test('causalConv1d = direct convolution over [state, x]; chaining carries the window', () => {
  const r = rng(10);
  const B = 2, L = 9, C = 3, K = 4;
  const x = randn(r, B * L * C), w = randn(r, C * K), bias = randn(r, C), st = randn(r, B * C * (K - 1));
  const ref = new Float64Array(B * L * C);
  for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let c = 0; c < C; c++) {
    let s = bias[c];
    for (let k = 0; k < K; k++) {
      const pos = l - (K - 1) + k;
      s += w[c * K + k] * (pos >= 0 ? x[(b * L + pos) * C + c] : st[(b * C + c) * (K - 1) + (K - 1 + pos)]);
    }
    ref[(b * L + l) * C + c] = silu64(s);
  }
  const whole = cpu.causalConv1d(t(x, [B, L, C]), t(w, [C, K]), t(bias, [C]), t(st, [B, C, K - 1]), true);
  assert.ok(maxAbsDiff(host(whole.y), ref) < 1e-6);
  // the new state is the last K-1 inputs, channel-major
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let k = 0; k < K - 1; k++)
    assert.equal(host(whole.state)[(b * C + c) * (K - 1) + k], x[(b * L + L - (K - 1) + k) * C + c]);
  // split after 2 steps (shorter than the window) and again after 5
  let state = t(st, [B, C, K - 1]);
  const parts: Float32Array[] = [];
  for (const [lo, hi] of [[0, 2], [2, 5], [5, 9]]) {
    const out = cpu.causalConv1d(t(sliceL(x, [B, L, C], lo, hi), [B, hi - lo, C]), t(w, [C, K]), t(bias, [C]), state, true);
    parts.push(host(out.y));
    state = out.state;
    assert.ok(maxAbsDiff(host(out.y), sliceL(host(whole.y), [B, L, C], lo, hi)) < 1e-7);
  }
  assert.deepEqual([...host(state)], [...host(whole.state)]);
  // no state = zeros, no bias, no SiLU
  const plain = cpu.causalConv1d(t(x, [B, L, C]), t(w, [C, K]), undefined, undefined, false);
  const x0 = x[0 * C + 1], x1 = x[1 * C + 1];
  assert.ok(Math.abs(host(plain.y)[1 * C + 1] - (w[1 * K + 2] * x0 + w[1 * K + 3] * x1)) < 1e-6);
});

test('causalConv1d SIMD kernel = its plain loops: widths K 1, 2, 3, 5, channels 5 and 8 (padding), L below and above the window, L 600 (3 kernel calls)', () => {
  const r = rng(12);
  for (const [B, L, C, K] of [[2, 7, 5, 2], [1, 1, 8, 5], [2, 3, 5, 5], [1, 4, 6, 1], [3, 1, 5, 3], [2, 600, 5, 4]]) {
    const W = K - 1;
    const x = randn(r, B * L * C), w = randn(r, C * K), bias = randn(r, C), st = randn(r, B * C * W);
    const args = [t(x, [B, L, C]), t(w, [C, K]), t(bias, [C]), t(st, [B, C, W])] as const;
    const got = cpu.causalConv1d(...args, true);
    const want = causalConv1dLoops(...args, true);
    const ref = host(want.y), refState = host(want.state);
    assert.ok(maxAbsDiff(host(got.y), ref) < 1e-6, `B ${B} L ${L} C ${C} K ${K}: y err ${maxAbsDiff(host(got.y), ref)}`);
    assert.deepEqual([...host(got.state)], [...refState], `B ${B} L ${L} C ${C} K ${K}: state`);
  }
});

test('gatedRmsNorm per group, gate before and after the norm; rmsNorm', () => {
  const r = rng(11);
  const rows = 5, C = 12;
  const x = randn(r, rows * C, -2, 2), z = randn(r, rows * C, -2, 2), w = randn(r, C, 0.5, 1.5);
  for (const gs of [12, 4]) for (const before of [false, true]) {
    const got = cpu.gatedRmsNorm(t(x, [rows, C]), t(z, [rows, C]), t(w, [C]), 1e-5, gs, before);
    assert.ok(maxAbsDiff(host(got), gatedRmsNormRef(x, z, w, C, gs, before, 1e-5)) < 1e-6, `group ${gs} before ${before}`);
  }
  // grouping matters: group 4 differs from the full width
  const g4 = host(cpu.gatedRmsNorm(t(x, [rows, C]), t(z, [rows, C]), t(w, [C]), 1e-5, 4, false));
  const g12 = host(cpu.gatedRmsNorm(t(x, [rows, C]), t(z, [rows, C]), t(w, [C]), 1e-5, 12, false));
  assert.ok(maxAbsDiff(g4, g12) > 1e-3);
  assert.ok(maxAbsDiff(host(cpu.rmsNorm(t(x, [rows, C]), t(w, [C]), 1e-5)), rmsNormRef(x, w, C, 1e-5)) < 1e-6);
});

test('softmax / logSoftmax along the last dim, stable for large inputs', () => {
  const x = new Float32Array([1000, 1001, 1002, -1, 0, 1]);
  const sm = host(cpu.softmax(t(x, [2, 3])));
  const e = [Math.exp(-2), Math.exp(-1), 1];
  const s = e[0] + e[1] + e[2];
  const ref = [...e.map((v) => v / s), ...e.map((v) => v / s)];
  assert.ok(maxAbsDiff(sm, ref) < 1e-6);
  const lsm = host(cpu.logSoftmax(t(x, [2, 3])));
  assert.ok(maxAbsDiff(lsm, ref.map(Math.log)) < 1e-5);
});

test('elementwise: add, mul, silu, relu, gelu, softplus (threshold 20), exp', () => {
  const a = new Float32Array([-30, -1, 0, 0.5, 19.9, 25]);
  const b = new Float32Array([1, 2, 3, 4, 5, 6]);
  assert.deepEqual([...host(cpu.add(t(a, [2, 3]), t(b, [2, 3])))], [...a].map((v, i) => Math.fround(v + b[i])));
  assert.deepEqual([...host(cpu.mul(t(a, [6]), t(b, [6])))], [...a].map((v, i) => Math.fround(v * b[i])));
  assert.ok(maxAbsDiff(host(cpu.silu(t(a, [6]))), [...a].map(silu64)) < 1e-6);
  assert.deepEqual([...host(cpu.relu(t(a, [6])))], [...a].map((v) => Math.max(v, 0)));
  const g = Float32Array.from({ length: 85 }, (_, i) => -4.2 + 0.1 * i);
  // A&S 7.1.26 errs below 1.5e-7 in erf: within 2 f32 ulps of x Φ(x) up to |x| = 4.2
  assert.ok(maxAbsDiff(host(cpu.gelu(t(g, [85]))), [...g].map(gelu64)) < 5e-7);
  assert.ok(maxAbsDiff(host(cpu.softplus(t(a, [6]))), [...a].map(softplus64)) < 1e-6);
  assert.equal(host(cpu.softplus(t(a, [6])))[5], 25);
  assert.ok(maxAbsDiff(host(cpu.exp(t(b, [6]))), [...b].map(Math.exp)) < 1e-3);
  assert.throws(() => cpu.add(t(a, [6]), t(b, [2, 3])));
});

test('linear, matmul with transposes, embedding, split, concat, writeAt', () => {
  const r = rng(12);
  const M = 3, K = 4, N = 5;
  const x = randn(r, M * K), w = randn(r, N * K), bias = randn(r, N);
  const ref = new Float64Array(M * N);
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = bias[j];
    for (let k = 0; k < K; k++) s += x[i * K + k] * w[j * K + k];
    ref[i * N + j] = s;
  }
  const y = cpu.linear(t(x, [1, M, K]), cpu.uploadWeight(w, [N, K]), t(bias, [N]));
  assert.deepEqual(y.shape, [1, M, N]);
  assert.ok(maxAbsDiff(host(y), ref) < 1e-6);
  // matmul(x^T stored as [K, M], w stored as [N, K]) with both transposes = x w^T
  const xT = new Float32Array(K * M);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) xT[k * M + i] = x[i * K + k];
  const mm = cpu.matmul(t(xT, [K, M]), t(w, [N, K]), true, true);
  assert.ok(maxAbsDiff(host(mm), ref.map((v, i) => v - bias[i % N])) < 1e-6);

  const table = randn(r, 6 * 2);
  const ids = cpu.upload(new Int32Array([5, 0, 3]), [1, 3]);
  const emb = cpu.embedding(t(table, [6, 2]), ids);
  assert.deepEqual(emb.shape, [1, 3, 2]);
  assert.deepEqual([...host(emb)], [table[10], table[11], table[0], table[1], table[6], table[7]]);
  assert.throws(() => cpu.embedding(t(table, [6, 2]), cpu.upload(new Int32Array([6]), [1])), /outside/);

  const row = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const [p, q] = cpu.split(t(row, [2, 6]), [2, 4]);
  assert.deepEqual([...host(p)], [1, 2, 7, 8]);
  assert.deepEqual([...host(q)], [3, 4, 5, 6, 9, 10, 11, 12]);
  assert.deepEqual([...host(cpu.concat([p, q]))], [...row]);

  const dst = cpu.zeros([2, 4, 1]);
  cpu.writeAt(dst, t(new Float32Array([1, 2, 3, 4]), [2, 2, 1]), new Int32Array([0, 2]));
  assert.deepEqual([...host(dst)], [1, 2, 0, 0, 0, 0, 3, 4]);
  assert.throws(() => cpu.writeAt(dst, t(new Float32Array([1, 2, 3, 4]), [2, 2, 1]), new Int32Array([3, 0])), /outside/);
});

test('argmax: first of ties, NaN never wins, columns past vocab ignored, a row of -inf gives 0; sumOfSquares per tensor', () => {
  const z = Float32Array.from([1, 3, 3, 0, NaN, 2, -1, 5, -Infinity, -Infinity, -Infinity, 7]);
  assert.deepEqual([...host(cpu.argmax(t(z, [3, 4]), 3))], [1, 1, 0]);
  assert.deepEqual([...host(cpu.argmax(t(z, [3, 4])))], [1, 3, 3]);
  assert.throws(() => cpu.argmax(t(z, [3, 4]), 5), /vocab 5/);
  const sq = host(cpu.sumOfSquares([t(Float32Array.from([1, -2]), [2]), t(Float32Array.from([3]), [1, 1])]));
  assert.deepEqual([...sq], [5, 9]);
});
