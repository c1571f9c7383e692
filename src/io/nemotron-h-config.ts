/**
 * transformers' NemotronH config (`model_type` "nemotron_h", NemotronHConfig of transformers 5.x)
 * to and from ModelConfig. Defaults are transformers 5.x's.
 *
 * NemotronH is the Mamba-2-Hybrid lineage (Waleffe et al. 2024; NVIDIA 2025): each layer is one
 * pre-norm residual block whose mixer is Mamba-2, attention or an MLP, in the order
 * `layers_block_type` lists (or the legacy Megatron pattern `hybrid_override_pattern`, M * -).
 * - Mamba-2: d_ssm = mamba_num_heads * mamba_head_dim (not expand * hidden_size); the gated
 *   RMSNorm multiplies by silu(z) first and normalizes groups of d_ssm / n_groups, with the
 *   model's layer_norm_epsilon (mamba_ssm's grouping; only its epsilon differs).
 * - Attention: q/k/v/o projections, no positional encoding, scale 1/sqrt(head_dim).
 * - MLP: down_proj(act(up_proj(x))), not gated; relu² by default.
 * MoE layers (`moe`, `E`) are refused.
 */
import { UserError } from '../errors.js';
import type { AttentionConfig, LayerConfig, Mamba2Config, MixerConfig, MlpConfig, ModelConfig } from '../config.js';
import { paddedVocab } from '../config.js';
import { Fields, type Json } from './fields.js';
import { stringifyJson } from './json.js';

/** transformers' layer names, legacy ones included, and the pattern characters. */
const BLOCK_KINDS: Record<string, 'mamba2' | 'attention' | 'mlp' | 'moe'> = {
  linear_attention: 'mamba2', mamba: 'mamba2', M: 'mamba2',
  full_attention: 'attention', attention: 'attention', '*': 'attention',
  mlp: 'mlp', '-': 'mlp',
  moe: 'moe', E: 'moe',
};

/** Fields NemotronHConfig.__post_init__ still accepts under their older mamba_* names. */
const LEGACY: [string, string][] = [
  ['mamba_n_groups', 'n_groups'], ['mamba_d_conv', 'conv_kernel'], ['mamba_expand', 'expand'],
  ['mamba_dt_min', 'time_step_min'], ['mamba_dt_max', 'time_step_max'], ['mamba_dt_limit', 'time_step_limit'],
  ['mamba_dt_init_floor', 'time_step_floor'], ['mamba_conv_bias', 'use_conv_bias'], ['mamba_chunk_size', 'chunk_size'],
];

/** transformers' ACT2FN names; "gelu" is the erf GELU (the tanh forms are other names, refused). */
const MLP_ACTIVATIONS: Record<string, MlpConfig['activation']> = { relu2: 'relu2', silu: 'silu', gelu: 'gelu' };

export function fromNemotronHConfig(json: Json, file: string): ModelConfig {
  const obj = { ...json };
  for (const [old, name] of LEGACY) if (Object.hasOwn(obj, old)) obj[name] = obj[old];
  const f: Fields = new Fields(obj, file);
  const kinds = blockKinds(f);
  const dModel = f.positiveInt('hidden_size', 4096);
  const normEpsilon = f.positive('layer_norm_epsilon', 1e-5);
  if (f.string('mamba_hidden_act', 'silu') !== 'silu') f.fail('mamba_hidden_act', 'must be "silu"');
  if (f.has('sliding_window')) f.fail('sliding_window', 'must be null: sliding-window attention is not supported');

  const dtMin = f.positive('time_step_min', 0.001);
  const nHeads = f.positiveInt('mamba_num_heads', 128);
  const headDim = f.positiveInt('mamba_head_dim', 64);
  const nGroups = f.positiveInt('n_groups', 8);
  if (nHeads % nGroups !== 0) f.fail('n_groups', `must divide mamba_num_heads = ${nHeads}`);
  const mamba: Mamba2Config = {
    kind: 'mamba2',
    dState: f.positiveInt('ssm_state_size', 128),
    dConv: f.positiveInt('conv_kernel', 4),
    expand: f.positive('expand', 2),
    headDim,
    dSsm: nHeads * headDim,
    nHeads,
    nGroups,
    chunkSize: f.positiveInt('chunk_size', 128),
    convBias: f.bool('use_conv_bias', true),
    bias: f.bool('use_bias', false),
    rmsNorm: true,
    normBeforeGate: false,
    dHasHdim: false,
    // transformers' NemotronH clamps Δ from below at time_step_min and ignores time_step_limit
    dtLimit: [dtMin, Infinity],
    dtMin,
    dtMax: f.positive('time_step_max', 0.1),
    dtInitFloor: f.positive('time_step_floor', 1e-4),
    dMlp: 0,
    normEps: normEpsilon,
  };
  const nQ = f.positiveInt('num_attention_heads', 32);
  const nKv = f.positiveInt('num_key_value_heads', 8);
  if (nQ % nKv !== 0) f.fail('num_key_value_heads', `must divide num_attention_heads = ${nQ}`);
  const attnBias = f.bool('attention_bias', false);
  const attention: AttentionConfig = {
    kind: 'attention', projections: 'split', nHeads: nQ, nKvHeads: nKv, headDim: f.positiveInt('head_dim', 128),
    rotaryEmbDim: 0, rotaryBase: 10000, rotaryInterleaved: false, causal: true,
    qkvProjBias: attnBias, outProjBias: attnBias, dConv: 0, mlpDim: 0,
  };
  const actName = f.string('mlp_hidden_act', 'relu2');
  const act = Object.hasOwn(MLP_ACTIVATIONS, actName) ? MLP_ACTIVATIONS[actName] : undefined;
  if (!act) f.fail('mlp_hidden_act', 'must be "relu2", "gelu" or "silu"');
  const mlp: MlpConfig = {
    kind: 'mlp', dIntermediate: f.positiveInt('intermediate_size', 21504), activation: act, gated: false,
    bias: f.bool('mlp_bias', false), names: 'proj',
  };
  const layers = kinds.map((k): LayerConfig => ({ mixer: structuredClone((k === 'mamba2' ? mamba : k === 'attention' ? attention : mlp) as MixerConfig) }));
  return {
    dModel,
    vocabSize: f.positiveInt('vocab_size', 131072),
    padVocabSizeMultiple: 1,
    tieEmbeddings: f.bool('tie_word_embeddings', false),
    normEpsilon,
    residualInFp32: f.bool('residual_in_fp32', false),
    layers,
  };
}

