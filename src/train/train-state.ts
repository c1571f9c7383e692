/**
 * A resumable training checkpoint: one safetensors file holding the parameters, both AdamW
 * moments and, in its metadata, the step, the RNG state and everything needed to rebuild the
 * run (checked field by field on reading, state-meta.ts). One file written by temp + rename, so
 * a crash or a full disk while writing leaves the previous checkpoint as it was. It is the commit
 * point of a checkpoint: model.safetensors is written after it and carries the step it belongs
 * to, so a run killed in between is repaired from this file on resume (trainer.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { asObject } from '../io/fields.js';
import type { HostTensor } from '../io/host-tensor.js';
import { parseJson, stringifyJson } from '../io/json.js';
import { readSafetensorsWithMetadata, writeSafetensors } from '../io/safetensors.js';
import type { AdamWState } from './adamw.js';
import { checkTrainMeta, type TrainMeta } from './state-meta.js';

export type { TrainMeta } from './state-meta.js';

export const STATE_FILE = 'train-state.safetensors';
const META_KEY = 'mamba_ts.train_state';
/** 2: checkpointEvery as steps or seconds, logEvery, seconds, saveAs */
const VERSION = 2;

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
  const where = `${file} metadata`;
  const json = asObject(parseJson(text, where), where);
  if (json.version !== VERSION) throw new UserError(`${file}: training state version ${JSON.stringify(json.version)}, this mamba-ts reads ${VERSION}`);
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
  const { optimizerStep, ...meta } = checkTrainMeta(json, where, params);
  for (const [name, t] of params) {
    for (const [what, moments] of [['adam_m', m], ['adam_v', v]] as const) {
      const mt = moments.get(name);
      if (!mt || mt.data.length !== t.data.length) throw new UserError(`${file}: tensor "${what}/${name}" is missing or mis-shaped`);
    }
  }
  return { meta, params, optimizer: { step: optimizerStep, m, v } };
}
