/**
 * The original mamba_ssm `config.json` (MambaConfig of mamba_ssm 2.x, models/config_mamba.py) to
 * and from ModelConfig. `ssm_cfg` and `attn_cfg` are keyword arguments of mamba_ssm's `Mamba` /
 * `Mamba2` / `MHA` constructors; absent ones take those constructors' defaults, reproduced here.
 * Arguments that only steer initialization or kernel choice (dt_init, dt_scale, conv_init,
 * A_init_range, use_fast_path, use_mem_eff_path, sequence_parallel) are accepted and dropped.
 * Anything else is refused, as mamba_ssm itself would refuse it.
 *
 * Fixed by mamba_ssm rather than the config: the RMSNorm epsilon (1e-5), GatedMLP's width rounded
 * up to a multiple of 128 and without bias, MHA's mlp_dim rounded up to a multiple of 256.
 */
import { UserError } from '../errors.js';
import {
  mambaSsmMlp, type AttentionConfig, type LayerConfig, type Mamba1Config, type Mamba2Config, type MixerConfig, type ModelConfig,
} from '../config.js';
import { checkModelSize, MAX_DT_FLOOR, MAX_LAYERS } from './config-limits.js';
import { Fields, type Json } from './fields.js';

const NORM_EPSILON = 1e-5;
const MLP_MULTIPLE = 128;
const MHA_MLP_MULTIPLE = 256;

const TOP_FIELDS = [
  'd_model', 'd_intermediate', 'n_layer', 'vocab_size', 'ssm_cfg', 'attn_layer_idx', 'attn_cfg',
  'rms_norm', 'residual_in_fp32', 'fused_add_norm', 'pad_vocab_size_multiple', 'tie_embeddings',
];
const MAMBA1_FIELDS = [
  'layer', 'd_state', 'd_conv', 'expand', 'dt_rank', 'dt_min', 'dt_max', 'dt_init', 'dt_scale',
  'dt_init_floor', 'conv_bias', 'bias', 'use_fast_path',
];
const MAMBA2_FIELDS = [
  'layer', 'd_state', 'd_conv', 'conv_init', 'expand', 'headdim', 'd_ssm', 'ngroups', 'A_init_range',
  'D_has_hdim', 'rmsnorm', 'norm_before_gate', 'dt_min', 'dt_max', 'dt_init_floor', 'dt_limit', 'bias',
  'conv_bias', 'chunk_size', 'use_mem_eff_path', 'process_group', 'sequence_parallel',
];
const MHA_FIELDS = [
  'num_heads', 'num_heads_kv', 'head_dim', 'mlp_dim', 'qkv_proj_bias', 'out_proj_bias', 'softmax_scale',
  'causal', 'd_conv', 'rotary_emb_dim', 'rotary_emb_base', 'rotary_emb_interleaved',
];

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