function blockKinds(f: Fields): ('mamba2' | 'attention' | 'mlp')[] {
  let key = 'layers_block_type';
  let names: unknown[];
  if (f.has(key)) {
    const v = f.obj[key];
    if (!Array.isArray(v)) f.fail(key, 'must be a list of layer types');
    names = v;
  } else if (f.has('hybrid_override_pattern')) {
    key = 'hybrid_override_pattern';
    names = [...f.string(key)];
  } else {
    // transformers' default, which has an MoE layer
    names = ['linear_attention', 'moe', 'full_attention', 'mlp'];
  }
  if (names.length === 0) f.fail(key, 'has no layers');
  return names.map((n, i) => {
    const kind = typeof n === 'string' && Object.hasOwn(BLOCK_KINDS, n) ? BLOCK_KINDS[n] : undefined;
    if (!kind) f.fail(key, `has an unknown layer type at ${i} (known: linear_attention/M, full_attention/*, mlp/-, moe/E)`);
    if (kind === 'moe') f.fail(key, `has an MoE layer at ${i}: NemotronH mixture-of-experts layers are not supported yet`);
    return kind;
  });
}

/** Why `config` has no faithful NemotronH config, or undefined when it has one. */
export function nemotronHUnsupportedReason(config: ModelConfig): string | undefined {
  if (config.layers.length === 0) return 'the model has no layers';
  const first: Partial<Record<MixerConfig['kind'], string>> = {};
  for (const [i, { mixer: m, mlp }] of config.layers.entries()) {
    if (mlp) return `layer ${i} has an MLP after its mixer (NemotronH layers have one mixer each)`;
    const same = first[m.kind];
    if (same !== undefined && same !== JSON.stringify(m)) return `layer ${i}'s ${m.kind} differs from the first one (NemotronH has one of each)`;
    first[m.kind] = JSON.stringify(m);
    const why = mixerReason(m, config);
    if (why) return `layer ${i}: ${why}`;
  }
  return undefined;
}

function mixerReason(m: MixerConfig, config: ModelConfig): string | undefined {
  switch (m.kind) {
    case 'mamba1': return 'Mamba-1 is not a NemotronH layer';
    case 'mamba2':
      if (m.dMlp !== 0 || m.dHasHdim || !m.rmsNorm || m.normBeforeGate) return 'Mamba-2 is not NemotronH\'s (parallel MLP, D per channel, or no/other gated norm)';
      if ((m.normEps ?? 1e-5) !== config.normEpsilon) return 'the Mamba-2 gated norm epsilon differs from the model\'s';
      if (m.dtLimit[0] !== m.dtMin || m.dtLimit[1] !== Infinity) {
        return `Mamba-2 clamps Δ to [${m.dtLimit}]; NemotronH clamps it to [time_step_min, inf] = [${m.dtMin}, inf]`;
      }
      return undefined;
    case 'attention':
      if (m.projections !== 'split' || m.rotaryEmbDim !== 0 || !m.causal || m.dConv !== 0 || m.mlpDim !== 0) {
        return 'attention is not NemotronH\'s (causal, q/k/v/o projections, no rotary, conv or MLP)';
      }
      if (m.qkvProjBias !== m.outProjBias) return 'attention has a bias on q/k/v but not on o or the reverse';
      if (m.softmaxScale !== undefined && m.softmaxScale !== 1 / Math.sqrt(m.headDim)) return 'attention has a softmax scale other than 1/sqrt(head_dim)';
      return undefined;
    case 'mlp':
      return m.gated || m.names !== 'proj' ? 'the MLP is not NemotronH\'s (up_proj, down_proj, not gated)' : undefined;
  }
}

