/**
 * Typed reading of a checkpoint's training metadata (train-state.safetensors): every field is
 * checked for type and range before the run is rebuilt from it, so that a hand-edited or damaged
 * file fails with one line naming the field instead of training on NaN or hanging on a huge loop.
 */
import { UserError } from '../errors.js';
import { Fields, type Json } from '../io/fields.js';
import type { CheckpointFormat } from '../io/names.js';
import type { ModelConfig } from '../config.js';
import { checkWeights } from '../model/params.js';
import { TASK_NAMES } from '../tasks/index.js';
import type { DataSpec } from './data/spec.js';
import type { Interval } from './duration.js';
import type { TrainOptions } from './options.js';

/** How the model is saved: the format of the checkpoint a fine-tune started from, and its config.json. */
export interface SaveAs {
  format: CheckpointFormat;
  /** the source's config.json; its fields that mamba-ts does not model are written back unchanged */
  sourceConfig: Json;
}

export interface TrainMeta {
  step: number;
  /** training tokens seen so far */
  tokens: number;
  /** Rng state of the training batches */
  rng: number;
  /** training losses since the last record (their mean is the next record's trainLoss) */
  pendingLoss: { sum: number; count: number };
  /** wall time of the run so far, over all the processes that ran it */
  seconds: number;
  model: ModelConfig;
  data: DataSpec;
  options: TrainOptions;
  saveAs?: SaveAs;
}

const U32 = 0xffffffff;

/** `json` is the parsed metadata; `where` names it; `params` are the stored parameters the model config must match. */
export function checkTrainMeta(json: Json, where: string, params: ReadonlyMap<string, { readonly shape: readonly number[] }>): TrainMeta & { optimizerStep: number } {
  const f = new Fields(json, where);
  f.onlyKnown(['version', 'optimizerStep', 'step', 'tokens', 'rng', 'pendingLoss', 'seconds', 'model', 'data', 'options', 'saveAs']);
  const step = f.int('step');
  const optimizerStep = f.int('optimizerStep');
  if (optimizerStep !== step) f.fail('optimizerStep', `must equal the step (${step})`);
  const rng = f.int('rng');
  if (rng > U32) f.fail('rng', 'must be a 32-bit unsigned integer');
  const p = f.object('pendingLoss');
  p.onlyKnown(['sum', 'count']);
  const pendingLoss = { sum: finite(p, 'sum'), count: p.int('count') };
  const seconds = finite(f, 'seconds');
  if (seconds < 0) f.fail('seconds', 'must not be negative');
  const options = checkOptions(f.object('options'));
  if (step > options.steps) f.fail('step', `is past options.steps (${options.steps})`);
  return {
    step, optimizerStep, tokens: f.int('tokens'), rng, pendingLoss, seconds,
    model: checkModel(f, params), data: checkData(f.object('data')), options,
    ...(f.has('saveAs') && { saveAs: checkSaveAs(f.object('saveAs')) }),
  };
}

function finite(f: Fields, key: string): number {
  const v = f.number(key);
  if (!Number.isFinite(v)) f.fail(key, 'must be a finite number');
  return v;
}

function inRange(f: Fields, key: string, lo: number, hi: number, hiOpen: boolean): number {
  const v = finite(f, key);
  if (v < lo || v > hi || (hiOpen && v === hi)) f.fail(key, `must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}`);
  return v;
}

const OPTION_KEYS = ['steps', 'batchSize', 'accumulate', 'lr', 'minLr', 'warmupSteps', 'weightDecay', 'beta1', 'beta2', 'eps',
  'clip', 'evalEvery', 'evalBatches', 'logEvery', 'checkpointEvery', 'seed'] as const;

function checkOptions(f: Fields): TrainOptions {
  f.onlyKnown(OPTION_KEYS);
  const c = f.object('checkpointEvery');
  c.onlyKnown(['steps', 'seconds']);
  if (c.has('steps') === c.has('seconds')) f.fail('checkpointEvery', 'must be {"steps": N} or {"seconds": S}');
  const checkpointEvery: Interval = c.has('steps') ? { steps: c.positiveInt('steps') } : { seconds: c.positive('seconds') };
  const seed = f.int('seed');
  if (seed > U32) f.fail('seed', 'must be a 32-bit unsigned integer');
  return {
    steps: f.positiveInt('steps'), batchSize: f.positiveInt('batchSize'), accumulate: f.positiveInt('accumulate'),
    lr: f.positive('lr'), minLr: inRange(f, 'minLr', 0, Infinity, true), warmupSteps: f.int('warmupSteps'),
    weightDecay: inRange(f, 'weightDecay', 0, Infinity, true), beta1: inRange(f, 'beta1', 0, 1, true), beta2: inRange(f, 'beta2', 0, 1, true),
    eps: f.positive('eps'), clip: inRange(f, 'clip', 0, Infinity, true), evalEvery: f.positiveInt('evalEvery'),
    evalBatches: f.positiveInt('evalBatches'), logEvery: f.positiveInt('logEvery'), checkpointEvery, seed,
  };
}

function checkData(f: Fields): DataSpec {
  const kind = f.string('kind');
  if (kind === 'text') {
    f.onlyKnown(['kind', 'path', 'tokenizer', 'validation', 'seqLen']);
    const p = f.string('path');
    if (p === '') f.fail('path', 'must not be empty');
    return {
      kind, path: p, ...(f.has('tokenizer') && { tokenizer: f.string('tokenizer') }),
      validation: inRange(f, 'validation', 0, 0.5, false), seqLen: f.positiveInt('seqLen'),
    };
  }
  if (kind !== 'task') f.fail('kind', 'must be "text" or "task"');
  f.onlyKnown(['kind', 'task', 'options', 'evalSeed']);
  const task = f.string('task');
  if (!TASK_NAMES.includes(task)) f.fail('task', `must be one of ${TASK_NAMES.join(', ')}`);
  const o = f.object('options');
  const options: Record<string, number> = {};
  for (const k of Object.keys(o.obj)) options[k] = o.int(k);
  const evalSeed = f.int('evalSeed');
  if (evalSeed > U32) f.fail('evalSeed', 'must be a 32-bit unsigned integer');
  return { kind, task, options, evalSeed };
}

/** The model config must describe exactly the stored parameters (a config that does not is damaged). */
function checkModel(f: Fields, params: ReadonlyMap<string, { readonly shape: readonly number[] }>): ModelConfig {
  const m = f.object('model');
  m.positiveInt('dModel');
  m.positiveInt('vocabSize');
  const layers = m.obj.layers;
  if (!Array.isArray(layers) || layers.length === 0) m.fail('layers', 'must be a non-empty list');
  const config = m.obj as unknown as ModelConfig;
  try {
    checkWeights(config, params);
  } catch (e) {
    const why = e instanceof UserError ? e.message : 'not a model configuration';
    throw new UserError(`${f.file}: field "model" does not describe the stored parameters (${why})`);
  }
  return config;
}

function checkSaveAs(f: Fields): SaveAs {
  f.onlyKnown(['format', 'sourceConfig']);
  const format = f.string('format');
  if (format !== 'hf' && format !== 'mamba_ssm') f.fail('format', 'must be "hf" or "mamba_ssm"');
  return { format, sourceConfig: f.object('sourceConfig').obj };
}