export function fromMambaSsmConfig(json: Json, file: string): ModelConfig {
  const f = new Fields(json, file);
  f.onlyKnown(TOP_FIELDS);
  if (!f.bool('rms_norm', true)) f.fail('rms_norm', 'is false: LayerNorm models are not supported, only RMSNorm');
  const dModel = f.size('d_model', 2560);
  const nLayer = f.size('n_layer', 64, MAX_LAYERS);
  const attnIdx = new Set(f.intList('attn_layer_idx', []));
  for (const i of attnIdx) if (i >= nLayer) f.fail('attn_layer_idx', `has layer ${i} but n_layer is ${nLayer}`);

  const ssm = f.object('ssm_cfg');
  const layerKind = ssm.string('layer', 'Mamba1');
  if (layerKind !== 'Mamba1' && layerKind !== 'Mamba2') ssm.fail('layer', 'must be "Mamba1" or "Mamba2"');
  ssm.onlyKnown(layerKind === 'Mamba1' ? MAMBA1_FIELDS : MAMBA2_FIELDS);
  const attn = f.object('attn_cfg');
  attn.onlyKnown(MHA_FIELDS);
  const ssmMixer = attnIdx.size < nLayer ? (layerKind === 'Mamba1' ? mamba1(ssm, dModel) : mamba2(ssm, dModel)) : undefined;
  const attnMixer = attnIdx.size > 0 ? attention(attn, dModel) : undefined;

  const dIntermediate = f.sizeOrZero('d_intermediate', 0);
  const layers: LayerConfig[] = [];
  for (let i = 0; i < nLayer; i++) {
    const mixer = structuredClone((attnIdx.has(i) ? attnMixer : ssmMixer) as MixerConfig);
    layers.push(dIntermediate > 0 ? { mixer, mlp: mambaSsmMlp(roundUp(dIntermediate, MLP_MULTIPLE)) } : { mixer });
  }
  const config: ModelConfig = {
    dModel,
    vocabSize: f.size('vocab_size', 50277),
    padVocabSizeMultiple: f.size('pad_vocab_size_multiple', 8),
    tieEmbeddings: f.bool('tie_embeddings', true),
    normEpsilon: NORM_EPSILON,
    residualInFp32: f.bool('residual_in_fp32', true),
    layers,
  };
  checkModelSize(config, file);
  return config;
}

function mamba1(s: Fields, dModel: number): Mamba1Config {
  const expand = s.positive('expand', 2);
  return {
    kind: 'mamba1',
    dState: s.size('d_state', 16),
    dConv: s.size('d_conv', 4),
    expand,
    dInner: Math.trunc(expand * dModel),
    dtRank: s.has('dt_rank') && s.obj.dt_rank === 'auto' ? Math.ceil(dModel / 16) : s.size('dt_rank', Math.ceil(dModel / 16)),
    convBias: s.bool('conv_bias', true),
    bias: s.bool('bias', false),
    dtMin: s.positive('dt_min', 0.001),
    dtMax: s.positive('dt_max', 0.1),
    dtInitFloor: s.positive('dt_init_floor', 1e-4),
  };
}

function mamba2(s: Fields, dModel: number): Mamba2Config {
  if (s.has('process_group')) s.fail('process_group', 'must be null: tensor-parallel shards are not supported');
  const expand = s.positive('expand', 2);
  const dInner = expand * dModel;
  if (!Number.isInteger(dInner)) s.fail('expand', `times d_model ${dModel} must be an integer`);
  const dSsm = s.size('d_ssm', dInner);
  if (dSsm > dInner) s.fail('d_ssm', `must be at most expand * d_model = ${dInner}`);
  const headDim = s.size('headdim', 64);
  if (dSsm % headDim !== 0) s.fail('headdim', `must divide d_ssm = ${dSsm}`);
  const nHeads = dSsm / headDim;
  const nGroups = s.size('ngroups', 1);
  if (nHeads % nGroups !== 0) s.fail('ngroups', `must divide the number of heads ${nHeads}`);
  return {
    kind: 'mamba2',
    dState: s.size('d_state', 128),
    dConv: s.size('d_conv', 4),
    expand,
    headDim,
    dSsm,
    nHeads,
    nGroups,
    chunkSize: s.size('chunk_size', 256),
    convBias: s.bool('conv_bias', true),
    bias: s.bool('bias', false),
    rmsNorm: s.bool('rmsnorm', true),
    normBeforeGate: s.bool('norm_before_gate', false),
    dHasHdim: s.bool('D_has_hdim', false),
    dtLimit: s.clamp('dt_limit', [0, Infinity], MAX_DT_FLOOR),
    dtMin: s.positive('dt_min', 0.001),
    dtMax: s.positive('dt_max', 0.1),
    dtInitFloor: s.positive('dt_init_floor', 1e-4),
    dMlp: dInner - dSsm,
  };
}

