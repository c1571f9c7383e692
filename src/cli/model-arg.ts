/**
 * `--model DIR|preset`: a checkpoint folder, or (where a command allows it) one of the preset
 * architectures with seeded random weights, so that info and bench need no download.
 */
import * as fs from 'node:fs';
import type { Backend } from '../backend/backend.js';
import { UserError } from '../errors.js';
import { MambaLM } from '../model/lm.js';
import { loadModel } from '../model/load.js';
import { preset, PRESET_NAMES, randomWeights } from '../model/presets.js';
import { uploadWeights } from '../model/weights.js';

/** The seed of preset weights; fixed so that two runs of bench measure the same model. */
const PRESET_SEED = 0;

export function isPreset(arg: string): boolean {
  return (PRESET_NAMES as readonly string[]).includes(arg) && !fs.existsSync(arg);
}

export async function loadModelArg(arg: string, backend: Backend, allowPresets: boolean): Promise<MambaLM> {
  if (allowPresets && isPreset(arg)) return presetModel(arg, backend);
  if (!fs.existsSync(arg)) {
    const hint = allowPresets ? ` and not a preset (${PRESET_NAMES.join(', ')})` : '';
    throw new UserError(`--model ${arg}: folder not found${hint}`);
  }
  return loadModel(arg, backend);
}

export function presetModel(name: string, backend: Backend): MambaLM {
  const config = preset(name);
  return new MambaLM(config, uploadWeights(randomWeights(config, PRESET_SEED), backend), backend);
}
