/**
 * `mamba-ts grads`: the mean next-token cross-entropy of input_ids (logits[:, :-1] against
 * ids[:, 1:]) and its gradient with respect to every parameter, written as the Hugging Face
 * fixtures hold them: `loss` f32 [1] and `grad.<name>` under the checkpoint's own tensor names,
 * conv weights [C, 1, K] as stored (a tied head's gradient is inside the embedding's).
 */
import { valueAndGrad } from '../autograd/index.js';
import { tidy } from '../backend/scope.js';
import { UserError } from '../errors.js';
import { readCheckpoint } from '../io/checkpoint.js';
import { expectedShapes } from '../model/params.js';
import type { HostTensor } from '../io/host-tensor.js';
import { isConvWeight } from '../io/names.js';
import { writeSafetensors } from '../io/safetensors.js';
import { MambaLM } from '../model/lm.js';
import { paddedVocab } from '../config.js';
import { uploadWeights } from '../model/weights.js';
import * as ops from '../ops/index.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { INPUT_FLAGS, inputIdsArg, wroteLine } from './input-ids.js';
import { hubFlags, resolveModelPath } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME', required: true, help: 'model folder (config.json + weights) or Hub repo id' },
  ...INPUT_FLAGS,
  out: { kind: 'string', value: 'FILE', required: true, help: 'safetensors to write loss (f32 [1]) and grad.<name> to' },
  device: deviceFlag,
  ...hubFlags,
} as const;

/** Positions whose next token is past the end: their logits take no part in the loss. */
const IGNORE = -1;

export async function runGrads(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts grads --model DIR|ORG/NAME (--input FILE.safetensors | --prompt TEXT | --ids 1,2,3) --out FILE.safetensors [--device cpu|webgpu]',
    summary: 'Computes the mean cross-entropy of predicting input_ids[:, 1:] from input_ids[:, :-1] and its gradient for every parameter.',
    notes: 'Gradients are named grad.<tensor name in the checkpoint> and shaped as stored there. The input needs L >= 2.\n' +
      'Says on stderr what it wrote.',
  });
  if (!flags) return 0;
  const dir = await resolveModelPath(flags.model, flags);
  const { ids, source } = inputIdsArg(flags, dir);
  const [B, L] = ids.shape;
  if (L < 2) throw new UserError(`${source}: input_ids has length ${L}; the loss needs at least 2 tokens per sequence`);
  const dev = await openBackend(flags.device);
  try {
    const be = dev.backend;
    const ckpt = readCheckpoint(dir, expectedShapes);
    const V = paddedVocab(ckpt.config);
    const bad = ids.data.findIndex((v) => !(v >= 0 && v < V));
    if (bad >= 0) {
      throw new UserError(`${source}: input_ids[${Math.floor(bad / L)}][${bad % L}] = ${ids.data[bad]} is outside the model's vocabulary [0, ${V})`);
    }
    const model = new MambaLM(ckpt.config, uploadWeights(ckpt.weights, be), be);
    const targets = new Int32Array(B * L).fill(IGNORE);
    for (let b = 0; b < B; b++) for (let l = 0; l + 1 < L; l++) targets[b * L + l] = ids.data[b * L + l + 1];
    // the forward's activations and the tape's intermediates go back to the pool at once
    const { loss, grads } = tidy(() => valueAndGrad(
      () => ops.crossEntropy(model.forward(be.upload(ids.data, [B, L])).logits, be.upload(targets, [B, L]), IGNORE),
      model.parameters(),
    ));
    const out = new Map<string, HostTensor>([['loss', { shape: [1], dtype: 'f32', data: (await loss.read()) as Float32Array }]]);
    for (const [name, g] of grads) {
      const shape = isConvWeight(name) ? [g.shape[0], 1, g.shape[1]] : [...g.shape];
      out.set(`grad.${ckpt.checkpointNames.get(name)!}`, { shape, dtype: 'f32', data: (await g.read()) as Float32Array });
    }
    writeSafetensors(flags.out, out);
    process.stderr.write(wroteLine(flags.out, out));
  } finally {
    dev.close();
  }
  return 0;
}
