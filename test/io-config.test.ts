import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FIXTURES } from './fixtures.js';
import { UserError } from '../src/errors.js';
import { mambaSsmMlp, paddedVocab, type Mamba1Config, type Mamba2Config, type AttentionConfig, type ModelConfig } from '../src/config.js';
import { parseJson, stringifyJson } from '../src/io/json.js';
import { fromHfConfig, toHfConfig } from '../src/io/hf-config.js';
import { fromMambaSsmConfig, toMambaSsmConfig } from '../src/io/mamba-ssm-config.js';
import { readConfig } from '../src/io/checkpoint.js';

const fixtures = FIXTURES;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-config-'));
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function throwsUser(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected UserError, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

const fixtureConfig = (dir: string) => readConfig(path.join(fixtures, dir, 'config.json'));

test('JSON with bare and __float__-encoded non-finite numbers', () => {
  const v = parseJson('{"a": [0.0, Infinity], "b": -Infinity, "c": NaN, "d": {"__float__": "Infinity"},' +
    ' "e": [{"__float__": "-Infinity"}], "s": "Infinity \\"NaN\\" -Infinity", "n": -1.5e-3}', 'x.json') as Record<string, unknown>;
  assert.deepEqual(v.a, [0, Infinity]);
  assert.equal(v.b, -Infinity);
  assert.ok(Number.isNaN(v.c));
  assert.equal(v.d, Infinity);
  assert.deepEqual(v.e, [-Infinity]);
  assert.equal(v.s, 'Infinity "NaN" -Infinity');
  assert.equal(v.n, -1.5e-3);
  const text = stringifyJson({ limit: [0, Infinity], lo: -Infinity, s: 'Infinity' });
  assert.match(text, /\[\s*0,\s*Infinity\s*\]/);
  assert.deepEqual(parseJson(text, 'y.json'), { limit: [0, Infinity], lo: -Infinity, s: 'Infinity' });
  throwsUser(() => parseJson('{"a": 1,}', 'bad.json'), 'bad.json', 'not valid JSON');
});

test('HF mamba fixtures translate', () => {
  for (const [dir, layers] of [['hf/mamba1-tiny', 2], ['hf/mamba1-tied-residual32', 3]] as const) {
    const { config: c, format } = fixtureConfig(dir);
    assert.equal(format, 'hf');
    assert.equal(c.dModel, 64);
    assert.equal(c.vocabSize, 300);
    assert.equal(paddedVocab(c), 300);
    assert.equal(c.tieEmbeddings, true);
    assert.equal(c.normEpsilon, 1e-5);
    assert.equal(c.residualInFp32, true);
    assert.equal(c.layers.length, layers);
    assert.deepEqual(c.layers[layers - 1], {
      mixer: {
        kind: 'mamba1', dState: 16, dConv: 4, expand: 2, dInner: 128, dtRank: 4, convBias: true, bias: false,
        dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4,
      },
    });
  }
});

test('HF mamba2 fixture translates (time_step_limit with __float__ Infinity)', () => {
  const { config: c } = fixtureConfig('hf/mamba2-tiny');
  assert.equal(c.tieEmbeddings, false);
  assert.equal(paddedVocab(c), 300);
  assert.equal(c.layers.length, 2);
  assert.deepEqual(c.layers[1].mixer, {
    kind: 'mamba2', dState: 16, dConv: 4, expand: 2, headDim: 16, dSsm: 128, nHeads: 8, nGroups: 1, chunkSize: 16,
    convBias: true, bias: false, rmsNorm: true, normBeforeGate: false, dHasHdim: false, dtLimit: [0, Infinity],
    dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dMlp: 0,
  });
});

test('mamba_ssm fixtures translate with mamba_ssm 2.x defaults', () => {
  const m1 = fixtureConfig('mamba_ssm/ms-mamba1');
  assert.equal(m1.format, 'mamba_ssm');
  assert.equal(paddedVocab(m1.config), 304);
  assert.equal(m1.config.tieEmbeddings, true);
  assert.deepEqual(m1.config.layers[0], {
    mixer: {
      kind: 'mamba1', dState: 16, dConv: 4, expand: 2, dInner: 128, dtRank: 4, convBias: true, bias: false,
      dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4,
    },
  });

  const g2 = fixtureConfig('mamba_ssm/ms-mamba2-g2').config;
  assert.equal(g2.vocabSize, 300);
  assert.equal(g2.padVocabSizeMultiple, 16);
  assert.equal(paddedVocab(g2), 304);
  assert.equal(g2.tieEmbeddings, true);
  assert.equal(g2.normEpsilon, 1e-5);
  const m = g2.layers[0].mixer as Mamba2Config;
  assert.deepEqual(m, {
    kind: 'mamba2', dState: 16, dConv: 4, expand: 2, headDim: 16, dSsm: 128, nHeads: 8, nGroups: 2, chunkSize: 16,
    convBias: true, bias: false, rmsNorm: true, normBeforeGate: false, dHasHdim: false, dtLimit: [0, Infinity],
    dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dMlp: 0,
  });

  const hy = fixtureConfig('mamba_ssm/ms-hybrid').config;
  assert.equal(hy.layers.length, 4);
  assert.equal(hy.tieEmbeddings, false);
  assert.equal(paddedVocab(hy), 304);
  assert.deepEqual(hy.layers.map((l) => l.mixer.kind), ['mamba2', 'attention', 'mamba2', 'mamba2']);
  for (const l of hy.layers) assert.deepEqual(l.mlp, mambaSsmMlp(128));
  assert.deepEqual(hy.layers[1].mixer, {
    kind: 'attention', projections: 'fused', nHeads: 4, nKvHeads: 2, headDim: 16, rotaryEmbDim: 0, rotaryBase: 10000, rotaryInterleaved: false,
    causal: true, qkvProjBias: false, outProjBias: false, dConv: 0, mlpDim: 0,
  });
  assert.equal((hy.layers[0].mixer as Mamba2Config).nGroups, 1);
});

test('mamba_ssm defaults of Mamba2, MHA and GatedMLP, and their rounding', () => {
  const c = fromMambaSsmConfig({
    d_model: 768, n_layer: 3, d_intermediate: 100, ssm_cfg: { layer: 'Mamba2', d_ssm: 512, dt_limit: [0.01, 10] },
    attn_layer_idx: [2], attn_cfg: { num_heads: 12, mlp_dim: 100, softmax_scale: 0.5 },
  }, 'c.json');
  assert.equal(c.vocabSize, 50277);
  assert.equal(paddedVocab(c), 50280);
  assert.equal(c.tieEmbeddings, true);
  const m = c.layers[0].mixer as Mamba2Config;
  assert.equal(m.dState, 128);
  assert.equal(m.headDim, 64);
  assert.equal(m.dSsm, 512);
  assert.equal(m.nHeads, 8);
  assert.equal(m.dMlp, 1536 - 512);
  assert.equal(m.chunkSize, 256);
  assert.equal(m.nGroups, 1);
  assert.deepEqual(m.dtLimit, [0.01, 10]);
  const a = c.layers[2].mixer as AttentionConfig;
  assert.deepEqual(a, {
    kind: 'attention', projections: 'fused', nHeads: 12, nKvHeads: 12, headDim: 64, rotaryEmbDim: 0, rotaryBase: 10000, rotaryInterleaved: false,
    causal: false, qkvProjBias: true, outProjBias: true, dConv: 0, mlpDim: 256, softmaxScale: 0.5,
  });
  assert.deepEqual(c.layers[1].mlp, mambaSsmMlp(128));

  const m1 = fromMambaSsmConfig({ d_model: 100, n_layer: 1, ssm_cfg: { dt_rank: 'auto', expand: 1.5 } }, 'c.json').layers[0].mixer as Mamba1Config;
  assert.equal(m1.dtRank, 7);
  assert.equal(m1.dInner, 150);
});

test('configs round trip through their own format', () => {
  for (const dir of ['hf/mamba1-tiny', 'hf/mamba2-tiny']) {
    const { config } = fixtureConfig(dir);
    const back = fromHfConfig(parseJson(stringifyJson(toHfConfig(config)), 'rt.json') as Record<string, unknown>, 'rt.json');
    assert.deepEqual(back, config);
  }
  for (const dir of ['mamba_ssm/ms-mamba1', 'mamba_ssm/ms-mamba2-g2', 'mamba_ssm/ms-hybrid']) {
    const { config } = fixtureConfig(dir);
    const back = fromMambaSsmConfig(parseJson(stringifyJson(toMambaSsmConfig(config)), 'rt.json') as Record<string, unknown>, 'rt.json');
    assert.deepEqual(back, config);
  }
  const odd = fromMambaSsmConfig({
    d_model: 64, n_layer: 2, d_intermediate: 256, tie_embeddings: false, pad_vocab_size_multiple: 1, vocab_size: 77,
    ssm_cfg: { layer: 'Mamba2', d_ssm: 64, headdim: 16, ngroups: 2, D_has_hdim: true, norm_before_gate: true, dt_limit: [0.001, Infinity] },
    attn_layer_idx: [0], attn_cfg: { num_heads: 4, num_heads_kv: 1, d_conv: 4, rotary_emb_dim: 8, mlp_dim: 512, softmax_scale: 0.25 },
  }, 'odd.json');
  const text = stringifyJson(toMambaSsmConfig(odd));
  assert.match(text, /"dt_limit": \[\s*0\.001,\s*Infinity\s*\]/);
  assert.deepEqual(fromMambaSsmConfig(parseJson(text, 'rt.json') as Record<string, unknown>, 'rt.json'), odd);
});

test('HF saving is refused for what transformers cannot express; mamba_ssm for what it cannot', () => {
  const hybrid = fixtureConfig('mamba_ssm/ms-hybrid').config;
  throwsUser(() => toHfConfig(hybrid), 'Hugging Face', 'layer 0 has an MLP');
  const attnOnly: ModelConfig = { ...hybrid, layers: hybrid.layers.map((l) => ({ mixer: l.mixer })) };
  throwsUser(() => toHfConfig(attnOnly), 'layer 1 is attention');
  const eps: ModelConfig = { ...fixtureConfig('hf/mamba1-tiny').config, normEpsilon: 1e-6 };
  throwsUser(() => toMambaSsmConfig(eps), 'mamba_ssm', '1e-5');
  const m1 = fixtureConfig('mamba_ssm/ms-mamba1').config;
  const m2 = fixtureConfig('mamba_ssm/ms-mamba2-g2').config;
  const mixed: ModelConfig = { ...m1, layers: [m1.layers[0], m2.layers[0]] };
  throwsUser(() => toMambaSsmConfig(mixed), 'Mamba layers differ');
  throwsUser(() => toHfConfig(mixed), "layer 1's mixer differs");
});

test('bad configs are UserErrors naming the file and field', () => {
  throwsUser(() => fromHfConfig({ model_type: 'gpt2' }, 'c.json'), 'c.json', '"gpt2"');
  const nh = { model_type: 'nemotron_h', hidden_size: 64 };
  throwsUser(() => fromHfConfig({ ...nh, hybrid_override_pattern: 'M-E*' }, 'c.json'), 'c.json', '"hybrid_override_pattern"', 'MoE', 'not supported');
  throwsUser(() => fromHfConfig({ ...nh, layers_block_type: ['mamba', 'moe'] }, 'c.json'), '"layers_block_type"', 'MoE');
  throwsUser(() => fromHfConfig(nh, 'c.json'), '"layers_block_type"', 'MoE');
  throwsUser(() => fromHfConfig({ ...nh, hybrid_override_pattern: 'M-X' }, 'c.json'), '"hybrid_override_pattern"', 'unknown layer type at 2');
  throwsUser(() => fromHfConfig({ ...nh, hybrid_override_pattern: 'M', mlp_hidden_act: 'gelu_pytorch_tanh' }, 'c.json'), '"mlp_hidden_act"');
  const llama = { model_type: 'llama', hidden_size: 64, num_attention_heads: 4 };
  throwsUser(() => fromHfConfig({ ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } }, 'c.json'), 'c.json', '"rope_scaling"', 'llama3');
  throwsUser(() => fromHfConfig({ ...llama, rope_parameters: { rope_type: 'yarn', rope_theta: 1e4 } }, 'c.json'), '"rope_parameters.rope_type"');
  throwsUser(() => fromHfConfig({ ...llama, num_key_value_heads: 3 }, 'c.json'), '"num_key_value_heads"');
  throwsUser(() => fromHfConfig({ model_type: 'mamba2', hidden_size: 64, num_heads: 7, head_dim: 16 }, 'c.json'), 'c.json', 'num_heads');
  throwsUser(() => fromHfConfig({ model_type: 'mamba', hidden_size: 64, intermediate_size: 100 }, 'c.json'), 'intermediate_size');
  throwsUser(() => fromHfConfig({ model_type: 'mamba', hidden_size: '64' }, 'c.json'), 'c.json', '"hidden_size"');
  const ms = { d_model: 64, n_layer: 2 };
  throwsUser(() => fromMambaSsmConfig({ ...ms, ssm_cfg: { foo: 1 } }, 'c.json'), 'c.json', 'unknown field "ssm_cfg.foo"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, ssm_cfg: { headdim: 16 } }, 'c.json'), 'unknown field "ssm_cfg.headdim"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, ssm_cfg: { layer: 'Mamba3' } }, 'c.json'), '"ssm_cfg.layer"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, attn_cfg: { num_head: 4 } }, 'c.json'), 'unknown field "attn_cfg.num_head"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, attn_layer_idx: [1], attn_cfg: {} }, 'c.json'), '"attn_cfg.num_heads" is missing');
  throwsUser(() => fromMambaSsmConfig({ ...ms, attn_layer_idx: [2], attn_cfg: { num_heads: 4 } }, 'c.json'), '"attn_layer_idx"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, rms_norm: false }, 'c.json'), '"rms_norm"', 'LayerNorm');
  throwsUser(() => fromMambaSsmConfig({ ...ms, norm_epsilon: 1e-6 }, 'c.json'), 'unknown field "norm_epsilon"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, ssm_cfg: { layer: 'Mamba2', headdim: 48 } }, 'c.json'), '"ssm_cfg.headdim"');
  throwsUser(() => fromMambaSsmConfig({ ...ms, ssm_cfg: { layer: 'Mamba2', headdim: 16, ngroups: 3 } }, 'c.json'), '"ssm_cfg.ngroups"');

  const neither = path.join(tmp, 'neither.json');
  fs.writeFileSync(neither, '{"hidden": 3}');
  throwsUser(() => readConfig(neither), neither, 'model_type', 'd_model');
  const notJson = path.join(tmp, 'notjson.json');
  fs.writeFileSync(notJson, 'hidden: 3');
  throwsUser(() => readConfig(notJson), notJson, 'not valid JSON');
  const missing = path.join(tmp, 'missing.json');
  throwsUser(() => readConfig(missing), missing, 'not found');
});

