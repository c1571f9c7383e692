/**
 * `mamba-ts logits`: input_ids [B, L] from a safetensors file -> logits [B, L, V] (V = padded
 * vocabulary) into another, by `forward` or, with --recurrent, token by token with `step` (the
 * two must agree; external checks compare both against the reference).
 */
import { disposeExcept } from '../backend/scope.js';
import { UserError } from '../errors.js';
import { decodeStep, prefill } from '../generate/steps.js';
import type { HostTensor } from '../io/host-tensor.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { MambaLM } from '../model/lm.js';
import type { Tensor } from '../tensor.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { loadModelArg } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR', required: true, help: 'model folder (config.json + weights)' },
  input: { kind: 'string', value: 'FILE', required: true, help: 'safetensors with input_ids, int32 or int64 [B, L]' },
  out: { kind: 'string', value: 'FILE', required: true, help: 'safetensors to write logits (f32 [B, L, V]) to' },
  recurrent: { kind: 'bool', help: 'compute token by token with step instead of forward' },
  device: deviceFlag,
} as const;

export async function runLogits(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts logits --model DIR --input FILE.safetensors --out FILE.safetensors [--recurrent] [--device cpu|webgpu]',
    summary: 'Computes the logits of every position of input_ids; V is the padded vocabulary.',
  });
  if (!flags) return 0;
  const ids = readInputIds(flags.input);
  const dev = await openBackend(flags.device);
  try {
    const model = await loadModelArg(flags.model, dev.backend, false);
    checkIdRange(ids, model.vocabPadded, flags.input);
    const logits = flags.recurrent ? await recurrentLogits(model, ids) : await forwardLogits(model, ids);
    const [B, L] = ids.shape;
    writeSafetensors(flags.out, new Map([['logits', { shape: [B, L, model.vocabPadded], dtype: 'f32', data: logits }]]));
  } finally {
    dev.close();
  }
  return 0;
}

/** input_ids of `file`: integer, [B, L] with B, L >= 1. */
export function readInputIds(file: string): HostTensor & { data: Int32Array } {
  const ids = readSafetensors(file).get('input_ids');
  if (!ids) throw new UserError(`${file}: no tensor "input_ids"`);
  if (ids.dtype !== 'i32') throw new UserError(`${file}: input_ids holds floats, expected int32 or int64 token ids`);
  if (ids.shape.length !== 2) throw new UserError(`${file}: input_ids has shape [${ids.shape}], expected 2-D [batch, length]`);
  if (ids.shape[0] === 0 || ids.shape[1] === 0) throw new UserError(`${file}: input_ids is empty (shape [${ids.shape}])`);
  return ids as HostTensor & { data: Int32Array };
}

function checkIdRange(ids: HostTensor, vocab: number, file: string): void {
  const L = ids.shape[1];
  const bad = ids.data.findIndex((v) => !(v >= 0 && v < vocab));
  if (bad >= 0) {
    const b = Math.floor(bad / L);
    throw new UserError(`${file}: input_ids[${b}][${bad - b * L}] = ${ids.data[bad]} is outside the model's vocabulary [0, ${vocab})`);
  }
}

async function forwardLogits(model: MambaLM, ids: HostTensor): Promise<Float32Array> {
  const out = prefill(model, model.backend.upload(ids.data, ids.shape), model.initState(ids.shape[0], ids.shape[1]));
  disposeExcept(out.state, undefined);
  return readAndDispose(out.logits);
}

async function recurrentLogits(model: MambaLM, ids: HostTensor): Promise<Float32Array> {
  const [B, L] = ids.shape;
  const V = model.vocabPadded;
  const out = new Float32Array(B * L * V);
  let state = model.initState(B, L);
  for (let l = 0; l < L; l++) {
    const col = Int32Array.from({ length: B }, (_, b) => ids.data[b * L + l]);
    const step = decodeStep(model, model.backend.upload(col, [B]), state);
    state = step.state;
    const row = await readAndDispose(step.logits);                          // [B, V]
    for (let b = 0; b < B; b++) out.set(row.subarray(b * V, (b + 1) * V), (b * L + l) * V);
  }
  disposeExcept(state, undefined);
  return out;
}

async function readAndDispose(t: Tensor): Promise<Float32Array> {
  const data = (await t.read()) as Float32Array;
  t.dispose();
  return data;
}
