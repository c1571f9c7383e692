/**
 * A model architecture from a short layer list, e.g. "mamba2*4,attention,mamba2": the layer
 * kinds in order (`*n` repeats), one width for all. It is written as a mamba_ssm config and read
 * back through io/, so it takes mamba_ssm's defaults and is exactly what the checkpoint will say.
 * (mamba_ssm has one ssm_cfg, so Mamba-1 and Mamba-2 layers do not mix.)
 * Or a Megatron-LM hybrid pattern, e.g. "M-M*-M-" (model/pattern.ts): one layer per symbol, built
 * as NemotronH builds them (model/hybrid.ts) and saved as a NemotronH checkpoint.
 */
import { UserError } from '../errors.js';
import { fromMambaSsmConfig } from '../io/mamba-ssm-config.js';
import type { ModelConfig } from '../config.js';
import { hybridConfig, type HybridShape } from '../model/hybrid.js';
import { isPattern, parsePattern } from '../model/pattern.js';

/**
 * The flags' architecture: the widths of a hybrid (HybridShape) and a layer spec. `dIntermediate`
 * of a list is the gated MLP after every mixer (0: none), rounded by mamba_ssm to a multiple of
 * 128; of a pattern, the width of the `-` layers (0: 4 dModel).
 */
export interface LayerStack extends HybridShape {
  /** "kind[*n],..." with kinds mamba1 (or mamba), mamba2, attention (or attn); or a pattern "M*-..." */
  layers: string;
}

const KINDS: Record<string, 'mamba1' | 'mamba2' | 'attention'> = {
  mamba: 'mamba1', mamba1: 'mamba1', mamba2: 'mamba2', attention: 'attention', attn: 'attention',
};

export function parseLayers(spec: string): ('mamba1' | 'mamba2' | 'attention')[] {
  const out: ('mamba1' | 'mamba2' | 'attention')[] = [];
  for (const item of spec.split(',').map((s) => s.trim())) {
    const m = /^([a-z0-9]+)(?:\*(\d+))?$/.exec(item);
    const kind = m ? KINDS[m[1]] : undefined;
    if (!m || !kind) {
      throw new UserError(`--layers: unknown layer type "${item}" (known: mamba1, mamba2, attention; repeat with *n, e.g. mamba2*4,attention; or a Megatron pattern such as M-M*-M-)`);
    }
    const n = m[2] === undefined ? 1 : Number(m[2]);
    if (n < 1 || n > 1024) throw new UserError(`--layers: "${item}" repeats ${n} times (1 to 1024)`);
    for (let i = 0; i < n; i++) out.push(kind);
  }
  return out;
}

export function layerStackConfig(s: LayerStack): ModelConfig {
  if (isPattern(s.layers)) return hybridConfig(parsePattern(s.layers, '--layers'), s, '--layers');
  const kinds = parseLayers(s.layers);
  const ssm = [...new Set(kinds.filter((k) => k !== 'attention'))];
  if (ssm.length > 1) throw new UserError('--layers: Mamba-1 and Mamba-2 layers cannot be mixed (a mamba_ssm config has one ssm_cfg)');
  if (ssm[0] === 'mamba2' && (s.expand * s.dModel) % s.headDim !== 0) {
    throw new UserError(`--head-dim ${s.headDim} must divide expand * d-model = ${s.expand * s.dModel}`);
  }
  if (kinds.includes('attention') && s.dModel % s.heads !== 0) throw new UserError(`--heads ${s.heads} must divide --d-model ${s.dModel}`);
  const headDim = s.dModel / s.heads;
  return fromMambaSsmConfig({
    d_model: s.dModel,
    n_layer: kinds.length,
    vocab_size: s.vocabSize,
    d_intermediate: s.dIntermediate,
    ssm_cfg: ssm[0] === 'mamba2'
      ? { layer: 'Mamba2', d_state: s.dState, expand: s.expand, headdim: s.headDim }
      : { layer: 'Mamba1', d_state: s.dState, expand: s.expand },
    attn_layer_idx: kinds.flatMap((k, i) => (k === 'attention' ? [i] : [])),
    // causal with rotary positions on the whole head, as mamba_ssm's hybrid configs set it
    attn_cfg: { num_heads: s.heads, head_dim: headDim, causal: true, rotary_emb_dim: headDim },
    pad_vocab_size_multiple: 8,
    tie_embeddings: true,
  }, 'the architecture flags (--layers, --d-model, --d-state, --expand, --head-dim, --heads, --d-intermediate)');
}
