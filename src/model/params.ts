import { UserError } from '../errors.js';
import { attentionMlpWidth } from '../layers/attention.js';
import { paddedVocab, type MixerConfig, type MlpConfig, type ModelConfig } from '../config.js';

/**
 * The canonical parameter names and shapes a config implies: mamba_ssm's names without the
 * `backbone.` prefix, conv weights squeezed to [C, K], no lm_head when tied.
 */
export function expectedShapes(config: ModelConfig): Map<string, number[]> {
  const d = config.dModel;
  const V = paddedVocab(config);
  const out = new Map<string, number[]>();
  out.set('embedding.weight', [V, d]);
  config.layers.forEach((layer, i) => {
    const p = `layers.${i}.`;
    out.set(`${p}norm.weight`, [d]);
    for (const [name, shape] of mixerShapes(layer.mixer, d)) out.set(`${p}mixer.${name}`, shape);
    if (layer.mlp) {
      out.set(`${p}norm2.weight`, [d]);
      for (const [name, shape] of mixerShapes(layer.mlp, d)) out.set(`${p}mlp.${name}`, shape);
    }
  });
  out.set('norm_f.weight', [d]);
  if (!config.tieEmbeddings) out.set('lm_head.weight', [V, d]);
  return out;
}

function mixerShapes(m: MixerConfig, d: number): [string, number[]][] {
  const s: [string, number[]][] = [];
  const lin = (name: string, outF: number, inF: number, bias: boolean): void => {
    s.push([`${name}.weight`, [outF, inF]]);
    if (bias) s.push([`${name}.bias`, [outF]]);
  };
  if (m.kind === 'mamba1') {
    const { dInner: D, dState: N, dtRank: R, dConv: K } = m;
    lin('in_proj', 2 * D, d, m.bias);
    lin('conv1d', D, K, m.convBias);
    lin('x_proj', R + 2 * N, D, false);
    lin('dt_proj', D, R, true);
    s.push(['A_log', [D, N]], ['D', [D]]);
    lin('out_proj', d, D, m.bias);
  } else if (m.kind === 'mamba2') {
    const { dSsm, dMlp, nGroups: G, dState: N, nHeads: H, dConv: K } = m;
    const convDim = dSsm + 2 * G * N;
    lin('in_proj', 2 * dMlp + dSsm + convDim + H, d, m.bias);
    lin('conv1d', convDim, K, m.convBias);
    s.push(['dt_bias', [H]], ['A_log', [H]], ['D', [m.dHasHdim ? dSsm : H]]);
    if (m.rmsNorm) s.push(['norm.weight', [dSsm]]);
    lin('out_proj', d, dMlp + dSsm, m.bias);
  } else if (m.kind === 'mlp') {
    return mlpShapes(m, d);
  } else if (m.projections === 'split') {
    lin('q_proj', m.nHeads * m.headDim, d, m.qkvProjBias);
    lin('k_proj', m.nKvHeads * m.headDim, d, m.qkvProjBias);
    lin('v_proj', m.nKvHeads * m.headDim, d, m.qkvProjBias);
    lin('o_proj', d, m.nHeads * m.headDim, m.outProjBias);
  } else {
    const qkv = m.headDim * (m.nHeads + 2 * m.nKvHeads);
    const mlp = attentionMlpWidth(m);
    lin('in_proj', qkv + mlp, d, m.qkvProjBias);
    // mamba_ssm's MHA builds its nn.Conv1d with the default bias=True
    if (m.dConv > 0) lin('conv1d', qkv, m.dConv, true);
    lin('out_proj', d, m.nHeads * m.headDim + mlp / 2, m.outProjBias);
  }
  return s;
}

function mlpShapes(m: MlpConfig, d: number): [string, number[]][] {
  const f = m.dIntermediate;
  const lin = (name: string, outF: number, inF: number): [string, number[]][] =>
    [[`${name}.weight`, [outF, inF]], ...(m.bias ? [[`${name}.bias`, [outF]] as [string, number[]]] : [])];
  if (m.names === 'fc') return [...lin('fc1', m.gated ? 2 * f : f, d), ...lin('fc2', d, f)];
  return [...lin('up_proj', f, d), ...(m.gated ? lin('gate_proj', f, d) : []), ...lin('down_proj', d, f)];
}

const fmt = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/**
 * Throws a UserError naming the first parameter that is missing, mis-shaped or unexpected
 * (in the order of `expectedShapes`, then the weights' own order for unexpected ones).
 */
export function checkWeights(config: ModelConfig, weights: ReadonlyMap<string, { readonly shape: readonly number[] }>): void {
  const what = 'config.json disagrees with the weights';
  const expected = expectedShapes(config);
  for (const [name, shape] of expected) {
    const w = weights.get(name);
    if (!w) throw new UserError(`${what}: ${name} is missing (config implies ${fmt(shape)})`);
    if (w.shape.length !== shape.length || w.shape.some((v, i) => v !== shape[i])) {
      throw new UserError(`${what}: ${name} is ${fmt(w.shape)}, config implies ${fmt(shape)}`);
    }
  }
  for (const [name, w] of weights) {
    if (!expected.has(name)) throw new UserError(`${what}: unexpected parameter ${name} ${fmt(w.shape)}`);
  }
}
