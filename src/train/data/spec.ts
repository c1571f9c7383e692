/**
 * What a run trains on, as plain JSON (a checkpoint stores it so --resume reopens the same data):
 * a corpus with a tokenizer and window length, or a synthetic task with its options.
 */
import * as path from 'node:path';
import { UserError } from '../../errors.js';
import { makeTask, taskSpec } from '../../tasks/index.js';
import { ByteTokenizer } from '../../text/byte-level.js';
import { HfTokenizer } from '../../text/hf.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import { BROWN, checkCorpusPath, readCorpus } from './corpus.js';
import { taskSource, textSource, type DataSource } from './source.js';
import { tokenizeCorpus } from './tokens.js';

export type DataSpec =
  | {
    kind: 'text';
    /** a file, a folder or "brown"; absolute, so a resumed run finds it from anywhere */
    path: string;
    /** a tokenizer.json; byte-level when absent */
    tokenizer?: string;
    /** the fraction of tokens held out for validation */
    validation: number;
    /** tokens per training window */
    seqLen: number;
  }
  | { kind: 'task'; task: string; options: Record<string, number>; evalSeed: number };

export function textSpec(p: string, tokenizer: string | undefined, validation: number, seqLen: number): DataSpec {
  // path.resolve('') is the current folder: an empty --data= would train on whatever is there
  checkCorpusPath(p);
  if (tokenizer === '') throw new UserError('--tokenizer: empty path');
  return {
    kind: 'text', path: p === BROWN ? p : path.resolve(p), tokenizer: tokenizer && path.resolve(tokenizer), validation, seqLen,
  };
}

export function openData(spec: DataSpec): { source: DataSource; tokenizer?: Tokenizer } {
  if (spec.kind === 'task') return { source: taskSource(makeTask(spec.task, spec.options), spec.evalSeed) };
  const tokenizer = spec.tokenizer ? HfTokenizer.fromFile(spec.tokenizer) : new ByteTokenizer();
  const split = tokenizeCorpus(readCorpus(spec.path), tokenizer, spec.validation);
  const name = spec.path === BROWN ? 'Brown corpus' : spec.path;
  return { source: textSource(`${name} (${tokenizer.name})`, split, tokenizer.vocabSize, spec.seqLen), tokenizer };
}

/** The vocabulary a model needs for this data (without reading the corpus). */
export function dataVocabSize(spec: DataSpec): number {
  if (spec.kind === 'task') return makeTask(spec.task, spec.options).vocabSize;
  return spec.tokenizer ? HfTokenizer.fromFile(spec.tokenizer).vocabSize : new ByteTokenizer().vocabSize;
}

/** Tokens per sequence: the window for text, the task's sequence length. */
export function dataLength(spec: DataSpec): number {
  if (spec.kind === 'text') return spec.seqLen;
  // every task's sequence is at least as long as its length option (and building an absurd task
  // allocates absurd tables): such an option is the answer, before the task is built
  const option = spec.options[taskSpec(spec.task).lengthOption];
  return option > MAX_BATCH_TOKENS ? option : makeTask(spec.task, spec.options).length;
}

/**
 * The most tokens one batch may hold: far beyond any real batch (a 130M model's is 16K), far below
 * what would exhaust memory on the i32 ids alone before a single step.
 */
export const MAX_BATCH_TOKENS = 1 << 24;

/** Refuses a batch of `batch` sequences of `length` tokens above MAX_BATCH_TOKENS, before anything is allocated. */
export function checkBatchTokens(batch: number, length: number): void {
  if (batch * length > MAX_BATCH_TOKENS) {
    throw new UserError(`--batch-size ${batch} x sequence length ${length} = ${batch * length} tokens per batch, more than the limit of ${MAX_BATCH_TOKENS}; `
      + 'use a shorter --seq-len (or task length) or a smaller --batch-size');
  }
}
