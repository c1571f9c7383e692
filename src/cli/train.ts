/**
 * `mamba-ts train`: a model from a preset, a config.json or a layer list, or a checkpoint to
 * fine-tune (--init); data from a corpus (text file, folder, JSONL, or the bundled Brown corpus)
 * or a synthetic task; writes the model, metrics, plot and resumable checkpoints into --out.
 * `--resume DIR` continues a run exactly. Ctrl-C (SIGINT) and SIGTERM stop at the end of the
 * current step with a checkpoint and exit 130 / 143; a second Ctrl-C exits at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readConfig, unsavableReason } from '../io/checkpoint.js';
import { ADAMW_DEFAULTS } from '../train/adamw.js';
import { checkModelSize } from '../io/config-limits.js';
import type { ModelConfig } from '../config.js';
import { preset, PRESET_NAMES } from '../model/presets.js';
import { parseTaskOptions, TASK_NAMES, taskOptions, taskSpec } from '../tasks/index.js';
import { layerStackConfig } from '../train/architecture.js';
import { BROWN } from '../train/data/corpus.js';
import { checkBatchTokens, dataLength, dataVocabSize, textSpec, type DataSpec } from '../train/data/spec.js';
import { parseInterval } from '../train/duration.js';
import type { TrainOptions } from '../train/options.js';
import { readTrainState } from '../train/train-state.js';
import { train, type TrainRun } from '../train/trainer.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { trainReporter } from './progress.js';
import { readInitCheckpoint, type InitCheckpoint } from './init-arg.js';
import { hubFlags } from './model-arg.js';

const FLAGS = {
  out: { kind: 'string', value: 'DIR', help: 'output folder: model, metrics.jsonl, plot.svg, summary.json, checkpoints' },
  resume: { kind: 'string', value: 'DIR', help: 'continue the run saved in DIR (with --steps to extend it)' },
  init: { kind: 'string', value: 'DIR|ORG/NAME', help: 'fine-tune this checkpoint (a folder or a Hub repo id): its architecture, weights, tokenizer.json and format' },
  preset: { kind: 'string', value: 'NAME', choices: PRESET_NAMES, help: 'architecture of a published model (random init)' },
  config: { kind: 'string', value: 'FILE', help: 'architecture from a config.json (Hugging Face or mamba_ssm)' },
  layers: { kind: 'string', value: 'SPEC', default: 'mamba2*2', help: 'layer stack, e.g. mamba2*4,attention,mamba2 (kinds: mamba1, mamba2, attention), or a Megatron pattern, e.g. M-M*-M- (M Mamba-2, * attention, - MLP; see mamba-ts pattern)' },
  'd-model': { kind: 'int', value: 'N', default: 64, min: 1, help: 'model width for --layers' },
  'd-state': { kind: 'int', value: 'N', default: 16, min: 1, help: 'SSM state size N for --layers' },
  expand: { kind: 'int', value: 'N', default: 2, min: 1, help: 'SSM inner width / d-model for --layers' },
  'head-dim': { kind: 'int', value: 'N', default: 16, min: 1, help: 'Mamba-2 head dimension P for --layers' },
  heads: { kind: 'int', value: 'N', default: 4, min: 1, help: 'attention heads for --layers' },
  'd-intermediate': { kind: 'int', value: 'N', default: 0, min: 0, help: 'gated MLP width after every mixer for a --layers list (0: none; rounded up to a multiple of 128 as mamba_ssm does); width of the - layers of a pattern (0: 4 d-model)' },
  data: { kind: 'string', value: 'PATH', help: `text file, folder, .jsonl (a "text" field per line) or "${BROWN}" (default without --task)` },
  tokenizer: { kind: 'string', value: 'FILE', help: 'tokenizer.json for --data (default: that of --init, else byte-level, 256 ids)' },
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
  'weight-decay': { kind: 'number', value: 'W', default: ADAMW_DEFAULTS.weightDecay, min: 0, help: 'AdamW decoupled weight decay (not on A_log, D, dt bias, norms, biases)' },
  beta1: { kind: 'number', value: 'B1', default: ADAMW_DEFAULTS.beta1, min: 0, max: 0.999999, help: 'AdamW beta1' },
  beta2: { kind: 'number', value: 'B2', default: ADAMW_DEFAULTS.beta2, min: 0, max: 0.999999, help: 'AdamW beta2' },
  eps: { kind: 'number', value: 'E', default: ADAMW_DEFAULTS.eps, min: 0, minExclusive: true, help: 'AdamW epsilon' },
  clip: { kind: 'number', value: 'C', default: 1, min: 0, help: 'global gradient-norm clipping (0: off)' },
  'eval-every': { kind: 'int', value: 'N', default: 100, min: 1, help: 'evaluate every N steps' },
  'eval-batches': { kind: 'int', value: 'N', default: 4, min: 1, help: 'batches per evaluation' },
  'log-every': { kind: 'int', value: 'N', default: 10, min: 1, help: 'record the training loss in metrics.jsonl every N steps' },
  'checkpoint-every': { kind: 'string', value: 'N|TIME', default: '10m', help: 'write a resumable checkpoint every N steps or every TIME (90s, 10m, 1h)' },
  seed: { kind: 'int', value: 'S', default: 0, min: 0, max: 0xffffffff, help: 'seed of the initial weights and the batches' },
  device: deviceFlag,
  ...hubFlags,
  'no-progress': { kind: 'bool', help: 'no progress bar (evaluations are still printed)' },
} as const;

/** what --resume accepts beside it: the rest of the run comes from the checkpoint */
const RESUME_FLAGS = new Set(['resume', 'steps', 'device', 'no-progress']);

