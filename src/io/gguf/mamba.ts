/**
 * llama.cpp's `mamba` and `mamba2` architectures <-> ModelConfig and canonical weights, following
 * its converter (convert_hf_to_gguf.py's MambaModel / Mamba2Model) and loader (src/models/
 * mamba.cpp, mamba2.cpp, mamba-base.cpp):
 *
 * canonical (row-major)                        GGUF (row-major; ggml ne is the reverse)
 * embedding.weight [V, d]                      token_embd.weight
 * layers.i.norm.weight [d]                     blk.i.attn_norm.weight
 * layers.i.mixer.in_proj.weight [I, d]         blk.i.ssm_in.weight
 * layers.i.mixer.conv1d.weight/bias [C, K]/[C] blk.i.ssm_conv1d.weight/bias (the squeezed conv)
 * layers.i.mixer.x_proj.weight [R+2N, D]       blk.i.ssm_x.weight            (Mamba-1)
 * layers.i.mixer.dt_proj.weight/bias [D, R]    blk.i.ssm_dt.weight/bias      (Mamba-1)
 * layers.i.mixer.dt_bias [H]                   blk.i.ssm_dt.bias             (Mamba-2)
 * layers.i.mixer.A_log [D, N] | [H]            blk.i.ssm_a = −exp(A_log) [D, N] | [H, 1]
 * layers.i.mixer.D [D] | [H]                   blk.i.ssm_d [D] | [H, 1]
 * layers.i.mixer.norm.weight [D]               blk.i.ssm_norm.weight [G, D/G] (Mamba-2, per group)
 * layers.i.mixer.out_proj.weight [d, D]        blk.i.ssm_out.weight
 * norm_f.weight, lm_head.weight                output_norm.weight, output.weight (absent when tied)
 *
 * Hyperparameters are global in GGUF: every layer must have the same mixer. What llama.cpp's
 * graph cannot compute (biases on the projections, MLP or attention layers, Mamba-1 with
 * d_inner ≠ 2·d_model, ...) is refused by name rather than written into a file it would reject or
 * run differently.
 */
import { UserError } from '../../errors.js';
import type { Mamba1Config, Mamba2Config, MixerConfig, ModelConfig } from '../../config.js';
import { paddedVocab } from '../../config.js';
import { MAX_LAYERS } from '../config-limits.js';
import type { GgufValue } from './format.js';

export const ARCHITECTURES = ['mamba', 'mamba2'] as const;
/** mamba_ssm's RMSNormGated always uses this epsilon; llama.cpp uses the layers' one. */
const GATED_NORM_EPS = 1e-5;

/** One tensor of the table: its two names, its GGUF row-major shape, and how values change. */
export interface TensorEntry {
  canonical: string;
  gguf: string;
  /** canonical row-major shape */
  shape: number[];
  /** GGUF row-major shape (a reshape of `shape`) */
  ggufShape: number[];
  /** A is stored as −exp(A_log) */
  negExp: boolean;
}

type SsmMixer = Mamba1Config | Mamba2Config;

/** Why `config` has no GGUF that llama.cpp loads and computes the same way; undefined if it has one. */
export function ggufUnsupportedReason(config: ModelConfig): string | undefined {
  const first = config.layers[0]?.mixer;
  if (!first) return 'the model has no layers';
  for (const [i, layer] of config.layers.entries()) {
    if (layer.mlp) return `layer ${i} has an MLP (llama.cpp's mamba/mamba2 have none)`;
    if (layer.mixer.kind === 'attention' || layer.mixer.kind === 'mlp') return `layer ${i} is ${layer.mixer.kind === 'mlp' ? 'an MLP' : 'attention'} (llama.cpp's mamba/mamba2 have none)`;
    if (JSON.stringify(layer.mixer) !== JSON.stringify(first)) return `layer ${i}'s mixer differs from layer 0's (GGUF hyperparameters are per model)`;
  }
  if (first.kind === 'attention' || first.kind === 'mlp') return `layer 0 is ${first.kind}`;
  if (first.bias) return 'the in/out projections have biases (llama.cpp has none)';
  if (!first.convBias) return 'the conv has no bias (llama.cpp requires one)';
  if (first.kind === 'mamba1') {
    if (first.dInner !== 2 * config.dModel) return `Mamba-1 d_inner ${first.dInner} ≠ 2·d_model (llama.cpp supports only expand 2)`;
  } else {
    if (first.dMlp !== 0) return 'Mamba-2 has a parallel MLP in in_proj (d_ssm < expand·d_model)';
    if (first.dHasHdim) return 'Mamba-2 D has a head dimension (D_has_hdim)';
    if (!first.rmsNorm) return 'Mamba-2 has no gated RMSNorm (llama.cpp requires ssm_norm)';
    if (first.normBeforeGate) return 'Mamba-2 normalizes before the gate (llama.cpp gates first)';
    if (first.dtLimit[0] !== 0 || first.dtLimit[1] !== Infinity) return `Mamba-2 clamps dt to [${first.dtLimit}] (llama.cpp does not)`;
    if (Math.fround(config.normEpsilon) !== Math.fround(GATED_NORM_EPS)) { // GGUF holds it as f32
      return `norm epsilon ${config.normEpsilon} ≠ ${GATED_NORM_EPS}: llama.cpp would use it in the gated RMSNorm too, mamba_ssm uses ${GATED_NORM_EPS} there`;
    }
  }
  return undefined;
}

