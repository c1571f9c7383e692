/**
 * Upper bounds on what a config file may describe, checked before a model is built from it: a
 * few bytes of JSON (`num_hidden_layers: 1e9`, `hidden_size: 2^40`) must not turn into minutes
 * of work or gigabytes of allocation. The bounds sit far above every published Mamba model
 * (Mamba-2 2.7B: 64 layers, width 2560, vocab 50288; Codestral Mamba 7B) and far below where
 * index arithmetic stops being exact.
 */
import { UserError } from '../errors.js';
import type { LayerConfig, MlpConfig, ModelConfig } from '../config.js';
import { paddedVocab } from '../config.js';

/** any one width, vocabulary, head count, state or kernel size */
export const MAX_DIM = 2 ** 24;
export const MAX_LAYERS = 4096;
/** parameters of the whole model (64 GiB of f32) */
export const MAX_PARAMS = 2 ** 34;
/** recurrent state of one sequence, all layers (conv windows + SSM states; 16 GiB of f32) */
export const MAX_STATE = 2 ** 32;

/**
 * The lower clamp of Mamba-2's time step (time_step_limit / dt_limit). Published models use 0; a
 * floor above this makes dt × x overflow f32 and every logit NaN.
 */
export const MAX_DT_FLOOR = 1e3;

/** Throws a UserError naming `file` when a derived width, the parameter count or the state is beyond the limits. */
export function checkModelSize(config: ModelConfig, file: string): void {
  const d = config.dModel;
  const V = paddedVocab(config);
  const dim = (what: string, v: number, min = 1): void => {
    if (!(Number.isSafeInteger(v) && v >= min && v <= MAX_DIM)) throw new UserError(`${file}: ${what} is ${v}, outside ${min}..${MAX_DIM}`);
  };
  dim('the padded vocabulary', V);
  let params = V * d * (config.tieEmbeddings ? 1 : 2);
  let state = 0;
  for (const layer of config.layers) {
    const [p, s] = layerSize(layer, d, dim);
    params += p;
    state += s;
  }
  if (params > MAX_PARAMS) throw new UserError(`${file}: the model would have about ${params.toExponential(2)} parameters, beyond the limit of 2^34`);
  if (state > MAX_STATE) throw new UserError(`${file}: the recurrent state of one sequence would have about ${state.toExponential(2)} elements, beyond the limit of 2^32`);
}

/** [parameters, state elements per sequence] of one layer: the leading terms of model/params.ts's shapes. */
function layerSize(layer: LayerConfig, d: number, dim: (what: string, v: number, min?: number) => void): [number, number] {
  const m = layer.mixer;
  let params = d;
  let state = 0;
  if (m.kind === 'mamba1') {
    dim('d_inner (expand × width)', m.dInner);
    const D = m.dInner;
    params += D * (3 * d + m.dConv + 3 * m.dtRank + 3 * m.dState + 2);
    state += D * (m.dConv + m.dState);
  } else if (m.kind === 'mamba2') {
    dim('d_ssm (heads × head_dim)', m.dSsm);
    dim('the Mamba-2 MLP width', m.dMlp, 0);
    const convDim = m.dSsm + 2 * m.nGroups * m.dState;
    dim('the Mamba-2 conv width (d_ssm + 2 × groups × state)', convDim);
    params += d * (2 * m.dMlp + m.dSsm + convDim + m.nHeads) + convDim * m.dConv + d * (m.dMlp + m.dSsm) + 2 * m.dSsm + 3 * m.nHeads;
    state += convDim * m.dConv + m.dSsm * m.dState;
  } else if (m.kind === 'mlp') {
    params += mlpParams(m, d);
  } else {
    const qkv = m.headDim * (m.nHeads + 2 * m.nKvHeads);
    dim('the attention q/k/v width (head_dim × heads)', qkv);
    params += d * (qkv + 2 * m.mlpDim) + qkv * m.dConv + d * (m.nHeads * m.headDim + m.mlpDim);
    state += qkv * m.dConv;
  }
  if (layer.mlp) params += mlpParams(layer.mlp, d);
  return [params, state];
}

/** up (and gate) d -> dIntermediate, down back; biases are lower order */
function mlpParams(m: MlpConfig, d: number): number {
  return (m.gated ? 3 : 2) * m.dIntermediate * d;
}
