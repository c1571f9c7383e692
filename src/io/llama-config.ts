/**
 * transformers' Llama config (`model_type` "llama", LlamaConfig of transformers 4.x and 5.x) to
 * ModelConfig: the Transformer baseline of the Mamba papers, as people load it.
 *
 * A Llama decoder layer is the pre-norm block mamba-ts already has: attention (q/k/v/o
 * projections, GQA, rotary on the whole head in the GPT-NeoX / rotate_half layout, which is
 * mamba_ssm's non-interleaved one) then a SwiGLU MLP (gate_proj, up_proj, down_proj), each after
 * its own RMSNorm. Positions: rope_theta from `rope_parameters` (5.x) or the top level (4.x);
 * only the plain ("default") RoPE is supported, not its scaled variants.
 */
import type { AttentionConfig, MlpConfig, ModelConfig } from '../model/config.js';
import { Fields, type Json } from './fields.js';

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
