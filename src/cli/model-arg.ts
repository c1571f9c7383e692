/**
 * `--model DIR|ORG/NAME|preset`: a checkpoint folder, a repo of the Hugging Face Hub (downloaded
 * into its cache, see io/hub/), or (where a command allows it) one of the preset architectures
 * with seeded random weights, so that info and bench need no download. A folder that exists
 * always wins.
 */
import * as fs from 'node:fs';
import type { Backend } from '../backend/backend.js';
import { UserError } from '../errors.js';
import { downloadModel, isRepoId, RepoNotFound } from '../io/hub/download.js';
import { MambaLM } from '../model/lm.js';
import { loadModel } from '../model/load.js';
import { preset, PRESET_NAMES, randomWeights } from '../model/presets.js';
import { uploadWeights } from '../model/weights.js';
import { downloadProgress } from './download-progress.js';
import type { FlagSpecs } from './flags.js';

/** The seed of preset weights; fixed so that two runs of bench measure the same model. */
const PRESET_SEED = 0;

/** For every command with --model (and train --init): which Hub revision, from which server. */
export const hubFlags = {
  revision: { kind: 'string', value: 'REV', help: 'for a Hub repo id: branch, tag or commit (default main)' },
  endpoint: { kind: 'string', value: 'URL', help: 'for a Hub repo id: the server (default $HF_ENDPOINT, else https://huggingface.co)' },
} as const satisfies FlagSpecs;

export interface HubFlags {
  revision?: string;
  endpoint?: string;
}

export function isPreset(arg: string): boolean {
  return (PRESET_NAMES as readonly string[]).includes(arg) && !fs.existsSync(arg);
}

/**
 * The local folder of `arg`: itself when it exists, else the snapshot of Hub repo `arg`
 * (downloaded unless cached). `flag` names the argument in errors.
 */
export async function resolveModelPath(arg: string, hub: HubFlags = {}, flag = '--model'): Promise<string> {
  if (fs.existsSync(arg)) {
    const hubOnly = (['revision', 'endpoint'] as const).find((f) => hub[f] !== undefined);
    if (hubOnly) throw new UserError(`--${hubOnly} applies to Hub repo ids, but ${flag} ${arg} is a local folder`);
    return arg;
  }
  if (!isRepoId(arg)) throw new UserError(`${flag} ${arg}: folder not found`);
  try {
    return await downloadModel(arg, {
      ...hub,
      progress: downloadProgress,
      note: (message) => process.stderr.write(`mamba-ts: ${message}\n`),
    });
  } catch (e) {
    // `runs/ih` mistyped reads as a repo id: say that it was no folder either
    if (e instanceof RepoNotFound) throw new UserError(`${e.message}; nor is ${flag} ${arg} a local folder`);
    throw e;
  }
}

export async function loadModelArg(arg: string, backend: Backend, allowPresets: boolean, hub: HubFlags = {}): Promise<MambaLM> {
  if (allowPresets && isPreset(arg)) return presetModel(arg, backend);
  if (!fs.existsSync(arg) && !isRepoId(arg)) {
    const hint = allowPresets ? ` and not a preset (${PRESET_NAMES.join(', ')})` : '';
    throw new UserError(`--model ${arg}: folder not found${hint}`);
  }
  return loadModel(await resolveModelPath(arg, hub), backend);
}

export function presetModel(name: string, backend: Backend): MambaLM {
  const config = preset(name);
  return new MambaLM(config, uploadWeights(randomWeights(config, PRESET_SEED), backend), backend);
}
