/**
 * `mamba-ts generate`: one prompt (text, ids, or text on stdin), new tokens streamed to stdout as
 * text or as comma-separated ids (or one JSON object at the end), speed on stderr. Sampling
 * defaults come from the folder's generation_config.json where it sets them; flags override.
 * A run ends at --max-new-tokens, at an end-of-text id (the tokenizer's and generation_config's,
 * unless --ignore-eos), at an id of --stop-ids, or once the text contains --stop.
 */
import * as fs from 'node:fs';
import { UserError } from '../errors.js';
import { generate } from '../generate/generate.js';
import { StopText } from '../generate/stop-text.js';
import type { MambaLM } from '../model/lm.js';
import { ByteTokenizer } from '../text/byte-level.js';
import { loadTokenizer } from '../text/load.js';
import { TextStream } from '../text/stream.js';
import type { Tokenizer } from '../text/tokenizer.js';
import { deviceFlag, openBackend } from './device.js';
import { loadModel } from '../model/load.js';
import { parseFlags } from './flags.js';
import { readGenerationDefaults, type GenerationDefaults } from '../generate/generation-config.js';
import { hubFlags, resolveModelPath } from './model-arg.js';
import { formatSpeed } from './speed.js';

const DEFAULTS = { maxNewTokens: 64, temperature: 1, topK: 0, topP: 1, minP: 0, repetitionPenalty: 1 };

const FLAGS = {
  model: { kind: 'string', value: 'DIR|ORG/NAME', required: true, help: 'model folder (config.json + weights; tokenizer.json, generation_config.json if any) or Hub repo id' },
  prompt: { kind: 'string', value: 'TEXT', help: 'the prompt as text (encoded with the folder\'s tokenizer); - reads it from stdin' },
  'prompt-ids': { kind: 'ids', value: 'A,B,...', help: 'the prompt as token ids' },
  'max-new-tokens': { kind: 'int', value: 'N', min: 0, help: `tokens to generate at most (default ${DEFAULTS.maxNewTokens})` },
  temperature: { kind: 'number', value: 'T', min: 0, help: `0 = greedy (argmax) (default ${DEFAULTS.temperature})` },
  'top-k': { kind: 'int', value: 'K', min: 0, help: 'keep the K most likely tokens; 0 = off (default 0)' },
  'top-p': { kind: 'number', value: 'P', min: 0, minExclusive: true, max: 1, help: 'nucleus: smallest set with probability mass P; 1 = off (default 1)' },
  'min-p': { kind: 'number', value: 'P', min: 0, max: 1, help: 'drop tokens below P times the top probability; 0 = off (default 0)' },
  'repetition-penalty': { kind: 'number', value: 'R', min: 0, minExclusive: true, help: 'penalty on ids already in the sequence; 1 = off (default 1)' },
  seed: { kind: 'int', value: 'S', default: 0, min: 0, max: 0xffffffff, help: 'random seed of the sampler' },
  'stop-ids': { kind: 'ids', value: 'A,B,...', help: 'stop after generating one of these ids' },
  stop: { kind: 'string', value: 'TEXT', help: 'stop once the text contains TEXT (printed, see below)' },
  'ignore-eos': { kind: 'bool', help: 'do not stop at the end-of-text id (exact token counts)' },
  'ids-only': { kind: 'bool', help: 'print only the new token ids, comma-separated, on one line' },
  json: { kind: 'bool', help: 'print one JSON object at the end instead of streaming' },
  device: deviceFlag,
  ...hubFlags,
} as const;

const NOTES = [
  'The prompt is read from stdin with --prompt -, or when neither --prompt nor --prompt-ids is given and',
  'stdin is not a terminal (one trailing newline removed).',
  'Defaults: generation_config.json in the model folder supplies eos_token_id and, where present,',
  'max_new_tokens, temperature, top_k, top_p, min_p, repetition_penalty (do_sample: false = temperature 0);',
  'flags override them.',
  'An end-of-text id or a --stop-ids id ends the output without its own text. --stop TEXT ends it',
  'after TEXT: all text before TEXT is printed, then TEXT itself; the rest of the token that completed',
  'it is dropped. TEXT may start inside a token.',
  'Sampling applies repetition penalty, temperature, top-k, top-p, min-p in that order.',
  'Without tokenizer.json in the model folder, text is read and written as UTF-8 bytes (ids 0-255).',
  '--json prints {"prompt_tokens", "ids", "text", "stop_reason", "stats"}; stop_reason is one of',
  'max-new-tokens, eos, stop-id, stop.',
].join('\n');

type Flags = NonNullable<ReturnType<typeof parseGenerateFlags>>;

function parseGenerateFlags(argv: string[]) {
  return parseFlags(argv, FLAGS, {
    usage: 'mamba-ts generate --model DIR|ORG/NAME [--prompt TEXT|- | --prompt-ids 1,2,3 | < prompt.txt] [options]',
    summary: 'Generates a continuation of the prompt, streamed to stdout; speed goes to stderr.',
    notes: NOTES,
  });
}