export function architectureOf(config: ModelConfig): (typeof ARCHITECTURES)[number] {
  return config.layers[0].mixer.kind === 'mamba1' ? 'mamba' : 'mamba2';
}

/** Every tensor of a model of `config`, in llama.cpp's converter order. */
export function tensorTable(config: ModelConfig): TensorEntry[] {
  const d = config.dModel;
  const V = paddedVocab(config);
  const out: TensorEntry[] = [];
  const add = (canonical: string, gguf: string, shape: number[], ggufShape = shape, negExp = false) =>
    out.push({ canonical, gguf, shape, ggufShape, negExp });
  add('embedding.weight', 'token_embd.weight', [V, d]);
  config.layers.forEach((layer, i) => {
    const m = layer.mixer as SsmMixer;
    const c = `layers.${i}.mixer.`;
    const g = `blk.${i}.`;
    add(`layers.${i}.norm.weight`, `${g}attn_norm.weight`, [d]);
    if (m.kind === 'mamba1') {
      const { dInner: D, dState: N, dtRank: R, dConv: K } = m;
      add(`${c}in_proj.weight`, `${g}ssm_in.weight`, [2 * D, d]);
      add(`${c}conv1d.weight`, `${g}ssm_conv1d.weight`, [D, K]);
      add(`${c}conv1d.bias`, `${g}ssm_conv1d.bias`, [D]);
      add(`${c}x_proj.weight`, `${g}ssm_x.weight`, [R + 2 * N, D]);
      add(`${c}dt_proj.weight`, `${g}ssm_dt.weight`, [D, R]);
      add(`${c}dt_proj.bias`, `${g}ssm_dt.bias`, [D]);
      add(`${c}A_log`, `${g}ssm_a`, [D, N], [D, N], true);
      add(`${c}D`, `${g}ssm_d`, [D]);
      add(`${c}out_proj.weight`, `${g}ssm_out.weight`, [d, D]);
    } else {
      const { dSsm: D, dState: N, nHeads: H, nGroups: G, dConv: K } = m;
      const C = D + 2 * G * N;
      add(`${c}in_proj.weight`, `${g}ssm_in.weight`, [D + C + H, d]);
      add(`${c}conv1d.weight`, `${g}ssm_conv1d.weight`, [C, K]);
      add(`${c}conv1d.bias`, `${g}ssm_conv1d.bias`, [C]);
      add(`${c}dt_bias`, `${g}ssm_dt.bias`, [H]);
      add(`${c}A_log`, `${g}ssm_a`, [H], [H, 1], true);
      add(`${c}D`, `${g}ssm_d`, [H], [H, 1]);
      add(`${c}norm.weight`, `${g}ssm_norm.weight`, [D], [G, D / G]);
      add(`${c}out_proj.weight`, `${g}ssm_out.weight`, [d, D]);
    }
  });
  add('norm_f.weight', 'output_norm.weight', [d]);
  if (!config.tieEmbeddings) add('lm_head.weight', 'output.weight', [V, d]);
  return out;
}

