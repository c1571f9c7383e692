import { test } from 'node:test';
import * as ops from '../src/ops/index.js';
import { rng, silu64 } from './cpu-util.js';
import { checkGrad, formatErrors, input } from './grad-util.js';
import { selectiveScanRef } from './reference/selective-scan.js';
import { ssdRef } from './reference/ssd.js';

const rand = rng(11);

for (const [L, silu] of [[7, true], [2, false]] as const) {
  test(`causalConv1d L=${L} silu=${silu}: x, weight, bias, initial state; final state in the loss`, (t) => {
    const [B, C, K] = [2, 5, 4];
    const W = K - 1;
    const e = checkGrad({
      inputs: { x: input(rand, [B, L, C]), w: input(rand, [C, K]), bias: input(rand, [C]), state: input(rand, [B, C, W]) },
      ours: ({ x, w, bias, state }) => {
        const out = ops.causalConv1d(x, w, bias, state, silu);
        return [out.y, out.state];
      },
      ref: ({ x, w, bias, state }) => {
        const at = (b: number, pos: number, c: number) => (pos >= 0 ? x[(b * L + pos) * C + c] : state[(b * C + c) * W + W + pos]);
        const y = new Float64Array(B * L * C);
        const next = new Float64Array(B * C * W);
        for (let b = 0; b < B; b++) {
          for (let tt = 0; tt < L; tt++) for (let c = 0; c < C; c++) {
            let s = bias[c];
            for (let k = 0; k < K; k++) s += w[c * K + k] * at(b, tt - W + k, c);
            y[(b * L + tt) * C + c] = silu ? silu64(s) : s;
          }
          for (let c = 0; c < C; c++) for (let k = 0; k < W; k++) next[(b * C + c) * W + k] = at(b, L - W + k, c);
        }
        return [y, next];
      },
    });
    t.diagnostic(formatErrors(e));
  });
}

test('selectiveScan: u, delta, A, B, C, D, z, deltaBias, initial state; final state in the loss', (t) => {
  const [B, L, D, N] = [2, 9, 5, 3];
  const e = checkGrad({
    inputs: {
      u: input(rand, [B, L, D]), delta: input(rand, [B, L, D], -2, 1), A: input(rand, [D, N], -1.5, -0.2),
      Bm: input(rand, [B, L, N]), Cm: input(rand, [B, L, N]), Dskip: input(rand, [D]), z: input(rand, [B, L, D], -2, 2),
      bias: input(rand, [D], -0.5, 0.5), state: input(rand, [B, D, N]),
    },
    ours: ({ u, delta, A, Bm, Cm, Dskip, z, bias, state }) => {
      const out = ops.selectiveScan({ u, delta, A, Bmat: Bm, Cmat: Cm, Dskip, z, deltaBias: bias, deltaSoftplus: true, state });
      return [out.y, out.state];
    },
    ref: (v) => selectiveScanRef(v, B, L, D, N, true),
  });
  t.diagnostic(formatErrors(e));
});

test('selectiveScan without z, D, bias or softplus', (t) => {
  const [B, L, D, N] = [1, 6, 3, 4];
  const e = checkGrad({
    inputs: {
      u: input(rand, [B, L, D]), delta: input(rand, [B, L, D], 0.05, 1), A: input(rand, [D, N], -1.5, -0.2),
      Bm: input(rand, [B, L, N]), Cm: input(rand, [B, L, N]),
    },
    ours: ({ u, delta, A, Bm, Cm }) => [ops.selectiveScan({ u, delta, A, Bmat: Bm, Cmat: Cm, deltaSoftplus: false }).y],
    ref: (v) => selectiveScanRef(v, B, L, D, N, false).slice(0, 1),
  });
  t.diagnostic(formatErrors(e));
});

const ssdCases = [
  { name: 'L 13, chunk 5 (last chunk short), 2 groups, D per head, dt clamped to [0.05, 0.8]', L: 13, Q: 5, G: 2, dPerChannel: false, limit: [0.05, 0.8] as [number, number] },
  { name: 'L 6, chunk 8 (one chunk), 1 group, D per channel, no clamp', L: 6, Q: 8, G: 1, dPerChannel: true, limit: [0, Infinity] as [number, number] },
  { name: 'L 4, chunk 1 (every step a chunk), 4 groups', L: 4, Q: 1, G: 4, dPerChannel: false, limit: [0, Infinity] as [number, number] },
];

for (const c of ssdCases) {
  test(`ssdChunked ${c.name}: x, dt, A, B, C, D, dtBias, initial state; final state in the loss`, (t) => {
    const [B, H, P, N] = [2, 4, 3, 4];
    const { L, Q, G } = c;
    const e = checkGrad({
      inputs: {
        x: input(rand, [B, L, H, P]), dt: input(rand, [B, L, H], -2, 1), A: input(rand, [H], -1.5, -0.2),
        Bm: input(rand, [B, L, G, N]), Cm: input(rand, [B, L, G, N]), Dskip: input(rand, c.dPerChannel ? [H, P] : [H]),
        bias: input(rand, [H], -0.5, 0.5), state: input(rand, [B, H, P, N]),
      },
      ours: ({ x, dt, A, Bm, Cm, Dskip, bias, state }) => {
        const out = ops.ssdChunked({ x, dt, A, Bmat: Bm, Cmat: Cm, Dskip, dtBias: bias, dtSoftplus: true, dtLimit: c.limit, chunkSize: Q, state });
        return [out.y, out.state];
      },
      ref: (v) => ssdRef(v, { B, L, H, P, G, N, limit: c.limit, dPerChannel: c.dPerChannel }),
    });
    t.diagnostic(formatErrors(e));
  });
}
