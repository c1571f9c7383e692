/**
 * Model folders: `config.json` (Hugging Face or original mamba_ssm) plus weights in
 * `model.safetensors`, a sharded `model.safetensors.index.json`, `pytorch_model.bin` or a sharded
 * `pytorch_model.bin.index.json`, in that order of preference. Everything comes back in
 * mamba-ts's canonical names and ModelConfig.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import type { ModelConfig } from '../config.js';
import { asObject, type Json } from './fields.js';
import { readGgufModel } from './gguf/model.js';
import { fromHfConfig, groupedNormNote, hfConfigText, hfUnsupportedReason, toHfConfig } from './hf-config.js';
import type { CheckEntry, HostTensor } from './host-tensor.js';
import { describe, stringifyJson } from './json.js';
import { fromMambaSsmConfig, mambaSsmUnsupportedReason, toMambaSsmConfig } from './mamba-ssm-config.js';
import { llamaConfigText, llamaUnsupportedReason } from './llama-config.js';
import { nemotronHConfigText, nemotronHUnsupportedReason } from './nemotron-h-config.js';
import { canonicalName, checkpointName, isConvWeight, parameterNames, type CheckpointFormat } from './names.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { readTorchBin } from './torch-bin.js';
import { readJsonFile, writeTextAtomic } from './files.js';

export interface Checkpoint {
  config: ModelConfig;
  /** canonical name -> tensor; conv weights [C, K]; no lm_head when tied */
  weights: Map<string, HostTensor>;
  format: CheckpointFormat;
  /** canonical name -> the tensor's name in the file (to write gradients under the file's names) */
  checkpointNames: Map<string, string>;
}

/** Reads a config.json of either format; HF configs have `model_type`, mamba_ssm ones `d_model` + `n_layer`. */
export function readConfig(file: string): { config: ModelConfig; format: CheckpointFormat } {
  const json = asObject(readJsonFile(file), file);
  if (Object.hasOwn(json, 'model_type')) return { config: fromHfConfig(json, file), format: hfFormat(json.model_type) };
  if (Object.hasOwn(json, 'd_model') && Object.hasOwn(json, 'n_layer')) {
    return { config: fromMambaSsmConfig(json, file), format: 'mamba_ssm' };
  }
  throw new UserError(`${file}: neither a Hugging Face config (no "model_type") nor a mamba_ssm config (no "d_model" and "n_layer")`);
}

/** transformers' NemotronH keeps the mamba names; Llama has its own. */
function hfFormat(modelType: unknown): CheckpointFormat {
  return modelType === 'nemotron_h' ? 'nemotron_h' : modelType === 'llama' ? 'llama' : 'hf';
}


/** The parameter shapes a config implies, by canonical name (model/params.ts's expectedShapes). */
export type ShapesOf = (config: ModelConfig) => ReadonlyMap<string, readonly number[]>;

/**
 * Reads a model folder. With `shapesOf`, every tensor's name, dtype and shape are compared with
 * config.json before any tensor data is read, so a file that disagrees costs no memory.
 */
