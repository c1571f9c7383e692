/**
 * Whole-model gradients where no fixture has them (Llama's fixture has none): a hybrid with every mixer and MLP option, checked
 * along random directions against central differences of the loss (f32 forward, so the
 * tolerance is looser than the per-op checks), initial states included.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { valueAndGrad } from '../src/autograd/index.js';
import type { MixerState } from '../src/layers/mixer.js';
import { mambaSsmMlp, type AttentionConfig, type Mamba1Config, type Mamba2Config, type ModelConfig } from '../src/config.js';
import { MambaLM } from '../src/model/lm.js';
import { randomWeights } from '../src/model/presets.js';
import { ModelState } from '../src/model/state.js';
import { uploadWeights } from '../src/model/weights.js';
import * as ops from '../src/ops/index.js';
import type { Tensor } from '../src/tensor.js';
import { cpu, host, randn, rng } from './cpu-util.js';

const mamba1: Mamba1Config = { kind: 'mamba1', dState: 4, dConv: 3, expand: 2, dInner: 32, dtRank: 2, convBias: true,
  bias: true, dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4 };
const mamba2: Mamba2Config = { kind: 'mamba2', dState: 4, dConv: 4, expand: 2, headDim: 4, dSsm: 24, nHeads: 6, nGroups: 3,
  chunkSize: 5, convBias: true, bias: true, rmsNorm: true, normBeforeGate: true, dHasHdim: true, dtLimit: [0.001, 0.5],
  dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dMlp: 4 };
const attention: AttentionConfig = { kind: 'attention', projections: 'fused', nHeads: 4, nKvHeads: 2, headDim: 4, rotaryEmbDim: 4, rotaryBase: 10000,
  rotaryInterleaved: false, causal: true, qkvProjBias: true, outProjBias: true, dConv: 3, mlpDim: 256, softmaxScale: 0.3 };

const config: ModelConfig = {
  dModel: 16, vocabSize: 37, padVocabSizeMultiple: 8, tieEmbeddings: true, normEpsilon: 1e-5, residualInFp32: true,
  layers: [
    { mixer: mamba1 },
    { mixer: mamba2, mlp: { ...mambaSsmMlp(8), bias: true } },
    { mixer: attention },
    { mixer: { ...mamba2, rmsNorm: false, dHasHdim: false, dMlp: 0, dSsm: 32, nHeads: 8, nGroups: 1, dtLimit: [0, Infinity] } },
  ],
};

/** The layers of the Transformer baseline and of NemotronH, after a Mamba-2 layer with NemotronH's norm. */
const baselines: ModelConfig = {
  ...config, tieEmbeddings: false,
  layers: [
    { mixer: { ...mamba2, normBeforeGate: false, dHasHdim: false, dMlp: 0, dSsm: 32, nHeads: 8, nGroups: 2, normEps: 1e-3 } },
    // a Llama layer: q/k/v/o with biases, rotary, SwiGLU with gate_proj/up_proj/down_proj
    { mixer: { ...attention, projections: 'split', dConv: 0, mlpDim: 0 },
      mlp: { kind: 'mlp', dIntermediate: 8, activation: 'silu', gated: true, bias: true, names: 'proj' } },
    // a NemotronH MLP layer: relu², not gated
    { mixer: { kind: 'mlp', dIntermediate: 12, activation: 'relu2', gated: false, bias: true, names: 'proj' } },
    // Megatron's default MLP: GELU, not gated, mamba_ssm's fc names
    { mixer: { kind: 'mlp', dIntermediate: 8, activation: 'gelu', gated: false, bias: false, names: 'fc' } },
  ],
};

test('hybrid model (tied head, every mixer option): gradients of weights and initial states along random directions', (t) => {
  checkGradients(t, config);
});

test('Llama and NemotronH layers (untied head): gradients of weights and initial states along random directions', (t) => {
  checkGradients(t, baselines);
});

