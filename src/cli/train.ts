/**
 * `mamba-ts train`: a model from a preset, a config.json or a layer list; data from a corpus
 * (text file, folder, JSONL, or the bundled Brown corpus) or a synthetic task; writes the model,
 * metrics, plot and resumable checkpoints into --out. `--resume DIR` continues a run exactly.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readConfig, unsavableReason } from '../io/checkpoint.js';
import type { ModelConfig } from '../model/config.js';
import { preset, PRESET_NAMES } from '../model/presets.js';
import { parseTaskOptions, TASK_NAMES, taskOptions, taskSpec } from '../tasks/index.js';
import { layerStackConfig } from '../train/architecture.js';
import { BROWN } from '../train/data/corpus.js';
import { dataVocabSize, textSpec, type DataSpec } from '../train/data/spec.js';
import type { TrainOptions } from '../train/options.js';
import { readTrainState } from '../train/state.js';
import { train, type TrainRun } from '../train/trainer.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';

const FLAGS = {
  out: { kind: 'string', value: 'DIR', help: 'output folder: model, metrics.jsonl, plot.svg, summary.json, checkpoints' },
  resume: { kind: 'string', value: 'DIR', help: 'continue the run saved in DIR (with --steps to extend it)' },
  preset: { kind: 'string', value: 'NAME', choices: PRESET_NAMES, help: 'architecture of a published model (random init)' },
  config: { kind: 'string', value: 'FILE', help: 'architecture from a config.json (Hugging Face or mamba_ssm)' },
  layers: { kind: 'string', value: 'SPEC', default: 'mamba2*2', help: 'layer stack, e.g. mamba2*4,attention,mamba2 (kinds: mamba1, mamba2, attention), or a Megatron pattern, e.g. M-M*-M- (M Mamba-2, * attention, - MLP; see mamba-ts pattern)' },
  'd-model': { kind: 'int', value: 'N', default: 64, min: 1, help: 'model width for --layers' },
  'd-state': { kind: 'int', value: 'N', default: 16, min: 1, help: 'SSM state size N for --layers' },
  expand: { kind: 'int', value: 'N', default: 2, min: 1, help: 'SSM inner width / d-model for --layers' },
  'head-dim': { kind: 'int', value: 'N', default: 16, min: 1, help: 'Mamba-2 head dimension P for --layers' },
  heads: { kind: 'int', value: 'N', default: 4, min: 1, help: 'attention heads for --layers' },
  'd-intermediate': { kind: 'int', value: 'N', default: 0, min: 0, help: 'gated MLP width after every mixer for a --layers list (0: none); width of the - layers of a pattern (0: 4 d-model)' },
  data: { kind: 'string', value: 'PATH', help: `text file, folder, .jsonl (a "text" field per line) or "${BROWN}" (default without --task)` },
  tokenizer: { kind: 'string', value: 'FILE', help: 'tokenizer.json for --data (default: byte-level, 256 ids)' },
  validation: { kind: 'number', value: 'F', default: 0.1, min: 0, max: 0.5, minExclusive: true, help: 'fraction of --data held out for validation' },
  task: { kind: 'string', value: 'NAME', choices: TASK_NAMES, help: 'train on a synthetic task instead of text' },
  'task-options': { kind: 'string', value: 'K=V,...', help: 'task sizes, e.g. pairs=8,vocab=64 (see the notes)' },
  'seq-len': { kind: 'int', value: 'L', min: 1, help: 'tokens per window for --data (default 256); the task\'s length option for --task' },
  steps: { kind: 'int', value: 'N', default: 1000, min: 1, help: 'optimizer steps' },
  'batch-size': { kind: 'int', value: 'B', default: 8, min: 1, help: 'sequences per micro-batch' },
  accumulate: { kind: 'int', value: 'N', default: 1, min: 1, help: 'micro-batches per step (gradient accumulation)' },
  lr: { kind: 'number', value: 'LR', default: 1e-3, min: 0, minExclusive: true, help: 'peak learning rate' },
  'min-lr': { kind: 'number', value: 'LR', min: 0, help: 'learning rate at the end of the cosine (default lr / 10)' },
  warmup: { kind: 'int', value: 'N', min: 0, help: 'linear warmup steps (default 10% of --steps)' },
  'weight-decay': { kind: 'number', value: 'W', default: 0.1, min: 0, help: 'AdamW decoupled weight decay (not on A_log, D, dt bias, norms, biases)' },
  beta1: { kind: 'number', value: 'B1', default: 0.9, min: 0, max: 0.999999, help: 'AdamW beta1' },
  beta2: { kind: 'number', value: 'B2', default: 0.95, min: 0, max: 0.999999, help: 'AdamW beta2' },
  eps: { kind: 'number', value: 'E', default: 1e-8, min: 0, minExclusive: true, help: 'AdamW epsilon' },
  clip: { kind: 'number', value: 'C', default: 1, min: 0, help: 'global gradient-norm clipping (0: off)' },
  'eval-every': { kind: 'int', value: 'N', default: 100, min: 1, help: 'evaluate every N steps' },
  'eval-batches': { kind: 'int', value: 'N', default: 4, min: 1, help: 'batches per evaluation' },
  'checkpoint-every': { kind: 'int', value: 'N', default: 500, min: 1, help: 'write a resumable checkpoint every N steps' },
  seed: { kind: 'int', value: 'S', default: 0, min: 0, max: 0xffffffff, help: 'seed of the initial weights and the batches' },
  device: deviceFlag,
  'no-progress': { kind: 'bool', help: 'no progress bar (evaluations are still printed)' },
} as const;

/** what --resume accepts beside it: the rest of the run comes from the checkpoint */
const RESUME_FLAGS = new Set(['resume', 'steps', 'device', 'no-progress']);

