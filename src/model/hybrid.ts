import { UserError } from '../errors.js';
import type { AttentionConfig, LayerConfig, Mamba2Config, MlpConfig, ModelConfig } from '../config.js';
import type { PatternLayer } from './pattern.js';

/** The widths of a Megatron-style hybrid; every layer of a kind is alike. */
export interface HybridShape {
  dModel: number;
  /** N of the Mamba-2 layers */
  dState: number;
  /** Mamba-2 d_ssm / d_model */
  expand: number;
  /** P of the Mamba-2 layers */
  headDim: number;
  /** attention heads (no GQA), of width dModel / heads */
  heads: number;
  /** MLP width; 0: Megatron's default ffn_hidden_size, 4 dModel */
  dIntermediate: number;
  vocabSize: number;
}

const NORM_EPS = 1e-5;

/**
 * A model of one layer per pattern symbol, each a pre-norm residual block around one mixer, as
 * in Megatron-LM's hybrid stack and NemotronH (Waleffe et al. 2024): Mamba-2 with the grouped
 * gated RMSNorm, causal attention without positional encoding (the Mamba-2 layers supply the
 * order), relu² MLPs. Exactly what a NemotronH config.json says, so such a model saves as one.
 */
export function hybridConfig(kinds: readonly PatternLayer[], s: HybridShape, what: string): ModelConfig {
  const dSsm = s.expand * s.dModel;
  if (kinds.includes('mamba2') && dSsm % s.headDim !== 0) throw new UserError(`${what}: --head-dim ${s.headDim} must divide expand * d-model = ${dSsm}`);
  if (kinds.includes('attention') && s.dModel % s.heads !== 0) throw new UserError(`${what}: --heads ${s.heads} must divide --d-model ${s.dModel}`);
  const mamba: Mamba2Config = {
    kind: 'mamba2', dState: s.dState, dConv: 4, expand: s.expand, headDim: s.headDim, dSsm, nHeads: dSsm / s.headDim, nGroups: 1,
    chunkSize: 256, convBias: true, bias: false, rmsNorm: true, normBeforeGate: false, dHasHdim: false,
    dtLimit: [0.001, Infinity], dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4, dMlp: 0, normEps: NORM_EPS,
  };
  const attention: AttentionConfig = {
    kind: 'attention', projections: 'split', nHeads: s.heads, nKvHeads: s.heads, headDim: s.dModel / s.heads,
    rotaryEmbDim: 0, rotaryBase: 10000, rotaryInterleaved: false, causal: true, qkvProjBias: false, outProjBias: false, dConv: 0, mlpDim: 0,
  };
  const mlp: MlpConfig = { kind: 'mlp', dIntermediate: s.dIntermediate || 4 * s.dModel, activation: 'relu2', gated: false, bias: false, names: 'proj' };
  const byKind = { mamba2: mamba, attention, mlp };
  return {
    dModel: s.dModel, vocabSize: s.vocabSize, padVocabSizeMultiple: 1, tieEmbeddings: true, normEpsilon: NORM_EPS, residualInFp32: false,
    layers: kinds.map((k): LayerConfig => ({ mixer: structuredClone(byKind[k]) })),
  };
}
