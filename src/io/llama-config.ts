/**
 * transformers' Llama config (`model_type` "llama", LlamaConfig of transformers 4.x and 5.x) to
 * and from ModelConfig: the Transformer baseline of the Mamba papers, as people load it.
 *
 * A Llama decoder layer is the pre-norm block mamba-ts already has: attention (q/k/v/o
 * projections, GQA, rotary on the whole head in the GPT-NeoX / rotate_half layout, which is
 * mamba_ssm's non-interleaved one) then a SwiGLU MLP (gate_proj, up_proj, down_proj), each after
 * its own RMSNorm. Positions: rope_theta from `rope_parameters` (5.x) or the top level (4.x);
 * only the plain ("default") RoPE is supported, not its scaled variants.
 */
import { UserError } from '../errors.js';
import { paddedVocab, type AttentionConfig, type MlpConfig, type ModelConfig } from '../config.js';
import { Fields, type Json } from './fields.js';
import { stringifyJson } from './json.js';

export function fromLlamaConfig(json: Json, file: string): ModelConfig {
  const f = new Fields(json, file);
  const dModel = f.positiveInt('hidden_size', 4096);
  const nHeads = f.positiveInt('num_attention_heads', 32);
  const nKvHeads = f.positiveInt('num_key_value_heads', nHeads);
  if (nHeads % nKvHeads !== 0) f.fail('num_key_value_heads', `must divide num_attention_heads = ${nHeads}`);
  if (!f.has('head_dim') && dModel % nHeads !== 0) f.fail('num_attention_heads', `must divide hidden_size = ${dModel} (or set head_dim)`);
  const headDim = f.positiveInt('head_dim', dModel / nHeads);
  if (headDim % 2 !== 0) f.fail('head_dim', 'must be even (rotary pairs)');
  if (f.string('hidden_act', 'silu') !== 'silu') f.fail('hidden_act', 'must be "silu" (SwiGLU)');
  const attnBias = f.bool('attention_bias', false);
  const attention: AttentionConfig = {
    kind: 'attention', projections: 'split', nHeads, nKvHeads, headDim,
    rotaryEmbDim: headDim, rotaryBase: ropeTheta(f), rotaryInterleaved: false, causal: true,
    qkvProjBias: attnBias, outProjBias: attnBias, dConv: 0, mlpDim: 0,
  };
  const mlp: MlpConfig = {
    kind: 'mlp', dIntermediate: f.positiveInt('intermediate_size', 11008), activation: 'silu', gated: true,
    bias: f.bool('mlp_bias', false), names: 'proj',
  };
  const nLayers = f.positiveInt('num_hidden_layers', 32);
  return {
    dModel,
    vocabSize: f.positiveInt('vocab_size', 32000),
    padVocabSizeMultiple: 1,
    tieEmbeddings: f.bool('tie_word_embeddings', false),
    normEpsilon: f.positive('rms_norm_eps', 1e-6),
    residualInFp32: false,
    layers: Array.from({ length: nLayers }, () => ({ mixer: { ...attention }, mlp: { ...mlp } })),
  };
}

/** rope_theta of the plain RoPE; any scaling (linear, dynamic, yarn, llama3, ...) is refused. */
function ropeTheta(f: Fields): number {
  if (f.has('rope_parameters')) {
    const p = f.object('rope_parameters');
    if (p.string('rope_type', 'default') !== 'default') p.fail('rope_type', 'is not supported (only "default" RoPE, without scaling)');
    return p.positive('rope_theta', 10000);
  }
  if (f.has('rope_scaling')) {
    const s = f.object('rope_scaling');
    const type = s.has('rope_type') ? s.string('rope_type') : s.string('type', 'default');
    if (type !== 'default') f.fail('rope_scaling', `has type "${type}": only unscaled RoPE (null) is supported`);
  }
  return f.positive('rope_theta', 10000);
}

/** Why `config` has no faithful Llama config, or undefined when it has one. */
export function llamaUnsupportedReason(config: ModelConfig): string | undefined {
  const first = config.layers[0];
  if (!first) return 'the model has no layers';
  for (const [i, layer] of config.layers.entries()) {
    if (JSON.stringify(layer) !== JSON.stringify(first)) return `layer ${i} differs from layer 0 (Llama layers are all alike)`;
  }
  const { mixer: a, mlp } = first;
  if (a.kind !== 'attention' || a.projections !== 'split') return 'its layers are not attention with q/k/v/o projections';
  if (a.rotaryEmbDim !== a.headDim || a.rotaryInterleaved) return 'its attention does not rotate the whole head in the rotate_half layout';
  if (!a.causal || a.dConv !== 0 || a.mlpDim !== 0) return 'its attention is not causal, or has a conv or an MLP inside';
  if (a.qkvProjBias !== a.outProjBias) return 'its attention has a bias on q/k/v but not on o or the reverse';
  if (a.softmaxScale !== undefined && a.softmaxScale !== 1 / Math.sqrt(a.headDim)) return 'its attention scale is not 1/sqrt(head_dim)';
  if (!mlp || !mlp.gated || mlp.activation !== 'silu' || mlp.names !== 'proj') return 'its layers have no SwiGLU MLP with gate_proj/up_proj/down_proj';
  return undefined;
}

/**
 * transformers 5.x config.json fields for `config` (see llamaUnsupportedReason): every field
 * LlamaConfig saves, those mamba-ts has no use for (token ids, context length) at their defaults.
 */
export function toLlamaConfig(config: ModelConfig): Json {
  const reason = llamaUnsupportedReason(config);
  if (reason) throw new UserError(`cannot write a Llama config: ${reason}`);
  const { mixer, mlp } = config.layers[0] as { mixer: AttentionConfig; mlp: MlpConfig };
  return {
    architectures: ['LlamaForCausalLM'],
    attention_bias: mixer.qkvProjBias,
    attention_dropout: 0.0,
    bos_token_id: 1,
    dtype: 'float32',
    eos_token_id: 2,
    head_dim: mixer.headDim,
    hidden_act: 'silu',
    hidden_size: config.dModel,
    initializer_range: 0.02,
    intermediate_size: mlp.dIntermediate,
    max_position_embeddings: 2048,
    mlp_bias: mlp.bias,
    model_type: 'llama',
    num_attention_heads: mixer.nHeads,
    num_hidden_layers: config.layers.length,
    num_key_value_heads: mixer.nKvHeads,
    pad_token_id: null,
    pretraining_tp: 1,
    rms_norm_eps: config.normEpsilon,
    rope_parameters: { rope_theta: mixer.rotaryBase, rope_type: 'default' },
    tie_word_embeddings: config.tieEmbeddings,
    transformers_version: '5.17.0',
    use_cache: true,
    vocab_size: paddedVocab(config),
  };
}

/** The fields LlamaConfig validates as floats. */
const FLOAT_FIELDS: ReadonlySet<string> = new Set(['rms_norm_eps', 'rope_theta', 'initializer_range', 'attention_dropout']);

/** config.json text for toLlamaConfig(config), in a form that transformers 5.x loads. */
export function llamaConfigText(config: ModelConfig): string {
  return stringifyJson(toLlamaConfig(config), FLOAT_FIELDS);
}