export function readCheckpoint(dir: string, shapesOf?: ShapesOf): Checkpoint {
  // a llama.cpp file holds a pure Mamba-1 or Mamba-2 stack, which the HF format expresses
  if (/\.gguf$/i.test(dir)) return { ...readGgufModel(dir), format: 'hf' };
  if (!fs.existsSync(dir)) throw new UserError(`${dir}: folder not found`);
  if (!fs.statSync(dir).isDirectory()) throw new UserError(`${dir}: not a folder`);
  const { config, format } = readConfig(path.join(dir, 'config.json'));
  const expected = new Set(parameterNames(config));
  const shapes = shapesOf?.(config);
  const check = (source: string): CheckEntry => (key, shape, dtype) => {
    let name = canonicalName(key, format);
    if (name === 'lm_head.weight' && config.tieEmbeddings) name = 'embedding.weight';
    if (name === undefined || !expected.has(name)) throw new UserError(`${source}: unknown tensor "${key}" for this config`);
    if (dtype !== 'f32') throw new UserError(`${source}: tensor "${key}" holds integers; parameters are floating point`);
    const want = shapes?.get(name);
    const have = isConvWeight(name) && shape.length === 3 && shape[1] === 1 ? [shape[0], shape[2]] : shape;
    if (want && (have.length !== want.length || have.some((d, i) => d !== want[i]))) {
      const stored = isConvWeight(name) ? [want[0], 1, want[1]] : want;
      throw new UserError(`${source}: tensor "${key}" has shape [${shape}], config.json implies [${stored}]`);
    }
  };
  const { tensors, source } = readWeights(dir, check);
  const weights = new Map<string, HostTensor>();
  const checkpointNames = new Map<string, string>();
  for (const [key, t] of tensors) {
    const name = canonicalName(key, format);
    if (name === 'lm_head.weight' && config.tieEmbeddings) continue; // the embedding, stored twice
    if (name === undefined || !expected.has(name) || weights.has(name)) {
      throw new UserError(`${source}: unknown tensor "${key}" for this config`);
    }
    weights.set(name, isConvWeight(name) ? squeezeConv(t, key, source) : t);
    checkpointNames.set(name, key);
  }
  for (const name of expected) {
    if (!weights.has(name)) throw new UserError(`${source}: tensor "${checkpointName(name, format)}" is missing`);
  }
  const note = format === 'hf' ? groupedNormNote(config, dir) : undefined;
  if (note) process.stderr.write(`mamba-ts: ${note}\n`);
  return { config, weights, format, checkpointNames };
}

function squeezeConv(t: HostTensor, key: string, source: string): HostTensor {
  if (t.shape.length !== 3 || t.shape[1] !== 1) {
    throw new UserError(`${source}: tensor "${key}" has shape [${t.shape}], expected a depthwise conv [C, 1, K]`);
  }
  return { ...t, shape: [t.shape[0], t.shape[2]] };
}

function readWeights(dir: string, check: (source: string) => CheckEntry): { tensors: Map<string, HostTensor>; source: string } {
  const candidates: [string, (file: string, check: CheckEntry) => Map<string, HostTensor>][] = [
    ['model.safetensors', readSafetensors],
    ['model.safetensors.index.json', (f) => readSharded(f, readSafetensors, check)],
    ['pytorch_model.bin', readTorchBin],
    ['pytorch_model.bin.index.json', (f) => readSharded(f, readTorchBin, check)],
  ];
  for (const [name, read] of candidates) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) return { tensors: read(file, check(file)), source: file };
  }
  throw new UserError(`${dir}: no weights (model.safetensors, pytorch_model.bin or their .index.json)`);
}

type Reader = (file: string, check: CheckEntry) => Map<string, HostTensor>;

/** `{"weight_map": {tensor: shard file}}`: reads each shard once, keeps the tensors it lists. */
function readSharded(index: string, read: Reader, check: (source: string) => CheckEntry): Map<string, HostTensor> {
  const map = asObject(readJsonFile(index), index).weight_map;
  if (typeof map !== 'object' || map === null || !Object.values(map).every((v) => typeof v === 'string')) {
    throw new UserError(`${index}: field "weight_map" must map tensor names to shard files`);
  }
  const weightMap = map as Record<string, string>;
  for (const shard of Object.values(weightMap)) {
    if (shard !== path.basename(shard) || shard === '..' || shard.includes('\\')) {
      throw new UserError(`${index}: shard ${describe(shard)} is not a file name in the model folder`);
    }
  }
  const out = new Map<string, HostTensor>();
  for (const shard of new Set(Object.values(weightMap))) {
    const file = path.join(path.dirname(index), shard);
    for (const [key, t] of read(file, check(file))) if (weightMap[key] === shard) out.set(key, t);
  }
  for (const [key, shard] of Object.entries(weightMap)) {
    if (!out.has(key)) throw new UserError(`${index}: tensor "${key}" is not in shard ${shard}`);
  }
  return out;
}

/**
 * A fine-tune keeps its source's config.json (HF mamba/mamba2 or mamba_ssm): as it was when the
 * architecture is the same, fields mamba-ts does not model (fused_add_norm, token ids, ...)
 * included; otherwise its extra fields beside ours.
 */
function keepSourceFields(json: Json, config: ModelConfig, format: 'hf' | 'mamba_ssm', like?: { format: CheckpointFormat; sourceConfig: Json }): Json {
  if (like?.format !== format) return json;
  const source = format === 'hf' ? fromHfConfig(like.sourceConfig, 'config.json') : fromMambaSsmConfig(like.sourceConfig, 'config.json');
  return JSON.stringify(source) === JSON.stringify(config) ? like.sourceConfig : { ...like.sourceConfig, ...json };
}

