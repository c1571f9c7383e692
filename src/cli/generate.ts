/**
 * `mamba-ts generate`: one prompt (text or ids), new tokens streamed to stdout as text or as
 * comma-separated ids, speed on stderr. Stops only at --max-new-tokens or an id of --stop-ids:
 * the tokenizer's end-of-text id is not a stop unless given, so runs are reproducible token
 * counts.
 */
import { UserError } from '../errors.js';
import { generate } from '../generate/generate.js';
import type { MambaLM } from '../model/lm.js';
import { ByteTokenizer } from '../text/byte-level.js';
import { loadTokenizer } from '../text/load.js';
import { TextStream } from '../text/stream.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { deviceFlag, openBackend } from './device.js';
import { parseFlags } from './flags.js';
import { loadModelArg } from './model-arg.js';
import { formatSpeed } from './speed.js';

const FLAGS = {
  model: { kind: 'string', value: 'DIR', required: true, help: 'model folder (config.json + weights; tokenizer.json if any)' },
  prompt: { kind: 'string', value: 'TEXT', help: 'the prompt as text (encoded with the folder\'s tokenizer)' },
  'prompt-ids': { kind: 'ids', value: 'A,B,...', help: 'the prompt as token ids' },
  'max-new-tokens': { kind: 'int', value: 'N', default: 64, min: 0, help: 'tokens to generate at most' },
  temperature: { kind: 'number', value: 'T', default: 1, min: 0, help: '0 = greedy (argmax)' },
  'top-k': { kind: 'int', value: 'K', default: 0, min: 0, help: 'keep the K most likely tokens; 0 = off' },
  'top-p': { kind: 'number', value: 'P', default: 1, min: 0, minExclusive: true, max: 1, help: 'nucleus: smallest set with probability mass P; 1 = off' },
  'min-p': { kind: 'number', value: 'P', default: 0, min: 0, max: 1, help: 'drop tokens below P times the top probability; 0 = off' },
  'repetition-penalty': { kind: 'number', value: 'R', default: 1, min: 0, minExclusive: true, help: 'penalty on ids already in the sequence; 1 = off' },
  seed: { kind: 'int', value: 'S', default: 0, min: 0, max: 0xffffffff, help: 'random seed of the sampler' },
  'stop-ids': { kind: 'ids', value: 'A,B,...', help: 'stop after generating one of these ids' },
  'ids-only': { kind: 'bool', help: 'print only the new token ids, comma-separated, on one line' },
  device: deviceFlag,
} as const;

export async function runGenerate(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, {
    usage: 'mamba-ts generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [options]',
    summary: 'Generates a continuation of the prompt, streamed to stdout; speed goes to stderr.',
    notes: 'Sampling applies repetition penalty, temperature, top-k, top-p, min-p in that order.\n' +
      'Without tokenizer.json in the model folder, text is read and written as UTF-8 bytes (ids 0-255).',
  });
  if (!flags) return 0;
  if ((flags.prompt === undefined) === (flags['prompt-ids'] === undefined)) {
    throw new UserError('give exactly one of --prompt and --prompt-ids');
  }
  const dev = await openBackend(flags.device);
  try {
    const model = await loadModelArg(flags.model, dev.backend, false);
    const needsText = flags.prompt !== undefined || !flags['ids-only'];
    const tokenizer = needsText ? loadTokenizer(flags.model) : undefined;
    if (tokenizer instanceof ByteTokenizer) {
      process.stderr.write(`mamba-ts: ${flags.model} has no tokenizer.json; using the byte-level tokenizer (UTF-8 bytes as ids 0-255)\n`);
    }
    const prompt = flags['prompt-ids'] ?? tokenizer!.encode(flags.prompt!);
    if (prompt.length === 0) throw new UserError('--prompt: the text encodes to no tokens');
    const promptFlag = flags['prompt-ids'] ? '--prompt-ids' : '--prompt';
    checkIds(prompt, model, promptFlag);
    if (flags['stop-ids']) checkIds(flags['stop-ids'], model, '--stop-ids');
    await stream(model, prompt, tokenizer, flags);
  } finally {
    dev.close();
  }
  return 0;
}

function checkIds(ids: readonly number[], model: MambaLM, flag: string): void {
  const V = model.vocabPadded;
  const i = ids.findIndex((id) => id >= V);
  if (i >= 0) throw new UserError(`${flag}: token id ${ids[i]} (item ${i + 1}) is outside the model's vocabulary [0, ${V})`);
}

type GenerateFlags = {
  'max-new-tokens': number; temperature: number; 'top-k': number; 'top-p': number; 'min-p': number;
  'repetition-penalty': number; seed: number; 'stop-ids'?: number[]; 'ids-only': boolean;
};

async function stream(model: MambaLM, prompt: number[], tokenizer: Tokenizer | undefined, flags: GenerateFlags): Promise<void> {
  const stopIds = flags['stop-ids'] ?? [];
  const run = generate(model, [prompt], {
    maxNewTokens: flags['max-new-tokens'], temperature: flags.temperature, topK: flags['top-k'], topP: flags['top-p'],
    minP: flags['min-p'], repetitionPenalty: flags['repetition-penalty'], seed: flags.seed, stopIds,
  });
  const text = tokenizer && !flags['ids-only'] ? new TextStream(tokenizer) : undefined;
  let count = 0;
  let endsWithNewline = false;
  const write = (s: string) => {
    if (s === '') return;
    process.stdout.write(s);
    endsWithNewline = s.endsWith('\n');
  };
  for await (const step of run) {
    const id = step.tokens[0];
    if (id === null) continue;
    if (text) {
      // a stop id ends the text; its own text (e.g. <|endoftext|>) is not part of it
      if (!stopIds.includes(id)) write(text.push(id));
    } else {
      write(`${count > 0 ? ',' : ''}${id}`);
    }
    count++;
  }
  if (text) write(text.flush());
  if (!endsWithNewline) process.stdout.write('\n');
  const s = run.stats;
  process.stderr.write(`mamba-ts: ${count} new tokens; ${formatSpeed('prefill', s.prefillTokens, s.prefillSeconds)}; ${formatSpeed('decode', s.decodeTokens, s.decodeSeconds)}\n`);
}