const NOTES = [
  `tasks and their options (defaults): ${TASK_NAMES.map((n) => `${n} (${Object.entries(taskSpec(n).defaults).map(([k, v]) => `${k}=${v}`).join(', ')})`).join('; ')}.`,
  'Ctrl-C (SIGINT) stops at the end of the current step and writes a checkpoint (exit 130; Ctrl-C again quits at once, '
    + 'the last checkpoint intact); SIGTERM does the same with exit 143. --resume DIR continues it exactly.',
  'With --init the architecture, the tokenizer.json and the checkpoint format come from the source checkpoint.',
].join('\n');

/** exit codes of a run stopped by a signal: 128 + the signal's number, as shells report them */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

export async function runTrain(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts train --out DIR [--preset NAME | --config FILE | --layers SPEC ... | --init DIR] [--data PATH | --task NAME] [options]\n'
      + '       mamba-ts train --resume DIR [--steps N]',
    summary: 'Trains a model with AdamW, warmup + cosine decay and gradient clipping; evaluates and checkpoints as it goes.',
    notes: NOTES,
  });
  if (!flags) return 0;
  const given = new Set(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')[0]));
  let run: TrainRun;
  let outDir: string;
  let weights: InitCheckpoint['weights'] | undefined;
  const state = flags.resume !== undefined ? readTrainState(flags.resume) : undefined;
  if (state) {
    const extra = [...given].filter((f) => !RESUME_FLAGS.has(f));
    if (extra.length) throw new UserError(`--${extra[0]}: --resume continues the saved run with its settings; only --steps, --device and --no-progress may be given`);
    const steps = given.has('steps') ? flags.steps : state.meta.options.steps;
    if (steps < state.meta.step) throw new UserError(`--steps ${steps}: the checkpoint is already at step ${state.meta.step}`);
    if (steps === state.meta.step) {
      process.stderr.write(`mamba-ts: ${flags.resume}: the run finished at step ${steps}; nothing to do (give --steps to extend it)\n`);
      return 0;
    }
    run = { model: state.meta.model, data: state.meta.data, options: { ...state.meta.options, steps }, saveAs: state.meta.saveAs };
    outDir = flags.resume!;
  } else {
    if (flags.out === undefined) throw new UserError('--out is required (or --resume DIR)');
    if (flags.out === '') throw new UserError('--out: empty path');
    const init = flags.init !== undefined ? await readInitCheckpoint(flags.init, flags) : undefined;
    const data = dataSpec(flags, given, init);
    const options = trainOptions(flags);
    checkBatchTokens(options.batchSize, dataLength(data));
    run = init
      ? { model: initConfig(given, init), data, options, saveAs: init.saveAs }
      : { model: modelConfig(flags, given, dataVocabSize(data)), data, options };
    weights = init?.weights;
    outDir = flags.out;
    if (fs.existsSync(path.join(outDir, 'train-state.safetensors'))) {
      throw new UserError(`--out ${outDir}: holds a training run already; continue it with --resume ${outDir} or choose another folder`);
    }
  }
  const dev = await openBackend(flags.device);
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      // checkpoints are written by temp + rename: quitting now leaves the last one whole
      process.stderr.write(`\nmamba-ts: ${signal} again: quitting without a checkpoint of this step\n`);
      process.exit(SIGNAL_EXIT[signal]);
    }
    process.stderr.write(`\nmamba-ts: ${signal}: stopping at the end of this step and writing a checkpoint${signal === 'SIGINT' ? ' (Ctrl-C again to quit now)' : ''}\n`);
    stop.abort(signal);
  };
  for (const sig of Object.keys(SIGNAL_EXIT)) process.on(sig, onSignal);
  try {
    const summary = await train(run, {
      backend: dev.backend, outDir, resume: state, weights, signal: stop.signal, reporter: trainReporter(outDir, !flags['no-progress']),
    });
    process.stdout.write(JSON.stringify(summary) + '\n');
    return summary.status === 'interrupted' ? SIGNAL_EXIT[stop.signal.reason as string] : 0;
  } finally {
    for (const sig of Object.keys(SIGNAL_EXIT)) process.off(sig, onSignal);
    dev.close();
  }
}