function attention(a: Fields, dModel: number): AttentionConfig {
  const nHeads = a.size('num_heads');
  const nKvHeads = a.size('num_heads_kv', nHeads);
  if (nHeads % nKvHeads !== 0) a.fail('num_heads_kv', `must divide num_heads = ${nHeads}`);
  if (!a.has('head_dim') && dModel % nHeads !== 0) a.fail('num_heads', `must divide d_model = ${dModel} (or set head_dim)`);
  const config: AttentionConfig = {
    kind: 'attention',
    projections: 'fused',
    nHeads,
    nKvHeads,
    headDim: a.size('head_dim', dModel / nHeads),
    rotaryEmbDim: a.sizeOrZero('rotary_emb_dim', 0),
    rotaryBase: a.positive('rotary_emb_base', 10000),
    rotaryInterleaved: a.bool('rotary_emb_interleaved', false),
    causal: a.bool('causal', false),
    qkvProjBias: a.bool('qkv_proj_bias', true),
    outProjBias: a.bool('out_proj_bias', true),
    dConv: a.sizeOrZero('d_conv', 0),
    mlpDim: roundUp(a.sizeOrZero('mlp_dim', 0), MHA_MLP_MULTIPLE),
  };
  if (a.has('softmax_scale')) config.softmaxScale = a.positive('softmax_scale');
  return config;
}

/** Why `config` cannot be written as a mamba_ssm config, or undefined when it can. */
export function mambaSsmUnsupportedReason(config: ModelConfig): string | undefined {
  if (config.normEpsilon !== NORM_EPSILON) return `the norm epsilon is ${config.normEpsilon}; mamba_ssm fixes it at 1e-5`;
  if (config.layers.length === 0) return 'the model has no layers';
  const mlpLayer = config.layers.findIndex((l) => l.mixer.kind === 'mlp');
  if (mlpLayer >= 0) return `layer ${mlpLayer} is an MLP of its own (mamba_ssm has an MLP only after a mixer)`;
  const ssm = config.layers.filter((l) => l.mixer.kind !== 'attention').map((l) => l.mixer);
  const attn = config.layers.filter((l) => l.mixer.kind === 'attention').map((l) => l.mixer);
  if (ssm.some((m) => !sameRecord(m, ssm[0]))) return 'its Mamba layers differ (mamba_ssm has one ssm_cfg)';
  if (attn.some((m) => !sameRecord(m, attn[0]))) return 'its attention layers differ (mamba_ssm has one attn_cfg)';
  const mlp0 = config.layers[0].mlp;
  if (config.layers.some((l) => !sameRecord(l.mlp, mlp0))) return 'its layers differ in their MLP (mamba_ssm has one d_intermediate)';
  if (mlp0?.bias) return 'its MLP has biases (mamba_ssm GatedMLP has none)';
  if (mlp0 && !sameRecord(mambaSsmMlp(mlp0.dIntermediate), mlp0)) return 'its MLP is not a SwiGLU with a fused fc1 (mamba_ssm GatedMLP)';
  if (mlp0 && mlp0.dIntermediate % MLP_MULTIPLE !== 0) return `its MLP width ${mlp0.dIntermediate} is not a multiple of ${MLP_MULTIPLE}`;
  const m = ssm[0];
  if (m?.kind === 'mamba1' && Math.trunc(m.expand * config.dModel) !== m.dInner) return 'Mamba-1 d_inner is not int(expand * d_model)';
  if (m?.kind === 'mamba2') {
    if (m.expand * config.dModel !== m.dSsm + m.dMlp) return 'Mamba-2 expand * d_model is not d_ssm + d_mlp';
    if (m.nHeads * m.headDim !== m.dSsm) return 'Mamba-2 heads * head_dim is not d_ssm';
    if (m.normEps !== undefined && m.normEps !== NORM_EPSILON) return `the Mamba-2 gated norm epsilon is ${m.normEps}; mamba_ssm fixes it at 1e-5`;
  }
  const a = attn[0];
  if (a?.kind === 'attention' && a.projections !== 'fused') return 'its attention has separate q/k/v/o projections (mamba_ssm fuses them)';
  if (a?.kind === 'attention' && a.mlpDim % MHA_MLP_MULTIPLE !== 0) return `attention mlp_dim ${a.mlpDim} is not a multiple of ${MHA_MLP_MULTIPLE}`;
  return undefined;
}