function checkGradients(t: TestContext, config: ModelConfig): void {
  const rand = rng(3);
  const model = new MambaLM(config, uploadWeights(randomWeights(config, 2), cpu), cpu);
  const [B, L] = [2, 11];
  const ids = cpu.upload(Int32Array.from({ length: B * L }, () => Math.floor(rand() * config.vocabSize)), [B, L]);
  const targets = cpu.upload(Int32Array.from({ length: B * L }, (_, i) => (i % L === L - 1 ? -1 : Math.floor(rand() * config.vocabSize))), [B, L]);

  // random initial conv and SSM states for the Mamba layers; attention starts from an empty cache
  const init = model.initState(B, L).layers.map((s) => (s.kind === 'attention' || s.kind === 'mlp' ? undefined : {
    conv: randn(rand, s.conv.size, -0.5, 0.5), ssm: randn(rand, s.ssm.size, -0.5, 0.5), shapes: [s.conv.shape, s.ssm.shape],
  }));
  const freshState = (): { state: ModelState; leaves: Map<string, Tensor> } => {
    const empty = model.initState(B, L);
    const leaves = new Map<string, Tensor>();
    const layers = empty.layers.map((s, i): MixerState => {
      const v = init[i];
      if (s.kind === 'attention' || s.kind === 'mlp' || !v) return s;
      const conv = cpu.upload(v.conv, v.shapes[0]);
      const ssm = cpu.upload(v.ssm, v.shapes[1]);
      leaves.set(`state.${i}.conv`, conv);
      leaves.set(`state.${i}.ssm`, ssm);
      return { ...s, conv, ssm } as MixerState;
    });
    return { state: new ModelState(B, layers), leaves };
  };
  const lossOf = (state: ModelState): Tensor => ops.crossEntropy(model.forward(ids, state).logits, targets);

  const { state, leaves } = freshState();
  const params = new Map([...model.parameters(), ...leaves]);
  const { loss, grads } = valueAndGrad(() => lossOf(state), params);
  assert.equal(grads.size, params.size);

  // Moves every weight (in place: they are what forward reads) and every initial state (rebuilt
  // from `init`) by h·dir and returns the loss. Directions are scaled to each tensor's size of
  // values: the embedding's entries are ~0.02 and a norm follows, so a fixed step would be large.
  const lossAt = (dirs: Map<string, Float32Array>, h: number): number => {
    const saved = new Map<string, Float32Array>();
    const move = (name: string, a: Float32Array): void => {
      saved.set(name, a.slice());
      const d = dirs.get(name)!;
      a.forEach((v, i) => (a[i] = v + h * d[i]));
    };
    for (const [n, p] of model.parameters()) move(n, host(p));
    init.forEach((v, i) => v && (move(`state.${i}.conv`, v.conv), move(`state.${i}.ssm`, v.ssm)));
    const value = host(lossOf(freshState().state))[0];
    for (const [n, p] of model.parameters()) host(p).set(saved.get(n)!);
    init.forEach((v, i) => v && (v.conv.set(saved.get(`state.${i}.conv`)!), v.ssm.set(saved.get(`state.${i}.ssm`)!)));
    return value;
  };
  const scaleOf = (a: Float32Array): number => Math.max(Math.sqrt(a.reduce((s, v) => s + v * v, 0) / a.length), 0.02);
  /**
   * Along dir_i = scale² (g_i + noise · r_i / scale) for the included tensors, r random: the
   * gradient part keeps the directional derivative away from 0 (random directions alone cancel
   * to a value that f32 rounding of the loss swamps), the random part reaches what the gradient
   * would miss. Normalized so that the step moves values by h of their scale.
   */
  const check = (what: string, include: (name: string) => boolean, noise: number, h: number): number => {
    const raw = new Map([...params].map(([n, p]) => {
      const scale = include(n) ? scaleOf(host(p)) : 0;
      const g = host(grads.get(n)!);
      return [n, randn(rand, p.size).map((r, i) => scale * (scale * g[i] + noise * r * scale))];
    }));
    let ss = 0, count = 0;
    for (const [n, d] of raw) {
      if (!include(n)) continue;
      const scale = scaleOf(host(params.get(n)!));
      d.forEach((v) => (ss += (v / scale) ** 2));
      count += d.length;
    }
    const norm = Math.sqrt(ss / count);
    const dirs = new Map([...raw].map(([n, d]) => [n, d.map((v) => v / norm)]));
    let analytic = 0;
    for (const [n, g] of grads) host(g).forEach((v, i) => (analytic += v * dirs.get(n)![i]));
    const numeric = (lossAt(dirs, h) - lossAt(dirs, -h)) / (2 * h);
    const rel = Math.abs(analytic - numeric) / Math.abs(numeric);
    assert.ok(rel < 1e-2, `${what}: analytic ${analytic}, numeric ${numeric}`);
    return rel;
  };
  // a short step: along the gradient the loss curves within 1e-3 of the values' scale
  const errors = [0, 1e-3, 1e-2].map((noise) => check(`all tensors, noise ${noise}`, () => true, noise, 1e-4));
  const stateErr = check('initial states', (n) => n.startsWith('state.'), 1e-2, 1e-2);
  t.diagnostic(`loss ${host(loss)[0].toFixed(4)}; relative errors along weights and states ${errors.map((e) => e.toExponential(1)).join(', ')}, states alone ${stateErr.toExponential(1)}`);
}
