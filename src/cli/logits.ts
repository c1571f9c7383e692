/**
 * `mamba-ts logits`: input_ids [B, L] (a safetensors file, text or ids) -> logits [B, L, V] (V = padded
 * vocabulary) into another, by `forward` or, with --recurrent, token by token with `step` (the
 * two must agree; external checks compare both against the reference).
 */
import { disposeExcept } from '../backend/scope.js';
import { UserError } from '../errors.js';
import { decodeStep, prefill } from '../generate/steps.js';
import type { HostTensor } from '../io/host-tensor.js';
import { writeSafetensors } from '../io/safetensors.js';
import type { MambaLM } from '../model/lm.js';
import type { Tensor } from '../tensor.js';
import { deviceFlag, openBackend } from './device.js';
import { loadModel } from '../model/load.js';
import { parseFlags } from './flags.js';
import { INPUT_FLAGS, inputIdsArg, wroteLine } from './input-ids.js';
import { hubFlags, resolveModelPath } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME', required: true, help: 'model folder (config.json + weights) or Hub repo id' },
  ...INPUT_FLAGS,
  out: { kind: 'string', value: 'FILE', required: true, help: 'safetensors to write logits (f32 [B, L, V]) to' },
  recurrent: { kind: 'bool', help: 'compute token by token with step instead of forward' },
  device: deviceFlag,
  ...hubFlags,
} as const;

export async function runLogits(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts logits --model DIR|ORG/NAME (--input FILE.safetensors | --prompt TEXT | --ids 1,2,3) --out FILE.safetensors [--recurrent] [--device cpu|webgpu]',
    summary: 'Computes the logits of every position of input_ids; V is the padded vocabulary. Says on stderr what it wrote.',
  });
  if (!flags) return 0;
  const dir = await resolveModelPath(flags.model, flags);
  const { ids, source } = inputIdsArg(flags, dir);
  const dev = await openBackend(flags.device);
  try {
    const model = await loadModel(dir, dev.backend);
    checkIdRange(ids, model.vocabPadded, source);
    const logits = flags.recurrent ? await recurrentLogits(model, ids) : await forwardLogits(model, ids);
    const [B, L] = ids.shape;
    const out = new Map<string, HostTensor>([['logits', { shape: [B, L, model.vocabPadded], dtype: 'f32', data: logits }]]);
    writeSafetensors(flags.out, out);
    process.stderr.write(wroteLine(flags.out, out));
  } finally {
    dev.close();
  }
  return 0;
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
