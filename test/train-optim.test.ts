import test from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from '../src/train/adamw.js';
import { clipScale, globalGradNorm } from '../src/train/clip.js';
import { noDecay } from '../src/train/adamw.js';
import { lrAt } from '../src/train/schedule.js';
import { Mulberry32 } from '../src/rng.js';
import { cpu, host, maxAbsDiff, randn, rng } from './cpu-util.js';

/** torch.optim.AdamW's single-tensor step (amsgrad off) in float64, in torch's order of operations. */
function torchAdamW(p: Float64Array, g: Float64Array, m: Float64Array, v: Float64Array,
  o: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }): void {
  const bc1 = 1 - o.beta1 ** o.step, bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - o.lr * o.weightDecay;
    m[i] += (g[i] - m[i]) * (1 - o.beta1);                   // exp_avg.lerp_(grad, 1 - beta1)
    v[i] = v[i] * o.beta2 + (1 - o.beta2) * g[i] * g[i];     // exp_avg_sq.mul_(beta2).addcmul_(...)
    const denom = Math.sqrt(v[i]) / Math.sqrt(bc2) + o.eps;
    p[i] -= (o.lr / bc1) * (m[i] / denom);
  }
}

test('Backend.adamw (CPU) = torch AdamW formula in float64 over 6 steps, with decay and gradScale', () => {
  const r = rng(11);
  const n = 257;
  const p0 = randn(r, n);
  const param = cpu.upload(p0, [n]), m = cpu.zeros([n]), v = cpu.zeros([n]);
  const P = Float64Array.from(p0), M = new Float64Array(n), V = new Float64Array(n);
  for (let step = 1; step <= 6; step++) {
    // tiny gradients too: eps matters there
    const g = randn(r, n, step === 3 ? -1e-7 : -2, step === 3 ? 1e-7 : 2);
    const scale = step === 5 ? 0.25 : 1;
    const o = { lr: 1e-2 * step, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
    cpu.adamw(param, cpu.upload(g, [n]), m, v, { ...o, gradScale: scale });
    torchAdamW(P, Float64Array.from(g, (x) => x * scale), M, V, o);
  }
  assert.ok(maxAbsDiff(host(param), P) < 2e-6, `param ${maxAbsDiff(host(param), P)}`);
  assert.ok(maxAbsDiff(host(m), M) < 1e-6, `m ${maxAbsDiff(host(m), M)}`);
  assert.ok(maxAbsDiff(host(v), V) < 1e-6, `v ${maxAbsDiff(host(v), V)}`);
  // the first step of Adam moves every coordinate by about lr (sign of g): check the scale is not off
  const q = cpu.upload(new Float32Array([1, 1]), [2]);
  cpu.adamw(q, cpu.upload(new Float32Array([3, -0.5]), [2]), cpu.zeros([2]), cpu.zeros([2]),
    { lr: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, step: 1 });
  assert.ok(maxAbsDiff(host(q), [0.9, 1.1]) < 1e-6);
});

test('AdamW: weight decay skips A_log, D, dt biases, norms and biases; embeddings decay', () => {
  assert.deepEqual(
    ['layers.0.mixer.A_log', 'layers.0.mixer.D', 'layers.1.mixer.dt_bias', 'layers.0.mixer.dt_proj.bias', 'layers.0.norm.weight',
      'layers.0.norm2.weight', 'layers.1.mixer.norm.weight', 'norm_f.weight', 'layers.0.mixer.in_proj.bias', 'layers.0.mlp.fc2.bias',
      'embedding.weight', 'lm_head.weight', 'layers.0.mixer.in_proj.weight', 'layers.0.mixer.conv1d.weight', 'layers.0.mixer.dt_proj.weight',
      'layers.0.mixer.x_proj.weight', 'layers.0.mixer.out_proj.weight'].map(noDecay),
    [true, true, true, true, true, true, true, true, true, true, false, false, false, false, false, false, false]);
  // zero gradients leave only the decay: 1 -> 1 - lr wd where decayed, untouched elsewhere
  const params = new Map([['layers.0.mixer.A_log', cpu.upload(new Float32Array([1, 1]), [2])], ['embedding.weight', cpu.upload(new Float32Array([1, 1]), [2])]]);
  const opt = new AdamW(params, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.5 });
  const zero = new Map([...params.keys()].map((k) => [k, cpu.zeros([2])]));
  opt.update(zero, 0.1);
  assert.deepEqual([...host(params.get('layers.0.mixer.A_log')!)], [1, 1]);
  assert.deepEqual([...host(params.get('embedding.weight')!)], [0.95, 0.95].map(Math.fround));
  assert.equal(opt.step, 1);
});

test('AdamW state round trip: a restored optimizer continues bit-identically', async () => {
  const r = rng(3);
  const mk = () => new Map([['w', cpu.upload(Float32Array.of(0.5, -0.25, 2), [3])]]);
  const grads = Array.from({ length: 4 }, () => new Map([['w', cpu.upload(randn(r, 3), [3])]]));
  const a = mk(), optA = new AdamW(a, { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
  for (const g of grads) optA.update(g, 0.01);
  const b = mk(), optB = new AdamW(b, optA.opts);
  optB.update(grads[0], 0.01); optB.update(grads[1], 0.01);
  const saved = await optB.state();
  const c = new Map([['w', cpu.upload(host(b.get('w')!), [3])]]), optC = new AdamW(c, optA.opts);
  optC.load(saved);
  optC.update(grads[2], 0.01); optC.update(grads[3], 0.01);
  assert.deepEqual([...host(c.get('w')!)], [...host(a.get('w')!)]);
  assert.equal(optC.step, 4);
});

test('lr schedule: linear warmup, cosine to minLr, then flat', () => {
  const s = { lr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-15, `${a} vs ${b}`);
  close(lrAt(1, s), 1e-4);
  close(lrAt(5, s), 5e-4);
  close(lrAt(10, s), 1e-3);
  close(lrAt(60, s), 5.5e-4);                       // halfway through the cosine
  close(lrAt(35, s), 1e-4 + 0.45e-3 * (1 + Math.SQRT1_2));
  close(lrAt(110, s), 1e-4);
  close(lrAt(500, s), 1e-4);
  close(lrAt(1, { ...s, warmupSteps: 0 }), 1e-4 + 0.45e-3 * (1 + Math.cos(Math.PI / 110)));
});

test('gradient clipping: global L2 norm over all tensors, torch clip coefficient', async () => {
  const norm = await globalGradNorm([cpu.upload(Float32Array.of(3, 4), [2]), cpu.upload(Float32Array.of(12), [1])], cpu);
  assert.equal(norm, 13);
  assert.equal(clipScale(13, 1), 1 / (13 + 1e-6));
  assert.equal(clipScale(13, 100), 1);
  assert.equal(clipScale(13, 0), 1);
  assert.ok(Number.isNaN(clipScale(NaN, 1)));
  assert.ok(Number.isNaN(clipScale(Infinity, 1)));
});

test('Mulberry32: seeded, state restores the stream, distinct draws are distinct', () => {
  const a = new Mulberry32(42), b = new Mulberry32(42);
  assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
  const c = Mulberry32.fromState(a.state);
  assert.equal(c.next(), a.next());
  const d = new Mulberry32(1).distinct(10, 10);
  assert.deepEqual([...d].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.throws(() => new Mulberry32(1).distinct(3, 4), RangeError);
});
