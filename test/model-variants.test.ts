import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mambaSsmMlp, type AttentionConfig, type Mamba1Config, type Mamba2Config, type ModelConfig } from '../src/config.js';
import { MambaLM } from '../src/model/lm.js';
import { checkWeights, expectedShapes } from '../src/model/params.js';
import { preset, randomWeights } from '../src/model/presets.js';
import { uploadWeights } from '../src/model/weights.js';
import { UserError } from '../src/errors.js';
import { ParamScope } from '../src/layers/params.js';
import { AttentionMixer } from '../src/layers/attention.js';
import { cpu, host, maxAbsDiff, randn, rng, sliceL } from './cpu-util.js';

const d = 16;
const mamba1: Mamba1Config = { kind: 'mamba1', dState: 4, dConv: 3, expand: 2, dInner: 32, dtRank: 2, convBias: true,
  bias: true, dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4 };
const mamba2: Mamba2Config = { kind: 'mamba2', dState: 4, dConv: 4, expand: 2, headDim: 4, dSsm: 24, nHeads: 6, nGroups: 3,
  chunkSize: 5, convBias: true, bias: true, rmsNorm: true, normBeforeGate: true, dHasHdim: true, dtLimit: [0.001, 0.5],
  dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dMlp: 4 };
const attention: AttentionConfig = { kind: 'attention', projections: 'fused', nHeads: 4, nKvHeads: 2, headDim: 4, rotaryEmbDim: 4, rotaryBase: 10000,
  rotaryInterleaved: false, causal: true, qkvProjBias: true, outProjBias: true, dConv: 3, mlpDim: 256, softmaxScale: 0.3 };

/** Every mixer option the fixtures leave out: biases, d_mlp, D per channel, grouped norm before the gate, rotary, conv, MLP. */
const variety: ModelConfig = {
  dModel: d, vocabSize: 37, padVocabSizeMultiple: 8, tieEmbeddings: false, normEpsilon: 1e-5, residualInFp32: true,
  layers: [
    { mixer: mamba1 },
    { mixer: mamba2, mlp: { ...mambaSsmMlp(8), bias: true } },
    { mixer: attention },
    { mixer: { ...mamba2, rmsNorm: false, dHasHdim: false, dMlp: 0, dSsm: 32, nHeads: 8, nGroups: 1, dtLimit: [0, Infinity] } },
    { mixer: { ...attention, rotaryInterleaved: true, dConv: 0, mlpDim: 0, qkvProjBias: false, outProjBias: false, softmaxScale: undefined } },
  ],
};

function build(config: ModelConfig, seed = 1): MambaLM {
  return new MambaLM(config, uploadWeights(randomWeights(config, seed), cpu), cpu);
}

test('every mixer variant: forward = token-by-token step = forward in two pieces', () => {
  const model = build(variety);
  const B = 2, L = 13, V = model.vocabPadded;
  assert.equal(V, 40);
  const r = rng(7);
  const ids = Int32Array.from({ length: B * L }, () => Math.floor(r() * 37));
  const whole = host(model.forward(cpu.upload(ids, [B, L]), model.initState(B, L)).logits);
  assert.ok(whole.every(Number.isFinite));
  let state = model.initState(B, L);
  const stepped = new Float32Array(B * L * V);
  for (let l = 0; l < L; l++) {
    const out = model.step(cpu.upload(Int32Array.from([ids[l], ids[L + l]]), [B]), state);
    state = out.state;
    for (let b = 0; b < B; b++) stepped.set(host(out.logits).subarray(b * V, (b + 1) * V), (b * L + l) * V);
  }
  assert.ok(maxAbsDiff(stepped, whole) < 1e-5, `step vs forward ${maxAbsDiff(stepped, whole)}`);
  const cut = (lo: number, hi: number) => cpu.upload(Int32Array.from(sliceL(Float32Array.from(ids), [B, L], lo, hi)), [B, hi - lo]);
  const a = model.forward(cut(0, 7), model.initState(B, L));
  const b = model.forward(cut(7, L), a.state);
  assert.ok(maxAbsDiff(host(b.logits), sliceL(whole, [B, L], 7, L)) < 1e-5);
});

