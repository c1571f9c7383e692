/**
 * The input_ids of `logits` and `grads`, given one of three ways: `--input` (a safetensors file
 * holding input_ids [B, L]), `--prompt TEXT` (encoded with the model folder's tokenizer) or
 * `--ids 1,2,3` (one sequence).
 */
import { UserError } from '../errors.js';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors } from '../io/safetensors.js';
import { loadTokenizer } from '../text/load.js';
import type { FlagSpec } from './flags.js';

export type InputIds = HostTensor & { data: Int32Array };

export const INPUT_FLAGS = {
  input: { kind: 'string', value: 'FILE', help: 'safetensors with input_ids, int32 or int64 [B, L]' },
  prompt: { kind: 'string', value: 'TEXT', help: 'the input as text, one sequence (the folder\'s tokenizer.json, bytes otherwise)' },
  ids: { kind: 'ids', value: 'A,B,...', help: 'the input as token ids, one sequence' },
} as const satisfies Record<string, FlagSpec>;

/** input_ids [B, L] from whichever of --input, --prompt, --ids was given, and what it was for messages. */
export function inputIdsArg(flags: { input?: string; prompt?: string; ids?: number[] }, modelDir: string): { ids: InputIds; source: string } {
  const given = (['input', 'prompt', 'ids'] as const).filter((k) => flags[k] !== undefined);
  if (given.length !== 1) throw new UserError(`give exactly one of --input, --prompt and --ids${given.length > 1 ? ` (got ${given.map((k) => `--${k}`).join(', ')})` : ''}`);
  if (flags.input !== undefined) return { ids: readInputIds(flags.input), source: flags.input };
  const ids = flags.ids ?? loadTokenizer(modelDir).encode(flags.prompt!);
  const flag = flags.ids ? '--ids' : '--prompt';
  if (ids.length === 0) throw new UserError(`${flag}: the text encodes to no tokens`);
  return { ids: { shape: [1, ids.length], dtype: 'i32', data: Int32Array.from(ids) }, source: flag };
}

/** input_ids of `file`: integer, [B, L] with B, L >= 1. */
export function readInputIds(file: string): InputIds {
  const ids = readSafetensors(file).get('input_ids');
  if (!ids) throw new UserError(`${file}: no tensor "input_ids"`);
  if (ids.dtype !== 'i32') throw new UserError(`${file}: input_ids holds floats, expected int32 or int64 token ids`);
  if (ids.shape.length !== 2) throw new UserError(`${file}: input_ids has shape [${ids.shape}], expected 2-D [batch, length]`);
  if (ids.shape[0] === 0 || ids.shape[1] === 0) throw new UserError(`${file}: input_ids is empty (shape [${ids.shape}])`);
  return ids as InputIds;
}

/** One line saying what a command wrote: "wrote FILE: logits [1, 5, 304]". */
export function wroteLine(file: string, tensors: ReadonlyMap<string, HostTensor>): string {
  return `mamba-ts: wrote ${file}: ${[...tensors].map(([name, t]) => `${name} [${t.shape.join(', ')}]`).join(', ')}\n`;
}
