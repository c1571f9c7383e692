import test from 'node:test';
import assert from 'node:assert/strict';
import { randomWeights } from '../src/model/presets.js';
import { layerStackConfig } from '../src/train/architecture.js';
import { svgPlot, ticks } from '../src/cli/plot.js';

/** Bounds and moments of a fresh model against mamba_ssm's MambaLMHeadModel initialization. */
test('fresh weights as mamba_ssm initializes them (kaiming-uniform, 1/sqrt(n_layer) out_proj, N(0, 0.02) embedding)', () => {
  const nLayer = 4, d = 64;
  const config = { ...layerStackConfig({ layers: 'mamba1*3,attention', dModel: d, dState: 8, expand: 2, headDim: 8, heads: 4, dIntermediate: 256, vocabSize: 300 }), tieEmbeddings: false };
  const w = randomWeights(config, 1);
  const stats = (name: string) => {
    const a = w.get(name)!.data as Float32Array;
    let max = 0, sq = 0;
    for (const v of a) { max = Math.max(max, Math.abs(v)); sq += v * v; }
    return { max, std: Math.sqrt(sq / a.length), a };
  };
  // a U(±b) sample of thousands reaches within 1% of b and never past it
  const uniform = (name: string, bound: number) => {
    const s = stats(name);
    assert.ok(s.max <= bound && s.max > 0.99 * bound, `${name}: max ${s.max}, bound ${bound}`);
  };
  uniform('layers.0.mixer.in_proj.weight', 1 / Math.sqrt(d));
  uniform('layers.0.mixer.x_proj.weight', 1 / Math.sqrt(2 * d));
  uniform('layers.0.mixer.dt_proj.weight', 1 / Math.sqrt(Math.ceil(d / 16)));
  uniform('layers.0.mixer.conv1d.weight', 1 / Math.sqrt(4));
  uniform('layers.0.mixer.out_proj.weight', 1 / Math.sqrt(2 * d) / Math.sqrt(nLayer));
  uniform('layers.3.mixer.out_proj.weight', 1 / Math.sqrt(d) / Math.sqrt(nLayer));
  uniform('layers.1.mlp.fc2.weight', 1 / Math.sqrt(256) / Math.sqrt(nLayer));
  uniform('lm_head.weight', 1 / Math.sqrt(d));
  const emb = stats('embedding.weight');
  assert.ok(Math.abs(emb.std - 0.02) < 0.0005, `embedding std ${emb.std}`);
  assert.ok(stats('layers.3.mixer.in_proj.bias').max === 0);
  assert.deepEqual([...stats('layers.2.mixer.A_log').a.subarray(8, 16)], [1, 2, 3, 4, 5, 6, 7, 8].map((n) => Math.fround(Math.log(n))));
  assert.ok(stats('layers.0.mixer.D').a.every((v) => v === 1) && stats('norm_f.weight').a.every((v) => v === 1));
  // dt = softplus(bias) log-uniform in [dt_min, dt_max]: its log is uniform, mean near the midpoint
  const logDt = [...stats('layers.0.mixer.dt_proj.bias').a].map((b) => Math.log(Math.log1p(Math.exp(b))));
  assert.ok(logDt.every((x) => x >= Math.log(0.001) - 1e-5 && x <= Math.log(0.1) + 1e-5));
  const mid = logDt.reduce((a, b) => a + b, 0) / logDt.length;
  assert.ok(Math.abs(mid - (Math.log(0.001) + Math.log(0.1)) / 2) < 0.25, `mean log dt ${mid}`);
  // Mamba-2: A = U(1, 16) per head, so exp(A_log) spreads over [1, 16]; D 1 per head, gated norm 1
  const m2 = randomWeights(layerStackConfig({ layers: 'mamba2*2', dModel: 256, dState: 8, expand: 2, headDim: 2, heads: 1, dIntermediate: 0, vocabSize: 16 }), 3);
  const A = [...m2.get('layers.1.mixer.A_log')!.data].map(Math.exp);
  assert.equal(A.length, 256);
  assert.ok(A.every((a) => a >= 1 && a <= 16) && Math.min(...A) < 1.5 && Math.max(...A) > 15.5);
  assert.ok(m2.get('layers.1.mixer.norm.weight')!.data.every((v) => v === 1));
});

test('plot: round ticks, one panel per quantity, non-finite points left out', () => {
  assert.deepEqual(ticks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(ticks(-3, 47), [0, 10, 20, 30, 40]);
  assert.deepEqual(ticks(1.2, 1.3), [1.2, 1.22, 1.24, 1.26, 1.28, 1.3]);
  assert.deepEqual(ticks(-0.05, 0.07), [-0.05, 0, 0.05]);
  const svg = svgPlot([
    { title: 'loss', series: [{ name: 'val', points: [[0, 3], [10, 2], [20, NaN], [30, 1]] }] },
    { title: 'acc', yRange: [0, 1], series: [{ name: 'a<b', points: [[0, 0.1], [30, 0.9]] }] },
  ], 'step');
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="640" height="480"/);
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/<path d="([^"]*)"/)![1].match(/[ML]/g) ?? []).length, 3);
  assert.ok(svg.includes('a&lt;b') && !svg.includes('NaN'));
});
