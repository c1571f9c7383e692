/**
 * Hugging Face transformers configs, `model_type` "mamba" (MambaConfig) and "mamba2"
 * (Mamba2Config), to and from ModelConfig. Defaults are transformers 5.x's.
 *
 * Differences from mamba_ssm that the mapping settles:
 * - HF models never pad the vocabulary: the embedding has `vocab_size` rows. A
 *   `pad_vocab_size_multiple` field (not a transformers field) is kept only when it divides
 *   `vocab_size`; saving writes the padded size as `vocab_size`.
 * - transformers' Mamba2 gated RMSNorm multiplies by silu(gate) and then normalizes, which is
 *   mamba_ssm's `norm_before_gate=False`; the norm is always present (transformers ignores
 *   `rms_norm`), so `rmsNorm` is true. It normalizes the full width whatever `n_groups` is;
 *   mamba-ts follows mamba_ssm and normalizes per group, which only agrees for n_groups = 1.
 * - In transformers a mixer's d_inner is int(expand * hidden_size); Mamba2 requires it to equal
 *   num_heads * head_dim, so there is no d_ssm / parallel MLP.
 */
import { UserError } from '../errors.js';
import type { Mamba1Config, Mamba2Config, ModelConfig } from '../config.js';
import { paddedVocab } from '../config.js';
import { checkModelSize, MAX_DT_FLOOR, MAX_LAYERS } from './config-limits.js';
import { Fields, type Json } from './fields.js';
import { describe, stringifyJson } from './json.js';
import { fromLlamaConfig } from './llama-config.js';
import { fromNemotronHConfig } from './nemotron-h-config.js';

export function fromHfConfig(json: Json, file: string): ModelConfig {
  const f = new Fields(json, file);
  const modelType = f.string('model_type');
  let config: ModelConfig;
  if (modelType === 'mamba' || modelType === 'mamba2') {
    // transformers' MambaMixer / Mamba2Mixer take their activation from hidden_act (ACT2FN, where
    // "swish" is SiLU too); the kernels here are SiLU only.
    const act = f.string('hidden_act', 'silu');
    if (act !== 'silu' && act !== 'swish') f.fail('hidden_act', 'must be "silu" or "swish": other activations are not supported');
    config = modelType === 'mamba' ? fromMamba(f) : fromMamba2(f);
  } else if (modelType === 'nemotron_h') {
    config = fromNemotronHConfig(json, file);
  } else if (modelType === 'llama') {
    config = fromLlamaConfig(json, file);
  } else {
    throw new UserError(`${file}: model_type ${describe(modelType)} is not supported (expected "mamba", "mamba2", "nemotron_h" or "llama")`);
  }
  checkModelSize(config, file);
  return config;
}

function vocabFields(f: Fields, fallbackVocab: number, fallbackTie: boolean) {
  const vocabSize = f.size('vocab_size', fallbackVocab);
  const multiple = f.size('pad_vocab_size_multiple', 1);
  return {
    vocabSize,
    padVocabSizeMultiple: vocabSize % multiple === 0 ? multiple : 1,
    tieEmbeddings: f.bool('tie_word_embeddings', fallbackTie),
    normEpsilon: f.positive('layer_norm_epsilon', 1e-5),
    residualInFp32: f.bool('residual_in_fp32', true),
  };
}

function fromMamba(f: Fields): ModelConfig {
  const dModel = f.size('hidden_size', 768);
  const expand = f.positive('expand', 2);
  const dInner = Math.trunc(expand * dModel);
  if (f.has('intermediate_size') && f.size('intermediate_size') !== dInner) {
    f.fail('intermediate_size', `disagrees with expand * hidden_size = ${dInner}`);
  }
  const dtRank = f.has('time_step_rank') && f.obj.time_step_rank === 'auto'
    ? Math.ceil(dModel / 16)
    : f.size('time_step_rank', Math.ceil(dModel / 16));
  const mixer: Mamba1Config = {
    kind: 'mamba1',
    dState: f.size('state_size', 16),
    dConv: f.size('conv_kernel', 4),
    expand,
    dInner,
    dtRank,
    convBias: f.bool('use_conv_bias', true),
    bias: f.bool('use_bias', false),
    dtMin: f.positive('time_step_min', 0.001),
    dtMax: f.positive('time_step_max', 0.1),
    dtInitFloor: f.positive('time_step_floor', 1e-4),
  };
  const nLayers = f.size('num_hidden_layers', 32, MAX_LAYERS);
  return {
    dModel,
    ...vocabFields(f, 50280, true),
    layers: Array.from({ length: nLayers }, () => ({ mixer: { ...mixer } })),
  };
}

function fromMamba2(f: Fields): ModelConfig {
  const dModel = f.size('hidden_size', 4096);
  const expand = f.positive('expand', 2);
  const nHeads = f.size('num_heads', 128);
  const headDim = f.size('head_dim', 64);
  const nGroups = f.size('n_groups', 8);
  const dSsm = nHeads * headDim;
  if (expand * dModel !== dSsm) {
    f.fail('num_heads', `times head_dim ${headDim} must equal expand * hidden_size = ${expand * dModel}`);
  }
  if (nHeads % nGroups !== 0) f.fail('n_groups', `must divide num_heads = ${nHeads}`);
  const mixer: Mamba2Config = {
    kind: 'mamba2',
    dState: f.size('state_size', 128),
    dConv: f.size('conv_kernel', 4),
    expand,
    headDim,
    dSsm,
    nHeads,
    nGroups,
    chunkSize: f.size('chunk_size', 256),
    convBias: f.bool('use_conv_bias', true),
    bias: f.bool('use_bias', false),
    rmsNorm: true,
    normBeforeGate: false,
    dHasHdim: false,
    dtLimit: f.clamp('time_step_limit', [0, Infinity], MAX_DT_FLOOR),
    dtMin: f.positive('time_step_min', 0.001),
    dtMax: f.positive('time_step_max', 0.1),
    dtInitFloor: f.positive('time_step_floor', 1e-4),
    dMlp: 0,
  };
  const nLayers = f.size('num_hidden_layers', 64, MAX_LAYERS);
  return {
    dModel,
    ...vocabFields(f, 32768, false),
    layers: Array.from({ length: nLayers }, () => ({ mixer: { ...mixer, dtLimit: [...mixer.dtLimit] } })),
  };
}