/** Why no checkpoint format can hold `config` (each format's reason), or undefined. */
export function unsavableReason(config: ModelConfig): string | undefined {
  const hf = hfUnsupportedReason(config);
  const nemotronH = nemotronHUnsupportedReason(config);
  const llama = llamaUnsupportedReason(config);
  const mambaSsm = mambaSsmUnsupportedReason(config);
  if (!hf || !nemotronH || !llama || !mambaSsm) return undefined;
  return `as Hugging Face mamba/mamba2: ${hf}; as NemotronH: ${nemotronH}; as Llama: ${llama}; as mamba_ssm: ${mambaSsm}`;
}

/**
 * Saves `weights` (canonical names, conv weights [C, K]) and `config` into `dir`:
 * - a pure Mamba-1 or Mamba-2 stack as Hugging Face `config.json` + `model.safetensors`
 *   (loadable with transformers' `from_pretrained`);
 * - layers that are each Mamba-2, attention without positions or a plain MLP as NemotronH (the
 *   same, `model_type` "nemotron_h");
 * - a stack of Llama decoder layers (rotary attention + SwiGLU) as `model_type` "llama";
 * - anything else (attention layers, MLPs: hybrids) as mamba_ssm `config.json` +
 *   `model.safetensors` with mamba_ssm names. mamba_ssm's own loader reads pytorch_model.bin, so
 *   load this with `safetensors.torch.load_model(MambaLMHeadModel(config), path)`, which also
 *   restores the tied lm_head that is not stored.
 * `like` keeps a source checkpoint's format (a fine-tuned mamba_ssm Mamba-1 stays mamba_ssm) and
 * its config.json fields that ModelConfig does not hold (architectures, token ids, ...).
 * Both files are written atomically. Returns the format written.
 */
export function writeCheckpoint(
  dir: string, config: ModelConfig, weights: Map<string, HostTensor>,
  like?: { format: CheckpointFormat; sourceConfig: Json }, metadata: Record<string, string> = {},
): CheckpointFormat {
  let format: CheckpointFormat = 'hf';
  let configText: string;
  if (like?.format !== 'mamba_ssm' && hfUnsupportedReason(config) === undefined) {
    configText = hfConfigText(keepSourceFields(toHfConfig(config), config, 'hf', like));
  } else if (like?.format !== 'mamba_ssm' && nemotronHUnsupportedReason(config) === undefined) {
    format = 'nemotron_h';
    configText = nemotronHConfigText(config);
  } else if (like?.format !== 'mamba_ssm' && llamaUnsupportedReason(config) === undefined) {
    format = 'llama';
    configText = llamaConfigText(config);
  } else {
    const reason = unsavableReason(config);
    if (reason) throw new UserError(`${dir}: cannot save this model in any checkpoint format: ${reason}`);
    format = 'mamba_ssm';
    configText = stringifyJson(keepSourceFields(toMambaSsmConfig(config), config, 'mamba_ssm', like));
  }
  const names = parameterNames(config);
  const expected = new Set(names);
  for (const name of weights.keys()) {
    if (!expected.has(name)) throw new UserError(`${dir}: parameter "${name}" does not belong to this config`);
  }
  const tensors = new Map<string, HostTensor>();
  for (const name of names) {
    const t = weights.get(name);
    if (!t) throw new UserError(`${dir}: parameter "${name}" is missing`);
    tensors.set(checkpointName(name, format), isConvWeight(name) ? { ...t, shape: [t.shape[0], 1, t.shape[1]] } : t);
  }
  // transformers' NemotronH does not tie lm_head to the embedding whatever tie_word_embeddings
  // says (it initializes a missing one at random), so a tied head is stored as well.
  if (format === 'nemotron_h' && config.tieEmbeddings) tensors.set(checkpointName('lm_head.weight', format), weights.get('embedding.weight')!);
  fs.mkdirSync(dir, { recursive: true });
  // transformers refuses safetensors files without format metadata.
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { ...metadata, format: 'pt' });
  writeTextAtomic(path.join(dir, 'config.json'), configText);
  return format;
}
