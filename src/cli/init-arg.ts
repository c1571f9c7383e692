/**
 * `train --init DIR`: the checkpoint a fine-tune starts from. The argument is resolved to a local
 * folder in one place, `resolveCheckpointArg`, the same step `--model` needs: when Hub names
 * (`org/name`) resolve for --model (io/hub.ts, cli/model-arg.ts), that resolver slots in here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { asObject, type Json } from '../io/fields.js';
import type { HostTensor } from '../io/host-tensor.js';
import { readJsonFile } from '../io/json.js';
import type { ModelConfig } from '../model/config.js';
import type { SaveAs } from '../train/state-meta.js';

/** A local checkpoint folder for `arg`; `flag` names the flag in errors. */
export async function resolveCheckpointArg(arg: string, flag: string): Promise<string> {
  if (arg === '') throw new UserError(`${flag}: empty path`);
  if (!fs.existsSync(arg)) throw new UserError(`${flag} ${arg}: folder not found`);
  if (!fs.statSync(arg).isDirectory()) throw new UserError(`${flag} ${arg}: not a folder (a checkpoint is a folder with config.json)`);
  return arg;
}

export interface InitCheckpoint {
  config: ModelConfig;
  weights: Map<string, HostTensor>;
  saveAs: SaveAs;
  /** the source's tokenizer.json, when it has one */
  tokenizer?: string;
}

export async function readInitCheckpoint(arg: string): Promise<InitCheckpoint> {
  const dir = await resolveCheckpointArg(arg, '--init');
  const { config, weights, format } = readCheckpoint(dir);
  const configFile = path.join(dir, 'config.json');
  const sourceConfig: Json = asObject(readJsonFile(configFile), configFile);
  const tokenizer = path.join(dir, 'tokenizer.json');
  return { config, weights, saveAs: { format, sourceConfig }, ...(fs.existsSync(tokenizer) && { tokenizer: path.resolve(tokenizer) }) };
}