/** Why `config` has no faithful transformers config, or undefined when it has one. */
export function hfUnsupportedReason(config: ModelConfig): string | undefined {
  const first = config.layers[0]?.mixer;
  if (!first) return 'the model has no layers';
  for (const [i, layer] of config.layers.entries()) {
    if (layer.mlp) return `layer ${i} has an MLP`;
    if (layer.mixer.kind === 'attention' || layer.mixer.kind === 'mlp') return `layer ${i} is ${layer.mixer.kind === 'mlp' ? 'an MLP' : 'attention'}`;
    if (!sameShallow(layer.mixer, first)) return `layer ${i}'s mixer differs from layer 0's`;
  }
  if (first.kind === 'mamba1') {
    if (first.dInner % config.dModel !== 0) return 'Mamba-1 d_inner is not an integer multiple of d_model';
  } else if (first.kind === 'mamba2') {
    if (!Number.isInteger(first.expand)) return 'Mamba-2 expand is not an integer';
    if (first.dMlp !== 0 || first.dSsm !== first.expand * config.dModel) return 'Mamba-2 has d_ssm < expand * d_model';
    if (first.dHasHdim) return 'Mamba-2 D has a head dimension (D_has_hdim)';
    if (!first.rmsNorm) return 'Mamba-2 has no gated RMSNorm';
    if (first.normBeforeGate) return 'Mamba-2 normalizes before the gate';
  }
  return undefined;
}

/** Layer configs are flat records (plus dtLimit); compares them field by field. */
function sameShallow(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => JSON.stringify((a as Json)[k]) === JSON.stringify((b as Json)[k]));
}

/** transformers config.json for a pure Mamba-1 or Mamba-2 stack (see hfUnsupportedReason). */
export function toHfConfig(config: ModelConfig): Json {
  const reason = hfUnsupportedReason(config);
  if (reason) throw new UserError(`cannot write a Hugging Face config: ${reason}`);
  // hfUnsupportedReason admits only Mamba-1 or Mamba-2 stacks.
  const m = config.layers[0].mixer as Mamba1Config | Mamba2Config;
  const common = {
    vocab_size: paddedVocab(config),
    ...(config.padVocabSizeMultiple > 1 ? { pad_vocab_size_multiple: config.padVocabSizeMultiple } : {}),
    hidden_size: config.dModel,
    num_hidden_layers: config.layers.length,
    layer_norm_epsilon: config.normEpsilon,
    residual_in_fp32: config.residualInFp32,
    tie_word_embeddings: config.tieEmbeddings,
    hidden_act: 'silu',
    dtype: 'float32',
  };
  if (m.kind === 'mamba1') {
    return {
      architectures: ['MambaForCausalLM'],
      model_type: 'mamba',
      ...common,
      state_size: m.dState,
      expand: m.dInner / config.dModel,
      intermediate_size: m.dInner,
      conv_kernel: m.dConv,
      use_bias: m.bias,
      use_conv_bias: m.convBias,
      time_step_rank: m.dtRank,
      time_step_min: m.dtMin,
      time_step_max: m.dtMax,
      time_step_floor: m.dtInitFloor,
    };
  }
  return {
    architectures: ['Mamba2ForCausalLM'],
    model_type: 'mamba2',
    ...common,
    state_size: m.dState,
    expand: m.expand,
    num_heads: m.nHeads,
    head_dim: m.headDim,
    n_groups: m.nGroups,
    chunk_size: m.chunkSize,
    conv_kernel: m.dConv,
    use_bias: m.bias,
    use_conv_bias: m.convBias,
    rms_norm: true,
    time_step_limit: m.dtLimit,
    time_step_min: m.dtMin,
    time_step_max: m.dtMax,
    time_step_floor: m.dtInitFloor,
  };
}

/** The fields transformers 5.x validates as floats: an integral value there must be written `0.0`. */
const FLOAT_FIELDS: ReadonlySet<string> = new Set([
  'layer_norm_epsilon', 'time_step_min', 'time_step_max', 'time_step_floor', 'time_step_limit',
]);

/** config.json text of an HF config (toHfConfig's, or a source's), in a form that transformers 5.x loads. */
export function hfConfigText(json: Json): string {
  return stringifyJson(json, FLOAT_FIELDS);
}

/**
 * The note that loading an HF mamba2 checkpoint with n_groups > 1 deserves, or undefined: the
 * numbers it gives here are not those transformers gives for the same folder.
 */
export function groupedNormNote(config: ModelConfig, source: string): string | undefined {
  const m = config.layers[0]?.mixer;
  if (m?.kind !== 'mamba2' || m.nGroups === 1) return undefined;
  return `${source}: n_groups = ${m.nGroups}: transformers normalizes the gated RMSNorm over the full width ` +
    `(${m.dSsm}); mamba-ts, like mamba_ssm and llama.cpp, normalizes each group of ${m.dSsm / m.nGroups}, so its outputs differ from transformers'`;
}
