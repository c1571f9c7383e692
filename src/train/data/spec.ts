/**
 * What a run trains on, as plain JSON (a checkpoint stores it so --resume reopens the same data):
 * a corpus with a tokenizer and window length, or a synthetic task with its options.
 */
import * as path from 'node:path';
import { makeTask } from '../../tasks/index.js';
import { ByteTokenizer } from '../../text/byte-level.js';
import { HfTokenizer } from '../../text/hf.js';
import type { Tokenizer } from '../../text/tokenizer.js';
import { BROWN, readCorpus } from './corpus.js';
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
