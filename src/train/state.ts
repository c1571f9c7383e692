/**
 * A resumable training checkpoint: one safetensors file holding the parameters, both AdamW
 * moments and, in its metadata, the step, the RNG state and everything needed to rebuild the
 * run. One file written by temp + rename, so a crash or a full disk while writing leaves the
 * previous checkpoint as it was.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import type { HostTensor } from '../io/host-tensor.js';
import { parseJson, stringifyJson } from '../io/json.js';
import { readSafetensorsWithMetadata, writeSafetensors } from '../io/safetensors.js';
import type { ModelConfig } from '../model/config.js';
import type { AdamWState } from './adamw.js';
import type { DataSpec } from './data/spec.js';
import type { TrainOptions } from './options.js';

export const STATE_FILE = 'train-state.safetensors';
const META_KEY = 'mamba_ts.train_state';
const VERSION = 1;

export interface TrainMeta {
  step: number;
  /** training tokens seen so far */
  tokens: number;
  /** Rng state of the training batches */
  rng: number;
  /** training losses since the last evaluation (their mean is the next record's trainLoss) */
  pendingLoss: { sum: number; count: number };
  model: ModelConfig;
  data: DataSpec;
  options: TrainOptions;
}

export interface TrainState {
  meta: TrainMeta;
  params: Map<string, HostTensor>;
  optimizer: AdamWState;
}

export function writeTrainState(dir: string, s: TrainState): void {
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of s.params) tensors.set(`param/${name}`, t);
  for (const [name, t] of s.optimizer.m) tensors.set(`adam_m/${name}`, t);
  for (const [name, t] of s.optimizer.v) tensors.set(`adam_v/${name}`, t);
  const meta = { version: VERSION, optimizerStep: s.optimizer.step, ...s.meta };
  writeSafetensors(path.join(dir, STATE_FILE), tensors, { [META_KEY]: stringifyJson(meta) });
}

export function readTrainState(dir: string): TrainState {
  const file = path.join(dir, STATE_FILE);
  if (!fs.existsSync(file)) throw new UserError(`--resume ${dir}: no ${STATE_FILE} (not a training output folder, or no checkpoint was written yet)`);
  const { tensors, metadata } = readSafetensorsWithMetadata(file);
  const text = metadata[META_KEY];
  if (text === undefined) throw new UserError(`${file}: no training metadata (${META_KEY})`);
  const meta = parseJson(text, `${file} metadata`) as TrainMeta & { version?: unknown; optimizerStep?: unknown };
  if (meta.version !== VERSION) throw new UserError(`${file}: training state version ${String(meta.version)}, this mamba-ts reads ${VERSION}`);
  if (typeof meta.step !== 'number' || typeof meta.optimizerStep !== 'number') throw new UserError(`${file}: training metadata lacks the step`);
  const params = new Map<string, HostTensor>();
  const m = new Map<string, HostTensor>();
  const v = new Map<string, HostTensor>();
  for (const [key, t] of tensors) {
    const slash = key.indexOf('/');
    const [kind, name] = [key.slice(0, slash), key.slice(slash + 1)];
    const into = kind === 'param' ? params : kind === 'adam_m' ? m : kind === 'adam_v' ? v : undefined;
    if (!into) throw new UserError(`${file}: unexpected tensor "${key}"`);
    into.set(name, t);
  }
  const { version: _v, optimizerStep, ...rest } = meta;
  return { meta: rest, params, optimizer: { step: optimizerStep, m, v } };
}
