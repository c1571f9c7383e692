/**
 * mamba-ts's one canonical model description. `io/` translates Hugging Face (`mamba`, `mamba2`)
 * and original mamba_ssm configs to and from it; nothing else knows an outside field name.
 *
 * A model is: embedding [vocabPadded, dModel] -> layers -> norm_f (RMSNorm) -> lm_head.
 * Each layer is a pre-norm residual block: h = h + mixer(norm(h)), then, when `mlp` is present,
 * h = h + mlp(norm2(h)) (mamba_ssm's Block with d_intermediate > 0, a Llama decoder layer).
 * The mixer slot may hold an MLP too: a layer of its own, as NemotronH's and Megatron's `-`.
 */
export interface ModelConfig {
  dModel: number;
  /** The tokenizer's vocabulary; the embedding has `vocabPadded` rows (see `paddedVocab`). */
  vocabSize: number;
  padVocabSizeMultiple: number;
  tieEmbeddings: boolean;
  normEpsilon: number;
  /** mamba_ssm's residual_in_fp32; all math here is f32, so it is kept for round-tripping. */
  residualInFp32: boolean;
  layers: LayerConfig[];
}

export interface LayerConfig {
  mixer: MixerConfig;
  mlp?: MlpConfig;
}

export type MixerConfig = Mamba1Config | Mamba2Config | AttentionConfig | MlpConfig;

/** Mamba-1 (S6) mixer, mamba_ssm `Mamba`. */
export interface Mamba1Config {
  kind: 'mamba1';
  dState: number;      // N
  dConv: number;       // K
  expand: number;
  dInner: number;      // D = expand * dModel
  dtRank: number;      // R = ceil(dModel / 16) by default
  convBias: boolean;
  bias: boolean;       // in_proj / out_proj bias
  // initialization of dt (used by training)
  dtMin: number;
  dtMax: number;
  dtInitFloor: number;
}

/** Mamba-2 (SSD) mixer, mamba_ssm `Mamba2`. */
export interface Mamba2Config {
  kind: 'mamba2';
  dState: number;      // N
  dConv: number;       // K
  expand: number;
  headDim: number;     // P
  dSsm: number;        // H * P (= expand * dModel unless set)
  nHeads: number;      // H
  nGroups: number;     // G
  chunkSize: number;
  convBias: boolean;
  bias: boolean;
  rmsNorm: boolean;        // gated RMSNorm before out_proj
  normBeforeGate: boolean;
  dHasHdim: boolean;       // D is [H, P] instead of [H]
  dtLimit: [number, number];
  dtMin: number;
  dtMax: number;
  dtInitFloor: number;
  /** width of the parallel gated MLP folded into in_proj: expand*dModel - dSsm, halves (0 usually) */
  dMlp: number;
  /** the gated RMSNorm's epsilon; absent: mamba_ssm's fixed 1e-5 (NemotronH uses the model's) */
  normEps?: number;
}

/** Multi-head attention mixer, mamba_ssm `MHA` or the q/k/v/o projections of HF Llama and NemotronH. */
export interface AttentionConfig {
  kind: 'attention';
  /** 'fused': mamba_ssm's in_proj [q; k; v] + out_proj; 'split': q_proj, k_proj, v_proj, o_proj */
  projections: 'fused' | 'split';
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  rotaryEmbDim: number;    // 0 = no rotary
  rotaryBase: number;
  rotaryInterleaved: boolean;
  causal: boolean;
  qkvProjBias: boolean;
  outProjBias: boolean;
  /** depthwise causal conv over q,k,v before attention (0 = none) */
  dConv: number;
  /** width of the parallel gated MLP folded into in_proj (mamba_ssm's mlp_dim, 0 usually) */
  mlpDim: number;
  softmaxScale?: number;
}

/**
 * Feed-forward layer. Gated (GLU, Shazeer 2020): down(act(gate) * up), SwiGLU with silu, as
 * mamba_ssm `GatedMLP` and Llama. Not gated: down(act(up)), relu² in NemotronH (So et al. 2021),
 * GELU in Megatron-LM's default (`F.gelu`, the erf form; transformers' "gelu" is the same).
 */
export interface MlpConfig {
  kind: 'mlp';
  dIntermediate: number;
  activation: 'silu' | 'relu2' | 'gelu';
  gated: boolean;
  bias: boolean;
  /** 'fc': mamba_ssm's fc1 ([up; gate] when gated) + fc2; 'proj': up_proj (+ gate_proj) + down_proj */
  names: 'fc' | 'proj';
}

/** mamba_ssm's GatedMLP of width `dIntermediate`. */
export function mambaSsmMlp(dIntermediate: number): MlpConfig {
  return { kind: 'mlp', dIntermediate, activation: 'silu', gated: true, bias: false, names: 'fc' };
}

export function paddedVocab(c: ModelConfig): number {
  const m = c.padVocabSizeMultiple;
  return m > 1 ? Math.ceil(c.vocabSize / m) * m : c.vocabSize;
}
