import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpu, host, maxAbsDiff, randn, rng, t } from './cpu-util.js';
import { attentionRef } from './reference/attention.js';

test('attention: causal, GQA 6 query / 2 KV heads, per-sequence kvLen', () => {
  const r = rng(20);
  const B = 2, Lq = 3, S = 8, Hq = 6, Hkv = 2, E = 4, scale = 0.5;
  const q = randn(r, B * Lq * Hq * E, -2, 2), k = randn(r, B * S * Hkv * E, -2, 2), v = randn(r, B * S * Hkv * E);
  for (const causal of [true, false]) {
    const kvLen = [5, 8];
    const got = cpu.attention(t(q, [B, Lq, Hq, E]), t(k, [B, S, Hkv, E]), t(v, [B, S, Hkv, E]),
      { causal, scale, kvLen: new Int32Array(kvLen) });
    const ref = attentionRef(q, k, v, B, Lq, S, Hq, Hkv, E, scale, causal, kvLen);
    assert.ok(maxAbsDiff(host(got), ref) < 1e-6, `causal ${causal}: ${maxAbsDiff(host(got), ref)}`);
  }
  // without kvLen every key is valid; Lq = S is plain causal self-attention
  const qs = randn(r, B * S * Hq * E);
  const self = cpu.attention(t(qs, [B, S, Hq, E]), t(k, [B, S, Hkv, E]), t(v, [B, S, Hkv, E]), { causal: true, scale });
  const ref = attentionRef(qs, k, v, B, S, S, Hq, Hkv, E, scale, true, [S, S]);
  assert.ok(maxAbsDiff(host(self), ref) < 1e-6);
  // the first query sees only key 0, so it returns v[0] of its KV head
  for (let e = 0; e < E; e++) assert.ok(Math.abs(host(self)[1 * E + e] - v[0 * E + e]) < 1e-6);
});

test('attention softmax is stable for large scores', () => {
  const q = new Float32Array([100, 100]), k = new Float32Array([100, 100, 101, 101]), v = new Float32Array([1, 0, 0, 1]);
  const got = host(cpu.attention(t(q, [1, 1, 1, 2]), t(k, [1, 2, 1, 2]), t(v, [1, 2, 1, 2]), { causal: false, scale: 1 }));
  const w1 = 1 / (1 + Math.exp(-200));
  assert.ok(maxAbsDiff(got, [1 - w1, w1]) < 1e-6);
});

test('rotary: GPT-NeoX halves and interleaved pairs rotate by pos * base^(-2k/d); tail untouched', () => {
  const r = rng(21);
  const B = 2, L = 3, H = 2, E = 6, rd = 4, base = 10000;
  const x = randn(r, B * L * H * E);
  const pos0 = [0, 7];
  for (const interleaved of [false, true]) {
    const got = host(cpu.rotary(t(x, [B, L, H, E]), new Int32Array(pos0), rd, base, interleaved));
    for (let b = 0; b < B; b++) for (let l = 0; l < L; l++) for (let h = 0; h < H; h++) {
      const o = ((b * L + l) * H + h) * E;
      for (let k = 0; k < rd / 2; k++) {
        const ang = (pos0[b] + l) / Math.pow(base, (2 * k) / rd);
        const [i1, i2] = interleaved ? [o + 2 * k, o + 2 * k + 1] : [o + k, o + k + rd / 2];
        // (x1 + i x2) e^{i ang}
        assert.ok(Math.abs(got[i1] - (x[i1] * Math.cos(ang) - x[i2] * Math.sin(ang))) < 1e-6);
        assert.ok(Math.abs(got[i2] - (x[i1] * Math.sin(ang) + x[i2] * Math.cos(ang))) < 1e-6);
      }
      for (let e = rd; e < E; e++) assert.equal(got[o + e], x[o + e]);
    }
  }
  // position 0 is the identity
  const first = host(cpu.rotary(t(x, [B, L, H, E]), new Int32Array([0, 0]), rd, base, false));
  assert.deepEqual([...first.subarray(0, H * E)], [...x.subarray(0, H * E)]);
});
