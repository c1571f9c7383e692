/**
 * `mamba-ts tokenizer train`: a joint byte-level BPE over both sides of training pairs, written as
 * a Hugging Face tokenizer.json with <pad> <eos> <sep> <bos> at ids 0-3. Only training data may go
 * in: a vocabulary fitted to the test set (as the paper's code built it) leaks test text into
 * every model compared with it.
 */
import * as fs from 'node:fs';
import { UserError } from '../errors.js';
import { bpeTokenizerJson, SPECIAL_TOKENS, trainByteBpe } from '../text/bpe-train.js';
import { readParallel } from '../train/data/parallel.js';
import { parseFlags } from './flags.js';

const FLAGS = {
  data: { kind: 'string', value: 'DATA', required: true, help: 'training pairs only: FILE.tsv (src<TAB>tgt), FILE.jsonl ({"src","tgt"}) or SRC_FILE,TGT_FILE' },
  'vocab-size': { kind: 'int', value: 'N', default: 8000, min: SPECIAL_TOKENS.length + 256, help: 'tokens in all: 4 special + 256 bytes + merges' },
  'min-frequency': { kind: 'int', value: 'N', default: 2, min: 1, help: 'a pair seen fewer times is not merged' },
  out: { kind: 'string', value: 'FILE', required: true, help: 'the tokenizer.json to write' },
} as const;

export async function runTokenizer(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === undefined) {
    process.stdout.write('usage: mamba-ts tokenizer train --data DATA --vocab-size N --out tokenizer.json\n');
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'train') throw new UserError(`tokenizer: unknown subcommand "${sub}" (subcommands: train)`);
  const flags = parseFlags(rest, FLAGS, {
    usage: 'mamba-ts tokenizer train --data DATA [--vocab-size N] --out tokenizer.json',
    summary: 'Trains a joint byte-level BPE on both sides of the training pairs and writes a Hugging Face tokenizer.json.',
    notes: `Special tokens ${SPECIAL_TOKENS.join(' ')} get ids 0-${SPECIAL_TOKENS.length - 1}. Give training data only, never test sets.`,
  });
  if (!flags) return 0;
  const start = Date.now();
  let pairs = 0;
  function* sides(): Generator<string> {
    for (const p of readParallel(flags!.data)) {
      pairs++;
      yield p.src;
      yield p.tgt;
    }
  }
  const bpe = trainByteBpe(sides(), { vocabSize: flags['vocab-size'], minFrequency: flags['min-frequency'] });
  if (pairs === 0) throw new UserError(`--data ${flags.data}: no pairs`);
  try {
    fs.writeFileSync(flags.out, `${JSON.stringify(bpeTokenizerJson(bpe))}\n`);
  } catch (e) {
    throw new UserError(`--out ${flags.out}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  process.stderr.write(`${flags.out}: ${bpe.vocab.size} tokens (${bpe.merges.length} merges) from ${pairs} pairs in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  return 0;
}
