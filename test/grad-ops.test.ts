import { test } from 'node:test';
import * as ops from '../src/ops/index.js';
import { cpu, gelu64, rng, silu64, softplus64 } from './cpu-util.js';
import { checkGrad, formatErrors, input } from './grad-util.js';
import { gatedRmsNormRef, rmsNormRef } from './reference/norms.js';

const rand = rng(7);

test('linear: dx, dW, db', (t) => {
  const [M, K, N] = [7, 5, 3];
  const e = checkGrad({
    inputs: { x: input(rand, [M, K]), w: input(rand, [N, K]), b: input(rand, [N]) },
    ours: ({ x, w, b }) => [ops.linear(x.reshape([1, M, K]), w, b)],
    ref: ({ x, w, b }) => {
      const y = new Float64Array(M * N);
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
        let s = b[n];
        for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
        y[m * N + n] = s;
      }
      return [y];
    },
  });
  t.diagnostic(formatErrors(e));
});

for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
  test(`matmul transA=${ta} transB=${tb}`, (t) => {
    const [M, K, N] = [4, 6, 3];
    const e = checkGrad({
      inputs: { a: input(rand, ta ? [K, M] : [M, K]), b: input(rand, tb ? [N, K] : [K, N]) },
      ours: ({ a, b }) => [ops.matmul(a, b, ta, tb)],
      ref: ({ a, b }) => {
        const y = new Float64Array(M * N);
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += (ta ? a[k * M + m] : a[m * K + k]) * (tb ? b[n * K + k] : b[k * N + n]);
          y[m * N + n] = s;
        }
        return [y];
      },
    });
    t.diagnostic(formatErrors(e));
  });
}

test('embedding: repeated ids add up', (t) => {
  const [V, C] = [6, 4];
  const idList = [3, 1, 3, 0, 5, 3, 1, 2];
  const ids = cpu.upload(Int32Array.from(idList), [2, 4]);
  const e = checkGrad({
    inputs: { table: input(rand, [V, C]) },
    ours: ({ table }) => [ops.embedding(table, ids)],
    ref: ({ table }) => [Float64Array.from(idList.flatMap((id) => [...table.subarray(id * C, id * C + C)]))],
  });
  t.diagnostic(formatErrors(e));
});

test('add, mul, silu, relu², gelu, softplus (both sides of the threshold 20), exp, one graph with fan-out', (t) => {
  const n = 12;
  const x = input(rand, [3, 4], -3, 3);
  x.data[5] = 23; // softplus is the identity here
  const e = checkGrad({
    inputs: { x, y: input(rand, [3, 4]) },
    // x feeds four ops: its gradient sums their contributions
    ours: ({ x, y }) => {
      const r = ops.relu(y);
      return [ops.mul(ops.add(ops.silu(x), y), ops.softplus(x)), ops.exp(ops.mul(x, y)), ops.silu(x), ops.mul(r, r), ops.gelu(y)];
    },
    ref: ({ x, y }) => {
      const a = new Float64Array(n), b = new Float64Array(n), c = new Float64Array(n), d = new Float64Array(n), e = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        a[i] = (silu64(x[i]) + y[i]) * softplus64(x[i]);
        b[i] = Math.exp(x[i] * y[i]);
        c[i] = silu64(x[i]);
        d[i] = Math.max(y[i], 0) ** 2;
        e[i] = gelu64(y[i]);
      }
      return [a, b, c, d, e];
    },
  });
  t.diagnostic(formatErrors(e));
});

test('split and concat (one piece unused, concat reorders)', (t) => {
  const [R, C] = [3, 7];
  const e = checkGrad({
    inputs: { x: input(rand, [R, C]), z: input(rand, [R, 2]) },
    ours: ({ x, z }) => {
      const [a, , c] = ops.split(x, [2, 1, 4]);
      return [ops.concat([c, z, a])];
    },
    ref: ({ x, z }) => {
      const y = new Float64Array(R * 8);
      for (let r = 0; r < R; r++) {
        const row = [...x.subarray(r * C + 3, r * C + 7), ...z.subarray(r * 2, r * 2 + 2), ...x.subarray(r * C, r * C + 2)];
        y.set(row, r * 8);
      }
      return [y];
    },
  });
  t.diagnostic(formatErrors(e));
});

test('rmsNorm: dx, dweight', (t) => {
  const [R, C, eps] = [5, 6, 1e-5];
  const e = checkGrad({
    inputs: { x: input(rand, [R, C]), w: input(rand, [C], 0.5, 1.5) },
    ours: ({ x, w }) => [ops.rmsNorm(x, w, eps)],
    ref: ({ x, w }) => [rmsNormRef(x, w, C, eps)],
  });
  t.diagnostic(formatErrors(e));
});

for (const normBeforeGate of [false, true]) {
  test(`gatedRmsNorm, 3 groups, normBeforeGate=${normBeforeGate}`, (t) => {
    const [R, C, G, eps] = [4, 9, 3, 1e-5];
    const gs = C / G;
    const e = checkGrad({
      inputs: { x: input(rand, [R, C]), z: input(rand, [R, C], -2, 2), w: input(rand, [C], 0.5, 1.5) },
      ours: ({ x, z, w }) => [ops.gatedRmsNorm(x, z, w, eps, gs, normBeforeGate)],
      ref: ({ x, z, w }) => [gatedRmsNormRef(x, z, w, C, gs, normBeforeGate, eps)],
    });
    t.diagnostic(formatErrors(e));
  });
}

for (const log of [false, true]) {
  test(`${log ? 'logSoftmax' : 'softmax'}`, (t) => {
    const [R, C] = [3, 7];
    const e = checkGrad({
      inputs: { x: input(rand, [R, C], -3, 3) },
      ours: ({ x }) => [log ? ops.logSoftmax(x) : ops.softmax(x)],
      ref: ({ x }) => {
        const y = new Float64Array(R * C);
        for (let r = 0; r < R; r++) {
          const row = x.subarray(r * C, r * C + C);
          const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
          row.forEach((v, c) => (y[r * C + c] = log ? v - lse : Math.exp(v - lse)));
        }
        return [y];
      },
    });
    t.diagnostic(formatErrors(e));
  });
}

test('crossEntropy: fused, mean over rows not ignored', (t) => {
  const [B, L, V] = [2, 5, 7];
  const tg = Int32Array.from([3, 0, -1, 6, 2, 1, -1, 4, 4, 5]);
  const targets = cpu.upload(tg, [B, L]);
  const e = checkGrad({
    inputs: { logits: input(rand, [B, L, V], -4, 4) },
    ours: ({ logits }) => [ops.crossEntropy(logits, targets)],
    ref: ({ logits }) => {
      let sum = 0, count = 0;
      for (let r = 0; r < B * L; r++) {
        if (tg[r] === -1) continue;
        const row = logits.subarray(r * V, r * V + V);
        sum += Math.log(row.reduce((s, v) => s + Math.exp(v), 0)) - row[tg[r]];
        count++;
      }
      return [Float64Array.of(sum / count)];
    },
  });
  t.diagnostic(formatErrors(e));
});
