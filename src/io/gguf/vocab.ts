/**
 * `tokenizer.ggml.*` metadata. llama.cpp needs a vocabulary of exactly as many tokens as the
 * embedding has rows, so padding rows get tokens too.
 *
 * - A byte-level BPE `tokenizer.json` (GPT-NeoX's, which the Mamba checkpoints use) becomes
 *   llama.cpp's "gpt2" model, as convert_hf_to_gguf.py's `_set_vocab_gpt2` writes it: tokens by
 *   id, types (added special tokens CONTROL, other added ones USER_DEFINED, ids without a token
 *   `[PAD{i}]` UNUSED), merges as "a b" strings, and the pre-tokenizer "mpt" (llama.cpp's name
 *   for GPT-NeoX's, the default of its built-in gpt-neox vocabulary).
 * - A model without one gets a minimal SentencePiece ("llama") vocabulary: `<unk>`, the 256
 *   byte tokens `<0x00>`..`<0xFF>`, then fillers `<t{i}>`, as in test/fixtures/gguf. llama.cpp
 *   refuses `tokenizer.ggml.model = "none"` in practice (node-llama-cpp does), and a byte-level
 *   model's ids carry no text anyway; ids are what is compared.
 */
import * as fs from 'node:fs';
import { UserError } from '../../errors.js';
import { asObject, type Json } from '../fields.js';
import { readJsonFile } from '../files.js';
import type { GgufValue } from './format.js';

/** llama.cpp's llama_token_type */
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;
const USER_DEFINED = 4;
const UNUSED = 5;
const BYTE = 6;

export interface SpecialIds {
  bos?: number;
  eos?: number;
}

const str = (value: string): GgufValue => ({ type: 'string', value });
const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const bool = (value: boolean): GgufValue => ({ type: 'bool', value });
const strings = (items: string[]): GgufValue => ({ type: 'array', itemType: 'string', items: items.map(str) });
const i32s = (items: number[]): GgufValue => ({ type: 'array', itemType: 'i32', items: items.map((value) => ({ type: 'i32', value })) });

/** Tokenizer metadata for `rows` embedding rows, from `tokenizerFile` when given. */
export function vocabMetadata(rows: number, special: SpecialIds, tokenizerFile?: string): [string, GgufValue][] {
  const kv = tokenizerFile ? bpeVocab(tokenizerFile, rows) : byteVocab(rows);
  kv.push(['tokenizer.ggml.add_bos_token', bool(false)], ['tokenizer.ggml.add_eos_token', bool(false)]);
  for (const [key, id] of [['bos', special.bos], ['eos', special.eos]] as const) {
    if (id === undefined) continue;
    if (!(Number.isInteger(id) && id >= 0 && id < rows)) throw new UserError(`${key}_token_id ${id} is outside the vocabulary [0, ${rows})`);
    kv.push([`tokenizer.ggml.${key}_token_id`, u32(id)]);
  }
  return kv;
}

function byteVocab(rows: number): [string, GgufValue][] {
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < rows; i++) {
    if (i === 0) tokens.push('<unk>');
    else if (i <= 256) tokens.push(`<0x${(i - 1).toString(16).toUpperCase().padStart(2, '0')}>`);
    else tokens.push(`<t${i}>`);
    types.push(i === 0 ? UNKNOWN : i <= 256 ? BYTE : NORMAL);
  }
  return [
    ['tokenizer.ggml.model', str('llama')],
    ['tokenizer.ggml.tokens', strings(tokens)],
    ['tokenizer.ggml.scores', { type: 'array', itemType: 'f32', items: tokens.map(() => ({ type: 'f32', value: 0 })) }],
    ['tokenizer.ggml.token_type', i32s(types)],
    ['tokenizer.ggml.unknown_token_id', u32(0)],
  ];
}

function bpeVocab(file: string, rows: number): [string, GgufValue][] {
  const json = asObject(readJsonFile(file), file);
  const model = json.model as Json | undefined;
  const pre = json.pre_tokenizer as Json | undefined;
  const byteLevel = pre?.type === 'ByteLevel' || (pre?.type === 'Sequence' && Array.isArray(pre.pretokenizers) &&
    (pre.pretokenizers as Json[]).some((p) => p.type === 'ByteLevel'));
  if (model?.type !== 'BPE' || !byteLevel) {
    throw new UserError(`${file}: only byte-level BPE tokenizers (GPT-NeoX, GPT-2) can be written to GGUF, this one is ${String(model?.type)} with pre-tokenizer ${String(pre?.type)}`);
  }
  const tokens: (string | undefined)[] = Array.from({ length: rows }, () => undefined);
  const types: number[] = new Array(rows).fill(NORMAL);
  const put = (token: string, id: unknown, type: number) => {
    if (!(Number.isInteger(id) && (id as number) >= 0)) throw new UserError(`${file}: token ${JSON.stringify(token)} has id ${String(id)}`);
    if ((id as number) >= rows) throw new UserError(`${file}: token ${JSON.stringify(token)} has id ${String(id)}, but the model has ${rows} embedding rows`);
    tokens[id as number] = token;
    types[id as number] = type;
  };
  for (const [token, id] of Object.entries(asObject(model.vocab, `${file}: model.vocab`))) put(token, id, NORMAL);
  for (const t of (json.added_tokens ?? []) as Json[]) put(String(t.content), t.id, t.special ? CONTROL : USER_DEFINED);
  const merges = ((model.merges ?? []) as unknown[]).map((m) => (Array.isArray(m) ? m.join(' ') : String(m)));
  return [
    ['tokenizer.ggml.model', str('gpt2')],
    ['tokenizer.ggml.pre', str('mpt')],
    ['tokenizer.ggml.tokens', strings(tokens.map((t, i) => t ?? `[PAD${i}]`))],
    ['tokenizer.ggml.token_type', i32s(types.map((t, i) => (tokens[i] === undefined ? UNUSED : t)))],
    ['tokenizer.ggml.merges', strings(merges)],
  ];
}

/** bos/eos ids of a model folder's config.json, when it names them. */
export function specialIds(configFile: string): SpecialIds {
  if (!fs.existsSync(configFile)) return {};
  const json = asObject(readJsonFile(configFile), configFile);
  const id = (v: unknown) => (Number.isInteger(v) ? (v as number) : undefined);
  return { bos: id(json.bos_token_id), eos: id(json.eos_token_id) };
}