test('AttentionMixer with in_proj MLP, conv, rotary, GQA = a float64 reference', () => {
  const w = randomWeights({ ...variety, layers: [{ mixer: attention }] }, 3);
  const get = (n: string) => w.get(`layers.0.mixer.${n}`)!.data as Float32Array;
  const mixer = new AttentionMixer(attention, new ParamScope(uploadWeights(w, cpu), 'layers.0.mixer.'));
  const L = 6, Hq = 4, Hkv = 2, E = 4, K = 3, qkvDim = E * (Hq + 2 * Hkv), mlp = 256;
  const x = randn(rng(4), L * d);
  const lin = (inp: ArrayLike<number>, W: Float32Array, bias: Float32Array | undefined, nIn: number, nOut: number) =>
    Array.from({ length: L }, (_, l) => Array.from({ length: nOut }, (_, o) => {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < nIn; i++) s += inp[l * nIn + i] * W[o * nIn + i];
      return s;
    }));
  const proj = lin(x, get('in_proj.weight'), get('in_proj.bias'), d, qkvDim + mlp);
  const silu = (v: number) => v / (1 + Math.exp(-v));
  const mlpOut = proj.map((row) => Array.from({ length: mlp / 2 }, (_, i) => row[qkvDim + i] * silu(row[qkvDim + mlp / 2 + i])));
  const cw = get('conv1d.weight'), cb = get('conv1d.bias');
  const qkv = proj.map((_, l) => Array.from({ length: qkvDim }, (_, c) => {
    let s = cb[c];
    for (let k = 0; k < K; k++) { const p = l - (K - 1) + k; if (p >= 0) s += cw[c * K + k] * proj[p][c]; }
    return s;
  }));
  const rope = (v: number[], pos: number) => {
    const out = [...v];
    for (let i = 0; i < 2; i++) {
      const ang = pos / Math.pow(10000, (2 * i) / 4);
      out[i] = v[i] * Math.cos(ang) - v[i + 2] * Math.sin(ang);
      out[i + 2] = v[i + 2] * Math.cos(ang) + v[i] * Math.sin(ang);
    }
    return out;
  };
  const head = (l: number, off: number, h: number) => qkv[l].slice(off + h * E, off + (h + 1) * E);
  const ctx = Array.from({ length: L }, (_, l) => Array.from({ length: Hq }, (_, h) => {
    const q = rope(head(l, 0, h), l);
    const kh = Math.floor(h / 2);
    const s = Array.from({ length: l + 1 }, (_, j) => 0.3 * rope(head(j, Hq * E, kh), j).reduce((a, kv, e) => a + kv * q[e], 0));
    const m = Math.max(...s);
    const p = s.map((v) => Math.exp(v - m));
    const z = p.reduce((a, b) => a + b, 0);
    return Array.from({ length: E }, (_, e) => p.reduce((a, pj, j) => a + pj * head(j, Hq * E + Hkv * E, kh)[e], 0) / z);
  }).flat());
  const cat = ctx.map((c, l) => [...c, ...mlpOut[l]]).flat();
  const ref = lin(cat, get('out_proj.weight'), get('out_proj.bias'), Hq * E + mlp / 2, d).flat();
  const got = mixer.forward(cpu.upload(x, [1, L, d])).y;
  assert.ok(maxAbsDiff(host(got), ref) < 1e-5, `err ${maxAbsDiff(host(got), ref)}`);
});

test('checkWeights names the first missing, mis-shaped or unexpected parameter', () => {
  const config = { ...variety, layers: [{ mixer: { ...mamba1, bias: false } }] };
  const ok = randomWeights(config, 1);
  checkWeights(config, ok);
  const bad = new Map(ok);
  bad.set('layers.0.mixer.in_proj.weight', { shape: [32, 16], dtype: 'f32', data: new Float32Array(512) });
  assert.throws(() => checkWeights(config, bad), (e: Error) => e instanceof UserError &&
    e.message === 'config.json disagrees with the weights: layers.0.mixer.in_proj.weight is [32, 16], config implies [64, 16]');
  const missing = new Map(ok);
  missing.delete('layers.0.mixer.D');
  assert.throws(() => checkWeights(config, missing), /layers\.0\.mixer\.D is missing \(config implies \[32\]\)/);
  const extra = new Map(ok);
  extra.set('layers.0.mixer.in_proj.bias', { shape: [64], dtype: 'f32', data: new Float32Array(64) });
  assert.throws(() => checkWeights(config, extra), /unexpected parameter layers\.0\.mixer\.in_proj\.bias \[64\]/);
  assert.throws(() => new MambaLM(config, uploadWeights(missing, cpu), cpu), UserError);
});

test('presets: mamba-130m and mamba2-130m shapes and parameter counts', () => {
  const count = (c: ModelConfig) => [...expectedShapes(c).values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  const m1 = preset('mamba-130m');
  assert.equal(count(m1), 129_135_360);
  assert.deepEqual(expectedShapes(m1).get('embedding.weight'), [50280, 768]);
  assert.deepEqual(expectedShapes(m1).get('layers.23.mixer.x_proj.weight'), [48 + 32, 1536]);
  assert.equal(expectedShapes(m1).has('lm_head.weight'), false);
  const m2 = preset('mamba2-130m');
  assert.deepEqual(expectedShapes(m2).get('embedding.weight'), [50288, 768]);
  assert.deepEqual(expectedShapes(m2).get('layers.0.mixer.in_proj.weight'), [2 * 1536 + 2 * 128 + 24, 768]);
  assert.deepEqual(expectedShapes(m2).get('layers.0.mixer.conv1d.weight'), [1536 + 256, 4]);
  assert.equal(count(m2), 50288 * 768 + 768 + 24 * (768 + 3352 * 768 + 1792 * 5 + 3 * 24 + 1536 + 768 * 1536));
  assert.throws(() => preset('mamba-7b'), UserError);
});

test('randomWeights: seeded, mamba_ssm-like scales; paramCount counts what is stored', () => {
  const a = randomWeights(variety, 5), b = randomWeights(variety, 5), c = randomWeights(variety, 6);
  assert.deepEqual([...a.get('layers.0.mixer.in_proj.weight')!.data], [...b.get('layers.0.mixer.in_proj.weight')!.data]);
  assert.notDeepEqual([...a.get('layers.0.mixer.in_proj.weight')!.data], [...c.get('layers.0.mixer.in_proj.weight')!.data]);
  assert.deepEqual([...a.get('layers.0.mixer.A_log')!.data.subarray(0, 4)], [0, Math.log(2), Math.log(3), Math.log(4)].map(Math.fround));
  const dtBias = a.get('layers.1.mixer.dt_bias')!.data;
  for (const v of dtBias) {
    const dt = Math.log1p(Math.exp(v));
    assert.ok(dt >= 0.001 - 1e-7 && dt <= 0.1 + 1e-7, `dt ${dt}`);
  }
  assert.ok(a.get('layers.1.mixer.D')!.data.every((v) => v === 1));
  const model = build(variety);
  const stored = [...expectedShapes(variety).values()].reduce((s, sh) => s + sh.reduce((x, y) => x * y, 1), 0);
  assert.equal(model.paramCount(), stored);
});
