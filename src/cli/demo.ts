/**
 * `mamba-ts demo`: a language model trained from nothing in about two minutes on a laptop CPU.
 * A small byte-level Mamba-2 learns the Brown corpus through the same `train()` as
 * `mamba-ts train` (progress bar, evaluations, checkpoints, plot), is loaded back from the
 * checkpoint it wrote, checked for `step` = `forward`, and continues a held-out sentence.
 * The yardstick is bits per byte on held-out text: 8 for random weights, 4.5 for the byte
 * frequencies of the training text, 3.5 for a table of byte pairs; below 3 a model spells words.
 */
import * as path from 'node:path';
import { CpuBackend } from '../backend/cpu/index.js';
import { generateAll } from '../generate/generate.js';
import { loadModel } from '../model/load.js';
import { layerStackConfig } from '../train/architecture.js';
import { BROWN, readCorpus } from '../train/data/corpus.js';
import { textSpec } from '../train/data/spec.js';
import { tokenizeCorpus } from '../train/data/tokens.js';
import type { TrainOptions } from '../train/options.js';
import { METRICS_FILE } from '../train/metrics.js';
import { PLOT_FILE } from './plot.js';
import { trainReporter } from './progress.js';
import { SUMMARY_FILE, train } from '../train/trainer.js';
import { ByteTokenizer } from '../text/byte-level.js';
import { parseFlags } from './flags.js';
import { stepForwardGap } from './measure.js';

/** about two minutes of a 2-core laptop; --steps changes it */
const STEPS = 150;
const SEQ_LEN = 128;
const BATCH = 16;
const EVAL_BATCHES = 8;
const VALIDATION = 0.1;
const GOAL_BITS = 3;
const CHECK_TOKENS = 64;
const PROMPT_BYTES = 60;

const FLAGS = {
  out: { kind: 'string', value: 'DIR', default: path.join('runs', 'demo'), help: 'where the model, metrics and plot go (overwritten)' },
  steps: { kind: 'int', value: 'N', default: STEPS, min: 1, help: 'optimizer steps' },
  'new-tokens': { kind: 'int', value: 'N', default: 240, min: 0, help: 'bytes to generate after the prompt' },
  seed: { kind: 'int', value: 'S', default: 0, min: 0, max: 0xffffffff, help: 'seed of the weights, batches and sampling' },
  'no-progress': { kind: 'bool', help: 'no progress bar (evaluations are still printed)' },
} as const;

/** 2 Mamba-2 layers, d_model 128, 8 heads of 32, N 16: ~0.25M parameters, quick enough for a CPU. */
function demoModel() {
  const config = layerStackConfig({
    layers: 'mamba2*2', dModel: 128, dState: 16, expand: 2, headDim: 32, heads: 4, dIntermediate: 0, vocabSize: 256,
  });
  // chunks of 64 instead of mamba_ssm's 256: the quadratic part of SSD is 4x cheaper at the
  // same result (the chunk size changes the order of work, not the math)
  for (const layer of config.layers) if (layer.mixer.kind === 'mamba2') layer.mixer.chunkSize = 64;
  return config;
}

function demoOptions(steps: number, seed: number): TrainOptions {
  return {
    steps, batchSize: BATCH, accumulate: 1, lr: 6e-3, minLr: 6e-4, warmupSteps: Math.round(steps / 10),
    weightDecay: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8, clip: 1,
    evalEvery: Math.max(1, Math.round(steps / 6)), evalBatches: EVAL_BATCHES, logEvery: 10, checkpointEvery: { steps }, seed,
  };
}

export async function runDemo(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts demo [--steps N] [--out DIR]',
    summary: `Trains a small byte-level Mamba-2 on the Brown corpus on the CPU (${STEPS} steps, about two minutes on 2 cores), ` +
      'reports bits per byte on held-out text, checks step against forward on the trained model and generates text from a held-out prompt.',
  });
  if (!flags) return 0;
  const out = flags.out;
  const backend = new CpuBackend();
  const model = demoModel();
  process.stderr.write(`demo: training a 2-layer Mamba-2 (d_model 128) on the Brown corpus, byte by byte, for ${flags.steps} steps on the CPU\n`);
  const summary = await train(
    { model, data: textSpec(BROWN, undefined, VALIDATION, SEQ_LEN), options: demoOptions(flags.steps, flags.seed) },
    { backend, outDir: out, reporter: trainReporter(out, !flags['no-progress']) },
  );
  const bits = summary.loss! / Math.LN2;

  // everything below uses the model as saved: what `mamba-ts generate --model DIR` would load
  const trained = await loadModel(out, backend);
  const gap = await stepForwardGap(trained, CHECK_TOKENS, flags.seed + 1);
  const tokenizer = new ByteTokenizer();
  const prompt = heldOutPrompt(tokenizer);
  const { ids } = await generateAll(trained, [prompt], { maxNewTokens: flags['new-tokens'], temperature: 0.8, topP: 0.95, seed: flags.seed });

  const lines = [
    '',
    `trained ${summary.step} steps, ${(summary.tokens / 1e3).toFixed(0)}k bytes, ${summary.seconds.toFixed(0)} s ` +
      `(${summary.tokensPerSecond.toFixed(0)} tokens/s), ${(summary.parameters / 1e6).toFixed(2)}M parameters`,
    `held-out Brown text (${EVAL_BATCHES * BATCH} windows of ${SEQ_LEN} bytes): ${summary.loss!.toFixed(3)} nats/byte = ${bits.toFixed(2)} bits per byte ` +
      `(goal ≤ ${GOAL_BITS}: ${bits <= GOAL_BITS ? 'reached' : 'not reached'})`,
    `step vs forward on the trained model: max |logits difference| ${gap.toExponential(1)} over ${CHECK_TOKENS} tokens`,
    '',
    `prompt (held out):  ${JSON.stringify(tokenizer.decode(prompt))}`,
    `sample (temperature 0.8, top-p 0.95, seed ${flags.seed}):`,
    tokenizer.decode([...prompt, ...ids[0]]),
    '',
    `files in ${out}/: model.safetensors + config.json (mamba-ts generate --model ${out} --prompt "..."), ` +
      `${METRICS_FILE}, ${SUMMARY_FILE}, ${PLOT_FILE}, train-state.safetensors (--resume)`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The first words of a sentence from the middle of the validation split, cut at a space. */
function heldOutPrompt(tokenizer: ByteTokenizer): number[] {
  const { validation } = tokenizeCorpus(readCorpus(BROWN), tokenizer, VALIDATION);
  const newline = tokenizer.encode('\n')[0], space = tokenizer.encode(' ')[0];
  const start = validation.indexOf(newline, validation.length >> 1) + 1;
  const end = validation.lastIndexOf(space, start + PROMPT_BYTES);
  return [...validation.subarray(start, end + 1)];
}
