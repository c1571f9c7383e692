/**
 * `train --init DIR|ORG/NAME`: the checkpoint a fine-tune starts from, resolved to a local folder
 * (a Hub repo id is downloaded) by the same `resolveModelPath` as `--model`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpoint } from '../io/checkpoint.js';
import { asObject, type Json } from '../io/fields.js';
import type { HostTensor } from '../io/host-tensor.js';
import { readJsonFile } from '../io/files.js';
import type { ModelConfig } from '../config.js';
import type { SaveAs } from '../train/state-meta.js';
import { resolveModelPath, type HubFlags } from './model-arg.js';

export interface InitCheckpoint {
  config: ModelConfig;
  weights: Map<string, HostTensor>;
  saveAs: SaveAs;
  /** the source's tokenizer.json, when it has one */
  tokenizer?: string;
}

export async function readInitCheckpoint(arg: string, hub: HubFlags): Promise<InitCheckpoint> {
  const dir = await resolveModelPath(arg, hub, '--init');
  const { config, weights, format } = readCheckpoint(dir);
  const configFile = path.join(dir, 'config.json');
  const sourceConfig: Json = asObject(readJsonFile(configFile), configFile);
  const tokenizer = path.join(dir, 'tokenizer.json');
  return { config, weights, saveAs: { format, sourceConfig }, ...(fs.existsSync(tokenizer) && { tokenizer: path.resolve(tokenizer) }) };
}