test('NemotronH and Llama configs: layer kinds, legacy pattern and names, rope_theta', () => {
  const nh = fixtureConfig('hf/nemotronh-tiny').config;
  assert.deepEqual(nh.layers.map((l) => l.mixer.kind), ['mamba2', 'mlp', 'mamba2', 'attention', 'mlp', 'mamba2']);
  assert.deepEqual(nh.layers[1].mixer, { kind: 'mlp', dIntermediate: 96, activation: 'relu2', gated: false, bias: false, names: 'proj' });
  const m = nh.layers[0].mixer as Mamba2Config;
  assert.equal(m.dSsm, 128);
  assert.equal(m.normEps, 1e-5);
  const a = nh.layers[3].mixer as AttentionConfig;
  assert.equal(a.rotaryEmbDim, 0);
  assert.equal(a.projections, 'split');
  const legacy = fromHfConfig({ model_type: 'nemotron_h', hidden_size: 64, hybrid_override_pattern: 'M-*', mamba_d_conv: 3 }, 'c.json');
  assert.deepEqual(legacy.layers.map((l) => l.mixer.kind), ['mamba2', 'mlp', 'attention']);
  assert.equal((legacy.layers[0].mixer as Mamba2Config).dConv, 3);

  const ll = fixtureConfig('hf/llama-tiny').config;
  assert.equal(ll.layers.length, 2);
  assert.deepEqual(ll.layers[0].mlp, { kind: 'mlp', dIntermediate: 160, activation: 'silu', gated: true, bias: false, names: 'proj' });
  const la = ll.layers[0].mixer as AttentionConfig;
  assert.deepEqual([la.nHeads, la.nKvHeads, la.headDim, la.rotaryEmbDim, la.rotaryBase, la.rotaryInterleaved], [4, 2, 16, 16, 10000, false]);
  const old = fromHfConfig({ model_type: 'llama', hidden_size: 64, num_attention_heads: 4, rope_theta: 500000, rope_scaling: null, tie_word_embeddings: true }, 'c.json');
  assert.equal((old.layers[0].mixer as AttentionConfig).rotaryBase, 500000);
  assert.equal(old.tieEmbeddings, true);
});
