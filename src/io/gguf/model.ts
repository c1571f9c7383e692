/**
 * A whole model as a GGUF file: ModelConfig + canonical weights (io/checkpoint.ts's terms) to
 * and from llama.cpp's mamba / mamba2 files. Quantized tensors are dequantized to f32 on load.
 */
import { UserError } from '../../errors.js';
import { paddedVocab, type ModelConfig } from '../../config.js';
import { checkModelSize } from '../config-limits.js';
import { closeRead, openRead } from '../files.js';
import type { HostTensor } from '../host-tensor.js';
import { FILE_TYPES, type GgufValue, type TensorType } from './format.js';
import { archMetadata, architectureOf, configFromMetadata, ggufUnsupportedReason, tensorTable, type TensorEntry } from './mamba.js';
import { readGgufHeader, readGgufTensor } from './read.js';
import { vocabMetadata, type SpecialIds } from './vocab.js';
import { writeGguf, type GgufTensorOut } from './write.js';

export interface GgufModel {
  config: ModelConfig;
  /** canonical name -> tensor (conv weights [C, K], A_log recovered from A) */
  weights: Map<string, HostTensor>;
  /** canonical name -> GGUF tensor name */
  checkpointNames: Map<string, string>;
}

export function readGgufModel(file: string): GgufModel {
  const f = openRead(file);
  try {
    const header = readGgufHeader(f);
    const infos = new Map(header.tensors.map((t) => [t.name, t]));
    const embd = infos.get('token_embd.weight');
    const rows = embd?.ne[1] ?? 0;
    const config = configFromMetadata(header.metadata, rows, !infos.has('output.weight'), file);
    if (!embd || embd.ne.length !== 2) throw new UserError(`${file}: no 2-D tensor "token_embd.weight"`);
    checkModelSize(config, file);
    const tokens = header.metadata.get('tokenizer.ggml.tokens');
    if (tokens?.type === 'array' && tokens.items.length !== rows) {
      throw new UserError(`${file}: tokenizer.ggml.tokens has ${tokens.items.length} tokens but token_embd.weight has ${rows} rows`);
    }
    const table = tensorTable(config);
    const known = new Set(table.map((e) => e.gguf));
    for (const name of infos.keys()) if (!known.has(name)) throw new UserError(`${file}: unexpected tensor "${name}" for this ${architectureOf(config)} model`);
    // every name and shape is checked before any tensor data is read
    for (const e of table) {
      const info = infos.get(e.gguf);
      if (!info) throw new UserError(`${file}: tensor "${e.gguf}" is missing`);
      const want = [...e.ggufShape].reverse();
      if (info.ne.join() !== want.join()) throw new UserError(`${file}: tensor "${e.gguf}" has ne [${info.ne}], expected [${want}]`);
    }
    const weights = new Map<string, HostTensor>();
    const checkpointNames = new Map<string, string>();
    for (const e of table) {
      const t = readGgufTensor(f, header, infos.get(e.gguf)!);
      if (e.negExp) for (let i = 0; i < t.data.length; i++) t.data[i] = Math.log(-t.data[i]);
      weights.set(e.canonical, { ...t, shape: e.shape });
      checkpointNames.set(e.canonical, e.gguf);
    }
    return { config, weights, checkpointNames };
  } finally {
    closeRead(f);
  }
}

/** The file's quantization: which type its large matrices take. */
export type GgufFileType = 'f32' | 'f16' | 'q8_0' | 'q4_0';
export const GGUF_FILE_TYPES: readonly GgufFileType[] = ['f32', 'f16', 'q8_0', 'q4_0'];

export interface GgufWriteOptions {
  type: GgufFileType;
  name: string;
  /** the model's tokenizer.json; a byte-level vocabulary without one */
  tokenizerFile?: string;
  special?: SpecialIds;
}

export function writeGgufModel(file: string, config: ModelConfig, weights: ReadonlyMap<string, HostTensor>, options: GgufWriteOptions): void {
  const reason = ggufUnsupportedReason(config);
  if (reason) throw new UserError(`${file}: llama.cpp cannot run this model: ${reason}`);
  const fileType = options.type.toUpperCase() as TensorType;
  const tensors: GgufTensorOut[] = tensorTable(config).map((e) => {
    const t = weights.get(e.canonical);
    if (!t) throw new Error(`writeGgufModel: parameter "${e.canonical}" is missing`);
    if (t.shape.join() !== e.shape.join()) throw new Error(`writeGgufModel: parameter "${e.canonical}" has shape [${t.shape}], expected [${e.shape}]`);
    const data = e.negExp ? (t.data as Float32Array).map((v) => -Math.exp(v)) : (t.data as Float32Array);
    return { name: e.gguf, shape: e.ggufShape, data, type: tensorType(e, fileType) };
  });
  const arch = architectureOf(config);
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: arch }],
    ['general.type', { type: 'string', value: 'model' }],
    ['general.name', { type: 'string', value: options.name }],
    ['general.quantization_version', { type: 'u32', value: 2 }],
    ['general.file_type', { type: 'u32', value: FILE_TYPES[fileType] }],
    ...archMetadata(config),
    ...vocabMetadata(paddedVocab(config), options.special ?? {}, options.tokenizerFile),
  ]);
  writeGguf(file, metadata, tensors);
}

/**
 * convert_hf_to_gguf.py's choice: 1-D tensors, norms, the conv and the tensors without a
 * ".weight" suffix (A, D) stay f32; the other matrices take the file's type, or f16 when their
 * rows are not a whole number of quantization blocks.
 */
function tensorType(e: TensorEntry, fileType: TensorType): TensorType {
  if (e.ggufShape.length <= 1 || e.gguf.endsWith('_norm.weight') || e.gguf.includes('ssm_conv1d') || !e.gguf.endsWith('.weight')) return 'F32';
  if ((fileType === 'Q8_0' || fileType === 'Q4_0') && e.ggufShape[e.ggufShape.length - 1] % 32 !== 0) return 'F16';
  return fileType;
}