type Flags = NonNullable<ReturnType<typeof parseFlags<typeof FLAGS>>>;

function dataSpec(flags: Flags, given: Set<string>, init: InitCheckpoint | undefined): DataSpec {
  if (flags.task !== undefined) {
    for (const f of ['data', 'tokenizer', 'validation']) if (given.has(f)) throw new UserError(`--${f} is for text data; it does not go with --task`);
    const overrides = parseTaskOptions(flags['task-options'] ?? '');
    if (flags['seq-len'] !== undefined) overrides[taskSpec(flags.task).lengthOption] = flags['seq-len'];
    return { kind: 'task', task: flags.task, options: taskOptions(flags.task, overrides), evalSeed: 0x3c6ef372 ^ flags.seed };
  }
  if (given.has('task-options')) throw new UserError('--task-options needs --task');
  return textSpec(flags.data ?? BROWN, flags.tokenizer ?? init?.tokenizer, flags.validation, flags['seq-len'] ?? 256);
}

/** A fine-tune's architecture is the source checkpoint's: flags that describe another are refused. */
function initConfig(given: Set<string>, init: InitCheckpoint): ModelConfig {
  const other = ['preset', 'config', 'layers', 'd-model', 'd-state', 'expand', 'head-dim', 'heads', 'd-intermediate'].find((f) => given.has(f));
  if (other) throw new UserError(`--${other}: the architecture of a fine-tune comes from the --init checkpoint; leave --${other} out`);
  return init.config;
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
  checkModelSize(config, flags.preset !== undefined ? `--preset ${flags.preset}` : flags.config ?? `--layers ${flags.layers} --d-model ${flags['d-model']}`);
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
    evalEvery: flags['eval-every'], evalBatches: flags['eval-batches'], logEvery: flags['log-every'],
    checkpointEvery: parseInterval(flags['checkpoint-every'], '--checkpoint-every'), seed: flags.seed,
  };
}
