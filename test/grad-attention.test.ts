import { test } from 'node:test';
import * as ops from '../src/ops/index.js';
import { rng } from './cpu-util.js';
import { checkGrad, formatErrors, input } from './grad-util.js';
import { attentionRef } from './reference/attention.js';

const rand = rng(5);

for (const causal of [true, false]) {
  test(`attention GQA (4 query heads on 2 KV heads), causal=${causal}, kvLen per sequence`, (t) => {
    const [B, Lq, S, Hq, Hkv, E] = [2, 4, 7, 4, 2, 3];
    const kvLen = Int32Array.from([7, 5]);
    const scale = 0.7;
    const e = checkGrad({
      inputs: { q: input(rand, [B, Lq, Hq, E], -2, 2), k: input(rand, [B, S, Hkv, E], -2, 2), v: input(rand, [B, S, Hkv, E]) },
      ours: ({ q, k, v }) => [ops.attention(q, k, v, { causal, scale, kvLen })],
      ref: ({ q, k, v }) => [attentionRef(q, k, v, B, Lq, S, Hq, Hkv, E, scale, causal, kvLen)],
    });
    t.diagnostic(formatErrors(e));
  });
}

for (const interleaved of [false, true]) {
  test(`rotary on 4 of 6 channels, interleaved=${interleaved}, start positions per sequence`, (t) => {
    const [B, L, H, E, rd, base] = [2, 3, 2, 6, 4, 100];
    const pos0 = Int32Array.from([3, 0]);
    const e = checkGrad({
      inputs: { x: input(rand, [B, L, H, E]) },
      ours: ({ x }) => [ops.rotary(x, pos0, rd, base, interleaved)],
      ref: ({ x }) => {
        const y = Float64Array.from(x);
        for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) for (let k = 0; k < rd / 2; k++) {
          const o = ((b * L + l) * H + h) * E;
          const [i1, i2] = interleaved ? [o + 2 * k, o + 2 * k + 1] : [o + k, o + k + rd / 2];
          const a = (pos0[b] + l) * Math.pow(base, (-2 * k) / rd);
          y[i1] = x[i1] * Math.cos(a) - x[i2] * Math.sin(a);
          y[i2] = x[i2] * Math.cos(a) + x[i1] * Math.sin(a);
        }
        return [y];
      },
    });
    t.diagnostic(formatErrors(e));
  });
}

test('writeAt: src gets the written rows, the overwritten dst the rest', (t) => {
  const [B, S, Ls, R] = [2, 6, 2, 3];
  const offset = Int32Array.from([1, 4]);
  const e = checkGrad({
    inputs: { dst: input(rand, [B, S, R]), src: input(rand, [B, Ls, R]) },
    // a product after the write, so the gradient reaching dst is not uniform
    ours: ({ dst, src }) => {
      const out = ops.writeAt(dst, src, offset);
      return [ops.mul(out, out)];
    },
    ref: ({ dst, src }) => {
      const out = Float64Array.from(dst);
      for (let b = 0; b < B; b++) out.set(src.subarray(b * Ls * R, (b + 1) * Ls * R), (b * S + offset[b]) * R);
      return [out.map((v) => v * v)];
    },
  });
  t.diagnostic(formatErrors(e));
});