export async function runGenerate(argv: string[]): Promise<number> {
  const flags = parseGenerateFlags(argv);
  if (!flags) return 0;
  const promptText = readPromptText(flags);
  const dir = await resolveModelPath(flags.model, flags);
  const defaults = readGenerationDefaults(dir);
  const dev = await openBackend(flags.device);
  try {
    const model = await loadModel(dir, dev.backend);
    const needsText = promptText !== undefined || flags.stop !== undefined || !flags['ids-only'];
    const tokenizer = loadTokenizer(dir);
    const eosIds = flags['ignore-eos'] ? [] : [...new Set([...defaults.eosIds, ...(tokenizer.eosId === undefined ? [] : [tokenizer.eosId])])];
    if (needsText && tokenizer instanceof ByteTokenizer) {
      process.stderr.write(`mamba-ts: ${dir} has no tokenizer.json; using the byte-level tokenizer (UTF-8 bytes as ids 0-255)\n`);
    }
    const prompt = flags['prompt-ids'] ?? tokenizer.encode(promptText!);
    if (prompt.length === 0) throw new UserError('--prompt: the text encodes to no tokens');
    checkIds(prompt, model, flags['prompt-ids'] ? '--prompt-ids' : '--prompt');
    if (flags['stop-ids']) checkIds(flags['stop-ids'], model, '--stop-ids');
    if (flags.stop === '') throw new UserError('--stop: the stop text is empty');
    await stream(model, prompt, tokenizer, flags, defaults, eosIds);
  } finally {
    dev.close();
  }
  return 0;
}

/** The prompt text from --prompt, or from stdin; undefined when --prompt-ids gives the prompt. */
function readPromptText(flags: Flags): string | undefined {
  const given = [flags.prompt, flags['prompt-ids']].filter((v) => v !== undefined).length;
  if (given > 1) throw new UserError('give exactly one of --prompt and --prompt-ids');
  if (flags['prompt-ids']) return undefined;
  if (flags.prompt !== undefined && flags.prompt !== '-') return flags.prompt;
  if (flags.prompt === undefined && process.stdin.isTTY) throw new UserError('give exactly one of --prompt and --prompt-ids (or the prompt text on stdin)');
  const text = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (text === '') throw new UserError('no prompt: stdin was empty (give exactly one of --prompt and --prompt-ids, or the prompt text on stdin)');
  return text;
}

function checkIds(ids: readonly number[], model: MambaLM, flag: string): void {
  const V = model.vocabPadded;
  const i = ids.findIndex((id) => id >= V);
  if (i >= 0) throw new UserError(`${flag}: token id ${ids[i]} (item ${i + 1}) is outside the model's vocabulary [0, ${V})`);
}

async function stream(model: MambaLM, prompt: number[], tokenizer: Tokenizer, flags: Flags, defaults: GenerationDefaults, eosIds: number[]): Promise<void> {
  const userStops = flags['stop-ids'] ?? [];
  const stopIds = [...new Set([...userStops, ...eosIds])];
  const pick = <K extends keyof typeof DEFAULTS>(flag: number | undefined, key: K) => flag ?? defaults[key] ?? DEFAULTS[key];
  const run = generate(model, [prompt], {
    maxNewTokens: pick(flags['max-new-tokens'], 'maxNewTokens'), temperature: pick(flags.temperature, 'temperature'),
    topK: pick(flags['top-k'], 'topK'), topP: pick(flags['top-p'], 'topP'), minP: pick(flags['min-p'], 'minP'),
    repetitionPenalty: pick(flags['repetition-penalty'], 'repetitionPenalty'), seed: flags.seed, stopIds,
  });
  const asText = !flags['ids-only'];
  const text = asText || flags.stop !== undefined ? new TextStream(tokenizer) : undefined;
  const stop = flags.stop === undefined ? undefined : new StopText([flags.stop], true);
  const live = !flags.json;
  const ids: number[] = [];
  let out = '';
  let endsWithNewline = false;
  const write = (s: string) => {
    if (s === '') return;
    out += s;
    if (live) process.stdout.write(s);
    endsWithNewline = s.endsWith('\n');
  };
  const emitText = (s: string) => {
    const visible = stop ? stop.push(s) : s;
    if (asText) write(visible);
  };
  for await (const step of run) {
    const id = step.tokens[0];
    if (id === null) continue;
    ids.push(id);
    if (!asText) write(`${ids.length > 1 ? ',' : ''}${id}`);
    // a stop id ends the text; its own text (e.g. <|endoftext|>) is not part of it
    if (text && !stopIds.includes(id)) emitText(text.push(id));
    if (stop?.stopped) break;
  }
  if (text && !stop?.stopped) {
    emitText(text.flush());
    if (stop && !stop.stopped && asText) write(stop.flush());
  }
  const last = ids[ids.length - 1];
  const reason = stop?.stopped ? 'stop' : userStops.includes(last) ? 'stop-id' : eosIds.includes(last) ? 'eos' : 'max-new-tokens';
  const s = run.stats;
  if (flags.json) {
    const json = { prompt_tokens: prompt.length, ids, ...(asText ? { text: out } : {}), stop_reason: reason, stats: s };
    process.stdout.write(JSON.stringify(json) + '\n');
  } else if (!endsWithNewline) {
    process.stdout.write('\n');
  }
  process.stderr.write(`mamba-ts: ${ids.length} new tokens; ${formatSpeed('prefill', s.prefillTokens, s.prefillSeconds)}; ${formatSpeed('decode', s.decodeTokens, s.decodeSeconds)}\n`);
}