const BLOCK_NAMES: Record<'mamba2' | 'attention' | 'mlp', string> = { mamba2: 'linear_attention', attention: 'full_attention', mlp: 'mlp' };

/**
 * transformers config.json fields for `config` (see nemotronHUnsupportedReason), every field that
 * NemotronHConfig saves; those mamba-ts has no use for (token ids, MoE, MTP) at its defaults.
 * A kind of layer the model lacks keeps transformers' default for its fields.
 */
export function toNemotronHConfig(config: ModelConfig): Json {
  const reason = nemotronHUnsupportedReason(config);
  if (reason) throw new UserError(`cannot write a NemotronH config: ${reason}`);
  const find = <K extends MixerConfig['kind']>(kind: K) =>
    config.layers.find((l) => l.mixer.kind === kind)?.mixer as Extract<MixerConfig, { kind: K }> | undefined;
  const m = find('mamba2'), a = find('attention'), p = find('mlp');
  const json: Json = {
    architectures: ['NemotronHForCausalLM'],
    attention_bias: a?.qkvProjBias ?? false,
    attention_dropout: 0.0,
    bos_token_id: 1,
    chunk_size: m?.chunkSize ?? 128,
    conv_kernel: m?.dConv ?? 4,
    dtype: 'float32',
    eos_token_id: 2,
    expand: m?.expand ?? 2,
    head_dim: a?.headDim ?? 128,
    hidden_dropout: 0.0,
    hidden_size: config.dModel,
    initializer_range: 0.02,
    intermediate_size: p?.dIntermediate ?? 21504,
    layer_norm_epsilon: config.normEpsilon,
    // nemotronHUnsupportedReason admits only these three kinds
    layers_block_type: config.layers.map((l) => BLOCK_NAMES[l.mixer.kind as 'mamba2' | 'attention' | 'mlp']),
    mamba_head_dim: m?.headDim ?? 64,
    mamba_hidden_act: 'silu',
    mamba_num_heads: m?.nHeads ?? 128,
    mamba_proj_bias: false,
    mamba_ssm_cache_dtype: 'float32',
    max_position_embeddings: 4096,
    mlp_bias: p?.bias ?? false,
    mlp_hidden_act: p?.activation ?? 'relu2',
    model_type: 'nemotron_h',
    moe_intermediate_size: 7688,
    moe_latent_size: null,
    moe_shared_expert_intermediate_size: 7688,
    moe_shared_expert_overlap: true,
    mtp_layers_block_type: ['full_attention', 'moe'],
    n_group: 1,
    n_groups: m?.nGroups ?? 8,
    n_routed_experts: 8,
    n_shared_experts: 1,
    norm_topk_prob: true,
    num_attention_heads: a?.nHeads ?? 32,
    num_experts_per_tok: 2,
    num_key_value_heads: a?.nKvHeads ?? 8,
    num_logits_to_keep: 1,
    num_nextn_predict_layers: 0,
    pad_token_id: 0,
    rescale_prenorm_residual: true,
    residual_in_fp32: config.residualInFp32,
    routed_scaling_factor: 1.0,
    sliding_window: null,
    ssm_state_size: m?.dState ?? 128,
    tie_word_embeddings: config.tieEmbeddings,
    time_step_floor: m?.dtInitFloor ?? 1e-4,
    time_step_limit: [0, Infinity],
    time_step_max: m?.dtMax ?? 0.1,
    time_step_min: m?.dtMin ?? 0.001,
    topk_group: 1,
    transformers_version: '5.17.0',
    use_bias: m?.bias ?? false,
    use_cache: true,
    use_conv_bias: m?.convBias ?? true,
    use_mamba_kernels: false,
    vocab_size: paddedVocab(config),
  };
  return json;
}

/** The fields NemotronHConfig validates as floats. */
const FLOAT_FIELDS: ReadonlySet<string> = new Set([
  'layer_norm_epsilon', 'time_step_min', 'time_step_max', 'time_step_floor', 'time_step_limit',
  'initializer_range', 'attention_dropout', 'hidden_dropout', 'routed_scaling_factor',
]);

/** config.json text for toNemotronHConfig(config), in a form that transformers 5.x loads. */
export function nemotronHConfigText(config: ModelConfig): string {
  return stringifyJson(toNemotronHConfig(config), FLOAT_FIELDS);
}