/** The `{arch}.*` hyperparameters, as convert_hf_to_gguf.py writes them. */
export function archMetadata(config: ModelConfig): [string, GgufValue][] {
  const arch = architectureOf(config);
  const m = config.layers[0].mixer as SsmMixer;
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const kv: [string, GgufValue][] = [
    ['vocab_size', u32(paddedVocab(config))],
    ['context_length', u32(2 ** 20)], // no limit for an SSM: the converter's placeholder
    ['embedding_length', u32(config.dModel)],
    ['feed_forward_length', u32(0)],
    ['attention.head_count', u32(0)],
    ['block_count', u32(config.layers.length)],
    ['ssm.conv_kernel', u32(m.dConv)],
    ['ssm.inner_size', u32(m.kind === 'mamba1' ? m.dInner : m.dSsm)],
    ['ssm.state_size', u32(m.dState)],
    ['ssm.time_step_rank', u32(m.kind === 'mamba1' ? m.dtRank : m.nHeads)],
  ];
  if (m.kind === 'mamba2') kv.push(['ssm.group_count', u32(m.nGroups)]);
  kv.push(['attention.layer_norm_rms_epsilon', { type: 'f32', value: config.normEpsilon }]);
  if (m.kind === 'mamba1') kv.push(['ssm.dt_b_c_rms', { type: 'bool', value: false }]);
  return kv.map(([k, v]) => [`${arch}.${k}`, v]);
}

/** ModelConfig from a GGUF's metadata; `vocab` and `tied` come from its tensors. */
export function configFromMetadata(
  metadata: ReadonlyMap<string, GgufValue>, vocab: number, tied: boolean, file: string,
): ModelConfig {
  const fail = (message: string): never => {
    throw new UserError(`${file}: ${message}`);
  };
  const archValue = metadata.get('general.architecture');
  if (archValue?.type !== 'string') fail('no "general.architecture" string');
  const arch = (archValue as { value: string }).value;
  if (!(ARCHITECTURES as readonly string[]).includes(arch)) {
    fail(`architecture "${arch}" is not supported (supported: ${ARCHITECTURES.join(', ')})`);
  }
  const num = (key: string, integer: boolean, fallback?: number): number => {
    const v = metadata.get(`${arch}.${key}`);
    if (v === undefined) {
      if (fallback !== undefined) return fallback;
      return fail(`metadata "${arch}.${key}" is missing`);
    }
    const n = v.type === 'array' ? NaN : Number(v.value);
    const isInt = v.type.startsWith('u') || v.type.startsWith('i');
    if (!(n > 0) || (integer ? !isInt || !Number.isSafeInteger(n) : v.type !== 'f32' && v.type !== 'f64')) {
      fail(`metadata "${arch}.${key}" must be a positive ${integer ? 'integer' : 'float'}, got ${v.type} ${v.type === 'array' ? '[...]' : String(v.value)}`);
    }
    return n;
  };
  const dtbc = metadata.get(`${arch}.ssm.dt_b_c_rms`);
  if (dtbc?.type === 'bool' && dtbc.value) fail(`"${arch}.ssm.dt_b_c_rms" is true (FalconMamba's B/C/dt norms are not supported)`);
  const dModel = num('embedding_length', true);
  const nLayers = num('block_count', true);
  if (nLayers > MAX_LAYERS) fail(`"${arch}.block_count" ${nLayers} is beyond the limit of ${MAX_LAYERS} layers`);
  const dConv = num('ssm.conv_kernel', true);
  const inner = num('ssm.inner_size', true);
  const dState = num('ssm.state_size', true);
  const rank = num('ssm.time_step_rank', true);
  const dt = { dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4 };
  let mixer: MixerConfig;
  if (arch === 'mamba') {
    mixer = { kind: 'mamba1', dState, dConv, expand: inner / dModel, dInner: inner, dtRank: rank, convBias: true, bias: false, ...dt };
  } else {
    const nGroups = num('ssm.group_count', true);
    if (inner % rank !== 0) fail(`"${arch}.ssm.inner_size" ${inner} is not a multiple of the head count ("${arch}.ssm.time_step_rank") ${rank}`);
    if (inner % nGroups !== 0) fail(`"${arch}.ssm.inner_size" ${inner} is not a multiple of "${arch}.ssm.group_count" ${nGroups}`);
    mixer = {
      kind: 'mamba2', dState, dConv, expand: inner / dModel, headDim: inner / rank, dSsm: inner, nHeads: rank, nGroups,
      chunkSize: 256, convBias: true, bias: false, rmsNorm: true, normBeforeGate: false, dHasHdim: false,
      dtLimit: [0, Infinity], ...dt, dMlp: 0,
    };
  }
  return {
    dModel,
    vocabSize: vocab,
    padVocabSizeMultiple: 1,
    tieEmbeddings: tied,
    normEpsilon: num('attention.layer_norm_rms_epsilon', false),
    residualInFp32: true,
    layers: Array.from({ length: nLayers }, () => ({ mixer: mixer.kind === 'mamba2' ? { ...mixer, dtLimit: [...mixer.dtLimit] } : { ...mixer } })),
  };
}
