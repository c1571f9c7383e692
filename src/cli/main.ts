#!/usr/bin/env node
/**
 * mamba-ts command line: one file per command, each `run<Name>(argv) -> exit code`. A UserError
 * (bad flag, file, field) is one line on stderr and exit code 2; anything else is a bug: one line
 * and exit code 1, with the stack trace only under --debug.
 */
import * as fs from 'node:fs';
import { UserError } from '../errors.js';

interface Command {
  summary: string;
  /** loaded on use, so that one command's dependencies never slow down or break another */
  load(): Promise<(argv: string[]) => Promise<number>>;
}

const COMMANDS: Record<string, Command> = {
  generate: { summary: 'generate text or token ids from a prompt', load: async () => (await import('./generate.js')).runGenerate },
  logits: { summary: 'logits of input_ids from a safetensors file, by forward or step', load: async () => (await import('./logits.js')).runLogits },
  grads: { summary: 'next-token loss and its gradient for every parameter', load: async () => (await import('./grads.js')).runGrads },
  train: { summary: 'train a model on text or a synthetic task', load: async () => (await import('./train.js')).runTrain },
  eval: { summary: 'exact-match accuracy of a model on a synthetic task', load: async () => (await import('./eval.js')).runEval },
  serve: { summary: 'OpenAI-compatible HTTP server with continuous batching and a prefix-state cache', load: async () => (await import('./serve.js')).runServe },
  pattern: { summary: "the Mamba-2/attention/MLP layer pattern of Megatron-LM's allocation", load: async () => (await import('./pattern.js')).runPattern },
  info: { summary: 'architecture, parameter count and state size of a model', load: async () => (await import('./info.js')).runInfo },
  convert: { summary: 'write a model in another format (GGUF for llama.cpp)', load: async () => (await import('./convert.js')).runConvert },
  bench: { summary: 'prefill and decode tokens/s of a model, or GFLOP/s of matmul', load: async () => (await import('./bench.js')).runBench },
  score: { summary: 'BLEU, chrF2, chrF2++ of translations as sacreBLEU computes them; length bins, entity recall', load: async () => (await import('./score.js')).runScore },
  tokenizer: { summary: 'train a joint byte-level BPE tokenizer.json on parallel training data', load: async () => (await import('./tokenizer.js')).runTokenizer },
  demo: { summary: 'train a small byte-level Mamba-2 on the Brown corpus (~1.5 min on a 2-core CPU), then generate', load: async () => (await import('./demo.js')).runDemo },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  return [
    'usage: mamba-ts <command> [options]   (mamba-ts <command> --help for its options)',
    '',
    'Selective state space models (Mamba, Mamba-2, hybrids) on the CPU and WebGPU.',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'global options: --debug (stack traces of internal errors), --help, --version',
  ].join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UserError(`unknown command "${name}" (commands: ${Object.keys(COMMANDS).join(', ')})`);
  return (await command.load())(rest);
}

/** The package's version, from the package.json two folders above dist/src/cli. */
function version(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** One line of at most a few hundred characters, whatever a message holds. */
function oneLine(s: string): string {
  const line = s.replace(/\s*\n\s*/g, ' ').trim();
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}…` : line;
}

const MAX_MESSAGE = 600;

/** A failed allocation is the machine's limit, not a bug: say so plainly. */
function isOutOfMemory(e: unknown): boolean {
  return e instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(e.message);
}

const debug = process.argv.includes('--debug');
// `mamba-ts generate ... | head` closes stdout early; that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(process.argv.slice(2).filter((a) => a !== '--debug')).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UserError) {
      process.stderr.write(`mamba-ts: ${oneLine(e.message)}\n${debug && e.stack ? `${e.stack}\n` : ''}`);
      process.exitCode = e.exitCode;
    } else if (isOutOfMemory(e)) {
      process.stderr.write(`mamba-ts: out of memory (${oneLine((e as Error).message)}): a size given by a flag or file is too large for this machine\n`);
      process.exitCode = 2;
    } else {
      let msg: string;
      try {
        msg = e instanceof Error ? e.message : String(e);
      } catch {
        msg = 'an unprintable value was thrown';
      }
      process.stderr.write(debug && e instanceof Error && e.stack
        ? `mamba-ts: internal error: ${e.stack}\n`
        : `mamba-ts: internal error: ${oneLine(msg)} (run with --debug for the stack trace)\n`);
      process.exitCode = 1;
    }
  },
);
