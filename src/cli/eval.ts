/**
 * `mamba-ts eval --model DIR --task NAME | --data PATH`: on a synthetic task, exact-match
 * accuracy on fresh sequences (a model trained here on that task is evaluated with the task
 * options it was trained with, run.json; --seq-len tests other lengths); on text, the loss,
 * perplexity and bits per byte of windows spread evenly over the whole text. One JSON object on
 * stdout; for text also a line for people on stderr.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors.js';
import { readJsonFile } from '../io/files.js';
import { loadModel } from '../model/load.js';
import type { MambaLM } from '../model/lm.js';
import { makeTask, parseTaskOptions, TASK_NAMES, taskOptions, taskSpec } from '../tasks/index.js';
import { ByteTokenizer } from '../text/byte-level.js';
import { HfTokenizer } from '../text/hf.js';
import { BROWN, readCorpus } from '../train/data/corpus.js';
import { spacedWindows } from '../train/data/source.js';
import { checkBatchTokens, dataLength, MAX_BATCH_TOKENS } from '../train/data/spec.js';
import { checkFits, corpusBytes, tokenizeCorpus } from '../train/data/tokens.js';
import { evaluate } from '../train/evaluate.js';
import { Mulberry32 } from '../rng.js';
import { RUN_FILE } from '../train/trainer.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { hubFlags, resolveModelPath } from './model-arg.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME', required: true, help: 'model folder or Hub repo id' },
  task: { kind: 'string', value: 'NAME', choices: TASK_NAMES, help: 'synthetic task' },
  'task-options': { kind: 'string', value: 'K=V,...', help: 'task sizes (default: those the model was trained with, else the task\'s)' },
  data: { kind: 'string', value: 'PATH', help: `text file, folder, .jsonl or "${BROWN}": loss, perplexity and bits per byte` },
  tokenizer: { kind: 'string', value: 'FILE', help: 'tokenizer.json for --data (default: the model folder\'s, else byte-level)' },
  'seq-len': { kind: 'int', value: 'L', min: 1, max: MAX_BATCH_TOKENS, help: 'tokens per window for --data (default 256); the task\'s length option for --task' },
  batches: { kind: 'int', value: 'N', default: 8, min: 1, help: 'batches to score' },
  'batch-size': { kind: 'int', value: 'B', default: 16, min: 1, help: 'sequences per batch' },
  seed: { kind: 'int', value: 'S', default: 1, min: 0, max: 0xffffffff, help: 'seed of the task\'s evaluation sequences' },
  device: deviceFlag,
  ...hubFlags,
} as const;

type Flags = NonNullable<ReturnType<typeof parseFlags<typeof FLAGS>>>;

export async function runEval(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts eval --model DIR|ORG/NAME --task NAME [--seq-len L] [--task-options K=V,...]\n'
      + '       mamba-ts eval --model DIR|ORG/NAME --data PATH [--tokenizer FILE] [--seq-len L]',
    summary: 'Scores a model on a synthetic task (exact-match accuracy on the answer positions, and the loss there) '
      + 'or on text (loss, perplexity, bits per byte).',
  });
  if (!flags) return 0;
  if ((flags.task === undefined) === (flags.data === undefined)) throw new UserError('give one of --task NAME or --data PATH');
  const dir = await resolveModelPath(flags.model, flags);
  if (flags.data !== undefined) {
    for (const f of ['task-options', 'seed'] as const) if (argv.some((a) => a === `--${f}` || a.startsWith(`--${f}=`))) throw new UserError(`--${f} is for --task; it does not go with --data`);
    return evalText(flags, dir, flags.data);
  }
  return evalTask(flags, dir, flags.task!);
}

async function evalTask(flags: Flags, dir: string, name: string): Promise<number> {
  if (flags.tokenizer !== undefined) throw new UserError('--tokenizer is for --data; it does not go with --task');
  const overrides = { ...trainedOptions(dir, name), ...parseTaskOptions(flags['task-options'] ?? '') };
  if (flags['seq-len'] !== undefined) overrides[taskSpec(name).lengthOption] = flags['seq-len'];
  const options = taskOptions(name, overrides);
  checkBatchTokens(flags['batch-size'], dataLength({ kind: 'task', task: name, options, evalSeed: flags.seed }));
  const task = makeTask(name, options);
  await withModel(flags, dir, async (model) => {
    if (task.vocabSize > model.config.vocabSize) {
      throw new UserError(`--task ${name}: its vocabulary (${task.vocabSize}) is larger than the model's (${model.config.vocabSize})`);
    }
    const rng = new Mulberry32(flags.seed);
    const batches = Array.from({ length: flags.batches }, () => task.sample(rng, flags['batch-size']));
    const ev = await evaluate(model, batches, true);
    process.stdout.write(JSON.stringify({
      task: name, options, length: task.length, sequences: flags.batches * flags['batch-size'],
      accuracy: ev.accuracy, sequenceAccuracy: ev.sequenceAccuracy, loss: ev.loss,
    }) + '\n');
  });
  return 0;
}

async function evalText(flags: Flags, dir: string, data: string): Promise<number> {
  const length = flags['seq-len'] ?? 256;
  checkBatchTokens(flags['batch-size'], length);
  const own = path.join(dir, 'tokenizer.json');
  const tokenizerFile = flags.tokenizer ?? (fs.existsSync(own) ? own : undefined);
  if (tokenizerFile === '') throw new UserError('--tokenizer: empty path');
  const tokenizer = tokenizerFile ? HfTokenizer.fromFile(tokenizerFile) : new ByteTokenizer();
  const docs = readCorpus(data);
  // the whole text is scored: nothing is held out (the fraction is of validation tokens)
  const { train: tokens } = tokenizeCorpus(docs, tokenizer, 0);
  checkFits(tokens, length, 'text');
  // bits per byte compare models across tokenizers: nats per token times tokens per byte
  const bytesPerToken = corpusBytes(docs, tokenizer) / tokens.length;
  await withModel(flags, dir, async (model) => {
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new UserError(`--data: the tokenizer ${tokenizer.name} has ${tokenizer.vocabSize} ids, more than the model's vocabulary (${model.config.vocabSize})`);
    }
    const ev = await evaluate(model, spacedWindows(tokens, length, flags['batch-size'], flags.batches), false);
    const bitsPerByte = ev.loss / Math.LN2 / bytesPerToken;
    const sequences = flags.batches * flags['batch-size'];
    process.stdout.write(JSON.stringify({
      data: data === BROWN ? BROWN : path.resolve(data), tokenizer: tokenizer.name, length, sequences,
      tokens: sequences * length, loss: ev.loss, perplexity: Math.exp(ev.loss), bitsPerByte,
    }) + '\n');
    process.stderr.write(`${data}: loss ${ev.loss.toFixed(4)} nats/token, perplexity ${Math.exp(ev.loss).toFixed(2)}, `
      + `${bitsPerByte.toFixed(3)} bits per byte (${sequences} windows of ${length} tokens, ${tokenizer.name})\n`);
  });
  return 0;
}

async function withModel(flags: Flags, dir: string, body: (model: MambaLM) => Promise<void>): Promise<void> {
  const dev = await openBackend(flags.device);
  try {
    await body(await loadModel(dir, dev.backend));
  } finally {
    dev.close();
  }
}

/** The options of `task` in the model folder's run.json when it was trained on that task. */
function trainedOptions(dir: string, task: string): Record<string, number> {
  const file = path.join(dir, RUN_FILE);
  if (!fs.existsSync(file)) return {};
  const data = (readJsonFile(file) as { data?: { kind?: string; task?: string; options?: Record<string, number> } }).data;
  return data?.kind === 'task' && data.task === task && data.options ? { ...data.options } : {};
}