function sameRecord(a: object | undefined, b: object | undefined): boolean {
  return JSON.stringify(sortedEntries(a)) === JSON.stringify(sortedEntries(b));
}

function sortedEntries(o: object | undefined): unknown {
  return o === undefined ? null : Object.entries(o).sort(([x], [y]) => (x < y ? -1 : 1));
}

export function toMambaSsmConfig(config: ModelConfig): Json {
  const reason = mambaSsmUnsupportedReason(config);
  if (reason) throw new UserError(`cannot write a mamba_ssm config: ${reason}`);
  const attnLayerIdx: number[] = [];
  let ssmCfg: Json = {};
  let attnCfg: Json = {};
  for (const [i, { mixer: m }] of config.layers.entries()) {
    if (m.kind === 'attention') {
      attnLayerIdx.push(i);
      attnCfg = attentionCfg(m);
    } else {
      // mambaSsmUnsupportedReason leaves only Mamba mixers here
      ssmCfg = m.kind === 'mamba1' ? mamba1Cfg(m) : mamba2Cfg(m as Mamba2Config);
    }
  }
  return {
    d_model: config.dModel,
    d_intermediate: config.layers[0].mlp?.dIntermediate ?? 0,
    n_layer: config.layers.length,
    vocab_size: config.vocabSize,
    ssm_cfg: ssmCfg,
    attn_layer_idx: attnLayerIdx,
    attn_cfg: attnCfg,
    rms_norm: true,
    residual_in_fp32: config.residualInFp32,
    fused_add_norm: true,
    pad_vocab_size_multiple: config.padVocabSizeMultiple,
    tie_embeddings: config.tieEmbeddings,
  };
}

function mamba1Cfg(m: Mamba1Config): Json {
  return {
    layer: 'Mamba1', d_state: m.dState, d_conv: m.dConv, expand: m.expand, dt_rank: m.dtRank,
    dt_min: m.dtMin, dt_max: m.dtMax, dt_init_floor: m.dtInitFloor, conv_bias: m.convBias, bias: m.bias,
  };
}

function mamba2Cfg(m: Mamba2Config): Json {
  return {
    layer: 'Mamba2', d_state: m.dState, d_conv: m.dConv, expand: m.expand, headdim: m.headDim,
    ...(m.dMlp > 0 ? { d_ssm: m.dSsm } : {}),
    ngroups: m.nGroups, D_has_hdim: m.dHasHdim, rmsnorm: m.rmsNorm, norm_before_gate: m.normBeforeGate,
    dt_min: m.dtMin, dt_max: m.dtMax, dt_init_floor: m.dtInitFloor,
    // The default (0, inf) is left out: strict JSON has no Infinity.
    ...(m.dtLimit[0] !== 0 || m.dtLimit[1] !== Infinity ? { dt_limit: m.dtLimit } : {}),
    bias: m.bias, conv_bias: m.convBias, chunk_size: m.chunkSize,
  };
}

function attentionCfg(m: AttentionConfig): Json {
  return {
    num_heads: m.nHeads, num_heads_kv: m.nKvHeads, head_dim: m.headDim, mlp_dim: m.mlpDim,
    qkv_proj_bias: m.qkvProjBias, out_proj_bias: m.outProjBias,
    ...(m.softmaxScale !== undefined ? { softmax_scale: m.softmaxScale } : {}),
    causal: m.causal, d_conv: m.dConv, rotary_emb_dim: m.rotaryEmbDim, rotary_emb_base: m.rotaryBase,
    rotary_emb_interleaved: m.rotaryInterleaved,
  };
}
