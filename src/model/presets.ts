import { UserError } from '../errors.js';
import type { HostTensor } from '../io/host-tensor.js';
import { Mulberry32 } from '../rng.js';
import type { LayerConfig, Mamba1Config, Mamba2Config, ModelConfig } from '../config.js';
import { hybridConfig } from './hybrid.js';
import { expectedShapes } from './params.js';
import { parsePattern, patternFromRatios } from './pattern.js';

/**
 * The published state-spaces checkpoints' architectures (their mamba_ssm config.json), and the
 * 8B Mamba-2-Hybrid of Waleffe et al. 2024 scaled down: Megatron-LM's allocation with 8% attention
 * and 50% MLP layers, N 128 (64 in the tiny one), attention heads of 128, MLP width 4 d_model.
 */
export const PRESET_NAMES = ['mamba-130m', 'mamba2-130m', 'hybrid-tiny', 'hybrid-small'] as const;

/** name -> layers, d_model, N, Mamba-2 head dim P, attention heads */
const HYBRIDS: Record<string, [number, number, number, number, number]> = {
  'hybrid-tiny': [14, 256, 64, 32, 2],
  'hybrid-small': [28, 512, 128, 64, 4],
};
export type PresetName = (typeof PRESET_NAMES)[number];

export function preset(name: string): ModelConfig {
  const d = 768;
  const base = { dModel: d, vocabSize: 50277, tieEmbeddings: true, normEpsilon: 1e-5, residualInFp32: true };
  const dt = { dtMin: 0.001, dtMax: 0.1, dtInitFloor: 1e-4 };
  if (name === 'mamba-130m') {
    const mixer: Mamba1Config = {
      kind: 'mamba1', dState: 16, dConv: 4, expand: 2, dInner: 2 * d, dtRank: Math.ceil(d / 16), convBias: true, bias: false, ...dt,
    };
    return { ...base, padVocabSizeMultiple: 8, layers: repeat(24, () => ({ mixer: { ...mixer } })) };
  }
  if (name === 'mamba2-130m') {
    const mixer: Mamba2Config = {
      kind: 'mamba2', dState: 128, dConv: 4, expand: 2, headDim: 64, dSsm: 2 * d, nHeads: (2 * d) / 64, nGroups: 1,
      chunkSize: 256, convBias: true, bias: false, rmsNorm: true, normBeforeGate: false, dHasHdim: false,
      dtLimit: [0, Infinity], ...dt, dMlp: 0,
    };
    return { ...base, padVocabSizeMultiple: 16, layers: repeat(24, () => ({ mixer: { ...mixer, dtLimit: [0, Infinity] } })) };
  }
  if (Object.hasOwn(HYBRIDS, name)) {
    const [L, dModel, dState, headDim, heads] = HYBRIDS[name];
    const shape = { dModel, dState, expand: 2, headDim, heads, dIntermediate: 4 * dModel, vocabSize: base.vocabSize };
    return hybridConfig(parsePattern(patternFromRatios(L, 0.08, 0.5), name), shape, name);
  }
  throw new UserError(`unknown preset "${name}" (known: ${PRESET_NAMES.join(', ')})`);
}

/** The projections that write into the residual stream, in mamba_ssm's names and HF's. */
const RESIDUAL_OUTPUTS: ReadonlySet<string> = new Set([
  'mixer.out_proj.weight', 'mlp.fc2.weight', 'mixer.o_proj.weight', 'mixer.down_proj.weight', 'mlp.down_proj.weight',
]);

function repeat(n: number, f: () => LayerConfig): LayerConfig[] {
  return Array.from({ length: n }, f);
}

/**
 * Seeded random weights initialized the way mamba_ssm initializes a fresh model, so a random
 * model's activations and state decays have realistic scales: linear weights and conv kernels
 * U(±1/sqrt(fan_in)) (PyTorch's default; an untied lm_head too), out_proj / fc2 further scaled
 * by 1/sqrt(n_layer), embeddings N(0, 0.02), biases 0, norms 1, D 1,
 * Mamba-1 A_log = log(1..N), Mamba-2 A_log = log U(1, 16), and dt biases the inverse softplus
 * of a log-uniform dt in [dtMin, dtMax] (floored at dtInitFloor).
 */
export function randomWeights(config: ModelConfig, seed: number): Map<string, HostTensor> {
  const rng = new Mulberry32(seed);
  const rand = () => rng.next();
  const fill = (n: number, f: (i: number) => number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = f(i);
    return a;
  };
  const uniform = (n: number, bound: number): Float32Array => fill(n, () => (2 * rand() - 1) * bound);
  const out = new Map<string, HostTensor>();
  for (const [name, shape] of expectedShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const layerIdx = /^layers\.(\d+)\./.exec(name);
    const layer = layerIdx ? config.layers[Number(layerIdx[1])] : undefined;
    const leaf = name.replace(/^layers\.\d+\./, '');
    const fanIn = shape[shape.length - 1];
    let data: Float32Array;
    if (name === 'embedding.weight') {
      data = fill(n, () => 0.02 * rng.normal());
    } else if (leaf.endsWith('norm.weight') || leaf === 'norm2.weight' || name === 'norm_f.weight' || leaf === 'mixer.D') {
      data = new Float32Array(n).fill(1);
    } else if (leaf === 'mixer.A_log') {
      data = layer?.mixer.kind === 'mamba1'
        ? fill(n, (i) => Math.log(1 + (i % shape[1])))
        : fill(n, () => Math.log(1 + 15 * rand()));
    } else if (leaf === 'mixer.dt_proj.bias' || leaf === 'mixer.dt_bias') {
      const m = layer!.mixer as Mamba1Config | Mamba2Config;
      data = fill(n, () => {
        const dt = Math.max(Math.exp(rand() * (Math.log(m.dtMax) - Math.log(m.dtMin)) + Math.log(m.dtMin)), m.dtInitFloor);
        return dt + Math.log(-Math.expm1(-dt));
      });
    } else if (leaf === 'mixer.dt_proj.weight') {
      data = uniform(n, 1 / Math.sqrt(fanIn));
    } else if (leaf.startsWith('mixer.conv1d.')) {
      // weight [C, K] and bias [C] both take the bound of fan_in = K (depthwise)
      const K = (layer!.mixer as { dConv: number }).dConv;
      data = uniform(n, 1 / Math.sqrt(K));
    } else if (leaf.endsWith('.bias')) {
      data = new Float32Array(n);
    } else if (RESIDUAL_OUTPUTS.has(leaf)) {
      // MambaLMHeadModel re-runs _init_weights with its default n_residuals_per_layer = 1 after
      // MixerModel's (2 with an MLP), so the scale that survives is 1/sqrt(n_layer)
      data = uniform(n, 1 / Math.sqrt(fanIn) / Math.sqrt(config.layers.length));
    } else {
      data = uniform(n, 1 / Math.sqrt(fanIn));
    }
    out.set(name, { shape, dtype: 'f32', data });
  }
  return out;
}


/** Box–Muller; 1 - u keeps the log away from 0. */