const NOTES = [
  `tasks and their options (defaults): ${TASK_NAMES.map((n) => `${n} (${Object.entries(taskSpec(n).defaults).map(([k, v]) => `${k}=${v}`).join(', ')})`).join('; ')}.`,
  'Ctrl-C stops after the current step and writes a checkpoint; --resume DIR continues it exactly.',
].join('\n');

export async function runTrain(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts train --out DIR [--preset NAME | --config FILE | --layers SPEC ...] [--data PATH | --task NAME] [options]\n'
      + '       mamba-ts train --resume DIR [--steps N]',
    summary: 'Trains a model with AdamW, warmup + cosine decay and gradient clipping; evaluates and checkpoints as it goes.',
    notes: NOTES,
  });
  if (!flags) return 0;
  const given = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
  let run: TrainRun;
  let outDir: string;
  const state = flags.resume !== undefined ? readTrainState(flags.resume) : undefined;
  if (state) {
    const extra = [...given].filter((f) => !RESUME_FLAGS.has(f));
    if (extra.length) throw new UserError(`--${extra[0]}: --resume continues the saved run with its settings; only --steps, --device and --no-progress may be given`);
    const steps = given.has('steps') ? flags.steps : state.meta.options.steps;
    if (steps < state.meta.step) throw new UserError(`--steps ${steps}: the checkpoint is already at step ${state.meta.step}`);
    run = { model: state.meta.model, data: state.meta.data, options: { ...state.meta.options, steps } };
    outDir = flags.resume!;
  } else {
    if (flags.out === undefined) throw new UserError('--out is required (or --resume DIR)');
    const data = dataSpec(flags, given);
    run = { model: modelConfig(flags, given, dataVocabSize(data)), data, options: trainOptions(flags) };
    outDir = flags.out;
    if (fs.existsSync(path.join(outDir, 'train-state.safetensors'))) {
      throw new UserError(`--out ${outDir}: holds a training run already; continue it with --resume ${outDir} or choose another folder`);
    }
    if (data.kind === 'text' && data.tokenizer) {
      fs.mkdirSync(outDir, { recursive: true });
      fs.copyFileSync(data.tokenizer, path.join(outDir, 'tokenizer.json'));
    }
  }
  const dev = await openBackend(flags.device);
  const stop = new AbortController();
  const onInt = () => {
    process.stderr.write('\nmamba-ts: stopping after this step and writing a checkpoint (Ctrl-C again to quit now)\n');
    stop.abort();
  };
  process.once('SIGINT', onInt);
  try {
    const summary = await train(run, { backend: dev.backend, outDir, resume: state, signal: stop.signal, progress: !flags['no-progress'] });
    process.stdout.write(JSON.stringify(summary) + '\n');
  } finally {
    process.off('SIGINT', onInt);
    dev.close();
  }
  return 0;
}

type Flags = NonNullable<ReturnType<typeof parseFlags<typeof FLAGS>>>;

function dataSpec(flags: Flags, given: Set<string>): DataSpec {
  if (flags.task !== undefined) {
    for (const f of ['data', 'tokenizer', 'validation']) if (given.has(f)) throw new UserError(`--${f} is for text data; it does not go with --task`);
    const overrides = parseTaskOptions(flags['task-options'] ?? '');
    if (flags['seq-len'] !== undefined) overrides[taskSpec(flags.task).lengthOption] = flags['seq-len'];
    return { kind: 'task', task: flags.task, options: taskOptions(flags.task, overrides), evalSeed: 0x3c6ef372 ^ flags.seed };
  }
  if (given.has('task-options')) throw new UserError('--task-options needs --task');
  return textSpec(flags.data ?? BROWN, flags.tokenizer, flags.validation, flags['seq-len'] ?? 256);
}

function modelConfig(flags: Flags, given: Set<string>, vocabSize: number): ModelConfig {
  const stackFlags = ['layers', 'd-model', 'd-state', 'expand', 'head-dim', 'heads', 'd-intermediate'].filter((f) => given.has(f));
  const sources = ['preset', 'config'].filter((f) => given.has(f));
  if (sources.length > 1 || (sources.length === 1 && stackFlags.length > 0)) {
    throw new UserError(`--${sources[0]} and --${sources[1] ?? stackFlags[0]} both describe the architecture; give one`);
  }
  let config: ModelConfig;
  if (flags.preset !== undefined) config = { ...preset(flags.preset), vocabSize };
  else if (flags.config !== undefined) config = { ...readConfig(flags.config).config, vocabSize };
  else {
    config = layerStackConfig({
      layers: flags.layers, dModel: flags['d-model'], dState: flags['d-state'], expand: flags.expand, headDim: flags['head-dim'],
      heads: flags.heads, dIntermediate: flags['d-intermediate'], vocabSize,
    });
  }
  const reason = unsavableReason(config);
  if (reason) throw new UserError(`this architecture could not be saved in any checkpoint format: ${reason}`);
  return config;
}

function trainOptions(flags: Flags): TrainOptions {
  const steps = flags.steps;
  return {
    steps, batchSize: flags['batch-size'], accumulate: flags.accumulate,
    lr: flags.lr, minLr: flags['min-lr'] ?? flags.lr / 10, warmupSteps: Math.min(steps, flags.warmup ?? Math.round(steps / 10)),
    weightDecay: flags['weight-decay'], beta1: flags.beta1, beta2: flags.beta2, eps: flags.eps, clip: flags.clip,
    evalEvery: flags['eval-every'], evalBatches: flags['eval-batches'], checkpointEvery: flags['checkpoint-every'], seed: flags.seed,
  };
}
