/**
 * Checkpoint tensor names <-> mamba-ts's canonical parameter names.
 *
 * canonical                      Hugging Face                         mamba_ssm
 * embedding.weight               backbone.embeddings.weight           backbone.embedding.weight
 * layers.{i}.<rest>              backbone.layers.{i}.<rest>           backbone.layers.{i}.<rest>
 * norm_f.weight                  backbone.norm_f.weight               backbone.norm_f.weight
 * lm_head.weight                 lm_head.weight                       lm_head.weight
 *
 * <rest> is mamba_ssm's module path (norm.weight, mixer.in_proj.weight, mlp.fc1.weight, ...),
 * which transformers keeps (NemotronH too: its MLP and attention layers are `mixer.up_proj`,
 * `mixer.q_proj`, ...). Depthwise conv weights are [C, 1, K] in checkpoints, [C, K] here.
 *
 * HF Llama's decoder layer is the same pre-norm block under other names:
 * embedding.weight               model.embed_tokens.weight
 * layers.{i}.norm.weight         model.layers.{i}.input_layernorm.weight
 * layers.{i}.mixer.<p>           model.layers.{i}.self_attn.<p>       (q_proj, k_proj, v_proj, o_proj)
 * layers.{i}.norm2.weight        model.layers.{i}.post_attention_layernorm.weight
 * layers.{i}.mlp.<p>             model.layers.{i}.mlp.<p>             (gate_proj, up_proj, down_proj)
 * norm_f.weight                  model.norm.weight
 */
import type { MixerConfig, ModelConfig } from '../config.js';

/** 'hf': transformers' mamba and mamba2; 'nemotron_h' has their names, 'llama' its own. */
export type CheckpointFormat = 'hf' | 'nemotron_h' | 'llama' | 'mamba_ssm';

const EMBEDDING: Record<Exclude<CheckpointFormat, 'llama'>, string> = {
  hf: 'backbone.embeddings.weight',
  nemotron_h: 'backbone.embeddings.weight',
  mamba_ssm: 'backbone.embedding.weight',
};

/** Llama's layer module names -> canonical ones, and back. */
const LLAMA_LAYER: [string, string][] = [
  ['input_layernorm.', 'norm.'], ['self_attn.', 'mixer.'], ['post_attention_layernorm.', 'norm2.'], ['mlp.', 'mlp.'],
];

/**
 * The canonical name of a checkpoint key, or undefined when the key has no canonical form.
 * transformers also loads mamba_ssm's `backbone.embedding.weight` (a load hook renames it), so
 * HF checkpoints may use either spelling.
 */
export function canonicalName(key: string, format: CheckpointFormat): string | undefined {
  if (format === 'llama') return llamaCanonical(key);
  if (key === EMBEDDING[format] || (format === 'hf' && key === EMBEDDING.mamba_ssm)) return 'embedding.weight';
  if (key === 'lm_head.weight') return key;
  if (key.startsWith('backbone.layers.') || key === 'backbone.norm_f.weight') return key.slice('backbone.'.length);
  return undefined;
}

export function checkpointName(name: string, format: CheckpointFormat): string {
  if (format === 'llama') return llamaName(name);
  if (name === 'embedding.weight') return EMBEDDING[format];
  if (name === 'lm_head.weight') return name;
  return `backbone.${name}`;
}

function llamaCanonical(key: string): string | undefined {
  if (key === 'model.embed_tokens.weight') return 'embedding.weight';
  if (key === 'model.norm.weight') return 'norm_f.weight';
  if (key === 'lm_head.weight') return key;
  const m = /^model\.layers\.(\d+)\.(.*)$/.exec(key);
  const sub = m && LLAMA_LAYER.find(([llama]) => m[2].startsWith(llama));
  return m && sub ? `layers.${m[1]}.${sub[1]}${m[2].slice(sub[0].length)}` : undefined;
}

function llamaName(name: string): string {
  if (name === 'embedding.weight') return 'model.embed_tokens.weight';
  if (name === 'norm_f.weight') return 'model.norm.weight';
  if (name === 'lm_head.weight') return name;
  const m = /^layers\.(\d+)\.(.*)$/.exec(name)!;
  const [llama, canonical] = LLAMA_LAYER.find(([, c]) => m[2].startsWith(c))!;
  return `model.layers.${m[1]}.${llama}${m[2].slice(canonical.length)}`;
}

/** Depthwise conv weights: [C, 1, K] in checkpoints, [C, K] canonically. */
export function isConvWeight(name: string): boolean {
  return name.endsWith('.mixer.conv1d.weight');
}

/** Every parameter a model of `config` has, canonical names, in the order mamba_ssm lists them. */
export function parameterNames(config: ModelConfig): string[] {
  const names = ['embedding.weight'];
  config.layers.forEach((layer, i) => {
    names.push(`layers.${i}.norm.weight`);
    for (const p of mixerParameters(layer.mixer)) names.push(`layers.${i}.mixer.${p}`);
    if (layer.mlp) {
      names.push(`layers.${i}.norm2.weight`);
      for (const p of mixerParameters(layer.mlp)) names.push(`layers.${i}.mlp.${p}`);
    }
  });
  names.push('norm_f.weight');
  if (!config.tieEmbeddings) names.push('lm_head.weight');
  return names;
}

function mixerParameters(m: MixerConfig): string[] {
  const p: string[] = [];
  const linear = (name: string, bias: boolean) => p.push(`${name}.weight`, ...(bias ? [`${name}.bias`] : []));
  switch (m.kind) {
    case 'mamba1':
      linear('in_proj', m.bias);
      linear('conv1d', m.convBias);
      linear('x_proj', false);
      linear('dt_proj', true);
      p.push('A_log', 'D');
      linear('out_proj', m.bias);
      break;
    case 'mamba2':
      linear('in_proj', m.bias);
      linear('conv1d', m.convBias);
      p.push('dt_bias', 'A_log', 'D');
      if (m.rmsNorm) p.push('norm.weight');
      linear('out_proj', m.bias);
      break;
    case 'attention':
      if (m.projections === 'split') {
        for (const name of ['q_proj', 'k_proj', 'v_proj']) linear(name, m.qkvProjBias);
        linear('o_proj', m.outProjBias);
        break;
      }
      linear('in_proj', m.qkvProjBias);
      // MHA's nn.Conv1d keeps torch's default bias=True.
      if (m.dConv > 0) linear('conv1d', true);
      linear('out_proj', m.outProjBias);
      break;
    case 'mlp':
      linear(m.names === 'fc' ? 'fc1' : 'up_proj', m.bias);
      if (m.gated && m.names === 'proj') linear('gate_proj', m.bias);
      linear(m.names === 'fc' ? 'fc2' : 'down_proj', m.bias);
      break;
  }
  return p;
}
